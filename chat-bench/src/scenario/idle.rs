//! idle: many authenticated connections, each in a room, doing nothing. Reports how fast they
//! were opened and what each costs the server in memory.

use crate::load::{Crowd, Shared};
use crate::scenario::{self, add_rss};
use crate::stats::Report;
use crate::target::Kind;
use crate::world::{self, Layout};
use crate::{Bench, Common};
use clap::Args;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Connections to open (capped by the open-file limit of this machine).
    #[arg(long, default_value_t = 20_000)]
    pub connections: usize,
    /// Members per room.
    #[arg(long, default_value_t = 10)]
    pub room_size: usize,
    /// Seconds to hold every connection open before measuring memory again.
    #[arg(long, default_value_t = 10.0)]
    pub hold_secs: f64,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(bench: &Bench, args: &IdleArgs) -> anyhow::Result<Vec<Report>> {
    scenario::per_server(bench, |kind| run_one(bench, args, kind)).await
}

async fn run_one(bench: &Bench, args: &IdleArgs, kind: Kind) -> anyhow::Result<Report> {
    let mut report = Report::new("idle", kind.name());
    let wanted = bench.cap_connections(args.connections, &mut report.notes);
    let layout = Layout::groups(wanted, args.room_size);
    let started = scenario::start(bench, kind, &layout, "idle").await?;
    let target = &started.target;
    // Let start-up allocations settle so the baseline is the server at rest.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = target.sample();
    let shared = Shared::new(kind, 1);

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
    let mut crowd = Crowd::new(shared.clone());
    for (_, ws) in sessions {
        crowd.join(ws, None);
    }
    tokio::time::sleep(Duration::from_secs_f64(args.hold_secs)).await;
    let held = target.sample();
    let dropped = shared.errors.closed.load(Ordering::Relaxed);
    crowd.stop().await;

    report.setting("connections", wanted);
    report.setting("room_size", args.room_size);
    report.setting("concurrency", bench.common.concurrency);
    report.setting("hold_secs", args.hold_secs);
    bench.setting_lines(&mut report);
    report.metric("connected", connected as f64, "");
    report.metric("connects/s", connected as f64 / connect_secs, "/s");
    if let (Some(b), Some(h)) = (baseline, held) {
        if connected > 0 {
            let per = (h.rss_kib as f64 - b.rss_kib as f64) / connected as f64;
            report.metric("server RSS per connection", per, "KiB");
            report.metric("server RSS at rest", b.rss_kib as f64 / 1024.0, "MiB");
        }
    }
    add_rss(&mut report, held);
    report.metric("dropped while idle", dropped as f64, "");
    report.errors = shared.errors.total();
    if report.errors > 0 {
        report
            .notes
            .push(format!("errors: {}", shared.errors.describe()));
    }
    started.target.stop()?;
    Ok(report)
}
