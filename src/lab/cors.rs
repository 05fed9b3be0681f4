//! CORS for the lab's `/api` routes, with an explicit list of origins.
//!
//! Written out rather than taken from a generic layer because the lab's point is to say what
//! it decided and why: every cross-origin request's trace gets one sentence naming the origin,
//! whether it is on the list, and what the browser will do with the answer. The rules are the
//! Fetch standard's: a preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered
//! here and never reaches a handler; an actual request runs as usual and gets
//! `Access-Control-Allow-Origin` naming its origin only when that origin is listed (never `*`,
//! since credentials are allowed); `Vary: Origin` always, because the answer depends on it.
//!
//! Listed: [`DEMO_ORIGIN`], the origins given with `--allowed-origin`, and the lab itself under
//! its other loopback name (its demo page at `http://localhost:PORT/cors-demo` calls
//! `http://127.0.0.1:PORT/api/…`, a real cross-origin request in a browser).

use super::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The origin the lessons' browser examples come from: a front-end dev server's usual port.
pub const DEMO_ORIGIN: &str = "http://localhost:3000";

/// Methods a listed origin's pages may use.
const METHODS: &str = "GET, POST, PATCH, DELETE";
/// Request headers a listed origin's pages may send (beyond the CORS-safelisted ones).
const ALLOWED_HEADERS: [&str; 5] = [
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "x-request-id",
];
/// Response headers a page's script may read (beyond the CORS-safelisted ones).
const EXPOSED: &str = "ETag, Location, X-Request-ID, X-Response-Time-ms";
/// How long a browser may reuse a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// Which origins may read the lab's `/api` answers from a page.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// The demo origin plus the ones the lab was started with (`--allowed-origin`).
    pub fn new(extra: &[String]) -> CorsPolicy {
        let mut origins = vec![DEMO_ORIGIN.to_string()];
        for origin in extra {
            let origin = origin.trim_end_matches('/').to_ascii_lowercase();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        CorsPolicy { origins }
    }

    /// True when `origin` is on the list (compared as the browser sends it: scheme, host,
    /// port; no path).
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// `router` behind the lab's CORS layer, listing the demo origin and `--allowed-origin`s.
pub fn around<S: Clone + Send + Sync + 'static>(
    router: utoipa_axum::router::OpenApiRouter<S>,
    lab: &super::state::LabState,
) -> utoipa_axum::router::OpenApiRouter<S> {
    let policy = Arc::new(CorsPolicy::new(&lab.config.allowed_origins));
    router.layer(axum::middleware::from_fn_with_state(policy, cors))
}

/// True when the CORS layer lets a page on `origin` read the lab's answers: the lab itself
/// under either loopback name (reached as `host`), the demo origin, or one of `extra`. The
/// guard trusts the same origins to change data, so a preflight's yes is never followed by
/// a 403.
pub fn is_listed(extra: &[String], host: Option<&str>, origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    host.is_some_and(|h| {
        origin.eq_ignore_ascii_case(&format!("http://{h}")) || is_lab_under_other_name(h, origin)
    }) || origin.eq_ignore_ascii_case(DEMO_ORIGIN)
        || extra
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// The middleware: answers preflights, decorates actual responses, narrates both.
pub async fn cors(
    State(policy): State<Arc<CorsPolicy>>,
    tracer: Tracer,
    req: Request,
    next: Next,
) -> Response {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_end_matches('/').to_string())
    else {
        tracer.fixed(
            Stage::Middleware,
            "→ cors layer: no Origin header, so no page of another site is asking: nothing to add but Vary: Origin",
        );
        return vary_on_origin(next.run(req).await);
    };
    if same_origin(req.headers(), &origin) {
        tracer.fixed(
            Stage::Middleware,
            "→ cors layer: the Origin is the lab's own: a same-origin request needs no CORS headers, only Vary: Origin",
        );
        return vary_on_origin(next.run(req).await);
    }
    let listed = policy.allows(&origin) || own_other_name(req.headers(), &origin);
    let asked_method = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if req.method() == Method::OPTIONS
        && let Some(asked_method) = asked_method
    {
        let asked_headers = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        return preflight(&tracer, listed, &origin, &asked_method, &asked_headers);
    }

    tracer.note(
        Stage::Middleware,
        Outcome::Ok,
        format_args!(
            "→ cors layer: a request from a page on {origin}; the handler runs either way, and whether that page may read the answer is decided on the way out"
        ),
    );
    let mut response = vary_on_origin(next.run(req).await);
    let headers = response.headers_mut();
    if listed {
        if let Ok(value) = HeaderValue::from_str(&origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
        tracer.note(
            Stage::Middleware,
            Outcome::Ok,
            format_args!(
                "← cors layer: {origin} is on the allow list → Access-Control-Allow-Origin: {origin} with credentials, and Vary: Origin so caches keep one copy per origin"
            ),
        );
    } else {
        tracer.note(
            Stage::Security,
            Outcome::Fail,
            format_args!(
                "← cors layer: {origin} is not on the allow list → no Access-Control-Allow-Origin. The lab still answered; the browser will hide the answer from that page (CORS is enforced by browsers, not servers)"
            ),
        );
    }
    response
}

/// Every answer of a resource behind this layer depends on the request's Origin (with one,
/// it may carry Access-Control-Allow-Origin; without, it does not), so a shared cache must
/// key its copies on it.
fn vary_on_origin(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// The answer to a preflight: what the browser asked, and what it may do.
fn preflight(
    tracer: &Tracer,
    listed: bool,
    origin: &str,
    asked_method: &str,
    asked_headers: &str,
) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    let asking = if asked_headers.trim().is_empty() {
        asked_method.to_string()
    } else {
        format!("{asked_method} with {asked_headers}")
    };
    if !listed {
        tracer.note(
            Stage::Security,
            Outcome::Fail,
            format_args!(
                "cors preflight: {origin} asks to send {asking}; it is not on the allow list → 204 without Access-Control-Allow-Origin, so the browser never sends the request"
            ),
        );
        return (StatusCode::NO_CONTENT, headers).into_response();
    }
    let method_ok = METHODS
        .split(", ")
        .any(|m| m.eq_ignore_ascii_case(asked_method.trim()))
        || matches!(asked_method.trim(), "HEAD");
    let refused_headers: Vec<&str> = asked_headers
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .filter(|h| !ALLOWED_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(h)))
        .collect();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_str(&ALLOWED_HEADERS.join(", ")).expect("header names"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    match (method_ok, refused_headers.is_empty()) {
        (true, true) => tracer.note(
            Stage::Middleware,
            Outcome::Ok,
            format_args!(
                "cors preflight: {origin} asks to send {asking}: the origin is listed and the method and headers are allowed → 204; the browser sends the request next and may reuse this answer for {MAX_AGE} s"
            ),
        ),
        (false, _) => tracer.note(
            Stage::Security,
            Outcome::Fail,
            format_args!(
                "cors preflight: {origin} is listed but asks for {asked_method}, which is not among {METHODS} → the browser will not send it"
            ),
        ),
        (true, false) => tracer.note(
            Stage::Security,
            Outcome::Fail,
            format_args!(
                "cors preflight: {origin} is listed but asks to send {}, not among the allowed headers → the browser will not send the request",
                refused_headers.join(", ")
            ),
        ),
    }
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// True when `origin` is the lab itself under another loopback name (`localhost` for
/// `127.0.0.1`, or the other way round): the origin of the lab's demo page, which calls the
/// API under the other name to be cross-origin in a real browser.
fn own_other_name(headers: &HeaderMap, origin: &str) -> bool {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| is_lab_under_other_name(host, origin))
}

/// True when `origin` is the lab reached as `host`, under its other loopback name.
pub fn is_lab_under_other_name(host: &str, origin: &str) -> bool {
    let port_of = |authority: &str| -> Option<(String, u16)> {
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) if !name.is_empty() && !port.contains(']') => {
                (name, port.parse().ok()?)
            }
            _ => (authority, 80),
        };
        Some((name.to_ascii_lowercase(), port))
    };
    let loopback = |name: &str| matches!(name, "localhost" | "127.0.0.1" | "[::1]");
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    match (port_of(rest), port_of(host)) {
        (Some((origin_name, origin_port)), Some((host_name, host_port))) => {
            loopback(&origin_name) && loopback(&host_name) && origin_port == host_port
        }
        _ => false,
    }
}

/// True when `origin` is the lab's own (the origin of a page the lab itself served).
fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| origin.eq_ignore_ascii_case(&format!("http://{host}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_under_its_other_loopback_name_is_its_own_demo_page() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4747"));
        assert!(own_other_name(&headers, "http://localhost:4747"));
        assert!(!own_other_name(&headers, "http://localhost:3000"));
        assert!(!own_other_name(&headers, "http://evil.example:4747"));
        assert!(!own_other_name(&headers, "https://localhost:4747"));
        headers.insert(header::HOST, HeaderValue::from_static("localhost"));
        assert!(own_other_name(&headers, "http://127.0.0.1"));
    }

    #[test]
    fn the_demo_origin_and_the_extra_ones_are_listed_and_nothing_else() {
        let policy = CorsPolicy::new(&["http://Example.test:8080/".into()]);
        assert!(policy.allows("http://localhost:3000"));
        assert!(policy.allows("http://example.test:8080"));
        assert!(!policy.allows("http://localhost:3001"));
        assert!(!policy.allows("https://localhost:3000"));
        assert!(!policy.allows("null"));
    }
}
