//! storm: every client drops at once, messages pile up in their rooms, then every client
//! reconnects at the same moment and resumes from the last seq it saw. Reports how long until
//! every client has caught up, and checks each one holds exactly its room's events: none
//! missing, none twice.

use crate::net::{self, Ws};
use crate::scenario::{self, add_rss, cpu_us_per};
use crate::stats::{self, now_us, Latency, Report};
use crate::target::Kind;
use crate::wire::{self, Incoming};
use crate::world::{Layout, World};
use crate::{Bench, Common};
use anyhow::{bail, Context};
use chat_protocol::RoomId;
use clap::Args;
use futures_util::SinkExt;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Args)]
pub struct StormArgs {
    /// Clients that drop and come back.
    #[arg(long, default_value_t = 5000)]
    pub clients: usize,
    /// Members per room (clients; each room also has one sender).
    #[arg(long, default_value_t = 10)]
    pub room_size: usize,
    /// Messages sent to their rooms while they are away.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Sending connections (each sends to its share of the rooms).
    #[arg(long, default_value_t = 50)]
    pub senders: usize,
    /// A client that has not caught up this many seconds after the reconnect counts as failed.
    #[arg(long, default_value_t = 120.0)]
    pub timeout_secs: f64,
    #[command(flatten)]
    pub common: Common,
}

/// Messages each sender keeps in flight.
const SEND_WINDOW: usize = 64;

/// How one client's catch-up went.
#[derive(Debug, Default)]
struct CatchUp {
    done_after_us: u64,
    events: u64,
    gaps: u64,
    doubled: u64,
    failed: Option<String>,
}

pub async fn run(bench: &Bench, args: &StormArgs) -> anyhow::Result<Vec<Report>> {
    bench.require_chat("storm")?;
    let mut report = Report::new("storm", Kind::Chat.name());
    let wanted = args.clients + args.senders;
    let capped = bench.cap_connections(wanted, &mut report.notes);
    let clients = capped.saturating_sub(args.senders).max(1);
    let senders = args.senders.max(1);
    let room_count = clients.div_ceil(args.room_size.max(1));
    let mut layout = Layout::groups(clients, args.room_size);
    layout.users = clients + senders;
    for (r, members) in layout.rooms.iter_mut().enumerate() {
        members.push(clients + r % senders);
    }
    let started = scenario::start(bench, Kind::Chat, &layout, "storm").await?;
    let target = &started.target;
    let world = &started.world;
    let room_of = &layout.room_of();
    let url = target.url();

    // Everyone connects and learns where their room is.
    let errors = stats::Errors::default();
    let first = net::open_all(clients, bench.common.concurrency, |i| {
        let url = &url;
        async move {
            let mut ws = net::connect(url, target.addr, bench.sources.pick()).await?;
            let welcome = wire::chat_login(&mut ws, &world.tokens[i]).await?;
            let room = world.room_ids[room_of[i]];
            let seen = welcome
                .rooms
                .iter()
                .find(|r| r.id == room)
                .map(|r| r.last_seq)
                .context("room missing from the welcome")?;
            anyhow::Ok((ws, seen))
        }
    })
    .await;
    let mut seen = Vec::with_capacity(clients);
    let mut connections = Vec::with_capacity(clients);
    for result in first {
        let (ws, last) = result?;
        connections.push(ws);
        seen.push(last);
    }
    let mut sender_conns = Vec::with_capacity(senders);
    for s in 0..senders {
        let mut ws = net::connect(&url, target.addr, bench.sources.pick()).await?;
        wire::chat_login(&mut ws, &world.tokens[clients + s]).await?;
        sender_conns.push(ws);
    }

    // Everyone drops at once: the sockets close without a goodbye, as when a network fails.
    drop(connections);

    let send_start = Instant::now();
    let mut send_tasks = Vec::new();
    for (s, ws) in sender_conns.into_iter().enumerate() {
        let rooms: Vec<RoomId> = (0..room_count)
            .filter(|r| r % senders == s)
            .map(|r| world.room_ids[r])
            .collect();
        let count = args.messages / senders + usize::from(s < args.messages % senders);
        send_tasks.push(tokio::spawn(send_share(ws, s, rooms, count)));
    }
    let mut final_seq: HashMap<RoomId, i64> = HashMap::new();
    for task in send_tasks {
        for (room, seq) in task.await?? {
            let entry = final_seq.entry(room).or_insert(0);
            *entry = (*entry).max(seq);
        }
    }
    let send_secs = send_start.elapsed().as_secs_f64();

    // Everyone comes back at the same moment.
    let cpu_before = target.sample();
    let storm_start = now_us();
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.timeout_secs);
    let final_seq = Arc::new(final_seq);
    let results = net::open_all(clients, clients, |i| {
        let url = &url;
        let room = world.room_ids[room_of[i]];
        let from = seen[i];
        let upto = final_seq.get(&room).copied().unwrap_or(from);
        async move {
            let catching_up = catch_up(url, target, bench, world, i, room, from, upto, storm_start);
            tokio::time::timeout_at(deadline, catching_up)
                .await
                .unwrap_or_else(|_| CatchUp {
                    failed: Some("did not catch up in time".into()),
                    ..CatchUp::default()
                })
        }
    })
    .await;
    let total_us = now_us() - storm_start;
    let cpu_after = target.sample();

    let mut times = stats::histogram();
    let (mut events, mut gaps, mut doubled, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let mut first_failure = None;
    for r in &results {
        events += r.events;
        gaps += r.gaps;
        doubled += r.doubled;
        if let Some(why) = &r.failed {
            failed += 1;
            first_failure.get_or_insert_with(|| why.clone());
        } else {
            times.saturating_record(r.done_after_us.max(1));
        }
    }
    let rss = target.sample();
    started.target.stop()?;

    report.setting("clients", clients);
    report.setting("room_size", args.room_size);
    report.setting("rooms", room_count);
    report.setting("messages", args.messages);
    report.setting("senders", senders);
    bench.setting_lines(&mut report);
    report.metric(
        "sent while away",
        args.messages as f64 / send_secs,
        "msgs/s",
    );
    if failed == 0 {
        report.metric("all caught up after", total_us as f64 / 1e6, "s");
    }
    report.latency("client caught up", &Latency::of(&times));
    report.metric("events fetched", events as f64, "");
    report.metric("events missing", gaps as f64, "");
    report.metric("events doubled", doubled as f64, "");
    if let Some(cpu) = cpu_us_per(cpu_before, cpu_after, events) {
        report.metric("server CPU per event fetched", cpu, "µs");
    }
    add_rss(&mut report, rss);
    errors
        .connect
        .fetch_add(failed, std::sync::atomic::Ordering::Relaxed);
    report.errors = errors.total() + gaps + doubled;
    if let Some(why) = first_failure {
        report.notes.push(format!(
            "{failed} clients failed to catch up; the first: {why}"
        ));
    }
    Ok(vec![report])
}

/// Send `count` messages round-robin over `rooms` with a window of acknowledgements; returns
/// the last seq acknowledged in each room.
async fn send_share(
    mut ws: Ws,
    id: usize,
    rooms: Vec<RoomId>,
    count: usize,
) -> anyhow::Result<Vec<(RoomId, i64)>> {
    #[derive(Deserialize)]
    struct Ack {
        room_id: RoomId,
        seq: i64,
    }
    let mut last: HashMap<RoomId, i64> = HashMap::new();
    let (mut sent, mut acked, mut in_flight) = (0usize, 0usize, 0usize);
    let text = "storm ".repeat(16);
    while acked < count {
        while sent < count && in_flight < SEND_WINDOW {
            let room = rooms[sent % rooms.len()];
            let frame = wire::send_frame(
                Kind::Chat,
                sent as u64 + 1,
                room,
                format!("st{id}-{sent}"),
                text.clone(),
            );
            ws.feed(Message::text(frame)).await?;
            sent += 1;
            in_flight += 1;
        }
        ws.flush().await?;
        let text = tokio::time::timeout(Duration::from_secs(30), wire::next_text(&mut ws))
            .await
            .context("no acknowledgement within 30 s")??;
        match wire::classify(Kind::Chat, &text) {
            Incoming::Ack => {
                let ack: Ack = serde_json::from_str(&text)?;
                let entry = last.entry(ack.room_id).or_insert(0);
                *entry = (*entry).max(ack.seq);
                acked += 1;
                in_flight -= 1;
            }
            Incoming::Refused => bail!("a send was refused: {text}"),
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    Ok(last.into_iter().collect())
}

/// The parts of a history answer the check needs; the rest of each event is skipped unread.
#[derive(Deserialize)]
struct Page {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    more: bool,
    #[serde(default)]
    events: Vec<SeqOnly>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: i64,
}

/// Reconnect, log in, and page through history from `from` until nothing remains; check that
/// exactly the seqs from+1..=upto arrived.
#[allow(clippy::too_many_arguments)]
async fn catch_up(
    url: &str,
    target: &crate::target::Target,
    bench: &Bench,
    world: &World,
    i: usize,
    room: RoomId,
    from: i64,
    upto: i64,
    start_us: u64,
) -> CatchUp {
    let mut result = CatchUp::default();
    let outcome: anyhow::Result<()> = async {
        let mut ws = net::connect(url, target.addr, bench.sources.pick()).await?;
        let welcome = wire::chat_login(&mut ws, &world.tokens[i]).await?;
        let limit = welcome.limits.max_history_page;
        let mut got: Vec<i64> = Vec::with_capacity((upto - from).max(0) as usize);
        let mut after = from;
        let mut request_id = 0;
        loop {
            request_id += 1;
            ws.send(Message::text(wire::history_after(
                request_id, room, after, limit,
            )))
            .await?;
            let page = loop {
                let text = wire::next_text(&mut ws).await?;
                if text.starts_with(r#"{"type":"history""#)
                    || text.starts_with(r#"{"type":"error""#)
                {
                    break serde_json::from_str::<Page>(&text)?;
                }
            };
            if page.kind == "error" {
                bail!("history refused: {}", page.message);
            }
            got.extend(page.events.iter().map(|e| e.seq));
            if let Some(last) = page.events.last() {
                after = last.seq;
            }
            if !page.more {
                break;
            }
        }
        result.done_after_us = now_us().saturating_sub(start_us);
        result.events = got.len() as u64;
        got.sort_unstable();
        let before_dedup = got.len();
        got.dedup();
        result.doubled = (before_dedup - got.len()) as u64;
        let expected = (from + 1..=upto)
            .filter(|s| got.binary_search(s).is_err())
            .count();
        result.gaps = expected as u64;
        let _ = ws.close(None).await;
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        result.failed = Some(format!("{e:#}"));
    }
    result
}
