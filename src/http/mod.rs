//! The thin axum edge: the WebSocket endpoint, health, session reports (`reports`), and
//! the embedded browser client.

mod assets;
pub mod budget;
mod csv;
pub mod gate;
pub mod invites;
pub mod metrics;
pub mod reports;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::room::Registry;
use crate::token::Secret;

/// Shared state of the HTTP edge.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Verifies join tokens.
    pub secret: Secret,
    /// Running rooms.
    pub registry: Arc<Registry>,
    /// Connections waiting to join.
    pub gate: Arc<gate::JoinGate>,
    /// WebSocket sessions running, so that shutdown can wait for their goodbyes.
    sessions: Arc<Sessions>,
    next_conn: Arc<AtomicU64>,
    /// Permits for building session reports (a few at once).
    report_builds: Arc<tokio::sync::Semaphore>,
    /// Renders `/metrics`, when the process installed a recorder.
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The admin API's key; without one the admin API is off.
    api_key: Option<Arc<str>>,
    /// The base of links the API makes (else the request's own address).
    public_url: Option<Arc<str>>,
    /// The invite API's shared request budget.
    invite_budget: Arc<invites::Budget>,
}

/// The count of running WebSocket sessions.
#[derive(Debug, Default)]
struct Sessions {
    running: AtomicU64,
    ended: tokio::sync::Notify,
}

/// One running session, counted until dropped.
#[derive(Debug)]
struct SessionGuard(Arc<Sessions>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.notify_waiters();
    }
}

impl AppState {
    /// State for a server with this secret and registry.
    pub fn new(secret: Secret, registry: Arc<Registry>) -> Self {
        let gate = Arc::new(gate::JoinGate::default());
        let sessions = Arc::new(Sessions::default());
        AppState {
            secret,
            registry,
            gate,
            sessions,
            next_conn: Arc::new(AtomicU64::new(1)),
            report_builds: reports::builds(),
            metrics: None,
            api_key: None,
            public_url: None,
            invite_budget: Arc::default(),
        }
    }

    /// Turns the admin API on with this key.
    pub fn with_api_key(mut self, key: &str) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Links made by the API start with this base (`https://talk.example.org`).
    pub fn with_public_url(mut self, base: &str) -> Self {
        self.public_url = Some(base.trim_end_matches('/').into());
        self
    }

    /// Serves `/metrics` from this recorder's handle (see [`metrics::install`]).
    pub fn with_metrics(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Whether the server is draining.
    pub fn draining(&self) -> bool {
        self.registry.draining()
    }

    /// Counts a session as running until the guard drops.
    fn session_started(&self) -> SessionGuard {
        self.sessions.running.fetch_add(1, Ordering::AcqRel);
        SessionGuard(Arc::clone(&self.sessions))
    }

    /// Waits until no session runs, or `limit` passes.
    async fn sessions_ended(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let ended = self.sessions.ended.notified();
            if self.sessions.running.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return;
            }
        }
    }

    fn conn_id(&self) -> crate::room::ConnId {
        crate::room::ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }
}

/// Every route: `/ws`, `/healthz`, `/readyz`, `/metrics`, `/api/sessions…`, and the web
/// client at `/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/api/rooms", get(invites::rooms))
        .route("/api/rooms/{room}/links", axum::routing::post(invites::room_links))
        .route("/api/invites", axum::routing::post(invites::invites))
        .route("/api/admin/drain", axum::routing::post(invites::drain))
        .route("/metrics", get(metrics::metrics))
        .route("/api/sessions", get(reports::list))
        .route("/api/sessions/{run}", get(reports::one).delete(reports::delete))
        .route("/api/sessions/{run}/summary", get(reports::summary))
        .route("/", get(assets::index))
        .route("/{*path}", get(assets::file))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let media = state.registry.media().map(|m| {
        serde_json::json!({
            "peers": m.demux.peers(),
            "peer_states": {
                "connecting": m.peer_states.get().connecting,
                "udp": m.peer_states.get().udp,
                "tcp": m.peer_states.get().tcp,
                "relayed": m.peer_states.get().relayed,
            },
            "tcp_connections": m.tcp.len(),
            "udp": m.counters.snapshot(),
            "forwarding": m.forwarding.snapshot(),
        })
    });
    let store = state.registry.store().map(|s| s.health().snapshot());
    Json(serde_json::json!({
        "status": "ok",
        "rooms": state.registry.room_count(),
        "media": media,
        "store": store,
    }))
}

/// Serves until `shutdown` resolves, then tells every room to say goodbye.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let registry = Arc::clone(&state.registry);
    let sessions = state.clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Signaling is many small messages that must go out at once: no Nagle delay (with
    // the peer's delayed ACKs it held some messages back by 40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let rooms = async move {
        let mut stop_rx = stop_rx;
        let _ = stop_rx.wait_for(|stop| *stop).await;
        // WebSockets are upgraded connections: close them through their rooms, then wait
        // (bounded) until every session has written its goodbye and closed.
        registry.shutdown(Duration::from_secs(3)).await;
        sessions.sessions_ended(Duration::from_secs(2)).await;
    };
    let (served, ()) = tokio::join!(server, rooms);
    served?;
    Ok(())
}
