//! The trace as readers see it: a request's stage events, in order, each with its time and a
//! plain sentence. This is what `/_lab/traces` serves and what the trace views draw.

use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Everything the lab saw while handling one request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    /// The request id (the client's `X-Request-ID`, or one the lab generated).
    pub request_id: String,
    /// When the request arrived (RFC 3339, UTC, in JSON).
    pub started_at: Timestamp,
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

impl Trace {
    /// The trace with a data-stage warning after the last run of each statement it ran more
    /// than once (see [`super::repeats`]); `last` indexes its events.
    pub fn with_repeats(mut self, repeats: Vec<super::repeats::Repeat>) -> Trace {
        for r in repeats.iter().rev() {
            let Some(after) = self.events.get(r.last) else {
                continue;
            };
            let event = TraceEvent {
                stage: Stage::Data,
                outcome: Outcome::Warn,
                at_us: after.at_us + after.duration_us,
                duration_us: 0,
                message: r.sentence(),
                sql: None,
            };
            self.events.insert(r.last + 1, event);
        }
        self
    }

    /// The warnings about statements run more than once (N+1 patterns, repeats).
    pub fn repeat_warnings(&self) -> impl Iterator<Item = &TraceEvent> {
        self.events
            .iter()
            .filter(|e| e.stage == Stage::Data && e.outcome == Outcome::Warn)
    }
}

/// A moment in microseconds since the Unix epoch, written as RFC 3339 text in JSON.
///
/// Formatting is deferred to whoever reads the trace, so recording one stays cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp(crate::lab::clock::wall_micros())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::lab::clock::format_micros(self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::lab::clock::parse_micros(&text)
            .map(Timestamp)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time")))
    }
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
    /// Let the request through, but did something worth fixing (an N+1 pattern).
    Warn,
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
    /// The line of code that ran it (`src/lab/topics/…:88`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_site: Option<String>,
}

/// A size for trace sentences: "1 byte", "42 bytes", or "a streamed body" when unknown.
pub struct Size(pub Option<u64>);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("a streamed body"),
            Some(1) => f.write_str("1 byte"),
            Some(n) => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_in_json() {
        let json = serde_json::to_string(&Timestamp(1_234_567)).unwrap();
        assert_eq!(json, "\"1970-01-01T00:00:01.234567Z\"");
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Timestamp(1_234_567));
    }
}
