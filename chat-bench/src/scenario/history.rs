//! history: a database holding a large history (1,000,000 messages over 1,000 rooms by
//! default, seeded by this tool); the latency of fetching a 50-message page from a random
//! point, and of a full resume after 1,000 missed events (pages of 100 until none remain).

use crate::net;
use crate::scenario::add_rss;
use crate::stats::{self, now_us, Latency, Report};
use crate::target::Kind;
use crate::wire;
use crate::world::{self, Layout};
use crate::{Bench, Common};
use anyhow::{bail, Context};
use chat_protocol::{RoomId, ServerFrame};
use chat_server::seed::Seeder;
use clap::Args;
use futures_util::SinkExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Messages in the database.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 1000)]
    pub rooms: usize,
    /// Page requests to time (50 messages each, from a random point of a random room).
    #[arg(long, default_value_t = 2000)]
    pub pages: usize,
    /// Events per page.
    #[arg(long, default_value_t = 50)]
    pub page_size: u32,
    /// Resumes to time.
    #[arg(long, default_value_t = 200)]
    pub resumes: usize,
    /// Events missed before each resume.
    #[arg(long, default_value_t = 1000)]
    pub missed: i64,
    /// Percent of the seeded messages that are then edited and given two reactions (each
    /// change is an event of its own and rewrites the message once), to measure pages over
    /// messages that changed.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub changed_percent: u8,
    #[command(flatten)]
    pub common: Common,
}

/// Writers share the rooms' messages; a reader is in every room.
pub(super) const WRITERS: usize = 10;

/// User 0 reads, in every room; room `r` is written by user `1 + r % WRITERS`.
pub(super) fn reader_layout(rooms: usize) -> Layout {
    Layout {
        users: 1 + WRITERS,
        rooms: (0..rooms).map(|r| vec![0, 1 + r % WRITERS]).collect(),
    }
}

pub async fn run(bench: &Bench, args: &HistoryArgs) -> anyhow::Result<Vec<Report>> {
    bench.require_chat("history")?;
    if bench.common.url.is_some() {
        anyhow::bail!("history seeds its 1,000,000 messages straight into the database, so it needs a server it starts itself: leave out --url");
    }
    let mut report = Report::new("history", Kind::Chat.name());
    let rooms = args.rooms.max(1);
    let layout = reader_layout(rooms);
    let db = bench.db_path("history");
    let seed_start = Instant::now();
    let world = world::seed(&db, &layout)?;
    seed_messages(&db, &world, rooms, args.messages, args.changed_percent)?;
    let seed_secs = seed_start.elapsed().as_secs_f64();
    let target = bench.start_chat(&db)?;

    let mut ws = net::connect(&target.url(), target.addr, bench.sources.pick()).await?;
    let welcome = wire::chat_login(&mut ws, &world.tokens[0]).await?;
    let last_seq: HashMap<RoomId, i64> = welcome.rooms.iter().map(|r| (r.id, r.last_seq)).collect();
    let room_ids: Vec<RoomId> = world.room_ids.clone();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut request_id = 0u64;

    let mut pages = stats::histogram();
    for _ in 0..args.pages {
        let room = room_ids[rng.below(room_ids.len())];
        let last = last_seq.get(&room).copied().unwrap_or(0);
        let before = i64::from(args.page_size) + 1 + rng.below(last.max(1) as usize) as i64;
        request_id += 1;
        let started = now_us();
        let (events, _) = request(
            &mut ws,
            wire::history_before(request_id, room, before, args.page_size),
        )
        .await?;
        pages.saturating_record(now_us().saturating_sub(started).max(1));
        if events == 0 {
            bail!("history page of room {room} before {before} came back empty");
        }
    }

    let mut resumes = stats::histogram();
    let mut resumed_events = 0usize;
    for _ in 0..args.resumes {
        let room = room_ids[rng.below(room_ids.len())];
        let last = last_seq.get(&room).copied().unwrap_or(0);
        let mut after = (last - args.missed).max(0);
        let started = now_us();
        loop {
            request_id += 1;
            let (events, more) = request(
                &mut ws,
                wire::history_after(request_id, room, after, welcome.limits.max_history_page),
            )
            .await?;
            after += events as i64;
            resumed_events += events;
            if !more {
                break;
            }
        }
        resumes.saturating_record(now_us().saturating_sub(started).max(1));
        if after != last {
            bail!("resume of room {room} ended at seq {after}, not {last}");
        }
    }
    let rss = target.sample();
    let _ = ws.close(None).await;
    target.stop()?;

    report.setting("messages", args.messages);
    report.setting("rooms", rooms);
    report.setting("page_size", args.page_size);
    report.setting("missed", args.missed);
    report.setting("seeded_in_s", format!("{seed_secs:.1}"));
    bench.setting_lines(&mut report);
    report.latency("page", &Latency::of(&pages));
    report.latency("resume", &Latency::of(&resumes));
    report.metric("resumed events", resumed_events as f64, "");
    add_rss(&mut report, rss);
    Ok(vec![report])
}

/// Send one request and wait for its answer (ignoring anything pushed meanwhile); returns the
/// number of events and whether more remain.
async fn request(ws: &mut net::Ws, frame: String) -> anyhow::Result<(usize, bool)> {
    ws.send(Message::text(frame)).await?;
    loop {
        let text = tokio::time::timeout(Duration::from_secs(30), wire::next_text(ws))
            .await
            .context("no history answer within 30 s")??;
        match serde_json::from_str::<ServerFrame>(&text).context("decoding a history answer")? {
            ServerFrame::History(h) => return Ok((h.events.len(), h.more)),
            ServerFrame::Error(e) => bail!("history refused: {}", e.message),
            _ => continue,
        }
    }
}

/// Spread `messages` over the rooms, each room's written by its writer.
fn seed_messages(
    db: &std::path::Path,
    world: &world::World,
    rooms: usize,
    messages: usize,
    changed_percent: u8,
) -> anyhow::Result<()> {
    let mut seeder = Seeder::open(db)?;
    let text = "history ".repeat(12);
    let edited = "edited history ".repeat(8);
    let reader = &world.users[0];
    for m in 0..messages {
        let r = m % rooms;
        let (room, writer) = (world.room_ids[r], &world.users[1 + r % WRITERS]);
        let (_, id) = seeder.message_with_id(writer, room, format!("h{m}"), text.clone())?;
        if (m / rooms) % 100 < usize::from(changed_percent) {
            seeder.edit(writer, room, id, edited.clone())?;
            seeder.react(reader, room, id, "👍")?;
            seeder.react(writer, room, id, "🎉")?;
        }
    }
    seeder.commit()?;
    Ok(())
}

/// A small deterministic generator: the same rooms and points on every run.
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}
