//! The capture middleware wrapped around every lab request.
//!
//! It owns the request id (the client's `X-Request-ID`, else a fresh one, always returned),
//! starts and finishes the trace, turns router-made 405s and handler [`Problem`]s into the one
//! problem+json body, and adds `X-Response-Time-ms`.

use super::LabState;
use super::error::{Problem, ProblemKind};
use super::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

/// The request id header, read from clients and always sent back.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Time the lab spent on the request, in milliseconds.
pub static X_RESPONSE_TIME_MS: HeaderName = HeaderName::from_static("x-response-time-ms");

/// The request's id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The largest body the lab reads, available to extractors for their messages.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Longest client-supplied request id the lab accepts.
const MAX_REQUEST_ID_LEN: usize = 200;

/// Wraps every request: id, trace, problem bodies, timing header.
pub async fn capture(State(lab): State<Arc<LabState>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let started_at = super::clock::now_string();
    let method = req.method().clone();
    let target = req.uri().path_and_query().map_or_else(
        || req.uri().path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let lab_internal = req.uri().path().starts_with("/_lab/");

    let supplied = client_request_id(req.headers());
    let request_id = supplied
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    let tracer = if lab.config.tracing && !lab_internal {
        Tracer::recording()
    } else {
        Tracer::off()
    };
    if tracer.is_on() {
        let id_note = if supplied.is_some() {
            "kept the client's X-Request-ID"
        } else if req.headers().contains_key(&X_REQUEST_ID) {
            "ignored an unusable X-Request-ID and generated a new id"
        } else {
            "generated a request id"
        };
        tracer.note(
            Stage::Http,
            Outcome::Ok,
            format!(
                "received {method} {target} over {:?} with {}; {id_note}",
                req.version(),
                describe_request_body(req.headers())
            ),
        );
    }
    req.extensions_mut().insert(tracer.clone());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    req.extensions_mut()
        .insert(BodyLimit(lab.config.body_limit));

    let mut response = next.run(req).await;

    if response.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED
        && response.extensions().get::<Problem>().is_none()
    {
        response = method_not_allowed(&tracer, &method, &target, response);
    }
    if let Some(problem) = response.extensions_mut().remove::<Problem>() {
        if problem.kind == ProblemKind::Internal {
            eprintln!(
                "[lab] request {request_id}: internal error: {}",
                problem.detail
            );
        }
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(problem.to_json(&request_id));
    }

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("{elapsed_ms:.3}")) {
        headers.insert(X_RESPONSE_TIME_MS.clone(), value);
    }

    if tracer.is_on() {
        let status = response.status();
        let bytes = response.body().size_hint().exact();
        let outcome = if status.is_client_error() || status.is_server_error() {
            Outcome::Fail
        } else {
            Outcome::Ok
        };
        let size = bytes.map_or_else(|| "a streamed body".to_string(), plural_bytes);
        tracer.note(
            Stage::Response,
            outcome,
            format!(
                "sent {} {} with {size}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        );
        if let Some(trace) = tracer.finish(
            request_id,
            started_at,
            method.to_string(),
            target,
            status.as_u16(),
        ) {
            lab.traces.push(trace);
        }
    }
    response
}

/// Records which route matched (runs only for requests that matched one).
pub async fn note_route(req: Request, next: Next) -> Response {
    if let (Some(tracer), Some(path)) = (
        req.extensions().get::<Tracer>(),
        req.extensions().get::<MatchedPath>(),
    ) {
        tracer.set_route(path.as_str());
        tracer.note(
            Stage::Routing,
            Outcome::Ok,
            format!("matched route {} {}", req.method(), path.as_str()),
        );
    }
    next.run(req).await
}

/// Turns the router's bare 405 into a problem, keeping its `Allow` header.
fn method_not_allowed(
    tracer: &Tracer,
    method: &axum::http::Method,
    target: &str,
    response: Response,
) -> Response {
    // The router lists methods as `GET,HEAD`; spaced out is easier to read and means the same.
    let allow = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(", ");
    let path = target.split('?').next().unwrap_or(target);
    tracer.note(
        Stage::Routing,
        Outcome::Fail,
        format!("{path} exists but does not accept {method}; Allow: {allow} → 405"),
    );
    let mut out = Problem::new(
        ProblemKind::MethodNotAllowed,
        format!("{path} does not support {method}. It supports: {allow}."),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        out.headers_mut().insert(header::ALLOW, value);
    }
    out
}

/// The client's request id, when it is usable (1–200 visible ASCII characters).
fn client_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(&X_REQUEST_ID)?.to_str().ok()?.trim();
    let usable = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| value.to_string())
}

fn describe_request_body(headers: &HeaderMap) -> String {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len == 0 {
            return "no body".into();
        }
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no Content-Type");
        return format!("a {len}-byte body ({ct})");
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        "a chunked body".into()
    } else {
        "no body".into()
    }
}

/// "1 byte", "42 bytes".
pub fn plural_bytes(n: u64) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_must_be_visible_ascii() {
        let mut h = HeaderMap::new();
        h.insert(&X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(client_request_id(&h).as_deref(), Some("abc-123"));
        h.insert(&X_REQUEST_ID, HeaderValue::from_static("has space"));
        assert_eq!(client_request_id(&h), None);
        h.insert(&X_REQUEST_ID, HeaderValue::from_static(""));
        assert_eq!(client_request_id(&h), None);
        let long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        h.insert(&X_REQUEST_ID, HeaderValue::from_str(&long).unwrap());
        assert_eq!(client_request_id(&h), None);
    }
}
