//! The capture middleware wrapped around every lab request.
//!
//! It owns the request id (the client's `X-Request-ID`, else a fresh one, always returned),
//! starts and finishes the trace, turns router-made 405s and handler [`Problem`]s into the one
//! problem+json body, and adds `X-Response-Time-ms`. It also removes the step token from every
//! request and holds a stepped one at `http`, at `routing` when it is a 405, and at `response`
//! ([`super::step`]).

use super::error::{
    BAD_REQUEST, INTERNAL, LAB_TOKEN, METHOD_NOT_ALLOWED, NOT_FOUND, PAYLOAD_TOO_LARGE, Problem,
    STEP_SESSION_BUSY, UNSUPPORTED_MEDIA_TYPE,
};
use super::extract::RequestContext;
use super::guard;
use super::state::LabState;
use super::step::{Busy, Carries, Gate, STEP};
use super::trace::{IdSource, Outcome, Timestamp, TraceContext, Tracer};
use crate::stage::Stage;
use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

/// The request id header, read from clients and always sent back.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Time the lab spent on the request, in milliseconds.
pub static X_RESPONSE_TIME_MS: HeaderName = HeaderName::from_static("x-response-time-ms");
/// Each stage's time, as a browser's developer tools read it (W3C Server Timing).
pub static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// `Cache-Control` for what no cache may keep.
static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// A layer that gives a route's responses this `Cache-Control` (unless they set their own):
/// each topic decides what of its answers caches may keep.
pub fn cache_control(
    policy: &'static str,
) -> tower_http::set_header::SetResponseHeaderLayer<HeaderValue> {
    tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static(policy),
    )
}

/// The same `Cache-Control` layer on documented routes (see [`cache_control`]).
pub fn cache_control_on<S: Clone + Send + Sync + 'static>(
    (schemas, paths, method): utoipa_axum::router::UtoipaMethodRouter<S>,
    policy: &'static str,
) -> utoipa_axum::router::UtoipaMethodRouter<S> {
    (schemas, paths, method.layer(cache_control(policy)))
}

/// The outermost layer, on the way in (its sentences are fixed, so recording them is cheap).
const ENTER_CAPTURE: &str =
    "→ capture layer (outermost): starts this trace, settles the request id and starts the clock";
/// The guard let the request through.
const PASS_GUARD: &str = "→ guard layer: Host, Origin, URL and head sizes, Accept and transfer coding are acceptable; on to the router";
/// The outermost layer, on the way out.
const LEAVE_CAPTURE: &str = "← capture layer: adds X-Request-ID, X-Response-Time-ms, Server-Timing (when traced) and Cache-Control, and gives any error the problem+json shape";

/// Longest client-supplied request id the lab accepts.
const MAX_REQUEST_ID_LEN: usize = 200;

/// Wraps every request: id, trace, problem bodies, timing header.
pub async fn capture(State(lab): State<Arc<LabState>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let _in_flight = lab.metrics.in_flight();
    // The step token is for the lab alone: no trace, echo or handler ever sees it.
    let step_token = req.headers_mut().remove(&STEP);
    let method = req.method().clone();
    // A cheap handle on the target; it becomes text only for a trace or a 405.
    let uri = req.uri().clone();
    let target = || uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let lab_internal = uri.path().starts_with("/_lab/");

    let supplied = client_request_id(req.headers());
    let kept_client_id = supplied.is_some();
    let request_id = supplied.unwrap_or_else(new_request_id);

    let tracer = if lab.config.tracing && !lab_internal {
        lab.traces.tracer()
    } else {
        Tracer::off()
    };
    let started_at = tracer.is_on().then(Timestamp::now);
    if tracer.is_on() {
        let id = if kept_client_id {
            IdSource::Client
        } else if req.headers().contains_key(&X_REQUEST_ID) {
            IdSource::Replaced
        } else {
            IdSource::Generated
        };
        tracer.received(version_name(req.version()), req.headers(), id);
        tracer.copy_headers(req.headers());
        tracer.identify(&request_id);
        join_callers_trace(&tracer, req.headers());
    }
    // Step mode follows traces: a request the lab does not trace is never held.
    let gate = match step_token {
        Some(token) if tracer.is_on() => {
            lab.steps.gate(&token, &request_id, &tracer, req.headers())
        }
        _ => Ok(Gate::off()),
    };
    let (gate, busy) = match gate {
        Ok(gate) => (gate, None),
        Err(Busy) => (Gate::off(), Some(step_session_busy(&tracer))),
    };
    req.extensions_mut().insert(RequestContext {
        tracer: tracer.clone(),
        body_limit: lab.config.body_limit,
        timeouts: lab.config.timeouts,
        gate: gate.clone(),
    });
    gate.hold(Stage::Http, || {
        Carries::request_head(
            method.as_str(),
            &shown_target(target()),
            version_name(req.version()),
            req.headers(),
        )
    })
    .await;

    tracer.fixed(Stage::Middleware, ENTER_CAPTURE);
    let refused = busy.or_else(|| guard::refuse(&lab.config, &req, &tracer, start));
    if refused.is_none() {
        tracer.fixed(Stage::Middleware, PASS_GUARD);
    }
    let mut response = match refused {
        Some(problem) => {
            let token = problem.kind == &LAB_TOKEN;
            let mut response = problem.into_response();
            if token {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"reqlab lab\""),
                );
            }
            response
        }
        None => next.run(req).await,
    };
    // The route that matched, if any, before a 405 or an error body replaces the response.
    let route = response.extensions().get::<MatchedPath>().cloned();

    if response.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED
        && response.extensions().get::<Problem>().is_none()
    {
        response = method_not_allowed(&tracer, &gate, &method, uri.path(), response).await;
    }
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && response.extensions().get::<Problem>().is_none()
        && !is_problem_json(response.headers())
    {
        response = framework_error(&tracer, status);
    }
    if let Some(problem) = response.extensions_mut().remove::<Problem>() {
        if problem.kind == &INTERNAL {
            tracing::error!("request {request_id}: internal error: {}", problem.detail);
        }
        response.headers_mut().remove(header::CONTENT_LENGTH);
        // An error describes one request at one moment: no cache may keep it.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, NO_STORE.clone());
        *response.body_mut() = Body::from(problem.to_json(&request_id));
    }

    // The status line says the RFC 9110 name, as the lessons do.
    if let Some(reason) = crate::status::renamed(response.status().as_u16()) {
        response
            .extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    }
    let headers = response.headers_mut();
    // Room for the headers every response gets (security, caching, id, timings) at once,
    // rather than growing the map several times.
    headers.reserve(9);
    super::secure_headers::add(headers);
    tracer.fixed(Stage::Security, super::secure_headers::SENTENCE);
    // Every response states whether it may be cached; a route that allows it says so itself
    // ([`cache_control`]), everything else is private to this request.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert_with(|| NO_STORE.clone());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    // Milliseconds with three decimals, from integer microseconds (cheaper than float formatting).
    let elapsed_us = start.elapsed().as_micros();
    if let Ok(value) =
        HeaderValue::from_str(&format!("{}.{:03}", elapsed_us / 1000, elapsed_us % 1000))
    {
        headers.insert(X_RESPONSE_TIME_MS.clone(), value);
    }
    // The trace's stage times, for a browser's network panel (none when tracing is off).
    if let Some(value) = tracer
        .server_timing()
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        headers.insert(SERVER_TIMING.clone(), value);
    }

    tracer.fixed(Stage::Middleware, LEAVE_CAPTURE);
    let route = route
        .as_ref()
        .map_or(crate::lab::metrics::UNMATCHED, |r| r.as_str());
    let status = response.status().as_u16();
    lab.metrics
        .finished(&method, route, status, start.elapsed());
    if lab.config.access_log {
        tracing::info!(
            target: "reqlab::access",
            request_id = %request_id,
            method = %method,
            // The path only: a query string may carry a token.
            path = uri.path(),
            route,
            status,
            duration_ms = elapsed_us as f64 / 1000.0,
            "{method} {} → {status}",
            uri.path()
        );
    }

    if gate.stepping() {
        response = hold_response(&gate, response).await;
    }

    if tracer.is_on() {
        let status = response.status();
        tracer.sent(status.as_u16(), response.body().size_hint().exact());
        let started_at = started_at.unwrap_or_else(Timestamp::now);
        if let Some(trace) = tracer.finish(
            request_id,
            started_at,
            method,
            shown_target(target()).into_owned(),
            status.as_u16(),
        ) {
            if lab.config.strict_queries {
                strict_queries(&lab, &trace);
            }
            lab.traces.push(trace);
        }
    }
    response
}

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A request with a W3C `traceparent` joins the caller's distributed trace; a malformed one
/// is ignored, as the standard says (the trace then starts here).
fn join_callers_trace(tracer: &Tracer, headers: &HeaderMap) {
    let Some(value) = headers.get(&TRACEPARENT) else {
        return;
    };
    match value.to_str().ok().and_then(TraceContext::parse) {
        Some(caller) => tracer.joined(caller),
        None => tracer.fixed(
            Stage::Observability,
            "ignored a traceparent that is not W3C Trace Context (version-traceid-parentid-flags, lowercase hex): this request starts a trace of its own",
        ),
    }
}

/// In strict mode, each statement the request ran more than once is an error in the log (the
/// client's answer is already on its way, unchanged).
fn strict_queries(lab: &LabState, trace: &super::trace::RecordedTrace) {
    let repeats = trace.repeats();
    if repeats.is_empty() {
        return;
    }
    lab.query_alarms
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for repeat in repeats {
        tracing::error!(
            "request {}: {} (strict queries)",
            trace.request_id(),
            repeat.sentence()
        );
    }
}

/// Records which route matched (runs only for requests that matched one, including those
/// whose method it then refuses with a 405).
pub async fn note_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    if let (Some(ctx), Some(path)) = (req.extensions().get::<RequestContext>(), &route) {
        ctx.tracer.routed(path);
    }
    let mut response = next.run(req).await;
    // The capture layer, outside the router, labels metrics and logs with it.
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Holds a stepped request at `response` with what is about to go out. The body is read into
/// memory to be shown, and put back as it was.
async fn hold_response(gate: &Gate, response: Response) -> Response {
    // Every body a lab route sends is a small JSON document; a larger one is shown by size.
    const SHOWN_UP_TO: u64 = 1024 * 1024;
    let (parts, body) = response.into_parts();
    let small = body.size_hint().upper().is_some_and(|n| n <= SHOWN_UP_TO);
    let (body, bytes) = if small {
        match http_body_util::BodyExt::collect(body).await {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                (Body::from(bytes.clone()), Some(bytes))
            }
            Err(_) => (Body::empty(), None),
        }
    } else {
        (body, None)
    };
    gate.hold(Stage::Response, || {
        Carries::response(parts.status, &parts.headers, bytes.as_deref())
    })
    .await;
    Response::from_parts(parts, body)
}

/// The 409 for a second request sent with a session's token while it steps another.
fn step_session_busy(tracer: &Tracer) -> Problem {
    tracer.note(
        Stage::Http,
        Outcome::Fail,
        "the request's step session is already stepping another request, and a session steps one at a time → 409",
    );
    Problem::new(
        &STEP_SESSION_BUSY,
        "This step session is already stepping another request. Release that one or let it run to the end, then send this one again.",
    )
}

/// Turns the router's bare 405 into a problem, keeping its `Allow` header; a stepped request
/// is held at `routing` with the decision.
async fn method_not_allowed(
    tracer: &Tracer,
    gate: &Gate,
    method: &axum::http::Method,
    path: &str,
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
    if method == axum::http::Method::OPTIONS {
        // OPTIONS asks what a resource supports: the answer is the Allow list, not an error.
        let allow = format!("{allow}, OPTIONS");
        tracer.note(
            Stage::Routing,
            Outcome::Ok,
            format_args!("OPTIONS asks what {path} supports: Allow: {allow} → 204"),
        );
        gate.hold(Stage::Routing, || {
            Carries::new(format_args!(
                "OPTIONS asks what {path} supports: Allow: {allow} → 204; no handler runs"
            ))
            .with_field("path", path)
            .with_field("Allow", &allow)
        })
        .await;
        let mut out = StatusCode::NO_CONTENT.into_response();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            out.headers_mut().insert(header::ALLOW, value);
        }
        keep_headers(&response, &mut out);
        return out;
    }
    tracer.note(
        Stage::Routing,
        Outcome::Fail,
        format_args!("{path} exists but does not accept {method}; Allow: {allow} → 405"),
    );
    gate.hold(Stage::Routing, || {
        Carries::new(format_args!(
            "{path} exists but does not accept {method}; Allow: {allow} → 405; no handler runs"
        ))
        .with_field("path", path)
        .with_field("method", method)
        .with_field("Allow", &allow)
    })
    .await;
    let mut out = Problem::new(
        &METHOD_NOT_ALLOWED,
        format!("{path} does not support {method}. It supports: {allow}."),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        out.headers_mut().insert(header::ALLOW, value);
    }
    keep_headers(&response, &mut out);
    out
}

/// Carries the headers layers inside the router added (CORS, Vary, Cache-Control…) over to
/// the response that replaces the router's bare 405, which keeps only the body's own headers
/// and the Allow list it rewrites.
fn keep_headers(from: &Response, to: &mut Response) {
    for (name, value) in from.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH && name != header::ALLOW {
            to.headers_mut().append(name.clone(), value.clone());
        }
    }
}

/// The request target as traces show it: a credential in the query string (`?token=…`) keeps
/// its name and loses its value.
fn shown_target(target: &str) -> std::borrow::Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else {
        return std::borrow::Cow::Borrowed(target);
    };
    let secret = |pair: &str| {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        crate::lab::trace::secrets::is_secret_name(name)
    };
    if !query.split('&').any(secret) {
        return std::borrow::Cow::Borrowed(target);
    }
    let shown: Vec<String> = query
        .split('&')
        .map(|pair| {
            if secret(pair) {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                format!("{name}=…")
            } else {
                pair.to_string()
            }
        })
        .collect();
    std::borrow::Cow::Owned(format!("{path}?{}", shown.join("&")))
}

/// A fresh request id: a random (version 4) UUID. The generator is fast and not
/// cryptographic; request ids correlate logs, they are not secrets.
fn new_request_id() -> String {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
        .into_uuid()
        .to_string()
}

fn version_name(v: axum::http::Version) -> &'static str {
    match v {
        axum::http::Version::HTTP_09 => "HTTP/0.9",
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        axum::http::Version::HTTP_11 => "HTTP/1.1",
        axum::http::Version::HTTP_2 => "HTTP/2",
        axum::http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP",
    }
}

fn is_problem_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(super::error::PROBLEM_JSON.as_bytes())
    })
}

/// An error the HTTP layer produced before any handler ran (for example a path segment that is
/// not UTF-8) becomes the same problem+json as every other error.
fn framework_error(tracer: &Tracer, status: axum::http::StatusCode) -> Response {
    let code = status.as_u16();
    let problem = match code {
        400 => Problem::new(
            &BAD_REQUEST,
            "The request could not be read: a path segment or the query string is not valid.",
        ),
        404 => Problem::new(&NOT_FOUND, "Nothing lives at this path."),
        413 => Problem::new(
            &PAYLOAD_TOO_LARGE,
            "The body is larger than this server accepts.",
        ),
        415 => Problem::new(
            &UNSUPPORTED_MEDIA_TYPE,
            "The body's media type is not one this endpoint reads.",
        ),
        _ => Problem::status(code, "The request could not be handled."),
    };
    tracer.note(
        Stage::Parsing,
        Outcome::Fail,
        format_args!("the HTTP layer refused the request before any handler ran → {code}"),
    );
    problem.into_response()
}

/// The client's request id, when it is usable (1–200 visible ASCII characters).
fn client_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(&X_REQUEST_ID)?.to_str().ok()?.trim();
    let usable = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_in_the_query_keeps_its_name_and_loses_its_value() {
        assert_eq!(shown_target("/tasks?limit=2"), "/tasks?limit=2");
        assert_eq!(
            shown_target("/_lab/traces?token=abc&limit=5"),
            "/_lab/traces?token=…&limit=5"
        );
        assert_eq!(shown_target("/me?API_KEY=rk_1"), "/me?API_KEY=…");
    }

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
