//! A TCP proxy for fault injection between clients and a server: it can stall the server's
//! side (stop reading from it, as a client that stopped reading would), delay every chunk,
//! and cut every connection at once (as a network drop does).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Faults {
    stalled: AtomicBool,
    unstalled: Notify,
    delay_ms: AtomicU64,
    /// Cancelled to cut every connection open now; replaced by a fresh one for later ones.
    cut: Mutex<CancellationToken>,
    /// Bytes read from the server since the last stall began.
    drained: AtomicU64,
}

pub struct Proxy {
    pub url: String,
    faults: Arc<Faults>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listen on a free loopback port and forward to `upstream` (a `ws://IP:PORT` url).
    pub async fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream.trim_start_matches("ws://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Faults::default());
        let accept = tokio::spawn(accept_loop(listener, upstream, faults.clone()));
        Proxy {
            url,
            faults,
            accept,
        }
    }

    /// Stop (or resume) reading from the server: its socket fills up as a non-reading client's.
    pub fn stall(&self, stalled: bool) {
        if stalled {
            self.faults.drained.store(0, Ordering::Relaxed);
        }
        self.faults.stalled.store(stalled, Ordering::Relaxed);
        if !stalled {
            self.faults.unstalled.notify_waiters();
        }
    }

    /// Bytes read from the server since the last stall began.
    pub fn drained(&self) -> u64 {
        self.faults.drained.load(Ordering::Relaxed)
    }

    /// Hold every chunk this long before passing it on.
    pub fn delay(&self, delay: Duration) {
        self.faults
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// Drop every connection through the proxy now.
    pub fn cut_all(&self) {
        let mut cut = self.faults.cut.lock().unwrap();
        cut.cancel();
        *cut = CancellationToken::new();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, faults: Arc<Faults>) {
    while let Ok((client, _)) = listener.accept().await {
        let cut = faults.cut.lock().unwrap().clone();
        let faults = faults.clone();
        tokio::spawn(async move {
            // A small receive buffer towards the server, so a stall backs up into the server
            // quickly instead of into megabytes of kernel buffer.
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(16 * 1024).unwrap();
            let Ok(server) = socket.connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let up = pump(client_read, server_write, faults.clone(), false);
            let down = pump(server_read, client_write, faults, true);
            tokio::select! {
                _ = cut.cancelled() => {}
                _ = async { tokio::join!(up, down) } => {}
            }
        });
    }
}

/// Copy one direction until EOF or error, with the injected delay; `from_server` chunks also
/// wait while the proxy is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: Arc<Faults>,
    from_server: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while from_server && faults.stalled.load(Ordering::Relaxed) {
            let unstalled = faults.unstalled.notified();
            if !faults.stalled.load(Ordering::Relaxed) {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), unstalled).await;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if from_server {
            faults.drained.fetch_add(n as u64, Ordering::Relaxed);
        }
        let delay = faults.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
