//! fanout: one room of many members; a few of them send ~100-byte messages at a rate that
//! rises step by step. Each step reports deliveries per second and latency; the result is the
//! highest delivery rate whose p99 stays under the limit with nothing lost.

use crate::load::{Crowd, Plan, Sender, Shared};
use crate::scenario::{self, add_rss, cpu_us_per};
use crate::stats::{now_us, Report};
use crate::target::Kind;
use crate::world::{self, Layout};
use crate::{Bench, Common};
use clap::Args;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Members of the room (every one is connected and receives every message).
    #[arg(long, default_value_t = 2000)]
    pub members: usize,
    /// Members that send.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages per second (all senders together) in the first step.
    #[arg(long, default_value_t = 25.0)]
    pub start_rate: f64,
    /// Each step multiplies the rate by this.
    #[arg(long, default_value_t = 1.25)]
    pub growth: f64,
    /// Seconds each step sends for.
    #[arg(long, default_value_t = 4.0)]
    pub step_secs: f64,
    /// Most steps (the run also stops at the first step over the limit).
    #[arg(long, default_value_t = 20)]
    pub max_steps: usize,
    /// A step passes while its delivery p99 is under this many milliseconds.
    #[arg(long, default_value_t = 100.0)]
    pub p99_limit_ms: f64,
    /// Length of each message's text in bytes.
    #[arg(long, default_value_t = 100)]
    pub text_bytes: usize,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(bench: &Bench, args: &FanoutArgs) -> anyhow::Result<Vec<Report>> {
    scenario::per_server(bench, |kind| run_one(bench, args, kind)).await
}

async fn run_one(bench: &Bench, args: &FanoutArgs, kind: Kind) -> anyhow::Result<Report> {
    let mut report = Report::new("fanout", kind.name());
    let members = bench.cap_connections(args.members, &mut report.notes);
    let layout = Layout {
        users: members,
        rooms: vec![(0..members).collect()],
    };
    let started = scenario::start(bench, kind, &layout, "fanout").await?;
    let target = &started.target;
    let shared = Shared::new(kind, args.max_steps);
    let connect_start = Instant::now();
    let sessions = world::connect_everyone(
        target,
        &bench.sources,
        &started.world,
        &layout,
        bench.common.concurrency,
        &shared.errors,
    )
    .await;
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let connected = sessions.len();

    let room = started.world.room_ids[0];
    let senders = args.senders.clamp(1, connected.max(1));
    let mut crowd = Crowd::new(shared.clone());
    for (n, (i, session)) in sessions.into_iter().enumerate() {
        let sender = (n < senders).then(|| Sender {
            room,
            audience: connected as u64,
            id: i,
            text_bytes: args.text_bytes,
            offset: n as f64 / senders as f64,
        });
        crowd.join(session, sender);
    }
    // Let the welcome traffic and presence settle before the first step.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut best: Option<Vec<(&'static str, f64)>> = None;
    let mut rate = args.start_rate;
    for step in 0..args.max_steps {
        let before = target.sample();
        let started_at = Instant::now();
        crowd.plan(Plan {
            phase: step,
            rate: rate / senders as f64,
            start_us: now_us(),
            stop: false,
        });
        tokio::time::sleep(Duration::from_secs_f64(args.step_secs)).await;
        crowd.plan(Plan::paused());
        let sent = shared.sent_in(step);
        let expected = shared.expected_in(step);
        // Wait for the step's deliveries (bounded: a server that cannot keep up fails the step).
        let delivered = shared.drain(step, Duration::from_secs(5)).await;
        let elapsed = started_at.elapsed().as_secs_f64();
        let after = target.sample();
        let latency = shared.recorder.latency(step);
        let per_second = delivered as f64 / args.step_secs;
        let cpu = cpu_us_per(before, after, delivered).unwrap_or(f64::NAN);
        let lost = expected.saturating_sub(delivered);
        let row = vec![
            ("msgs/s", rate),
            ("deliveries/s", per_second),
            ("p50 ms", latency.p50_ms),
            ("p99 ms", latency.p99_ms),
            ("p99.9 ms", latency.p999_ms),
            ("cpu µs/dlv", cpu),
            ("late/lost", lost as f64),
        ];
        tracing::info!(
            step,
            rate,
            per_second,
            p99 = latency.p99_ms,
            elapsed,
            "fanout step"
        );
        report.steps.push(row.clone());
        let dropped = shared.errors.closed.load(Ordering::Relaxed) > 0;
        if latency.p99_ms >= args.p99_limit_ms || lost > 0 || dropped || sent == 0 {
            break;
        }
        best = Some(row);
        rate *= args.growth;
    }
    let rss = target.sample();
    crowd.stop().await;

    report.setting("members", members);
    report.setting("connected", connected);
    report.setting("senders", senders);
    report.setting("step_secs", args.step_secs);
    report.setting("p99_limit_ms", args.p99_limit_ms);
    report.setting("text_bytes", args.text_bytes);
    bench.setting_lines(&mut report);
    match &best {
        Some(row) => {
            let get = |name: &str| {
                row.iter()
                    .find(|(k, _)| *k == name)
                    .map_or(f64::NAN, |(_, v)| *v)
            };
            report.metric("deliveries/s at p99 limit", get("deliveries/s"), "/s");
            report.metric("messages/s at p99 limit", get("msgs/s"), "/s");
            report.metric("delivery p50", get("p50 ms"), "ms");
            report.metric("delivery p99", get("p99 ms"), "ms");
            report.metric("delivery p99.9", get("p99.9 ms"), "ms");
            if target.pid().is_some() {
                report.metric("server CPU per delivery", get("cpu µs/dlv"), "µs");
            }
            report.notes.push(format!(
                "latency and CPU figures are those of the fastest passing step ({} msgs/s); compare servers at equal rates in the step table",
                crate::stats::number(get("msgs/s"))
            ));
        }
        None => report
            .notes
            .push("no step stayed under the p99 limit without loss".into()),
    }
    report.metric("connects/s", connected as f64 / connect_secs, "/s");
    add_rss(&mut report, rss);
    report.errors = shared.errors.total();
    if report.errors > 0 {
        report
            .notes
            .push(format!("errors: {}", shared.errors.describe()));
    }
    started.target.stop()?;
    Ok(report)
}
