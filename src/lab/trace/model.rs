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
    /// The caller's trace this request joined, from its `traceparent` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<TraceContext>,
    /// The request as sent, for `reqlab replay` (credentials never kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestCopy>,
}

/// A request as its trace keeps it: enough to send it again, without its credentials.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestCopy {
    /// Its headers in order (without Host, Content-Length and hop-by-hop ones); a credential's
    /// value is `[redacted]`.
    pub headers: Vec<(String, String)>,
    /// Its body as text, when it was kept and is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Its body in base64, when it was kept and is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The body's size in bytes, kept or not (a body over 4 KiB is not kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size: Option<usize>,
    /// The request had a body the lab answered without reading (so none was kept).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_unread: bool,
    /// What was not kept: `header authorization`, `body field password`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

/// A W3C Trace Context `traceparent`: the distributed trace a request belongs to and the
/// caller's span it was made from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id: 32 lowercase hex digits.
    pub trace_id: String,
    /// The caller's span id: 16 lowercase hex digits.
    pub parent_id: String,
    /// Whether the caller records this trace (flag `01`).
    pub sampled: bool,
}

impl TraceContext {
    /// Reads a `traceparent` value (`00-<trace id>-<parent id>-<flags>`); `None` when it is not
    /// one W3C Trace Context allows (then a callee starts a trace of its own).
    pub fn parse(value: &str) -> Option<TraceContext> {
        let value = value.trim();
        let mut parts = value.split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        // Version 00 has exactly four fields; a later version may add more, ff is invalid.
        let known = version == "00" && parts.next().is_none();
        let later = hex(version, 2) && version != "ff" && version != "00";
        if !(known || later)
            || !hex(trace_id, 32)
            || !hex(parent_id, 16)
            || !hex(flags, 2)
            || trace_id.bytes().all(|b| b == b'0')
            || parent_id.bytes().all(|b| b == b'0')
        {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(TraceContext {
            trace_id: trace_id.to_string(),
            parent_id: parent_id.to_string(),
            sampled: flags & 1 == 1,
        })
    }
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
    fn a_traceparent_is_read_only_when_w3c_allows_it() {
        let ctx =
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_id, "00f067aa0ba902b7");
        assert!(ctx.sampled);
        for bad in [
            "",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f35-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
        assert!(
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-later")
                .is_some_and(|c| !c.sampled),
            "a later version may add fields"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_in_json() {
        let json = serde_json::to_string(&Timestamp(1_234_567)).unwrap();
        assert_eq!(json, "\"1970-01-01T00:00:01.234567Z\"");
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Timestamp(1_234_567));
    }
}
