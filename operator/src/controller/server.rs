//! One small HTTP server for the operator's own observability: `/metrics`, and `/health` and
//! `/ready` in the seed's response shapes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use k8s_openapi::jiff::Timestamp;

use super::metrics::Metrics;

/// What the endpoints report.
#[derive(Clone)]
pub(crate) struct ServerState {
    pub metrics: Metrics,
    /// The API server answered and the caches synced.
    pub kubernetes_ready: Arc<AtomicBool>,
    /// This replica holds the leader lease (a standby is ready but not leading).
    pub leading: Arc<AtomicBool>,
}

async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], state.metrics.encode())
}

/// Liveness in the seed's `/health` shape.
pub(crate) fn health_body() -> serde_json::Value {
    serde_json::json!({
        "status": "healthy",
        "timestamp": Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH).to_string(),
        "service": "stackscope",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

async fn health() -> impl IntoResponse {
    Json(health_body())
}

/// Readiness in the seed's `/ready` shape: ready once the API server answered.
pub(crate) fn ready_body(kubernetes_ready: bool, leading: bool) -> (StatusCode, serde_json::Value) {
    let body = serde_json::json!({
        "ready": kubernetes_ready,
        "dependencies": {
            "kubernetes": if kubernetes_ready { "connected" } else { "unavailable" },
            "leader": if leading { "leading" } else { "standby" },
        }
    });
    let code = if kubernetes_ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, body)
}

async fn ready(State(state): State<ServerState>) -> impl IntoResponse {
    let (code, body) =
        ready_body(state.kubernetes_ready.load(Ordering::Relaxed), state.leading.load(Ordering::Relaxed));
    (code, Json(body))
}

/// The router of the three endpoints.
pub(crate) fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
}

/// Serves until the listener fails.
pub(crate) async fn serve(address: std::net::SocketAddr, state: ServerState) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, router(state)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_ready_have_the_seed_shapes() {
        let health = health_body();
        for field in ["status", "timestamp", "service", "version"] {
            assert!(health.get(field).is_some(), "{field}");
        }
        let (code, ready) = ready_body(false, false);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ready["ready"], false);
        assert_eq!(ready["dependencies"]["kubernetes"], "unavailable");
        let (code, _) = ready_body(true, true);
        assert_eq!(code, StatusCode::OK);
    }
}
