//! Extractors for the parsing stage: JSON bodies, query strings, path ids and the tracer.
//!
//! Each records a `parsing` trace event and turns bad input into the matching problem:
//! wrong content type → 415, body over the limit → 413, unparsable JSON → 400.

use super::error::{
    BAD_REQUEST, MALFORMED_JSON, PAYLOAD_TOO_LARGE, Problem, REQUEST_TIMEOUT,
    UNSUPPORTED_MEDIA_TYPE,
};
use super::listen::Timeouts;
use super::step::{Block, Carries, Gate};
use super::trace::{Outcome, Size, Tracer};
use crate::stage::Stage;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::time::Instant;

/// What extractors and handlers need from the capture middleware, as one request extension.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request's tracer (off for lab-internal requests or with tracing disabled).
    pub tracer: Tracer,
    /// The largest body the lab reads.
    pub body_limit: usize,
    /// How long reading a body may pause and take in all.
    pub timeouts: Timeouts,
    /// Where the request waits in step mode (off unless it was sent with a step token).
    pub gate: Gate,
}

/// The request's tracer (an off tracer outside the lab's middleware, e.g. in unit tests).
fn tracer_of(extensions: &axum::http::Extensions) -> Tracer {
    extensions
        .get::<RequestContext>()
        .map(|c| c.tracer.clone())
        .unwrap_or_default()
}

/// The request's step gate (off outside the lab's middleware).
fn gate_of(extensions: &axum::http::Extensions) -> Gate {
    extensions
        .get::<RequestContext>()
        .map(|c| c.gate.clone())
        .unwrap_or_default()
}

/// Extracting the gate is where a stepped request is held at `routing`, with its route and
/// path parameters: handlers take it before anything else of the request, and only a request
/// whose method the route serves reaches a handler (a 405 is decided without one, and held in
/// the capture middleware).
impl<S: Send + Sync> FromRequestParts<S> for Gate {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let gate = gate_of(&parts.extensions);
        if gate.stepping()
            && let Some(route) = parts.extensions.get::<MatchedPath>().cloned()
        {
            let params = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map(|Path(params)| params)
                .unwrap_or_default();
            gate.hold(Stage::Routing, || {
                route_carries(&parts.method, route.as_str(), &params)
            })
            .await;
        }
        Ok(gate)
    }
}

/// What a stepped request shows at `routing` when a route matched.
fn route_carries(method: &axum::http::Method, route: &str, params: &[(String, String)]) -> Carries {
    let with = params
        .iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = if params.is_empty() {
        format!("matched {method} {route}; the route takes no path parameters")
    } else {
        format!("matched {method} {route} with {with}")
    };
    let mut carries = Carries::new(summary).with_field("route", format_args!("{method} {route}"));
    for (name, value) in params {
        carries.field(name, value);
    }
    carries
}

impl<S: Send + Sync> FromRequestParts<S> for Tracer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(tracer_of(&parts.extensions))
    }
}

/// A request body that parsed as JSON (not yet validated against any contract).
#[derive(Debug)]
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        read_json(req, state, &[JSON])
            .await
            .map(|(value, _)| JsonBody(value))
    }
}

/// A `PATCH` body: plain JSON (the fields to change) or a JSON Merge Patch (RFC 7396, where
/// `null` removes a field).
#[derive(Debug)]
pub struct PatchBody {
    /// The parsed body.
    pub value: serde_json::Value,
    /// True for `application/merge-patch+json`.
    pub merge_patch: bool,
}

impl<S: Send + Sync> FromRequest<S> for PatchBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let (value, media_type) = read_json(req, state, &[JSON, MERGE_PATCH]).await?;
        Ok(PatchBody {
            value,
            merge_patch: media_type == MERGE_PATCH,
        })
    }
}

/// The media type of JSON bodies.
const JSON: &str = "application/json";
/// The media type of JSON Merge Patch bodies (RFC 7396).
const MERGE_PATCH: &str = "application/merge-patch+json";

/// Reads and parses a JSON body whose media type is one of `accepted` (→ 415 otherwise, saying
/// which it accepts in `Accept-Post` or `Accept-Patch`), returning the value and its type. A
/// stepped request is held at `parsing` afterwards, showing what came of it.
async fn read_json<S: Send + Sync>(
    req: Request,
    state: &S,
    accepted: &[&'static str],
) -> Result<(serde_json::Value, &'static str), Problem> {
    let gate = gate_of(req.extensions());
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (result, bytes) = parse_json(req, state, accepted, content_type.as_deref()).await;
    gate.hold(Stage::Parsing, || {
        parsing_carries(content_type.as_deref(), &result, bytes.as_deref())
    })
    .await;
    result
}

/// The work of [`read_json`]; also returns the body bytes when they were read.
async fn parse_json<S: Send + Sync>(
    req: Request,
    state: &S,
    accepted: &[&'static str],
    content_type: Option<&str>,
) -> (
    Result<(serde_json::Value, &'static str), Problem>,
    Option<Bytes>,
) {
    let tracer = tracer_of(req.extensions());
    let start = Instant::now();
    let essence = content_type.map(media_type_essence);
    let Some(media_type) = accepted
        .iter()
        .copied()
        .find(|a| essence.as_deref() == Some(*a))
    else {
        let shown = content_type.unwrap_or("missing");
        let list = accepted.join(" or ");
        tracer.timed(
            Stage::Parsing,
            start,
            Outcome::Fail,
            format_args!("Content-Type is {shown}, but this endpoint reads {list} → 415"),
        );
        let problem = Problem::new(
            &UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type is {shown}; send the body as {list}."),
        );
        // Say what this endpoint takes, so a client can correct itself (RFC 5789 §3.1 for PATCH).
        let problem = match *req.method() {
            axum::http::Method::POST => {
                problem.with_header(ACCEPT_POST.clone(), "application/json")
            }
            axum::http::Method::PATCH => problem.with_header(
                ACCEPT_PATCH.clone(),
                "application/json, application/merge-patch+json",
            ),
            _ => problem,
        };
        return (Err(problem), None);
    };
    let bytes = match read_body(req, state, &tracer, start).await {
        Ok(bytes) => bytes,
        Err(problem) => return (Err(problem), None),
    };
    let result = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value) => {
            tracer.timed(
                Stage::Parsing,
                start,
                Outcome::Ok,
                format_args!("parsed {} of {media_type}", Size(Some(bytes.len() as u64))),
            );
            Ok((value, media_type))
        }
        Err(err) => {
            let why = json_error_sentence(&err, bytes.is_empty());
            tracer.timed(
                Stage::Parsing,
                start,
                Outcome::Fail,
                format_args!("the body is not valid JSON: {why} → 400; nothing after parsing ran"),
            );
            Err(Problem::new(
                &MALFORMED_JSON,
                format!("The body is not valid JSON: {why}."),
            ))
        }
    };
    (result, Some(bytes))
}

/// What a stepped request shows at `parsing` once its body was read (or refused).
fn parsing_carries(
    content_type: Option<&str>,
    result: &Result<(serde_json::Value, &'static str), Problem>,
    bytes: Option<&[u8]>,
) -> Carries {
    let size = Size(bytes.map(|b| b.len() as u64));
    let mut carries = match result {
        Ok((value, media_type)) => {
            let shape = match value {
                serde_json::Value::Object(map) => format!(
                    "an object with {} field{}",
                    map.len(),
                    if map.len() == 1 { "" } else { "s" }
                ),
                other => super::validate::json_kind(other).to_string(),
            };
            Carries::new(format_args!("parsed {size} of {media_type} into {shape}"))
                .with_block(Block::json(value))
        }
        Err(problem) => {
            let mut carries = Carries::new(format_args!(
                "the body could not be used → {}: {}",
                problem.status.as_u16(),
                problem.public_detail()
            ));
            if let Some(bytes) = bytes.filter(|b| !b.is_empty()) {
                carries.block = Some(Block::body(bytes));
            }
            carries
        }
    };
    carries.field("Content-Type", content_type.unwrap_or("missing"));
    if bytes.is_some() {
        carries.field("body", size);
    }
    carries
}

/// `Accept-Post`: the media types a POST endpoint reads.
static ACCEPT_POST: axum::http::HeaderName = axum::http::HeaderName::from_static("accept-post");
/// `Accept-Patch`: the media types a PATCH endpoint reads (RFC 5789 §3.1).
static ACCEPT_PATCH: axum::http::HeaderName = axum::http::HeaderName::from_static("accept-patch");

/// `type/subtype` of a media type, lower-cased, without parameters.
fn media_type_essence(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads the whole body within the lab's size limit (→ 413) and its deadlines: a pause between
/// two pieces of the body, or the whole body, taking too long is a 408.
pub async fn read_body<S: Send + Sync>(
    req: Request,
    _state: &S,
    tracer: &Tracer,
    start: Instant,
) -> Result<Bytes, Problem> {
    let limits = req
        .extensions()
        .get::<RequestContext>()
        .map(|c| (c.body_limit, c.timeouts))
        .unwrap_or((usize::MAX, Timeouts::default()));
    let (limit, timeouts) = limits;
    // A cheap handle (the value shares the request head's bytes), read only for the copy.
    let content_type = req.headers().get(axum::http::header::CONTENT_TYPE).cloned();
    let mut body = req.into_body();
    let mut bytes = BytesMut::new();
    let whole = tokio::time::Instant::now() + timeouts.body_total;
    loop {
        let next = (tokio::time::Instant::now() + timeouts.body_gap).min(whole);
        let frame = match tokio::time::timeout_at(next, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => {
                tracer.copy_body(&bytes, content_type.as_ref().and_then(|v| v.to_str().ok()));
                return Ok(bytes.freeze());
            }
            Ok(Some(Err(_))) => {
                tracer.timed(
                    Stage::Parsing,
                    start,
                    Outcome::Fail,
                    "the body could not be read → 400",
                );
                return Err(Problem::new(
                    &BAD_REQUEST,
                    "The request body could not be read.",
                ));
            }
            Err(_) => {
                let (why, seconds) = if next == whole {
                    ("the whole body took longer than", timeouts.body_total)
                } else {
                    ("the body paused for longer than", timeouts.body_gap)
                };
                let seconds = seconds.as_secs_f64();
                tracer.timed(
                    Stage::Parsing,
                    start,
                    Outcome::Fail,
                    format_args!(
                        "{why} {seconds} s after {} → 408; the server stopped waiting",
                        Size(Some(bytes.len() as u64))
                    ),
                );
                return Err(Problem::new(
                    &REQUEST_TIMEOUT,
                    format!("{why} {seconds} s; send the body as one prompt stream."),
                ));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > limit {
            return Err(too_large(tracer, start, limit));
        }
        bytes.extend_from_slice(&data);
    }
}

/// The 413 for a body over `limit` bytes, with its trace sentence.
pub fn too_large(tracer: &Tracer, start: Instant, limit: usize) -> Problem {
    tracer.timed(
        Stage::Parsing,
        start,
        Outcome::Fail,
        format_args!(
            "the body is over the {} limit → 413; it was not read further",
            Size(Some(limit as u64))
        ),
    );
    Problem::new(
        &PAYLOAD_TOO_LARGE,
        format!(
            "The body is larger than this server accepts ({}).",
            Size(Some(limit as u64))
        ),
    )
}

/// True for `application/json` and `application/<something>+json`, with any parameters.
pub fn is_json_media_type(value: &str) -> bool {
    let essence = media_type_essence(value);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_error_sentence(err: &serde_json::Error, empty: bool) -> String {
    if empty {
        return "the body is empty".into();
    }
    // serde_json stops at 128 levels of nesting, so a deep body cannot exhaust the stack.
    if err.to_string().starts_with("recursion limit exceeded") {
        return format!(
            "it is nested more than 128 levels deep (stopped at line {} column {})",
            err.line(),
            err.column()
        );
    }
    let what = match err.classify() {
        serde_json::error::Category::Eof => "it ends too early",
        serde_json::error::Category::Syntax => "unexpected character",
        _ => "it cannot be read",
    };
    format!("{what} at line {} column {}", err.line(), err.column())
}

/// The query string as ordered name/value pairs (a malformed one → 400).
#[derive(Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(ctx) = parts.extensions.get::<RequestContext>() else {
            return parse_query(&parts.uri, &Tracer::off());
        };
        let result = parse_query(&parts.uri, &ctx.tracer);
        ctx.gate
            .hold(Stage::Parsing, || query_carries(&result))
            .await;
        result
    }
}

/// Parses the query string into pairs, recording a `parsing` event (a malformed one → 400).
fn parse_query(uri: &axum::http::Uri, tracer: &Tracer) -> Result<QueryPairs, Problem> {
    let start = Instant::now();
    match Query::<Vec<(String, String)>>::try_from_uri(uri) {
        Ok(Query(pairs)) => {
            if !pairs.is_empty() {
                let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
                names.dedup();
                tracer.timed(
                    Stage::Parsing,
                    start,
                    Outcome::Ok,
                    format_args!(
                        "parsed the query string: {} parameter{} ({})",
                        pairs.len(),
                        if pairs.len() == 1 { "" } else { "s" },
                        names.join(", ")
                    ),
                );
            }
            Ok(QueryPairs(pairs))
        }
        Err(_) => {
            tracer.timed(
                Stage::Parsing,
                start,
                Outcome::Fail,
                "the query string is not valid URL encoding → 400",
            );
            Err(Problem::new(
                &BAD_REQUEST,
                "The query string is not valid URL encoding.",
            ))
        }
    }
}

/// What a stepped request shows at `parsing` for its query string.
fn query_carries(result: &Result<QueryPairs, Problem>) -> Carries {
    match result {
        Ok(QueryPairs(pairs)) if pairs.is_empty() => {
            Carries::new("no query string: every parameter takes its default")
        }
        Ok(QueryPairs(pairs)) => {
            let mut carries = Carries::new(format_args!(
                "parsed the query string into {} parameter{}",
                pairs.len(),
                if pairs.len() == 1 { "" } else { "s" }
            ));
            for (name, value) in pairs {
                carries.field(name, value);
            }
            carries
        }
        Err(problem) => Carries::new(format_args!(
            "the query string could not be read → {}: {}",
            problem.status.as_u16(),
            problem.public_detail()
        )),
    }
}

impl QueryPairs {
    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Names present that are not in `known`.
    pub fn unknown<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .0
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !known.contains(k))
            .collect();
        names.dedup();
        names
    }
}

/// Parses a resource id from a path segment; anything but a positive integer names nothing → 404.
///
/// An id has one spelling: `/tasks/2` names task 2, while `/tasks/02` and `/tasks/+2` name
/// nothing, so a resource never has two URLs.
pub fn parse_id(raw: &str, noun: &str, tracer: &Tracer) -> Result<i64, Problem> {
    let canonical =
        !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
    match raw.parse::<i64>() {
        Ok(id) if canonical && id > 0 => Ok(id),
        _ => {
            tracer.note(
                Stage::Parsing,
                Outcome::Fail,
                format_args!("`{raw}` is not a {noun} id (ids are positive integers) → 404"),
            );
            Err(Problem::not_found(format!(
                "There is no {noun} `{raw}`: {noun} ids are positive integers."
            )))
        }
    }
}

/// The client's address: the connection's peer, which the listener puts on every request
/// (without one, as in tests driving the router directly, the unspecified address). Per-client
/// limits key on it.
pub fn client_addr(parts: &axum::http::request::Parts) -> std::net::IpAddr {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
        assert!(!is_json_media_type("application/jsonx"));
    }
}
