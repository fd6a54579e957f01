//! The server: opens the store, builds the hub, accepts connections, polls for revoked tokens,
//! and shuts down gracefully (stop accepting, close every connection with 1001, wait for them).

use crate::address_slots::AddressSlots;
use crate::config::Config;
use crate::hasher::Hasher;
use crate::hub::Hub;
use crate::login_guard::LoginGuard;
use crate::metrics::Metrics;
use crate::outbox::QueueLimits;
use crate::ratelimit::KeyedBuckets;
use crate::store::{self, queries, ReadPool, Store, StoreError, Writer};
use chat_protocol::{close_code, Limits};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What every session shares.
pub struct Shared {
    pub config: Config,
    pub limits: Limits,
    pub store: Arc<Store>,
    pub hub: Arc<Hub>,
    /// The bounds of every connection's outbound queue.
    pub queue_limits: QueueLimits,
    /// Password hashing, on its own bounded pool.
    pub hasher: Hasher,
    /// Failed logins and registrations, per account and address.
    pub login_guard: LoginGuard,
    /// Connections open per client address.
    pub address_slots: Arc<AddressSlots>,
    /// Uploaded files, beside the database.
    pub blobs: crate::files::BlobStore,
    /// What `GET /metrics` reports.
    pub metrics: Arc<Metrics>,
    /// Requests per token over HTTP.
    pub http_buckets: KeyedBuckets,
    /// Uploads under way per user.
    pub upload_slots: crate::files::UploadSlots,
    next_conn: AtomicU64,
}

impl Shared {
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// A server ready to run on a listener.
pub struct Server {
    shared: Arc<Shared>,
    /// Held until `run` returns: no second server serves the same database meanwhile.
    lock: store::ServeLock,
    /// Keeps the search index up with the writes until `run` returns.
    indexer: store::search::Indexer,
}

impl Server {
    /// Open (or create) the database at `db_path`, migrate it, and load the routing table.
    pub fn open(config: Config, db_path: &Path) -> Result<Server, StoreError> {
        let lock = store::ServeLock::acquire(db_path)?;
        let (write_conn, checkpointer) = store::open_server_writer(db_path, config.durability)?;
        let indexer = store::search::spawn(db_path)?;
        let memberships = queries::all_memberships(&write_conn)?;
        let hub = Hub::new(
            memberships,
            Duration::from_millis(config.typing_timeout_ms),
            config.presence_max_room_members,
        );
        let metrics = Arc::new(Metrics::new());
        let writer = Writer::spawn(write_conn, hub.clone(), Some(checkpointer), metrics.clone())
            .map_err(|e| {
                StoreError::CommitFailed(format!("cannot start the writer thread: {e}"))
            })?;
        let reads = ReadPool::new(db_path, config.read_connections);
        let store = Arc::new(Store::new(writer, reads));
        let limits = config.limits();
        let queue_limits = QueueLimits {
            max_frames: config.outbound_queue_frames,
            max_bytes: config.outbound_queue_bytes,
        };
        let hasher = Hasher::spawn(config.password_hash_workers, config.password_hash_queue)
            .map_err(|e| {
                StoreError::CommitFailed(format!("cannot start the password hashing threads: {e}"))
            })?;
        let login_guard = LoginGuard::new(config.login_guard());
        let address_slots = AddressSlots::new(config.max_connections_per_address);
        let config_rate = (config.requests_per_second, config.request_burst);
        Ok(Server {
            shared: Arc::new(Shared {
                config,
                limits,
                store,
                hub,
                queue_limits,
                hasher,
                login_guard,
                address_slots,
                blobs: {
                    let blobs = crate::files::BlobStore::beside(db_path);
                    // This process holds the database's lock: no upload is under way.
                    blobs.remove_partial_uploads();
                    blobs
                },
                http_buckets: KeyedBuckets::new(config_rate.0, config_rate.1),
                upload_slots: Default::default(),
                metrics,
                next_conn: AtomicU64::new(1),
            }),
            lock,
            indexer,
        })
    }

    /// Accept connections until `shutdown` is cancelled, then close them all and return.
    pub async fn run(self, listener: TcpListener, shutdown: CancellationToken) {
        let Server {
            shared,
            lock,
            indexer,
        } = self;
        let mut sessions = JoinSet::new();
        let poller = tokio::spawn(poll_revocations(shared.clone(), shutdown.clone()));
        let sweeper = tokio::spawn(enforce_queue_total(shared.clone(), shutdown.clone()));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let slot = shared.address_slots.claim(peer.ip());
                        sessions.spawn(crate::handshake::serve(stream, slot, shared.clone(), shutdown.clone()));
                    }
                    Err(e) => {
                        // Typically EMFILE: back off briefly instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                // Reap finished sessions so the set does not grow with every connection ever made.
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
        drop(listener);
        tracing::info!(
            sessions = sessions.len(),
            "shutting down: closing every connection"
        );
        let grace = Duration::from_millis(shared.config.shutdown_grace_ms);
        let drained = tokio::time::timeout(grace, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("some connections did not close within {grace:?}; dropping them");
            sessions.abort_all();
        }
        poller.abort();
        sweeper.abort();
        drop(indexer);
        drop(lock);
    }
}

/// How often the bytes queued for all connections are added up.
const QUEUE_SWEEP: Duration = Duration::from_millis(100);

/// Keep the bytes queued for all connections under `outbound_total_bytes`, evicting those
/// holding the most (checked every [`QUEUE_SWEEP`], off the fan-out's path).
async fn enforce_queue_total(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(QUEUE_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let evicted = shared
            .hub
            .enforce_queue_total(shared.config.outbound_total_bytes);
        shared.http_buckets.forget_idle();
        if evicted > 0 {
            tracing::warn!(
                evicted,
                "outbound memory over outbound_total_bytes: evicted the biggest queues"
            );
        }
    }
}

/// The admin CLI revokes tokens in the database; close the live connections of each one.
async fn poll_revocations(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut last = match shared.store.read(queries::last_revocation).await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!(
                "cannot read revocations; revoked tokens will not close connections: {e}"
            );
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(shared.config.revocation_poll_ms));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let after = last;
        match shared
            .store
            .read(move |c| queries::revocations_after(c, after))
            .await
        {
            Ok(revoked) => {
                for (seq, token_id) in revoked {
                    last = seq;
                    if shared.hub.is_logging_out(token_id) {
                        continue; // the logout closes them after its answer
                    }
                    let closed = shared.hub.close_token(
                        token_id,
                        close_code::TOKEN_REVOKED,
                        "token revoked",
                    );
                    tracing::info!(token_id, closed, "token revoked");
                }
            }
            Err(e) => tracing::warn!("polling revocations failed: {e}"),
        }
    }
}

/// Resolve when the process gets Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A server running on a tokio task, as started by [`spawn`].
pub struct RunningServer {
    /// The address it listens on (useful with port 0).
    pub addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// `ws://` URL of the server.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Shut down gracefully and wait until every connection is closed.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Bind `config.listen`, open the database and serve on a new task. Tests and bots use
/// `127.0.0.1:0` to get a free port.
pub async fn spawn(config: Config, db_path: &Path) -> Result<RunningServer, SpawnError> {
    let listener = bind(config.listen).map_err(|source| SpawnError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| SpawnError::Bind {
        addr: config.listen,
        source,
    })?;
    let server = Server::open(config, db_path)?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.run(listener, shutdown.clone()));
    Ok(RunningServer {
        addr,
        shutdown,
        task,
    })
}

/// Connections the kernel may hold for the accept loop. Linux caps it at net.core.somaxconn
/// (4,096 by default). tokio's default of 1,024 overflowed when 5,000 clients reconnected at
/// once (chat-bench storm): the dropped SYNs were retried a second later.
const LISTEN_BACKLOG: u32 = 8192;

fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio's own bind do: a restarted server can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serve on a new runtime until Ctrl-C or SIGTERM, then shut down gracefully. What the
/// `chat-server` binary runs (and `chat-bench` when it starts a server itself).
pub fn run_until_signal(config: Config, db_path: &Path) -> Result<(), SpawnError> {
    raise_fd_limit();
    let runtime = tokio::runtime::Runtime::new().map_err(SpawnError::Runtime)?;
    runtime.block_on(async move {
        let server = spawn(config, db_path).await?;
        tracing::info!(
            "chat-server listening on {} with database {}",
            server.url(),
            db_path.display()
        );
        shutdown_signal().await;
        server.stop().await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Every connection is a file descriptor, and the usual soft limit (1024) would turn away the
/// 1,021st client; take the hard limit the administrator allows.
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "file descriptor limit"),
        Err(e) => tracing::warn!("cannot raise the file descriptor limit: {e}"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr} (is another server running there?): {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}
