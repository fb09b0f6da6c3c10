//! The operator's HTTP endpoint on `KAKUSAN_HTTP_ADDR`: `/metrics`, `/healthz` and `/readyz`.
//!
//! `/healthz` answers as long as the process serves at all, so an orchestrator restarts only a
//! process that is wedged, never one that is waiting out a database outage. `/readyz` says
//! whether kakusan can do its work right now (database and gateway), for dashboards, load
//! balancers and humans; it is not a reason to restart.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kakusan_storage::PgPool;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long `/readyz` waits for the database's answer before calling it down.
const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// What `/readyz` asks.
#[derive(Clone)]
pub(crate) struct Readiness {
    /// The database, once start-up reached it (the endpoint serves before that); ready when
    /// it answers `SELECT 1` within [`DATABASE_PROBE_TIMEOUT`].
    pool: Arc<OnceLock<PgPool>>,
    /// Whether every gateway shard is connected.
    gateway: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl Readiness {
    /// Readiness with no database yet, and `gateway` to ask about the shards.
    pub(crate) fn new(gateway: Arc<dyn Fn() -> bool + Send + Sync>) -> Self {
        Readiness {
            pool: Arc::new(OnceLock::new()),
            gateway,
        }
    }

    /// Start-up reached the database: from now on `/readyz` asks it.
    pub(crate) fn database_connected(&self, pool: PgPool) {
        let _ = self.pool.set(pool);
    }

    /// Whether the database answers now.
    async fn database_up(&self) -> bool {
        let Some(pool) = self.pool.get() else {
            return false;
        };
        matches!(
            tokio::time::timeout(DATABASE_PROBE_TIMEOUT, kakusan_storage::ping(pool)).await,
            Ok(Ok(()))
        )
    }
}

#[derive(Clone)]
struct AppState {
    metrics: PrometheusHandle,
    readiness: Readiness,
}

/// Binds `addr`, with an error that names the setting when the port is taken.
pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("KAKUSAN_HTTP_ADDR {addr} cannot be used"))
}

/// Serves the endpoint on `listener` until `shutdown`, then finishes the requests under way.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: PrometheusHandle,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the HTTP endpoint's address")?;
    let app = router(AppState { metrics, readiness });
    tracing::info!(%addr, "http endpoint listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("serving the HTTP endpoint")
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            // The Prometheus text exposition format, version 0.0.4.
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let database_up = state.readiness.database_up().await;
    let gateway_up = (state.readiness.gateway)();
    let body = match (database_up, gateway_up) {
        (true, true) => return (StatusCode::OK, "ready\n").into_response(),
        (false, true) => "not ready: the database does not answer\n",
        (true, false) => "not ready: the gateway is not connected\n",
        (false, false) => {
            "not ready: the database does not answer and the gateway is not connected\n"
        }
    };
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}
