//! The embedded lab server: a real axum + SQLite API whose every request leaves a trace.
//!
//! [`Lab::router`] builds the whole app without a socket (tests drive it with `oneshot`);
//! [`start`] binds it to a port and serves until stopped.
//!
//! - [`topics`]: what the lab serves, one module per topic (routes, tables, problem types,
//!   state), registered in one list.
//! - [`state`]: the settings and shared state; [`db`] and [`migrate`]: SQLite and its schema.
//! - [`query_plan`]: `EXPLAIN QUERY PLAN` for the statements a trace recorded, in words.
//! - [`listen`] and [`wire`]: accepting connections with timeouts and a cap; hyper's own error
//!   replies rewritten into the one problem shape.
//! - [`guard`]: the checks before routing (Host, Origin, the lab token, sizes, Accept).
//! - [`middleware`], [`extract`], [`validate`]: the stages every request goes through.
//! - [`step`]: step mode — a request sent with a step token is held at each stage boundary
//!   for a viewer to show and release.
//! - [`error`]: the one error shape (RFC 9457 problem+json); [`trace`]: what each stage did.
//! - [`conditional`]: entity tags and `If-Match` / `If-None-Match`.
//! - [`cursor`] and [`clock`]: signed pagination cursors, timestamps.
//! - [`address`]: where a running lab says it is, for the commands that talk to it.

pub mod address;
pub mod clock;
pub mod conditional;
pub mod cors;
pub mod cursor;
pub mod db;
pub mod digest;
pub mod error;
pub mod extract;
pub mod guard;
pub mod listen;
pub mod metrics;
pub mod middleware;
pub mod migrate;
pub mod query_plan;
pub mod secure_headers;
pub mod state;
pub mod step;
pub mod topics;
pub mod trace;
pub mod validate;
pub mod wire;

pub use state::{
    DEFAULT_BODY_LIMIT, DEFAULT_PORT, DEFAULT_QUEUE_LIMIT, DEFAULT_TRACE_CAPACITY, LabConfig,
    LabState, MAX_TRACE_CAPACITY,
};

use axum::Router;
use axum::response::{IntoResponse, Response};
use db::{Db, DbError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trace::TraceStore;

/// How long stopping waits for the server task, which itself gives open requests a grace
/// period ([`listen::serve`]).
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// A lab ready to serve: the shared state and every topic's routes.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The shared state.
    pub state: Arc<LabState>,
    /// The topics' routes, merged (without the layers around them).
    routes: Router,
}

impl Lab {
    /// Opens the database (migrating and seeding what is new) and builds every topic.
    pub fn new(config: LabConfig) -> Result<Lab, DbError> {
        let db = Db::open(&config.db, &topics::schemas())?;
        let traces = Arc::new(TraceStore::new(config.trace_capacity));
        let shutdown = CancellationToken::new();
        let state = Arc::new(LabState {
            config,
            db,
            traces,
            catalog: topics::catalog(),
            steps: step::Stepper::new(shutdown.clone()),
            metrics: metrics::Metrics::default(),
            query_alarms: std::sync::atomic::AtomicU64::new(0),
            bound: std::sync::OnceLock::new(),
            background: tokio_util::task::TaskTracker::new(),
            jobs: state::JobSignals::default(),
            shutdown,
        });
        let routes = topics::router(&state)?;
        Ok(Lab { state, routes })
    }

    /// The whole application, every layer included, without a socket.
    pub fn router(&self) -> Router {
        let state = Arc::clone(&self.state);
        let app = self
            .routes
            .clone()
            .layer(axum::middleware::from_fn(middleware::note_route))
            .fallback(topics::basics::not_found);
        // `Router::layer` wraps each route separately, inside the router's own 405 handling.
        // Mounting the app as a fallback service puts these layers around everything, so the
        // capture middleware sees final responses (a 405 with its Allow header included).
        let replica = self
            .state
            .config
            .replica
            .as_deref()
            .and_then(|name| axum::http::HeaderValue::from_str(name).ok());
        let app = Router::new()
            .fallback_service(app)
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_to_problem,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state,
                middleware::capture,
            ));
        // One of several replicas: every answer says which one served it.
        match replica {
            Some(name) => app.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                axum::http::HeaderName::from_static("x-replica"),
                name,
            )),
            None => app,
        }
    }
}

/// A panic in a handler becomes a generic 500 problem; the message goes to the log only.
fn panic_to_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a handler panicked".into());
    error::Problem::internal(format!("panic: {message}")).into_response()
}

/// A lab serving on a socket.
#[derive(Debug)]
pub struct RunningLab {
    /// The bound address.
    pub addr: SocketAddr,
    /// The lab's state (traces, database).
    pub state: Arc<LabState>,
    handle: JoinHandle<std::io::Result<()>>,
}

impl RunningLab {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (up to a grace period), closes the database.
    pub async fn stop(self) -> std::io::Result<()> {
        self.state.shutdown.cancel();
        let mut handle = self.handle;
        let result = match tokio::time::timeout(STOP_DEADLINE, &mut handle).await {
            Ok(joined) => joined.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(_) => {
                handle.abort();
                Ok(())
            }
        };
        // Background work sees the same cancellation; a running job is handed back first.
        self.state.background.close();
        let _ = tokio::time::timeout(STOP_DEADLINE, self.state.background.wait()).await;
        self.state.db.close();
        result
    }

    /// Resolves when the server stops by itself (an accept error).
    pub async fn finished(&mut self) -> std::io::Result<()> {
        (&mut self.handle)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Why a lab could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("cannot open the lab database: {0}")]
    Db(#[from] DbError),
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}{hint}", hint = bind_hint(source))]
    Bind {
        /// Address tried.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

fn bind_hint(err: &std::io::Error) -> &'static str {
    match err.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another program uses this port; pick another with --port, or --port 0 for any free one)"
        }
        std::io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need privileges; use --port 4747)"
        }
        _ => "",
    }
}

/// Opens the lab, binds its port and serves in the background.
pub async fn start(config: LabConfig) -> Result<RunningLab, StartError> {
    let addr = SocketAddr::new(config.host, config.port);
    let lab = Lab::new(config)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let _ = lab.state.bound.set(addr);
    topics::jobs::worker::start(&lab.state);
    let app = lab.router();
    let config = &lab.state.config;
    let timeouts = config.timeouts;
    let max_connections = config
        .max_connections
        .unwrap_or_else(listen::connection_cap);
    let token = lab.state.shutdown.clone();
    let traces = config.tracing.then(|| Arc::clone(&lab.state.traces));
    let handle = tokio::spawn(listen::serve(
        listener,
        app,
        timeouts,
        max_connections,
        traces,
        token,
    ));
    Ok(RunningLab {
        addr,
        state: lab.state,
        handle,
    })
}
