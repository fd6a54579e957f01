//! chat: many users in small rooms, each sending a message every so often, the way a busy
//! workplace chat looks. Reports delivery latency and what the server spends per delivery.

use crate::load::{Crowd, Plan, Sender, Shared};
use crate::scenario::{self, add_rss, cpu_us_per};
use crate::stats::{now_us, Report};
use crate::target::Kind;
use crate::world::{self, Layout};
use crate::{Bench, Common};
use clap::Args;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// Users, every one connected and sending.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Members per room.
    #[arg(long, default_value_t = 10)]
    pub room_size: usize,
    /// Messages per second each user sends.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Seconds of sending before measuring.
    #[arg(long, default_value_t = 3.0)]
    pub warmup_secs: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20.0)]
    pub secs: f64,
    /// Length of each message's text in bytes.
    #[arg(long, default_value_t = 100)]
    pub text_bytes: usize,
    #[command(flatten)]
    pub common: Common,
}

const WARMUP: usize = 0;
const MEASURED: usize = 1;

pub async fn run(bench: &Bench, args: &ChatArgs) -> anyhow::Result<Vec<Report>> {
    scenario::per_server(bench, |kind| run_one(bench, args, kind)).await
}

async fn run_one(bench: &Bench, args: &ChatArgs, kind: Kind) -> anyhow::Result<Report> {
    let mut report = Report::new("chat", kind.name());
    let users = bench.cap_connections(args.users, &mut report.notes);
    let layout = Layout::groups(users, args.room_size);
    let started = scenario::start(bench, kind, &layout, "chat").await?;
    let target = &started.target;
    let shared = Shared::new(kind, 2);
    let sessions = world::connect_everyone(
        target,
        &bench.sources,
        &started.world,
        &layout,
        bench.common.concurrency,
        &shared.errors,
    )
    .await;
    let connected = sessions.len();
    let room_of = layout.room_of();
    let mut audience = vec![0u64; layout.rooms.len()];
    for (i, _) in &sessions {
        audience[room_of[*i]] += 1;
    }
    let mut crowd = Crowd::new(shared.clone());
    for (i, session) in sessions {
        let sender = Sender {
            room: started.world.room_ids[room_of[i]],
            audience: audience[room_of[i]],
            id: i,
            text_bytes: args.text_bytes,
            // Spread evenly over the second (a golden-ratio sequence never lines up).
            offset: (i as f64 * 0.618_033_988_75).fract(),
        };
        crowd.join(session, Some(sender));
    }

    let start_us = now_us();
    crowd.plan(Plan {
        phase: WARMUP,
        rate: args.rate,
        start_us,
        stop: false,
    });
    tokio::time::sleep(Duration::from_secs_f64(args.warmup_secs)).await;
    // The schedule continues where it was; only the phase label changes.
    let measure_start = Instant::now();
    let before = target.sample();
    crowd.plan(Plan {
        phase: MEASURED,
        rate: args.rate,
        start_us: now_us(),
        stop: false,
    });
    tokio::time::sleep(Duration::from_secs_f64(args.secs)).await;
    crowd.plan(Plan::paused());
    let after = target.sample();
    let measured_secs = measure_start.elapsed().as_secs_f64();
    let sent = shared.sent_in(MEASURED);
    let expected = shared.expected_in(MEASURED);
    let delivered = shared.drain(MEASURED, Duration::from_secs(5)).await;
    let latency = shared.recorder.latency(MEASURED);
    let rss = target.sample();
    crowd.stop().await;

    report.setting("users", users);
    report.setting("connected", connected);
    report.setting("room_size", args.room_size);
    report.setting("rate_per_user", args.rate);
    report.setting("secs", args.secs);
    bench.setting_lines(&mut report);
    report.metric("messages/s", sent as f64 / measured_secs, "/s");
    report.metric("deliveries/s", delivered as f64 / measured_secs, "/s");
    report.latency("delivery", &latency);
    if let Some(cpu) = cpu_us_per(before, after, delivered) {
        report.metric("server CPU per delivery", cpu, "µs");
    }
    if let (Some(b), Some(a)) = (before, after) {
        report.metric(
            "server CPU",
            (a.cpu_s - b.cpu_s) / measured_secs * 100.0,
            "% of a core",
        );
    }
    add_rss(&mut report, rss);
    // Deliveries still missing 5 s after the last send: lost, or so late they count as lost.
    let undelivered = expected.saturating_sub(delivered);
    report.metric("undelivered after 5 s", undelivered as f64, "");
    report.errors = shared.errors.total() + undelivered;
    if report.errors > 0 {
        report.notes.push(format!(
            "{undelivered} deliveries had not arrived 5 s after the last send; connection errors: {}",
            shared.errors.describe()
        ));
    }
    started.target.stop()?;
    Ok(report)
}
