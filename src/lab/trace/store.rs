//! The most recent traces, bounded, and the live feed of new ones. Evicted traces hand their
//! buffers back for the next request to record into.

use super::model::Trace;
use super::record::{Buffers, RecordedTrace, Tracer};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Recycled buffers kept for reuse.
const SPARE_BUFFERS: usize = 64;
/// Most memory the kept traces may hold together; the oldest go first when it is reached,
/// whatever the count.
pub const MAX_STORE_BYTES: usize = 32 * 1024 * 1024;
/// Most traces kept pinned (each bounded in bytes, so the pinned ones are too).
pub const MAX_PINNED: usize = 50;

/// Why a trace could not be pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// No kept trace has that request id.
    #[error("no trace is kept for that request")]
    Missing,
    /// The pinned traces are at their cap.
    #[error("{MAX_PINNED} traces are pinned already: unpin one first")]
    Full,
}

/// The most recent traces (bounded in count and in bytes) and a live feed of new ones.
#[derive(Debug)]
pub struct TraceStore {
    ring: Mutex<Ring>,
    capacity: usize,
    max_bytes: usize,
    live: broadcast::Sender<Arc<RecordedTrace>>,
    spare: Mutex<Vec<Buffers>>,
    /// Traces kept past eviction, oldest pinned first, at most [`MAX_PINNED`].
    pinned: Mutex<Vec<Arc<RecordedTrace>>>,
}

/// The kept traces, oldest first, and the bytes they hold.
#[derive(Debug, Default)]
struct Ring {
    traces: VecDeque<Arc<RecordedTrace>>,
    bytes: usize,
}

/// Some of the newest traces, and how many more a bigger answer would have had.
#[derive(Debug)]
pub struct Recent {
    /// Newest first.
    pub traces: Vec<Trace>,
    /// Traces within the limit left out to keep the answer within its byte budget.
    pub left_out: usize,
}

impl TraceStore {
    /// A store keeping the last `capacity` traces, within [`MAX_STORE_BYTES`].
    pub fn new(capacity: usize) -> TraceStore {
        TraceStore::with_budget(capacity, MAX_STORE_BYTES)
    }

    /// A store keeping the last `capacity` traces, within `max_bytes` of memory.
    pub fn with_budget(capacity: usize, max_bytes: usize) -> TraceStore {
        let (live, _) = broadcast::channel(256);
        TraceStore {
            ring: Mutex::new(Ring {
                traces: VecDeque::with_capacity(capacity.min(4096)),
                bytes: 0,
            }),
            capacity: capacity.max(1),
            max_bytes,
            live,
            spare: Mutex::new(Vec::new()),
            pinned: Mutex::new(Vec::new()),
        }
    }

    /// A recording tracer, reusing the buffers of an evicted trace when one is free.
    pub fn tracer(&self) -> Tracer {
        let buffers = self.spare.lock().expect("spare buffers lock").pop();
        Tracer::with_buffers(buffers.unwrap_or_default())
    }

    /// Keeps a finished trace, dropping the oldest while the store is over its count or its
    /// bytes, and tells live viewers.
    pub fn push(&self, trace: RecordedTrace) {
        let size = trace.size();
        let trace = Arc::new(trace);
        let mut evicted = Vec::new();
        {
            let mut ring = self.ring.lock().expect("trace store lock");
            ring.traces.push_back(Arc::clone(&trace));
            ring.bytes += size;
            while ring.traces.len() > self.capacity
                || (ring.bytes > self.max_bytes && ring.traces.len() > 1)
            {
                let Some(old) = ring.traces.pop_front() else {
                    break;
                };
                ring.bytes -= old.size();
                evicted.push(old);
            }
        }
        // Recycle the evicted traces' buffers (unless a reader still holds one), outside the lock.
        for old in evicted {
            let Ok(old) = Arc::try_unwrap(old) else {
                continue;
            };
            let mut spare = self.spare.lock().expect("spare buffers lock");
            if spare.len() < SPARE_BUFFERS {
                spare.push(old.into_buffers());
            }
        }
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(trace);
        }
    }

    /// Up to `limit` traces, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Trace> {
        self.recent_within(limit, usize::MAX).traces
    }

    /// Up to `limit` traces, newest first, holding no more than about `max_bytes` together
    /// (at least one, when there is one).
    pub fn recent_within(&self, limit: usize, max_bytes: usize) -> Recent {
        let (picked, within_limit) = {
            let ring = self.ring.lock().expect("trace store lock");
            let mut bytes = 0usize;
            let picked: Vec<Arc<RecordedTrace>> = ring
                .traces
                .iter()
                .rev()
                .take(limit)
                .take_while(|t| {
                    let first = bytes == 0;
                    bytes = bytes.saturating_add(t.size());
                    first || bytes <= max_bytes
                })
                .cloned()
                .collect();
            (picked, ring.traces.len().min(limit))
        };
        Recent {
            left_out: within_limit - picked.len(),
            traces: picked.iter().map(|t| t.to_trace()).collect(),
        }
    }

    /// Bytes the kept traces hold.
    pub fn bytes(&self) -> usize {
        self.ring.lock().expect("trace store lock").bytes
    }

    /// The trace of one request, if it is still kept.
    pub fn get(&self, request_id: &str) -> Option<Trace> {
        self.find(request_id).map(|t| t.to_trace())
    }

    /// The kept or pinned trace of a request.
    fn find(&self, request_id: &str) -> Option<Arc<RecordedTrace>> {
        let kept = {
            let ring = self.ring.lock().expect("trace store lock");
            ring.traces
                .iter()
                .rev()
                .find(|t| t.request_id() == request_id)
                .cloned()
        };
        kept.or_else(|| {
            let pinned = self.pinned.lock().expect("pinned traces lock");
            pinned
                .iter()
                .find(|t| t.request_id() == request_id)
                .cloned()
        })
    }

    /// Keeps a request's trace past eviction (a trace to compare others with); pinning one
    /// that is pinned already changes nothing. Returns how many are pinned.
    pub fn pin(&self, request_id: &str) -> Result<usize, PinError> {
        let trace = self.find(request_id).ok_or(PinError::Missing)?;
        let mut pinned = self.pinned.lock().expect("pinned traces lock");
        if pinned.iter().any(|t| t.request_id() == request_id) {
            return Ok(pinned.len());
        }
        if pinned.len() >= MAX_PINNED {
            return Err(PinError::Full);
        }
        pinned.push(trace);
        Ok(pinned.len())
    }

    /// Lets a pinned trace go (eviction may take it again); false when it was not pinned.
    pub fn unpin(&self, request_id: &str) -> bool {
        let mut pinned = self.pinned.lock().expect("pinned traces lock");
        let before = pinned.len();
        pinned.retain(|t| t.request_id() != request_id);
        pinned.len() != before
    }

    /// The pinned traces, oldest pinned first.
    pub fn pinned(&self) -> Vec<Trace> {
        let pinned: Vec<Arc<RecordedTrace>> =
            self.pinned.lock().expect("pinned traces lock").clone();
        pinned.iter().map(|t| t.to_trace()).collect()
    }

    /// Number of traces kept.
    pub fn len(&self) -> usize {
        self.ring.lock().expect("trace store lock").traces.len()
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

    #[test]
    fn the_store_is_bounded_in_bytes_and_answers_within_a_budget() {
        // Every trace here has the same size: a two-character id and nothing recorded.
        let one = trace("xx").size();
        let store = TraceStore::with_budget(1000, one * 5);
        for i in 0..40 {
            store.push(trace(&format!("{i:02}")));
        }
        assert_eq!(store.len(), 5);
        assert!(store.bytes() <= one * 5);
        let recent = store.recent_within(1000, one * 2);
        assert_eq!(recent.traces.len(), 2);
        assert_eq!(recent.left_out, 3);
        assert_eq!(recent.traces[0].request_id, "39");
    }

    #[test]
    fn one_trace_is_kept_even_when_it_alone_is_over_the_budget() {
        let store = TraceStore::with_budget(1000, 1);
        store.push(trace("a"));
        store.push(trace("b"));
        assert_eq!(store.len(), 1);
        let recent = store.recent_within(10, 1);
        assert_eq!(recent.traces[0].request_id, "b");
        assert_eq!(recent.left_out, 0);
    }
}
