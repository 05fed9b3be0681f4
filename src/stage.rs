//! The stages of the request lifecycle: the one vocabulary shared by lessons, traces and checks.
//!
//! A lesson says which stages it teaches, a trace event says which stage produced it, and a
//! challenge check says which stage of the learner's server it tests, all with the same names.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One stage of the request lifecycle, or one of the cross-cutting concerns that wrap it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The request arrives: method, target, version, headers, body bytes.
    Http,
    /// The server picks a handler for the method and path (or answers 404 / 405).
    Routing,
    /// Bytes become data: content type, body decoding, query strings.
    Parsing,
    /// The data is checked against the input contract (shape, types, bounds).
    Validation,
    /// Who is calling (authentication) and what they may do (authorization).
    Auth,
    /// The handler's business rules and decisions.
    Logic,
    /// Database work: each SQL statement, its rows and its time.
    Data,
    /// The status, headers and body that go back.
    Response,
    /// Code that wraps every request: request ids, timing, CORS.
    Middleware,
    /// Remembering answers: HTTP caching, application caches.
    Caching,
    /// Safe defaults: headers, limits, not leaking internals.
    Security,
    /// Seeing what happens: logs, metrics, traces.
    Observability,
}

impl Stage {
    /// Every stage, in lifecycle order followed by the cross-cutting concerns.
    pub const ALL: [Stage; 12] = [
        Stage::Http,
        Stage::Routing,
        Stage::Parsing,
        Stage::Validation,
        Stage::Auth,
        Stage::Logic,
        Stage::Data,
        Stage::Response,
        Stage::Middleware,
        Stage::Caching,
        Stage::Security,
        Stage::Observability,
    ];

    /// The identifier used in files, JSON and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Stage::Http => "http",
            Stage::Routing => "routing",
            Stage::Parsing => "parsing",
            Stage::Validation => "validation",
            Stage::Auth => "auth",
            Stage::Logic => "logic",
            Stage::Data => "data",
            Stage::Response => "response",
            Stage::Middleware => "middleware",
            Stage::Caching => "caching",
            Stage::Security => "security",
            Stage::Observability => "observability",
        }
    }

    /// What happens at this stage, in one line (the lessons' lifecycle table, `reqlab explain`).
    pub fn summary(self) -> &'static str {
        match self {
            Stage::Http => "The request arrives: method, target, version, headers, body bytes.",
            Stage::Routing => {
                "The server picks a handler for the method and path (or answers 404 / 405)."
            }
            Stage::Parsing => "Bytes become data: content type, body decoding, query strings.",
            Stage::Validation => {
                "The data is checked against the input contract (shape, types, bounds)."
            }
            Stage::Auth => "Who is calling (authentication) and what they may do (authorization).",
            Stage::Logic => "The handler's business rules and decisions.",
            Stage::Data => "Database work: each SQL statement, its rows and its time.",
            Stage::Response => "The status, headers and body that go back.",
            Stage::Middleware => "Code that wraps every request: request ids, timing, CORS.",
            Stage::Caching => "Remembering answers: HTTP caching, application caches.",
            Stage::Security => "Safe defaults: headers, limits, not leaking internals.",
            Stage::Observability => "Seeing what happens: logs, metrics, traces.",
        }
    }

    /// The name a learner reads ("business logic", "data layer").
    pub fn label(self) -> &'static str {
        match self {
            Stage::Http => "HTTP",
            Stage::Logic => "business logic",
            Stage::Data => "data layer",
            other => other.id(),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Error for a stage name that is not one of [`Stage::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage `{0}` (expected one of: {list})", list = Stage::ALL.map(Stage::id).join(", "))]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.id() == s)
            .ok_or_else(|| UnknownStage(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_from_str_and_serde() {
        for stage in Stage::ALL {
            assert_eq!(stage.id().parse::<Stage>(), Ok(stage));
            let json = serde_json::to_string(&stage).unwrap();
            assert_eq!(json, format!("\"{}\"", stage.id()));
        }
    }

    #[test]
    fn unknown_stage_lists_the_valid_names() {
        let err = "db".parse::<Stage>().unwrap_err().to_string();
        assert!(err.contains("`db`") && err.contains("data"), "{err}");
    }
}
