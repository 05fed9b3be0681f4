//! The embedded lab server: a real axum + SQLite API whose every request leaves a trace.
//!
//! [`Lab::router`] builds the whole app without a socket (tests drive it with `oneshot`);
//! [`start`] binds it to a port and serves until stopped.

pub mod clock;
pub mod cursor;
pub mod db;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod routes;
pub mod trace;
pub mod validate;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use db::{Db, DbError, DbLocation};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trace::TraceStore;

/// The port `reqlab serve` uses unless told otherwise.
pub const DEFAULT_PORT: u16 = 4747;
/// Largest request body the lab reads unless told otherwise (64 KiB).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Traces kept in memory unless told otherwise.
pub const DEFAULT_TRACE_CAPACITY: usize = 1000;
/// How long shutdown waits for in-flight requests before closing anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How to run a lab.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Address to bind (loopback unless the user asks otherwise).
    pub host: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Where the data lives.
    pub db: DbLocation,
    /// True for an in-memory database.
    pub memory: bool,
    /// Record traces (off only to measure their cost).
    pub tracing: bool,
    /// Traces kept for `/_lab/traces`.
    pub trace_capacity: usize,
    /// Largest request body read, in bytes.
    pub body_limit: usize,
}

impl LabConfig {
    /// Loopback, a free port, an in-memory database, tracing on: for tests and `check --target lab`.
    pub fn ephemeral() -> LabConfig {
        LabConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            db: DbLocation::Memory,
            memory: true,
            tracing: true,
            trace_capacity: DEFAULT_TRACE_CAPACITY,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// Shared by every request.
#[derive(Debug)]
pub struct LabState {
    /// The settings the lab runs with.
    pub config: LabConfig,
    /// The database.
    pub db: Arc<Db>,
    /// Recent traces and the live feed.
    pub traces: Arc<TraceStore>,
    /// Signs pagination cursors.
    pub cursors: cursor::CursorCodec,
    /// Cancelled when the lab shuts down (ends live streams so shutdown is not held up).
    pub shutdown: CancellationToken,
}

/// A lab ready to serve: state plus router.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The shared state.
    pub state: Arc<LabState>,
}

impl Lab {
    /// Opens the database (migrating and seeding it if new) and prepares the state.
    pub fn new(config: LabConfig) -> Result<Lab, DbError> {
        let db = Db::open(&config.db)?;
        let cursors = cursor::CursorCodec::new(db.secret("cursor_key")?);
        let traces = Arc::new(TraceStore::new(config.trace_capacity));
        Ok(Lab {
            state: Arc::new(LabState {
                config,
                db,
                traces,
                cursors,
                shutdown: CancellationToken::new(),
            }),
        })
    }

    /// The whole application, every layer included, without a socket.
    pub fn router(&self) -> Router {
        let state = Arc::clone(&self.state);
        let app = Router::new()
            .merge(routes::basics::router())
            .merge(routes::tasks::router())
            .merge(routes::users::router())
            .merge(routes::lab_api::router())
            .route_layer(axum::middleware::from_fn(middleware::note_route))
            .fallback(routes::basics::not_found)
            .layer(DefaultBodyLimit::max(state.config.body_limit))
            .with_state(Arc::clone(&state));
        // `Router::layer` wraps each route separately, inside the router's own 405 handling.
        // Mounting the app as a fallback service puts these layers around everything, so the
        // capture middleware sees final responses (a 405 with its Allow header included).
        Router::new()
            .fallback_service(app)
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_to_problem,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state,
                middleware::capture,
            ))
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
        let result = match tokio::time::timeout(SHUTDOWN_GRACE, &mut handle).await {
            Ok(joined) => joined.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(_) => {
                handle.abort();
                Ok(())
            }
        };
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
    let app = lab
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let token = lab.state.shutdown.clone();
    let handle = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(token.cancelled_owned())
            .await
    });
    Ok(RunningLab {
        addr,
        state: lab.state,
        handle,
    })
}
