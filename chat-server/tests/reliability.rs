//! The reliability suite: the real server binary killed under load, attacked, starved of
//! reads and cut off, and fed random frames. Each test prints its figures; RELIABILITY.md
//! lists them with their pass criteria. The sizes are small by default (CI) and set by
//! environment variables for the long run (`tests/reliability/run.sh --long`).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)] // tests fail loudly and print figures

#[path = "raw.rs"]
#[allow(dead_code)]
mod raw;
#[path = "support.rs"]
#[allow(dead_code)]
mod support;

mod reliability {
    pub mod crash;
    pub mod fuzz;
    #[allow(dead_code)]
    pub mod harness;
    pub mod memory;
    pub mod netfaults;
    pub mod proxy;
}
