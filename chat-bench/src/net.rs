//! Opening many client connections: file-descriptor limit, source addresses spread over
//! 127.0.0.2..N (each source address has its own ~28,000 ephemeral ports), small WebSocket
//! buffers, and bounded concurrency while connecting.

use anyhow::Context;
use futures_util::stream::{self, StreamExt};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// Raise this process's open-file limit to the hard limit; returns the limit now in force.
/// Children started afterwards (the server) inherit it.
pub fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!("cannot raise the file descriptor limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Most connections one process can hold under `fd_limit`, keeping some descriptors for
/// everything else (database files, logs, the listener, pipes).
pub fn max_connections(fd_limit: u64) -> usize {
    fd_limit.saturating_sub(64) as usize
}

/// Local addresses to connect from, taken in turn.
pub struct Sources {
    addrs: Vec<Ipv4Addr>,
    next: AtomicUsize,
}

impl Sources {
    /// `count` addresses from 127.0.0.2 up.
    pub fn new(count: usize) -> Sources {
        let count = count.clamp(1, 250);
        Sources {
            addrs: (0..count)
                .map(|i| Ipv4Addr::new(127, 0, 0, 2 + i as u8))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub fn pick(&self) -> Ipv4Addr {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.addrs[i % self.addrs.len()]
    }
}

fn ws_config() -> WebSocketConfig {
    // Like the server: chat frames are small, and thousands of connections share one machine.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(4 << 20))
        .max_frame_size(Some(4 << 20))
}

/// Longest a connection may take to open (TCP and WebSocket upgrade) before it counts as failed.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A WebSocket connection to `server` from `source`.
pub async fn connect(url: &str, server: SocketAddr, source: Ipv4Addr) -> anyhow::Result<Ws> {
    tokio::time::timeout(CONNECT_TIMEOUT, connect_now(url, server, source))
        .await
        .with_context(|| format!("no connection to {server} within {CONNECT_TIMEOUT:?}"))?
}

async fn connect_now(url: &str, server: SocketAddr, source: Ipv4Addr) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket
        .bind(SocketAddr::from((source, 0)))
        .with_context(|| format!("binding {source}"))?;
    let stream = socket
        .connect(server)
        .await
        .with_context(|| format!("connecting to {server} from {source}"))?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
        .await
        .context("websocket upgrade")?;
    Ok(ws)
}

/// Run `open(i)` for i in 0..count with at most `concurrency` at once; results in index order.
pub async fn open_all<T, F, Fut>(count: usize, concurrency: usize, open: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T>,
{
    let mut indexed: Vec<(usize, T)> = stream::iter(0..count)
        .map(|i| {
            let fut = open(i);
            async move { (i, fut.await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_rotate_over_loopback() {
        let s = Sources::new(3);
        let picked: Vec<Ipv4Addr> = (0..4).map(|_| s.pick()).collect();
        assert_eq!(
            picked,
            vec![
                Ipv4Addr::new(127, 0, 0, 2),
                Ipv4Addr::new(127, 0, 0, 3),
                Ipv4Addr::new(127, 0, 0, 4),
                Ipv4Addr::new(127, 0, 0, 2)
            ]
        );
    }
}
