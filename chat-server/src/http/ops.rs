//! Health checks and metrics for operators: `/healthz` (the process answers), `/readyz` (the
//! database answers and the writer commits), `/metrics` (Prometheus, loopback only unless
//! `metrics_public`).

use super::reply::{self, Response};
use super::Conn;
use crate::server::Shared;
use crate::store::{search, StoreError};
use chat_protocol::ErrorCode;
use hyper::StatusCode;
use std::time::Duration;

/// How long `/readyz` waits for the database and for the writer.
const READY_WAIT: Duration = Duration::from_secs(2);

pub fn healthz() -> Response {
    reply::json(StatusCode::OK, r#"{"status":"ok"}"#)
}

pub async fn readyz(shared: &Shared) -> Response {
    let store = &shared.store;
    let read = tokio::time::timeout(
        READY_WAIT,
        store.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)),
    );
    if !matches!(read.await, Ok(Ok(1))) {
        return not_ready("the database does not answer reads");
    }
    // An empty job goes through the writer's queue and a commit: a stalled or dead writer
    // (a stuck disk, a lock held elsewhere) does not answer in time.
    let write = tokio::time::timeout(READY_WAIT, store.writer.write(|_| Ok::<_, StoreError>(())));
    if !matches!(write.await, Ok(Ok(()))) {
        return not_ready("the database writer is stalled");
    }
    reply::json(StatusCode::OK, r#"{"status":"ready"}"#)
}

fn not_ready(why: &str) -> Response {
    tracing::warn!("not ready: {why}");
    reply::json(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({ "status": "unavailable", "reason": why }).to_string(),
    )
}

pub async fn metrics(conn: &Conn) -> Response {
    let shared = &conn.shared;
    if !shared.config.metrics_public && !conn.peer.ip().is_loopback() {
        return reply::error(
            ErrorCode::Forbidden,
            "metrics are served to loopback clients only (metrics_public = true opens them)",
        );
    }
    let metrics = &shared.metrics;
    metrics
        .queued_bytes
        .set(shared.hub.queued_bytes().try_into().unwrap_or(i64::MAX));
    match shared.store.read(search::pending).await {
        Ok(lag) => {
            metrics.indexer_lag.set(lag.try_into().unwrap_or(i64::MAX));
        }
        Err(e) => tracing::warn!("cannot read the indexer's lag for metrics: {e}"),
    }
    reply::with_type(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        metrics.encode(),
    )
}
