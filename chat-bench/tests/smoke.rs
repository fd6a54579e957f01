//! Smoke runs of every scenario at toy sizes: the tool starts its servers, runs, stops by
//! itself and reports what a benchmark run must report, with no errors. No timing is asserted:
//! speed is what the full runs in BENCHMARKS.md measure.
//!
//! The socket.io comparison needs the peer installed (bench/peers/socketio/install.sh, which
//! scripts/test.sh runs); set CHAT_BENCH_SKIP_PEER=1 to leave those runs out.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::process::Command;

fn bench(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_chat-bench"))
        .args(args)
        .args(["--json", "--sources", "4", "--concurrency", "32"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chat-bench {args:?} failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

fn figure(report: &Value, name: &str) -> f64 {
    report["results"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no figure {name:?} in {report:#}"))
}

fn assert_clean(report: &Value) {
    assert_eq!(report["errors"], 0, "{report:#}");
}

fn peer_wanted() -> bool {
    std::env::var_os("CHAT_BENCH_SKIP_PEER").is_none()
}

/// chat-server alone, or chat-server and the socket.io peer side by side.
fn servers() -> &'static str {
    if peer_wanted() {
        "both"
    } else {
        "chat"
    }
}

fn reports(value: Value) -> Vec<Value> {
    match value {
        Value::Array(list) => list,
        single => vec![single],
    }
}

#[test]
fn fanout_delivers_every_message_to_every_member() {
    let value = bench(&[
        "fanout",
        "--server",
        servers(),
        "--members",
        "30",
        "--start-rate",
        "20",
        "--step-secs",
        "0.5",
        "--max-steps",
        "2",
        // The smoke test checks that the steps run and lose nothing, not how fast: on a busy
        // CI machine one stall over 100 ms ended the run after its first step.
        "--p99-limit-ms",
        "60000",
    ]);
    for report in reports(value) {
        assert_clean(&report);
        let steps = report["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 2, "{report:#}");
        for step in steps {
            assert_eq!(step["late/lost"], 0.0, "{report:#}");
        }
        assert!(figure(&report, "deliveries/s at p99 limit") > 0.0);
        // p50 <= p99 <= p99.9: the percentiles come from one histogram
        let (p50, p99, p999) = (
            figure(&report, "delivery p50"),
            figure(&report, "delivery p99"),
            figure(&report, "delivery p99.9"),
        );
        assert!(p50 <= p99 && p99 <= p999, "{report:#}");
        // The tool started the server, so it read its memory from /proc.
        assert!(figure(&report, "server RSS") > 0.0);
    }
}

#[test]
fn ingest_persists_every_acknowledged_message() {
    let report = bench(&[
        "ingest",
        "--senders",
        "8",
        "--rooms",
        "4",
        "--warmup-secs",
        "0.2",
        "--secs",
        "1",
    ]);
    assert_clean(&report);
    let acked = figure(&report, "acknowledged in all");
    assert!(acked > 0.0);
    assert_eq!(figure(&report, "messages in the database"), acked);
}

#[test]
fn chat_loses_nothing() {
    let value = bench(&[
        "chat",
        "--server",
        servers(),
        "--users",
        "40",
        "--warmup-secs",
        "0.5",
        "--secs",
        "1",
        "--rate",
        "4",
    ]);
    for report in reports(value) {
        assert_clean(&report);
        assert_eq!(figure(&report, "undelivered after 5 s"), 0.0);
        assert!(figure(&report, "deliveries/s") > 0.0);
    }
}

#[test]
fn idle_connections_stay_up() {
    let value = bench(&[
        "idle",
        "--server",
        servers(),
        "--connections",
        "60",
        "--hold-secs",
        "0.5",
    ]);
    for report in reports(value) {
        assert_clean(&report);
        assert_eq!(figure(&report, "connected"), 60.0);
        assert_eq!(figure(&report, "dropped while idle"), 0.0);
        assert!(report["results"]["server RSS per connection"].is_object());
    }
}

#[test]
fn history_pages_and_resumes() {
    let report = bench(&[
        "history",
        "--messages",
        "3000",
        "--rooms",
        "3",
        "--pages",
        "20",
        "--resumes",
        "3",
        "--missed",
        "150",
    ]);
    assert_clean(&report);
    // 3 resumes of 150 missed events each
    assert_eq!(figure(&report, "resumed events"), 450.0);
}

#[test]
fn storm_catches_up_without_gaps_or_doubles() {
    let report = bench(&[
        "storm",
        "--clients",
        "40",
        "--messages",
        "600",
        "--senders",
        "2",
    ]);
    assert_clean(&report);
    assert_eq!(figure(&report, "events missing"), 0.0);
    assert_eq!(figure(&report, "events doubled"), 0.0);
    // 4 rooms of 10 clients; each client fetches its room's 150 messages
    assert_eq!(figure(&report, "events fetched"), 6000.0);
}

#[test]
fn medians_of_several_runs() {
    let report = bench(&[
        "history",
        "--messages",
        "200",
        "--rooms",
        "2",
        "--pages",
        "5",
        "--resumes",
        "1",
        "--missed",
        "50",
        "--runs",
        "2",
    ]);
    assert_clean(&report);
    assert_eq!(report["settings"]["runs"], "2 (medians)");
}

#[test]
fn persistence_scenarios_refuse_the_peer() {
    let output = Command::new(env!("CARGO_BIN_EXE_chat-bench"))
        .args(["ingest", "--server", "socketio"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("runs against chat-server only"), "{stderr}");
}

/// Stops the server child when the test ends, passed or not.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_server_can_be_targeted_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        "[server]\nrequests_per_second = 100000\nrequest_burst = 100000\n\
         registrations_per_address_per_hour = 100000\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let _server = Child(
        Command::new(env!("CARGO_BIN_EXE_chat-bench"))
            .args(["serve", "--listen", &listen, "--config"])
            .arg(&config)
            .arg("--db")
            .arg(dir.path().join("chat.sqlite"))
            .spawn()
            .unwrap(),
    );
    let url = format!("ws://{listen}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Users are registered through the protocol, rooms created with create_room.
    let report = bench(&[
        "chat",
        "--url",
        &url,
        "--users",
        "20",
        "--warmup-secs",
        "0.3",
        "--secs",
        "0.7",
        "--rate",
        "4",
    ]);
    assert_clean(&report);
    assert_eq!(figure(&report, "undelivered after 5 s"), 0.0);
    // No /proc figures for a server the tool did not start.
    assert!(report["results"]["server RSS"].is_null(), "{report:#}");
}

#[test]
fn search_times_every_kind_of_query() {
    let report = bench(&[
        "search",
        "--messages",
        "2000",
        "--rooms",
        "4",
        "--searches",
        "3",
    ]);
    assert_clean(&report);
    assert!(figure(&report, "hits returned") > 0.0);
    assert!(
        report["results"]["all searches p99"].is_object(),
        "{report}"
    );
}

#[test]
fn http_send_posts_over_keep_alive_connections() {
    let report = bench(&[
        "http-send",
        "--senders",
        "4",
        "--rooms",
        "2",
        "--warmup-secs",
        "0.2",
        "--secs",
        "0.5",
    ]);
    assert_clean(&report);
    assert!(figure(&report, "HTTP sends/s") > 0.0, "{report}");
}
