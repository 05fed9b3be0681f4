//! What every request of the lab shares: its settings, database, traces, and the catalogue the
//! topics make up together.

use super::db::{Db, DbLocation};
use super::error::ProblemType;
use super::listen::Timeouts;
use super::step::Stepper;
use super::trace::TraceStore;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The port `reqlab serve` uses unless told otherwise.
pub const DEFAULT_PORT: u16 = 4747;
/// Largest request body the lab reads unless told otherwise (64 KiB).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Traces kept in memory unless told otherwise.
pub const DEFAULT_TRACE_CAPACITY: usize = 1000;
/// The most traces a lab may be asked to keep (`serve --trace-capacity`).
pub const MAX_TRACE_CAPACITY: usize = 10_000;
/// Background jobs waiting or running before new ones are refused.
pub const DEFAULT_QUEUE_LIMIT: usize = 20;

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
    /// How long the lab waits on a client at each point where one could stall it.
    pub timeouts: Timeouts,
    /// Most connections served at once; `None`: as many as the file limit allows.
    pub max_connections: Option<usize>,
    /// Host names answered besides loopback ones and the bound address.
    pub allowed_hosts: Vec<String>,
    /// Origins (besides the lab's own) whose pages may change data.
    pub allowed_origins: Vec<String>,
    /// The token `/_lab/*` needs; set when the lab listens beyond loopback.
    pub lab_token: Option<String>,
    /// Log one line per request (target `reqlab::access`; the subscriber picks the format).
    pub access_log: bool,
    /// Treat a statement run once per item (N+1) as an error: logged, and counted in
    /// [`LabState::query_alarms`] so the run can fail. The client's answer never changes.
    pub strict_queries: bool,
    /// Most background jobs waiting or running at once; past it, new work is refused with 503.
    pub queue_limit: usize,
    /// The name this lab answers with in `X-Replica`, when it is one of several behind a proxy.
    pub replica: Option<String>,
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
            timeouts: Timeouts::default(),
            max_connections: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            lab_token: None,
            access_log: false,
            strict_queries: false,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            replica: None,
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
    /// What the topics offer, gathered from all of them.
    pub catalog: Catalog,
    /// Cancelled when the lab shuts down (ends live streams so shutdown is not held up).
    pub shutdown: CancellationToken,
    /// Step sessions: requests sent with one of their tokens are held at each stage.
    pub steps: Stepper,
    /// Request counts, latencies and requests in flight, served at `/metrics`.
    pub metrics: super::metrics::Metrics,
    /// Requests whose trace flagged a statement run more than once, counted with
    /// [`LabConfig::strict_queries`].
    pub query_alarms: std::sync::atomic::AtomicU64,
    /// The address the lab listens on, once it does (a topic that calls the lab over HTTP,
    /// as a service calls another, needs it).
    pub bound: std::sync::OnceLock<std::net::SocketAddr>,
    /// Work the lab runs beside its requests (job workers, the outbox dispatcher); stopping
    /// waits for it, so a running job is handed back before the database closes.
    pub background: tokio_util::task::TaskTracker,
    /// Wake-ups between the job endpoints, the workers and the event streams.
    pub jobs: JobSignals,
}

/// How the job endpoints, the workers and the event streams wake each other.
#[derive(Debug, Default)]
pub struct JobSignals {
    /// A job was queued: a worker may have work.
    pub queued: tokio::sync::Notify,
    /// Something changed: the dispatcher has events to publish.
    pub changed: tokio::sync::Notify,
    /// The dispatcher published events: the streams have something to send.
    pub published: tokio::sync::Notify,
}

/// What the lab offers, gathered from its topics: the welcome document's links and the
/// problem types documented at `/_lab/problems/{slug}`.
#[derive(Debug, Default)]
pub struct Catalog {
    /// `(name, path)` pairs, in topic order.
    pub links: Vec<(&'static str, &'static str)>,
    /// Every problem type an endpoint may answer with.
    pub problems: Vec<&'static ProblemType>,
}

impl Catalog {
    /// The problem type with this slug.
    pub fn problem(&self, slug: &str) -> Option<&'static ProblemType> {
        self.problems.iter().copied().find(|p| p.slug == slug)
    }
}
