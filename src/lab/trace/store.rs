//! The most recent traces, bounded, and the live feed of new ones. Evicted traces hand their
//! buffers back for the next request to record into.

use super::model::Trace;
use super::record::{Buffers, RecordedTrace, Tracer};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Recycled buffers kept for reuse.
const SPARE_BUFFERS: usize = 64;

/// The most recent traces (bounded) and a live feed of new ones.
#[derive(Debug)]
pub struct TraceStore {
    ring: Mutex<VecDeque<Arc<RecordedTrace>>>,
    capacity: usize,
    live: broadcast::Sender<Arc<RecordedTrace>>,
    spare: Mutex<Vec<Buffers>>,
}

impl TraceStore {
    /// A store keeping the last `capacity` traces.
    pub fn new(capacity: usize) -> TraceStore {
        let (live, _) = broadcast::channel(256);
        TraceStore {
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: capacity.max(1),
            live,
            spare: Mutex::new(Vec::new()),
        }
    }

    /// A recording tracer, reusing the buffers of an evicted trace when one is free.
    pub fn tracer(&self) -> Tracer {
        let buffers = self.spare.lock().expect("spare buffers lock").pop();
        Tracer::with_buffers(buffers.unwrap_or_default())
    }

    /// Keeps a finished trace, dropping the oldest when full, and tells live viewers.
    pub fn push(&self, trace: RecordedTrace) {
        let trace = Arc::new(trace);
        let evicted = {
            let mut ring = self.ring.lock().expect("trace store lock");
            let evicted = if ring.len() == self.capacity {
                ring.pop_front()
            } else {
                None
            };
            ring.push_back(Arc::clone(&trace));
            evicted
        };
        // Recycle the evicted trace's buffers (unless a reader still holds it), outside the lock.
        if let Some(old) = evicted.and_then(|t| Arc::try_unwrap(t).ok()) {
            let buffers = old.into_buffers();
            let mut spare = self.spare.lock().expect("spare buffers lock");
            if spare.len() < SPARE_BUFFERS {
                spare.push(buffers);
            }
        }
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(trace);
        }
    }

    /// Up to `limit` traces, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Trace> {
        let picked: Vec<Arc<RecordedTrace>> = {
            let ring = self.ring.lock().expect("trace store lock");
            ring.iter().rev().take(limit).cloned().collect()
        };
        picked.iter().map(|t| t.to_trace()).collect()
    }

    /// The trace of one request, if it is still kept.
    pub fn get(&self, request_id: &str) -> Option<Trace> {
        let found = {
            let ring = self.ring.lock().expect("trace store lock");
            ring.iter()
                .rev()
                .find(|t| t.request_id() == request_id)
                .cloned()
        };
        found.map(|t| t.to_trace())
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
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<RecordedTrace>> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::Timestamp;
    use super::*;
    use axum::http::Method;

    fn trace(id: &str) -> RecordedTrace {
        Tracer::recording()
            .finish(id.into(), Timestamp(0), Method::GET, "/".into(), 200)
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
}
