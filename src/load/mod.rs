//! `reqlab load`'s engine: many connections sending one prepared request, timed into an HDR
//! histogram.
//!
//! Each connection is one task driving an HTTP/1.1 connection directly ([`wire`]: a request
//! prepared once as bytes, answers parsed in place), sending its next request when the last
//! one is answered (closed loop), or, with a rate, when the schedule says (open loop). In the open loop a
//! request's latency counts from the moment the schedule meant to send it, so time spent
//! waiting behind a slow answer is counted too (the correction for coordinated omission).
//! Threads each run a single-threaded runtime with their share of the connections, as wrk's
//! do. Progress is a few shared counters anyone may read while it runs.

pub mod report;
pub mod target;
pub mod wire;

use hdrhistogram::Histogram;
use report::{Report, Tally};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use wire::{Prepared, Wire};

/// Longest latency the histogram keeps apart (a longer one counts as this).
const LATENCY_CEILING_MICROS: u64 = 3_600_000_000;
/// A pause after a refused connection, so a server that is down is not hammered in a loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this many requests.
    Requests(u64),
    /// After this long.
    After(Duration),
}

/// What to send, how hard, and for how long.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The request, written out once.
    pub request: Prepared,
    /// Connections kept open at once.
    pub connections: usize,
    /// Threads sharing them.
    pub threads: usize,
    /// When to stop.
    pub stop: Stop,
    /// Requests per second across all connections (open loop); `None` sends as fast as
    /// answers come back.
    pub rate: Option<f64>,
    /// How long one request may take before it counts as an error.
    pub timeout: Duration,
}

/// Counters a run updates as it goes, for a live view.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests answered.
    pub answered: AtomicU64,
    /// Requests that failed (no answer).
    pub failed: AtomicU64,
    /// Set to stop early (Ctrl-C): requests in flight finish, no new ones start.
    pub cancel: AtomicBool,
    /// Next request number, claimed by connections.
    next: AtomicU64,
}

impl Plan {
    /// When request number `index` is due, counted from `start` (open loop only).
    fn due(&self, start: Instant, index: u64) -> Option<Instant> {
        let rate = self.rate?;
        Some(start + Duration::from_secs_f64(index as f64 / rate))
    }

    /// Whether request number `index`, due at `at`, is still part of the run.
    fn allows(&self, start: Instant, index: u64, at: Instant) -> bool {
        match self.stop {
            Stop::Requests(total) => index < total,
            Stop::After(length) => at.duration_since(start) < length,
        }
    }
}

/// Runs the plan to its end (or until `progress.cancel`), blocking the calling thread.
pub fn run(plan: Plan, progress: Arc<Progress>) -> Report {
    let plan = Arc::new(plan);
    let start = Instant::now();
    let threads = plan.threads.clamp(1, plan.connections.max(1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            // Connections dealt out as evenly as they go.
            let share = plan.connections / threads + usize::from(t < plan.connections % threads);
            let (plan, progress) = (Arc::clone(&plan), Arc::clone(&progress));
            std::thread::Builder::new()
                .name(format!("load-{t}"))
                .spawn(move || thread_main(plan, progress, start, share))
                .expect("a thread starts")
        })
        .collect();
    let tallies: Vec<Tally> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|_| Tally::new()))
        .collect();
    Report::new(&plan, tallies, start.elapsed())
}

fn thread_main(plan: Arc<Plan>, progress: Arc<Progress>, start: Instant, share: usize) -> Tally {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts");
    runtime.block_on(async move {
        let tasks: Vec<_> = (0..share)
            .map(|_| tokio::spawn(connection(Arc::clone(&plan), Arc::clone(&progress), start)))
            .collect();
        let mut tally = Tally::new();
        for task in tasks {
            if let Ok(t) = task.await {
                tally.merge(t);
            }
        }
        tally
    })
}

/// One connection: claims request numbers, sends each, records how long it took.
async fn connection(plan: Arc<Plan>, progress: Arc<Progress>, start: Instant) -> Tally {
    let mut tally = Tally::new();
    let mut open: Option<Wire<TcpStream>> = None;
    loop {
        if progress.cancel.load(Ordering::Relaxed) {
            break;
        }
        let index = progress.next.fetch_add(1, Ordering::Relaxed);
        let due = plan.due(start, index);
        if let Some(due) = due {
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        }
        let began = due.unwrap_or_else(Instant::now);
        if !plan.allows(start, index, began) {
            break;
        }
        let wire = match &mut open {
            Some(wire) => wire,
            None => match TcpStream::connect(plan.addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    open.insert(Wire::new(stream))
                }
                Err(_) => {
                    tally.error("connect");
                    progress.failed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            },
        };
        let answer = tokio::time::timeout(plan.timeout, wire.exchange(&plan.request))
            .await
            .unwrap_or(Err("timeout"));
        match answer {
            Ok(answer) => {
                let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                tally.answered(answer.status, micros.clamp(1, LATENCY_CEILING_MICROS));
                progress.answered.fetch_add(1, Ordering::Relaxed);
                // The server said it will close (or closed to end the body): next time, a
                // new connection.
                if !answer.reusable {
                    open = None;
                }
            }
            Err(kind) => {
                tally.error(kind);
                progress.failed.fetch_add(1, Ordering::Relaxed);
                open = None;
            }
        }
    }
    tally
}

/// An empty latency histogram: microseconds, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_CEILING_MICROS, 3).expect("valid histogram bounds")
}
