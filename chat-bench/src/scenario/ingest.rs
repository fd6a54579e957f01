//! ingest: many senders over many rooms, each sending its next message as soon as the last
//! one is acknowledged (a window of 1 by default). chat-server acknowledges only after the
//! commit, so acknowledged means persisted; the database is counted afterwards to prove it.

use crate::net;
use crate::scenario::{self, add_rss, cpu_us_per};
use crate::stats::{self, now_us, Latency, Report};
use crate::target::Kind;
use crate::wire::{self, Incoming};
use crate::world::{self, Layout};
use crate::{Bench, Common};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Sending connections.
    #[arg(long, default_value_t = 200)]
    pub senders: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Messages each sender has in flight (sent, not yet acknowledged).
    #[arg(long, default_value_t = 1)]
    pub window: usize,
    /// Seconds of sending before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Length of each message's text in bytes.
    #[arg(long, default_value_t = 100)]
    pub text_bytes: usize,
    #[command(flatten)]
    pub common: Common,
}

/// What one sender saw.
struct SenderResult {
    acked_total: u64,
    acked_measured: u64,
    latency: Histogram<u64>,
    refused: u64,
    dropped: bool,
}

pub async fn run(bench: &Bench, args: &IngestArgs) -> anyhow::Result<Vec<Report>> {
    bench.require_chat("ingest")?;
    let mut report = Report::new("ingest", Kind::Chat.name());
    let room_size = args.senders.div_ceil(args.rooms.max(1)).max(1);
    let layout = Layout::groups(args.senders, room_size);
    let started = scenario::start(bench, Kind::Chat, &layout, "ingest").await?;
    let target = &started.target;
    let errors = stats::Errors::default();
    let sessions = world::connect_everyone(
        target,
        &bench.sources,
        &started.world,
        &layout,
        bench.common.concurrency,
        &errors,
    )
    .await;
    let room_of = layout.room_of();
    let measure_from = now_us() + (args.warmup_secs * 1e6) as u64;
    let measure_until = measure_from + (args.secs * 1e6) as u64;
    let mut tasks = Vec::new();
    for (i, session) in sessions {
        let room = started.world.room_ids[room_of[i]];
        tasks.push(tokio::spawn(send_loop(
            session,
            i,
            room,
            args.window.max(1),
            args.text_bytes,
            measure_from,
            measure_until,
        )));
    }
    let (cpu_before, cpu_after) = target.sample_window(measure_from, measure_until).await;

    let mut latency = stats::histogram();
    let (mut acked_total, mut acked_measured, mut refused, mut dropped) = (0, 0, 0, 0);
    for task in tasks {
        if let Ok(r) = task.await {
            acked_total += r.acked_total;
            acked_measured += r.acked_measured;
            refused += r.refused;
            dropped += u64::from(r.dropped);
            let _ = latency.add(&r.latency);
        }
    }
    let rss = target.sample();
    let db = started.db.clone();
    started.target.stop()?;
    // Only a server this tool started has a database it may open.
    let persisted = match &db {
        Some(path) => Some(chat_server::seed::message_count(path)? as u64),
        None => None,
    };

    report.setting("senders", args.senders);
    report.setting("rooms", layout.rooms.len());
    report.setting("window", args.window);
    report.setting("secs", args.secs);
    report.setting("text_bytes", args.text_bytes);
    bench.setting_lines(&mut report);
    let l = Latency::of(&latency);
    report.metric(
        "persisted messages/s",
        acked_measured as f64 / args.secs,
        "/s",
    );
    report.latency("ack", &l);
    if let Some(cpu) = cpu_us_per(cpu_before, cpu_after, acked_measured) {
        report.metric("server CPU per message", cpu, "µs");
    }
    add_rss(&mut report, rss);
    report.metric("acknowledged in all", acked_total as f64, "");
    errors.refused.fetch_add(refused, Ordering::Relaxed);
    errors.closed.fetch_add(dropped, Ordering::Relaxed);
    report.errors = errors.total();
    match persisted {
        Some(persisted) => {
            report.metric("messages in the database", persisted as f64, "");
            if persisted < acked_total {
                report.errors += acked_total - persisted;
                report.notes.push(format!(
                    "{} acknowledged messages are missing from the database",
                    acked_total - persisted
                ));
            }
        }
        None => report.notes.push(
            "the server's database was not counted: this tool did not start the server".into(),
        ),
    }
    if errors.total() > 0 {
        report.notes.push(format!("errors: {}", errors.describe()));
    }
    Ok(vec![report])
}

async fn send_loop(
    mut ws: net::Ws,
    id: usize,
    room: chat_protocol::RoomId,
    window: usize,
    text_bytes: usize,
    measure_from: u64,
    measure_until: u64,
) -> SenderResult {
    let mut result = SenderResult {
        acked_total: 0,
        acked_measured: 0,
        latency: stats::histogram(),
        refused: 0,
        dropped: false,
    };
    let mut in_flight: VecDeque<u64> = VecDeque::with_capacity(window);
    let mut request_id = 0u64;
    // No latency marker: ingest times acknowledgements, not deliveries.
    let text = "i".repeat(text_bytes);
    loop {
        let now = now_us();
        let sending = now < measure_until;
        if sending && in_flight.len() < window {
            while in_flight.len() < window {
                request_id += 1;
                let frame = wire::send_frame(
                    Kind::Chat,
                    request_id,
                    room,
                    format!("i{id}-{request_id}"),
                    text.clone(),
                );
                if ws.feed(Message::text(frame)).await.is_err() {
                    result.dropped = true;
                    return result;
                }
                in_flight.push_back(now_us());
            }
            if ws.flush().await.is_err() {
                result.dropped = true;
                return result;
            }
        }
        if in_flight.is_empty() {
            break;
        }
        // After the end, give stragglers a bounded time to be acknowledged.
        let wait = if sending {
            Duration::from_secs(30)
        } else {
            Duration::from_secs(5)
        };
        let incoming = match tokio::time::timeout(wait, ws.next()).await {
            Ok(incoming) => incoming,
            Err(_) => break,
        };
        match incoming {
            Some(Ok(Message::Text(text))) => match wire::classify(Kind::Chat, &text) {
                Incoming::Ack => {
                    let now = now_us();
                    if let Some(sent) = in_flight.pop_front() {
                        result.acked_total += 1;
                        if sent >= measure_from && sent < measure_until {
                            result.acked_measured += 1;
                            result
                                .latency
                                .saturating_record(now.saturating_sub(sent).max(1));
                        }
                    }
                }
                Incoming::Refused => {
                    in_flight.pop_front();
                    result.refused += 1;
                }
                _ => {}
            },
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                result.dropped = true;
                return result;
            }
            Some(Ok(_)) => {}
        }
    }
    let _ = ws.close(None).await;
    result
}
