//! The scenarios, one module each, and what they share: starting the server with a population.

pub mod chat;
pub mod fanout;
pub mod history;
pub mod http_send;
pub mod idle;
pub mod ingest;
pub mod search;
pub mod storm;

use crate::stats::Report;
use crate::target::{Kind, ProcSample, Target};
use crate::world::{self, Layout, World};
use crate::Bench;
use std::path::PathBuf;

/// A server of `kind` ready for `layout`. A chat-server this tool starts gets a database seeded
/// with the users and rooms; one given by `--url` gets them through the protocol (registration,
/// then create_room). The socket.io peer needs nothing: its clients join rooms by name.
pub struct Started {
    pub target: Target,
    pub world: World,
    pub db: Option<PathBuf>,
}

pub async fn start(
    bench: &Bench,
    kind: Kind,
    layout: &Layout,
    name: &str,
) -> anyhow::Result<Started> {
    match kind {
        Kind::Chat if bench.common.url.is_some() => {
            let url = bench.common.url.as_deref().unwrap_or_default();
            let target = Target::external(Kind::Chat, url)?;
            // Unique per run, so repeated runs against one server do not collide.
            let prefix = format!("b{}x", crate::stats::unix_secs() % 1_000_000_000);
            let world = world::register(
                &target,
                &bench.sources,
                layout,
                &prefix,
                bench.common.concurrency,
            )
            .await?;
            Ok(Started {
                target,
                world,
                db: None,
            })
        }
        Kind::Chat => {
            let db = bench.db_path(name);
            let world = world::seed(&db, layout)?;
            let target = bench.start_chat(&db)?;
            Ok(Started {
                target,
                world,
                db: Some(db),
            })
        }
        Kind::SocketIo => Ok(Started {
            target: bench.start_socketio()?,
            world: world::unseeded(layout),
            db: None,
        }),
    }
}

/// Run a scenario against each server `--server` names, in order: one report each.
pub async fn per_server<F, Fut>(bench: &Bench, run_one: F) -> anyhow::Result<Vec<Report>>
where
    F: Fn(Kind) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Report>>,
{
    let mut reports = Vec::new();
    for kind in bench.kinds() {
        reports.push(run_one(kind).await?);
    }
    Ok(reports)
}

/// Server CPU spent between two samples per unit of work, in µs (None without /proc figures).
pub fn cpu_us_per(
    before: Option<ProcSample>,
    after: Option<ProcSample>,
    units: u64,
) -> Option<f64> {
    let (b, a) = (before?, after?);
    (units > 0).then(|| (a.cpu_s - b.cpu_s) * 1e6 / units as f64)
}

/// Server memory now, when this tool started the server.
pub fn add_rss(report: &mut Report, sample: Option<ProcSample>) {
    if let Some(s) = sample {
        report.metric("server RSS", s.rss_kib as f64 / 1024.0, "MiB");
    }
}
