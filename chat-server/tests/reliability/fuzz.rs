//! Placeholder replaced by the fuzz harness.
