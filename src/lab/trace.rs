//! Per-request traces: what each lifecycle stage did, in order, with times and a plain sentence.
//!
//! A [`Tracer`] is handed to every handler and extractor (through request extensions); they
//! record [`TraceEvent`]s on it. When the response is ready, the capture middleware in
//! [`super::middleware`] finishes the [`Trace`] and puts it in the [`TraceStore`]: a bounded
//! ring (memory never grows with request count) plus a broadcast channel for live viewers.

use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Everything the lab saw while handling one request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    /// The request id (the client's `X-Request-ID`, or one the lab generated).
    pub request_id: String,
    /// When the request arrived (RFC 3339, UTC).
    pub started_at: String,
    /// Request method.
    pub method: String,
    /// Request path and query.
    pub path: String,
    /// The route template that matched (`/tasks/{id}`), if any.
    pub route: Option<String>,
    /// Response status.
    pub status: u16,
    /// Total time in the lab, microseconds.
    pub duration_us: u64,
    /// Stage events in the order they happened.
    pub events: Vec<TraceEvent>,
}

/// One thing a stage did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TraceEvent {
    /// The lifecycle stage.
    pub stage: Stage,
    /// Whether the stage let the request through.
    pub outcome: Outcome,
    /// Microseconds from the start of the request to the start of this event.
    pub at_us: u64,
    /// How long the event took, microseconds.
    pub duration_us: u64,
    /// What happened, in a plain sentence.
    pub message: String,
    /// The SQL statement, for data-layer events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlRecord>,
}

/// Did the stage let the request continue?
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Passed, or simply happened.
    Ok,
    /// Stopped the request (a 4xx/5xx decision).
    Fail,
}

/// A SQL statement the request ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SqlRecord {
    /// The statement text, whitespace collapsed.
    pub statement: String,
    /// Bound parameters, shown as SQL literals (secrets are redacted).
    pub params: Vec<String>,
    /// Rows returned (queries) or changed (writes).
    pub rows: u64,
}

/// Collects one request's events; shared between the middleware, extractors and handlers.
#[derive(Debug)]
struct Recorder {
    start: Instant,
    state: Mutex<RecorderState>,
}

#[derive(Debug, Default)]
struct RecorderState {
    route: Option<String>,
    events: Vec<TraceEvent>,
}

/// Most events a single trace keeps; a runaway handler cannot grow a trace without bound.
const MAX_EVENTS_PER_TRACE: usize = 200;

/// The handle handlers record on. Cheap to clone; does nothing when tracing is off.
#[derive(Debug, Clone, Default)]
pub struct Tracer(Option<Arc<Recorder>>);

impl Tracer {
    /// A tracer that records.
    pub fn recording() -> Tracer {
        Tracer(Some(Arc::new(Recorder {
            start: Instant::now(),
            state: Mutex::default(),
        })))
    }

    /// A tracer that ignores everything (tracing off, or lab-internal endpoints).
    pub fn off() -> Tracer {
        Tracer(None)
    }

    /// True when events are being kept.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Records an instantaneous event.
    pub fn note(&self, stage: Stage, outcome: Outcome, message: impl Into<String>) {
        if let Some(r) = &self.0 {
            let at = r.start.elapsed();
            push(r, stage, outcome, at, Duration::ZERO, message.into(), None);
        }
    }

    /// Records an event that began at `since` and ends now.
    pub fn timed(
        &self,
        stage: Stage,
        since: Instant,
        outcome: Outcome,
        message: impl Into<String>,
    ) {
        if let Some(r) = &self.0 {
            let at = since.saturating_duration_since(r.start);
            push(r, stage, outcome, at, since.elapsed(), message.into(), None);
        }
    }

    /// Records a SQL statement that began at `since`.
    pub fn sql(&self, since: Instant, statement: &str, params: Vec<String>, rows: u64) {
        if let Some(r) = &self.0 {
            let at = since.saturating_duration_since(r.start);
            let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
            let noun = if statement.starts_with("SELECT") {
                "returned"
            } else {
                "changed"
            };
            let message = format!("{} {rows} row{}", noun, if rows == 1 { "" } else { "s" });
            let sql = SqlRecord {
                statement,
                params,
                rows,
            };
            push(
                r,
                Stage::Data,
                Outcome::Ok,
                at,
                since.elapsed(),
                message,
                Some(sql),
            );
        }
    }

    /// Remembers the route template that matched.
    pub fn set_route(&self, route: &str) {
        if let Some(r) = &self.0 {
            r.state.lock().expect("trace lock").route = Some(route.to_string());
        }
    }

    /// True when some event of `stage` was recorded.
    pub fn has_stage(&self, stage: Stage) -> bool {
        self.0.as_ref().is_some_and(|r| {
            r.state
                .lock()
                .expect("trace lock")
                .events
                .iter()
                .any(|e| e.stage == stage)
        })
    }

    /// Ends recording and builds the trace; `None` when tracing is off.
    pub fn finish(
        &self,
        request_id: String,
        started_at: String,
        method: String,
        path: String,
        status: u16,
    ) -> Option<Trace> {
        let r = self.0.as_ref()?;
        let duration_us = micros(r.start.elapsed());
        let mut state = r.state.lock().expect("trace lock");
        let mut events = std::mem::take(&mut state.events);
        // Events from concurrent work (a write that finished after a read) stay in time order.
        events.sort_by_key(|e| e.at_us);
        Some(Trace {
            request_id,
            started_at,
            method,
            path,
            route: state.route.take(),
            status,
            duration_us,
            events,
        })
    }
}

fn push(
    r: &Recorder,
    stage: Stage,
    outcome: Outcome,
    at: Duration,
    duration: Duration,
    message: String,
    sql: Option<SqlRecord>,
) {
    let mut state = r.state.lock().expect("trace lock");
    if state.events.len() < MAX_EVENTS_PER_TRACE {
        state.events.push(TraceEvent {
            stage,
            outcome,
            at_us: micros(at),
            duration_us: micros(duration),
            message,
            sql,
        });
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The most recent traces (bounded) and a live feed of new ones.
#[derive(Debug)]
pub struct TraceStore {
    ring: Mutex<VecDeque<Arc<Trace>>>,
    capacity: usize,
    live: broadcast::Sender<Arc<Trace>>,
}

impl TraceStore {
    /// A store keeping the last `capacity` traces.
    pub fn new(capacity: usize) -> TraceStore {
        let (live, _) = broadcast::channel(256);
        TraceStore {
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: capacity.max(1),
            live,
        }
    }

    /// Keeps a finished trace, dropping the oldest when full, and tells live viewers.
    pub fn push(&self, trace: Trace) {
        let trace = Arc::new(trace);
        {
            let mut ring = self.ring.lock().expect("trace store lock");
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(trace.clone());
        }
        // No subscribers is fine: nobody is watching.
        let _ = self.live.send(trace);
    }

    /// Up to `limit` traces, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Arc<Trace>> {
        let ring = self.ring.lock().expect("trace store lock");
        ring.iter().rev().take(limit).cloned().collect()
    }

    /// The trace of one request, if it is still kept.
    pub fn get(&self, request_id: &str) -> Option<Arc<Trace>> {
        let ring = self.ring.lock().expect("trace store lock");
        ring.iter()
            .rev()
            .find(|t| t.request_id == request_id)
            .cloned()
    }

    /// Number of traces kept.
    pub fn len(&self) -> usize {
        self.ring.lock().expect("trace store lock").len()
    }

    /// True when no trace is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver of every trace finished from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Trace>> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: &str) -> Trace {
        Tracer::recording()
            .finish(id.into(), "t".into(), "GET".into(), "/".into(), 200)
            .unwrap()
    }

    #[test]
    fn the_store_keeps_only_the_newest_traces() {
        let store = TraceStore::new(3);
        for i in 0..10 {
            store.push(trace(&i.to_string()));
        }
        assert_eq!(store.len(), 3);
        let ids: Vec<_> = store
            .recent(10)
            .iter()
            .map(|t| t.request_id.clone())
            .collect();
        assert_eq!(ids, ["9", "8", "7"]);
        assert!(store.get("6").is_none());
        assert!(store.get("8").is_some());
    }

    #[test]
    fn an_off_tracer_records_nothing() {
        let t = Tracer::off();
        t.note(Stage::Http, Outcome::Ok, "x");
        assert!(!t.has_stage(Stage::Http));
        assert!(
            t.finish("a".into(), "t".into(), "GET".into(), "/".into(), 200)
                .is_none()
        );
    }

    #[test]
    fn events_are_bounded_per_trace() {
        let t = Tracer::recording();
        for _ in 0..(MAX_EVENTS_PER_TRACE + 50) {
            t.note(Stage::Logic, Outcome::Ok, "again");
        }
        let trace = t
            .finish("a".into(), "t".into(), "GET".into(), "/".into(), 200)
            .unwrap();
        assert_eq!(trace.events.len(), MAX_EVENTS_PER_TRACE);
    }
}
