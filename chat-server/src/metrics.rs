//! What the server counts for `GET /metrics`, in the Prometheus project's own client types
//! (atomics: counting costs a relaxed add on the paths that count). Values that are cheaper to
//! read than to track (queued bytes, the indexer's lag) are sampled when scraped.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::Mutex;

type Labels = Vec<(&'static str, String)>;

/// Distinct client names kept as labels; later ones count as "other", so a client that names
/// itself randomly cannot grow the metrics without bound.
const MAX_CLIENT_LABELS: usize = 32;
/// Longest client label.
const MAX_CLIENT_LABEL_CHARS: usize = 32;

pub struct Metrics {
    registry: Registry,
    /// Open WebSocket sessions (authenticated).
    pub sessions: Gauge,
    sessions_by_client: Family<Labels, Gauge>,
    client_labels: Mutex<HashSet<String>>,
    pub frames_in: Counter,
    pub frames_out: Counter,
    http_requests: Family<Labels, Counter>,
    pub events_committed: Counter,
    pub commit_batch_jobs: Histogram,
    pub commit_seconds: Histogram,
    pub queued_bytes: Gauge,
    pub evictions: Counter,
    pub rate_limited: Counter,
    pub search_seconds: Histogram,
    pub upload_bytes: Counter,
    pub indexer_lag: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("chat");
        let sessions = Gauge::default();
        let sessions_by_client = Family::<Labels, Gauge>::default();
        let frames_in = Counter::default();
        let frames_out = Counter::default();
        let http_requests = Family::<Labels, Counter>::default();
        let events_committed = Counter::default();
        // 1 to 2,048 jobs: the writer's batch cap is 1,024.
        let commit_batch_jobs = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        // 50 µs to about 1.6 s.
        let commit_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let queued_bytes = Gauge::default();
        let evictions = Counter::default();
        let rate_limited = Counter::default();
        // 100 µs to about 3.3 s.
        let search_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        let upload_bytes = Counter::default();
        let indexer_lag = Gauge::default();
        registry.register("sessions", "Open WebSocket sessions", sessions.clone());
        registry.register(
            "sessions_by_client",
            "Open WebSocket sessions by the client name given in hello",
            sessions_by_client.clone(),
        );
        registry.register(
            "frames_received",
            "WebSocket text frames received from clients",
            frames_in.clone(),
        );
        registry.register(
            "frames_sent",
            "WebSocket text frames sent to clients (responses and events)",
            frames_out.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by status code",
            http_requests.clone(),
        );
        registry.register(
            "events_committed",
            "Room events committed (each with its seq)",
            events_committed.clone(),
        );
        registry.register(
            "commit_batch_jobs",
            "Write jobs per group commit",
            commit_batch_jobs.clone(),
        );
        registry.register(
            "commit_seconds",
            "Time from BEGIN to COMMIT of a group commit",
            commit_seconds.clone(),
        );
        registry.register(
            "outbound_queued_bytes",
            "Bytes waiting in all connections' outbound queues",
            queued_bytes.clone(),
        );
        registry.register(
            "evictions",
            "Connections closed as too slow (4008) for a full outbound queue",
            evictions.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused with rate_limited",
            rate_limited.clone(),
        );
        registry.register(
            "search_seconds",
            "Time to answer a search request",
            search_seconds.clone(),
        );
        registry.register(
            "upload_bytes",
            "Bytes of files received by uploads",
            upload_bytes.clone(),
        );
        registry.register(
            "indexer_lag_messages",
            "Messages written but not yet in the search index",
            indexer_lag.clone(),
        );
        Metrics {
            registry,
            sessions,
            sessions_by_client,
            client_labels: Mutex::new(HashSet::new()),
            frames_in,
            frames_out,
            http_requests,
            events_committed,
            commit_batch_jobs,
            commit_seconds,
            queued_bytes,
            evictions,
            rate_limited,
            search_seconds,
            upload_bytes,
            indexer_lag,
        }
    }

    /// Count a session of the client named `client` (from hello) until the guard drops.
    pub fn session_started(&self, client: Option<&str>) -> SessionGuard<'_> {
        let label = self.client_label(client);
        self.sessions.inc();
        let gauge = self
            .sessions_by_client
            .get_or_create(&vec![("client", label)])
            .clone();
        gauge.inc();
        SessionGuard {
            metrics: self,
            gauge,
        }
    }

    /// The label for a client name: its first word, lowercased, of safe characters; "other"
    /// once [`MAX_CLIENT_LABELS`] names are known.
    fn client_label(&self, client: Option<&str>) -> String {
        let word: String = client
            .unwrap_or_default()
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .take(MAX_CLIENT_LABEL_CHARS)
            .collect::<String>()
            .to_ascii_lowercase();
        if word.is_empty() {
            return "unnamed".into();
        }
        let mut known = self.client_labels.lock().unwrap_or_else(|e| e.into_inner());
        if known.contains(&word) || known.len() < MAX_CLIENT_LABELS && known.insert(word.clone()) {
            word
        } else {
            "other".into()
        }
    }

    pub fn http_answered(&self, status: u16) {
        self.http_requests
            .get_or_create(&vec![("status", status.to_string())])
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// Keeps a session counted while it lives.
pub struct SessionGuard<'a> {
    metrics: &'a Metrics,
    gauge: Gauge,
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        self.metrics.sessions.dec();
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_labels_are_bounded_and_safe() {
        let metrics = Metrics::new();
        assert_eq!(metrics.client_label(Some("chat-tui 0.1.0")), "chat-tui");
        assert_eq!(metrics.client_label(Some("MyBot/2 (linux)")), "mybot");
        assert_eq!(metrics.client_label(Some("\"}\n")), "unnamed");
        assert_eq!(metrics.client_label(None), "unnamed");
        for i in 0..100 {
            metrics.client_label(Some(&format!("random{i}")));
        }
        assert_eq!(metrics.client_label(Some("random99")), "other");
        assert_eq!(metrics.client_label(Some("chat-tui")), "chat-tui");
    }

    #[test]
    fn sessions_are_counted_while_they_live() {
        let metrics = Metrics::new();
        let guard = metrics.session_started(Some("chat-tui 0.1"));
        let text = metrics.encode();
        assert!(text.contains("chat_sessions 1"), "{text}");
        assert!(
            text.contains("chat_sessions_by_client{client=\"chat-tui\"} 1"),
            "{text}"
        );
        drop(guard);
        assert!(metrics.encode().contains("chat_sessions 0"));
    }
}
