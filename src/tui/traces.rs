//! The guide's own list of the lab's traces: every request the lab served this session
//! (the console's, the checks', curl's from another terminal), bounded so a long session
//! keeps its memory.

use crate::lab::trace::Trace;
use std::collections::VecDeque;

/// Most traces kept; the oldest go first.
pub const KEPT: usize = 1000;

/// The traces and which one is shown.
#[derive(Debug, Clone)]
pub struct TraceLog {
    items: VecDeque<Trace>,
    /// The one shown, by index (from the oldest kept).
    pub selected: usize,
    /// Keep showing the newest as traces arrive.
    pub follow: bool,
    /// Traces the feed skipped because the guide fell behind, and ones let go for room.
    pub dropped: u64,
    /// The event of the shown trace under the cursor (to explain its stage).
    pub event: Option<usize>,
    /// First row of the timeline on screen.
    pub scroll: usize,
}

impl Default for TraceLog {
    fn default() -> Self {
        TraceLog {
            items: VecDeque::with_capacity(64),
            selected: 0,
            follow: true,
            dropped: 0,
            event: None,
            scroll: 0,
        }
    }
}

impl TraceLog {
    /// Adds a trace.
    pub fn push(&mut self, trace: Trace) {
        if self.items.len() == KEPT {
            self.items.pop_front();
            self.dropped += 1;
            self.selected = self.selected.saturating_sub(1);
        }
        self.items.push_back(trace);
        if self.follow {
            self.select(self.items.len() - 1);
        }
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Trace `i` (0 is the oldest kept).
    pub fn get(&self, i: usize) -> Option<&Trace> {
        self.items.get(i)
    }

    /// The trace shown.
    pub fn current(&self) -> Option<&Trace> {
        self.items.get(self.selected)
    }

    /// Shows trace `i`; following resumes when it is the newest.
    pub fn select(&mut self, i: usize) {
        let last = self.items.len().saturating_sub(1);
        self.selected = i.min(last);
        self.follow = self.selected == last;
        self.event = None;
        self.scroll = 0;
    }

    /// Moves the selection by `delta`.
    pub fn move_by(&mut self, delta: isize) {
        self.select(self.selected.saturating_add_signed(delta));
    }

    /// Shows the trace of request `request_id`, if kept; true when found.
    pub fn select_request(&mut self, request_id: &str) -> bool {
        match self.items.iter().rposition(|t| t.request_id == request_id) {
            Some(i) => {
                self.select(i);
                true
            }
            None => false,
        }
    }

    /// Moves the event cursor in the shown trace.
    pub fn step_event(&mut self, forward: bool) {
        let count = self.current().map_or(0, |t| t.events.len());
        if count == 0 {
            self.event = None;
            return;
        }
        self.event = Some(match (self.event, forward) {
            (None, true) => 0,
            (None, false) => count - 1,
            (Some(i), true) => (i + 1).min(count - 1),
            (Some(i), false) => i.saturating_sub(1),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::trace::Timestamp;

    fn trace(n: usize) -> Trace {
        Trace {
            request_id: format!("r{n}"),
            started_at: Timestamp(0),
            method: "GET".into(),
            path: format!("/tasks/{n}"),
            route: None,
            status: 200,
            duration_us: 10,
            caller: None,
            request: None,
            events: Vec::new(),
        }
    }

    #[test]
    fn the_list_is_bounded_and_follows_the_newest_until_told_otherwise() {
        let mut log = TraceLog::default();
        for n in 0..KEPT + 10 {
            log.push(trace(n));
        }
        assert_eq!(log.len(), KEPT);
        assert_eq!(log.dropped, 10);
        assert_eq!(log.current().unwrap().request_id, format!("r{}", KEPT + 9));
        log.move_by(-3);
        assert!(!log.follow);
        let shown = log.current().unwrap().request_id.clone();
        log.push(trace(99_999));
        assert_eq!(
            log.current().unwrap().request_id,
            shown,
            "a chosen trace stays"
        );
        assert!(log.select_request("r99999"));
        assert!(log.follow);
    }
}
