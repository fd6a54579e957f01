//! Measuring: the shared clock, latency histograms per phase, counters, and the report that
//! is printed as a table or as JSON.

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the benchmark started. Senders and receivers live in this process, so
/// a timestamp carried in a message gives its one-way latency directly.
pub fn now_us() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Seconds since the Unix epoch (for names that must differ between runs).
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The moment `us` microseconds after the benchmark started.
pub fn instant_at(us: u64) -> Instant {
    *EPOCH.get_or_init(Instant::now) + std::time::Duration::from_micros(us)
}

/// Sleep until the bench's clock reads `us`.
pub async fn sleep_until_us(us: u64) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(instant_at(us))).await;
}

/// Latencies (µs) and delivery counts, kept separately for each phase (a fanout rate step, or
/// warm-up versus measurement). The phase travels in the message, so a late delivery still
/// counts for the phase it was sent in.
pub struct Recorder {
    phases: Mutex<Vec<Histogram<u64>>>,
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 1 hour at 3 significant figures; the bounds are constants that are valid.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures are valid"))
    })
}

impl Recorder {
    pub fn new(phases: usize) -> Recorder {
        Recorder {
            phases: Mutex::new((0..phases.max(1)).map(|_| new_histogram()).collect()),
        }
    }

    pub fn record(&self, phase: usize, latency_us: u64) {
        let mut phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = phases.get_mut(phase) {
            h.saturating_record(latency_us.max(1));
        }
    }

    pub fn latency(&self, phase: usize) -> Latency {
        let phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases.get(phase).map_or(Latency::default(), Latency::of)
    }

    pub fn count(&self, phase: usize) -> u64 {
        let phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases.get(phase).map_or(0, Histogram::len)
    }
}

/// A histogram that one task owns (no lock), for request/response latencies.
pub fn histogram() -> Histogram<u64> {
    new_histogram()
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Things that went wrong, counted; a benchmark with errors says so in its report.
#[derive(Debug, Default)]
pub struct Errors {
    pub connect: AtomicU64,
    pub refused: AtomicU64,
    pub closed: AtomicU64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect.load(Ordering::Relaxed)
            + self.refused.load(Ordering::Relaxed)
            + self.closed.load(Ordering::Relaxed)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} (connect {}, refused {}, dropped {})",
            self.total(),
            self.connect.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.closed.load(Ordering::Relaxed)
        )
    }
}

/// One named figure of a report.
#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
}

/// What a scenario found, for one server.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub scenario: &'static str,
    pub server: String,
    pub settings: Vec<(String, String)>,
    /// Rows of a per-step table (fanout's rate steps); the same columns in each row.
    pub steps: Vec<Vec<(&'static str, f64)>>,
    pub results: Vec<Metric>,
    pub errors: u64,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &'static str, server: &str) -> Report {
        Report {
            scenario,
            server: server.to_string(),
            ..Report::default()
        }
    }

    pub fn setting(&mut self, name: &str, value: impl ToString) {
        self.settings.push((name.to_string(), value.to_string()));
    }

    pub fn metric(&mut self, name: &str, value: f64, unit: &'static str) {
        self.results.push(Metric {
            name: name.to_string(),
            value,
            unit,
        });
    }

    pub fn latency(&mut self, prefix: &str, l: &Latency) {
        self.metric(&format!("{prefix} p50"), l.p50_ms, "ms");
        self.metric(&format!("{prefix} p99"), l.p99_ms, "ms");
        self.metric(&format!("{prefix} p99.9"), l.p999_ms, "ms");
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.results
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    pub fn to_json(&self) -> Value {
        let mut settings = Map::new();
        for (k, v) in &self.settings {
            settings.insert(k.clone(), Value::String(v.clone()));
        }
        let mut results = Map::new();
        for m in &self.results {
            results.insert(m.name.clone(), json!({"value": m.value, "unit": m.unit}));
        }
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|row| Value::Object(row.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()))
            .collect();
        json!({
            "scenario": self.scenario,
            "server": self.server,
            "settings": settings,
            "steps": steps,
            "results": results,
            "errors": self.errors,
            "notes": self.notes,
        })
    }

    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== {} · {} ==", self.scenario, self.server);
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "   {}", settings.join("  "));
        if let Some(first) = self.steps.first() {
            let header: Vec<String> = first.iter().map(|(k, _)| format!("{k:>14}")).collect();
            let _ = writeln!(out, "{}", header.join(""));
            for row in &self.steps {
                let cells: Vec<String> = row
                    .iter()
                    .map(|(_, v)| format!("{:>14}", number(*v)))
                    .collect();
                let _ = writeln!(out, "{}", cells.join(""));
            }
        }
        let width = self.results.iter().map(|m| m.name.len()).max().unwrap_or(0);
        for m in &self.results {
            let _ = writeln!(
                out,
                "   {:<width$}  {:>14} {}",
                m.name,
                number(m.value),
                m.unit
            );
        }
        let _ = writeln!(out, "   {:<width$}  {:>14}", "errors", self.errors);
        for note in &self.notes {
            let _ = writeln!(out, "   note: {note}");
        }
        out
    }
}

/// One report per server from several runs of the same scenario: each figure is the median
/// of the runs, errors are added up, and the per-step table and notes are those of the run
/// whose headline figure (the first) was the median (plus the notes of any run with errors).
pub fn medians(runs: Vec<Vec<Report>>) -> Vec<Report> {
    let count = runs.len();
    if count <= 1 {
        return runs.into_iter().next().unwrap_or_default();
    }
    let servers = runs.iter().map(Vec::len).min().unwrap_or(0);
    (0..servers)
        .map(|i| {
            let of_server: Vec<&Report> = runs.iter().map(|r| &r[i]).collect();
            let headline = |r: &Report| r.results.first().map_or(0.0, |m| m.value);
            let mut order: Vec<&Report> = of_server.clone();
            order.sort_by(|a, b| headline(a).total_cmp(&headline(b)));
            let mut merged = order[order.len() / 2].clone();
            for metric in &mut merged.results {
                let mut values: Vec<f64> = of_server
                    .iter()
                    .filter_map(|r| r.get(&metric.name))
                    .collect();
                values.sort_by(f64::total_cmp);
                metric.value = values[values.len() / 2];
            }
            merged.errors = of_server.iter().map(|r| r.errors).sum();
            // The median run's notes describe the figures shown; another run's notes matter
            // only when something went wrong in it.
            for (n, r) in of_server.iter().enumerate() {
                if r.errors > 0 && !std::ptr::eq(*r, order[order.len() / 2]) {
                    for note in &r.notes {
                        merged.notes.push(format!("run {}: {note}", n + 1));
                    }
                }
            }
            merged.setting("runs", format!("{count} (medians)"));
            merged
        })
        .collect()
}

/// Figures as people read them: thousands separated, two decimals below 100.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v.abs() < 100.0 && v.fract() != 0.0 {
        return format!("{v:.2}");
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// Two reports of the same scenario side by side, with the ratio of each shared figure.
pub fn comparison(ours: &Report, peer: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {} · {} vs {} ==",
        ours.scenario, ours.server, peer.server
    );
    let width = ours.results.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "   {:<width$}  {:>14}  {:>14}  {:>8}",
        "", ours.server, peer.server, "ratio"
    );
    for m in &ours.results {
        let Some(theirs) = peer.get(&m.name) else {
            continue;
        };
        let ratio = if theirs != 0.0 {
            m.value / theirs
        } else {
            f64::NAN
        };
        let _ = writeln!(
            out,
            "   {:<width$}  {:>14}  {:>14}  {:>7.2}x  {}",
            m.name,
            number(m.value),
            number(theirs),
            ratio,
            m.unit
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(12.345), "12.35");
        assert_eq!(number(100.0), "100");
        assert_eq!(number(-4200.0), "-4,200");
    }

    #[test]
    fn medians_take_the_middle_run_of_each_figure() {
        let run = |v: f64, errors: u64| {
            let mut r = Report::new("x", "s");
            r.metric("a", v, "/s");
            r.metric("b", 10.0 - v, "ms");
            r.errors = errors;
            vec![r]
        };
        let merged = medians(vec![run(1.0, 0), run(5.0, 1), run(3.0, 0)]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].get("a"), Some(3.0));
        assert_eq!(merged[0].get("b"), Some(7.0));
        assert_eq!(merged[0].errors, 1);
    }

    #[test]
    fn percentiles_come_from_recorded_samples() {
        let rec = Recorder::new(2);
        for us in 1..=1000 {
            rec.record(1, us * 1000);
        }
        let l = rec.latency(1);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 1.0, "{l:?}");
        assert_eq!(rec.count(0), 0);
    }
}
