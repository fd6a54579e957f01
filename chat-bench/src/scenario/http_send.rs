//! http-send: scripts posting messages over the HTTP API, each on one keep-alive connection,
//! each sending its next request when the last is answered (`POST /api/v1/rooms/R/messages`
//! with an `Idempotency-Key`). Answered means committed, as on the WebSocket.

use crate::scenario::{self, add_rss, cpu_us_per};
use crate::stats::{self, now_us, Latency, Report};
use crate::target::Kind;
use crate::world::Layout;
use crate::{Bench, Common};
use clap::Args;
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Args)]
pub struct HttpSendArgs {
    /// Sending connections (one script each).
    #[arg(long, default_value_t = 50)]
    pub senders: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    #[command(flatten)]
    pub common: Common,
}

struct SenderResult {
    measured: u64,
    latency: Histogram<u64>,
    failed: u64,
}

pub async fn run(bench: &Bench, args: &HttpSendArgs) -> anyhow::Result<Vec<Report>> {
    bench.require_chat("http-send")?;
    let mut report = Report::new("http-send", Kind::Chat.name());
    let room_size = args.senders.div_ceil(args.rooms.max(1)).max(1);
    let layout = Layout::groups(args.senders, room_size);
    let started = scenario::start(bench, Kind::Chat, &layout, "http-send").await?;
    let target = &started.target;
    let room_of = layout.room_of();
    let measure_from = now_us() + (args.warmup_secs * 1e6) as u64;
    let measure_until = measure_from + (args.secs * 1e6) as u64;
    let mut tasks = Vec::new();
    for (i, &room_index) in room_of.iter().enumerate() {
        let token = started.world.tokens[i].clone();
        let room = started.world.room_ids[room_index];
        tasks.push(tokio::spawn(send_loop(
            target.addr,
            token,
            room,
            i,
            measure_from,
            measure_until,
        )));
    }
    let (cpu_before, cpu_after) = target.sample_window(measure_from, measure_until).await;
    let mut latency = stats::histogram();
    let (mut measured, mut failed) = (0, 0);
    for task in tasks {
        match task.await {
            Ok(Ok(r)) => {
                measured += r.measured;
                failed += r.failed;
                let _ = latency.add(&r.latency);
            }
            Ok(Err(e)) => report.notes.push(format!("a sender failed: {e}")),
            Err(e) => report.notes.push(format!("a sender panicked: {e}")),
        }
    }
    let rss = target.sample();
    started.target.stop()?;
    report.setting("senders", args.senders);
    report.setting("rooms", layout.rooms.len());
    report.setting("secs", args.secs);
    bench.setting_lines(&mut report);
    report.metric("HTTP sends/s", measured as f64 / args.secs, "/s");
    report.latency("answer", &Latency::of(&latency));
    if let Some(cpu) = cpu_us_per(cpu_before, cpu_after, measured) {
        report.metric("server CPU per send", cpu, "µs");
    }
    add_rss(&mut report, rss);
    report.errors = failed;
    Ok(vec![report])
}

async fn send_loop(
    addr: SocketAddr,
    token: String,
    room: i64,
    sender: usize,
    measure_from: u64,
    measure_until: u64,
) -> anyhow::Result<SenderResult> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut result = SenderResult {
        measured: 0,
        latency: stats::histogram(),
        failed: 0,
    };
    let body = format!("{{\"text\":\"{}\"}}", "x".repeat(100));
    let mut buf = Vec::with_capacity(1024);
    for n in 0u64.. {
        let start = now_us();
        if start >= measure_until {
            break;
        }
        let request = format!(
            "POST /api/v1/rooms/{room}/messages HTTP/1.1\r\nHost: bench\r\n\
             Authorization: Bearer {token}\r\nIdempotency-Key: h{sender}-{n}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let status = read_response(&mut stream, &mut buf).await?;
        let end = now_us();
        if status != 200 {
            result.failed += 1;
            continue;
        }
        if start >= measure_from {
            result.measured += 1;
            let _ = result.latency.record(end - start);
        }
    }
    Ok(result)
}

/// Read one response with a Content-Length body; its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await?;
                anyhow::ensure!(n > 0, "the server closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}
