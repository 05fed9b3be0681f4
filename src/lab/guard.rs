//! The checks every request passes before it is routed: who it is addressed to (`Host`), where
//! a state change comes from (`Origin`), whether the lab's own endpoints may be read (a token
//! when the lab is reachable beyond this machine), and what the body is declared to be.
//!
//! A lab that teaches good servers must be one: these are the defaults a real service needs
//! against DNS rebinding, cross-site request forgery and oversized uploads.

use super::error::{
    BAD_REQUEST, CROSS_SITE_REQUEST, HEADERS_TOO_LARGE, LAB_TOKEN, MISDIRECTED_REQUEST,
    NOT_ACCEPTABLE, Problem, UNSUPPORTED_TRANSFER_CODING, URI_TOO_LONG,
};
use super::extract::too_large;
use super::state::LabConfig;
use super::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, Version, header};
use std::time::Instant;

/// Longest request target (path and query) read, in bytes.
pub const MAX_TARGET: usize = 8 * 1024;
/// Largest request head (line and headers) read, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a request is refused before routing, if it is.
pub fn refuse(
    config: &LabConfig,
    req: &Request,
    tracer: &Tracer,
    start: Instant,
) -> Option<Problem> {
    let (method, version, headers) = (req.method(), req.version(), req.headers());
    let (path, query) = (req.uri().path(), req.uri().query());
    let refused = |sentence: String, problem: Problem| {
        tracer.note(Stage::Security, Outcome::Fail, sentence);
        Some(problem)
    };

    let target_length = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_length > MAX_TARGET {
        return refused(
            format!(
                "the request target is {target_length} bytes, over the {MAX_TARGET}-byte limit → 414"
            ),
            Problem::new(
                &URI_TOO_LONG,
                format!(
                    "The URL's path and query are {target_length} bytes; this server reads up to {MAX_TARGET}. Data that big belongs in a body."
                ),
            ),
        );
    }
    let head_size: usize = target_length
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if head_size > MAX_HEAD {
        return refused(
            format!(
                "the request's head is {head_size} bytes, over the {MAX_HEAD}-byte limit → 431"
            ),
            Problem::new(
                &HEADERS_TOO_LARGE,
                format!(
                    "The request's line and headers are {head_size} bytes; this server reads up to {MAX_HEAD}."
                ),
            ),
        );
    }

    let mut hosts = headers.get_all(header::HOST).iter();
    // A Host that is not visible ASCII names no host this lab has.
    let first = hosts.next().map(|v| v.to_str().unwrap_or(""));
    let others = hosts.count();
    let host = match first {
        None if version == Version::HTTP_10 || version == Version::HTTP_09 => None,
        None => {
            return refused(
                "an HTTP/1.1 request must name its Host, and this one does not → 400".into(),
                Problem::new(
                    &BAD_REQUEST,
                    "HTTP/1.1 requests must carry a Host header (RFC 9112, section 3.2).",
                ),
            );
        }
        Some(_) if others > 0 => {
            return refused(
                format!(
                    "the request names {} Host headers; it must name one → 400",
                    others + 1
                ),
                Problem::new(
                    &BAD_REQUEST,
                    "A request must carry exactly one Host header (RFC 9112, section 3.2).",
                ),
            );
        }
        Some(one) => Some(one),
    };
    if let Some(host) = host
        && !host_is_allowed(config, host)
    {
        return refused(
            format!(
                "Host `{}` is not a name this lab answers to; a web page using DNS rebinding could otherwise read it → 421",
                shorten(host)
            ),
            Problem::new(
                &MISDIRECTED_REQUEST,
                format!(
                    "This lab answers requests addressed to localhost, 127.0.0.1 or [::1]{}; `{}` is not one of them. To reach it by that name or address, start it with `reqlab serve --allowed-host NAME`.",
                    config
                        .allowed_hosts
                        .iter()
                        .map(|h| format!(", {h}"))
                        .collect::<String>(),
                    shorten(host)
                ),
            ),
        );
    }

    if let Some(token) = &config.lab_token
        && path.starts_with("/_lab/")
        && !carries_token(headers, query, token)
    {
        return refused(
                "the lab's own endpoints need the lab token when the lab is reachable from other machines → 401".into(),
                Problem::new(
                    &LAB_TOKEN,
                    "The lab listens beyond this machine, so /_lab/* needs the token `reqlab serve` printed when it started: send `Authorization: Bearer TOKEN` or `?token=TOKEN`.",
                ),
            );
    }

    if changes_state(method)
        && let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        // An empty Origin names no page at all (browsers send `null` for an opaque one).
        && !origin.trim().is_empty()
        && !origin_is_allowed(config, origin, host)
    {
        return refused(
            format!(
                "a {method} from the web page at `{}`, which is neither this lab's own origin nor on its allow-list: refused as a possible cross-site request forgery (CSRF) → 403",
                shorten(origin)
            ),
            Problem::new(
                &CROSS_SITE_REQUEST,
                format!(
                    "A page at `{}` may not change data here. To allow a front end you run yourself, start the lab with `reqlab serve --allowed-origin {}`.",
                    shorten(origin),
                    shorten(origin)
                ),
            ),
        );
    }

    // A client that accepts no JSON gets 406 from an endpoint that answers JSON, rather than
    // a body it said it cannot use.
    if answers_json(path) && !accepts_json(headers) {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        return refused(
            format!(
                "Accept: {} allows no media type this endpoint produces (application/json) → 406",
                shorten(&accept)
            ),
            Problem::new(
                &NOT_ACCEPTABLE,
                format!(
                    "This endpoint answers application/json, and Accept: {} does not allow it. Accept application/json or */*.",
                    shorten(&accept)
                ),
            ),
        );
    }

    if let Some(codings) = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        let unknown: Vec<&str> = codings
            .split(',')
            .map(str::trim)
            .filter(|c| !c.eq_ignore_ascii_case("chunked"))
            .collect();
        if !unknown.is_empty() {
            return refused(
                format!(
                    "the body uses the transfer coding `{}`, which this server does not implement → 501",
                    shorten(&unknown.join(", "))
                ),
                Problem::new(
                    &UNSUPPORTED_TRANSFER_CODING,
                    "This server decodes only `Transfer-Encoding: chunked` (RFC 9112, section 6.1); send the body plainly or chunked.",
                ),
            );
        }
    }

    // A body declared bigger than the limit is refused before any of it is read, and before
    // an `Expect: 100-continue` client is told to send it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.body_limit as u64) {
        return Some(too_large(tracer, start, config.body_limit));
    }
    None
}

/// True when the request's `Accept` allows `application/json` (or has no `Accept`).
/// Paths whose answers are not JSON: metrics text, pages and their assets, downloads, and the
/// lab's own endpoints (the live trace stream among them).
const NOT_JSON: [&str; 5] = ["/metrics", "/docs", "/cors-demo", "/uploads/", "/_lab/"];

/// True when `path` answers JSON (errors are always problem+json, which is JSON too).
pub fn answers_json(path: &str) -> bool {
    !NOT_JSON.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| p.ends_with('/') || rest.is_empty() || rest.starts_with('/'))
    })
}

fn accepts_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            // A range with q=0 says "not this one".
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            !refused
                && (media == "*/*"
                    || media.eq_ignore_ascii_case("application/*")
                    || media.eq_ignore_ascii_case("application/json"))
        })
}

/// Methods that may change state, which a cross-site page must not send.
fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// True for loopback names (`localhost`, 127.0.0.0/8, `[::1]`), the address the lab is bound
/// to, and `--allowed-host` names.
fn host_is_allowed(config: &LabConfig, host: &str) -> bool {
    // The names nearly every request uses, without parsing.
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    if name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = authority
        .host()
        .trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if name == "localhost" {
        return true;
    }
    if let Ok(ip) = name.parse::<std::net::IpAddr>()
        && (ip.is_loopback() || (ip == config.host && !ip.is_unspecified()))
    {
        return true;
    }
    config
        .allowed_hosts
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(&name))
}

/// True for the lab's own origin (the scheme and the `Host` it was reached by, or the lab under
/// its other loopback name) and the origins its CORS layer lists: the ones whose pages may
/// read its answers may also change data, so a preflight's yes is never followed by a 403.
fn origin_is_allowed(config: &LabConfig, origin: &str, host: Option<&str>) -> bool {
    super::cors::is_listed(&config.allowed_origins, host, origin)
}

/// True when the request carries the lab token, as a bearer token or a `token` query parameter.
fn carries_token(headers: &HeaderMap, query: Option<&str>, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes()));
    let in_query = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == "token" && constant_time_eq(v.as_bytes(), token.as_bytes()))
    });
    bearer || in_query
}

/// Compares secrets without an early exit that would tell an attacker how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A client-supplied value, cut short for a sentence.
fn shorten(text: &str) -> String {
    super::validate::shorten(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_the_bound_address_and_allowed_hosts_pass() {
        let mut config = LabConfig::ephemeral();
        for ok in [
            "127.0.0.1:4747",
            "localhost",
            "LOCALHOST:80",
            "[::1]:4747",
            "127.0.0.2",
        ] {
            assert!(host_is_allowed(&config, ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:4747",
            "lab.classroom.test",
            "10.0.0.5:4747",
            "",
            "a b",
        ] {
            assert!(!host_is_allowed(&config, bad), "{bad}");
        }
        // A lab bound to one address answers to it; others are added by name.
        config.host = "10.0.0.5".parse().unwrap();
        assert!(host_is_allowed(&config, "10.0.0.5:4747"));
        config.allowed_hosts.push("lab.classroom.test".into());
        config.allowed_hosts.push("192.168.1.5".into());
        assert!(host_is_allowed(&config, "lab.classroom.test:4747"));
        assert!(host_is_allowed(&config, "192.168.1.5:4747"));
    }

    #[test]
    fn only_the_labs_own_origin_and_the_allow_list_may_change_state() {
        let mut config = LabConfig::ephemeral();
        let host = Some("127.0.0.1:4747");
        assert!(origin_is_allowed(&config, "http://127.0.0.1:4747", host));
        assert!(!origin_is_allowed(&config, "http://evil.example", host));
        assert!(!origin_is_allowed(&config, "null", host));
        // The CORS layer's own list: the demo origin, and the lab under its other name.
        assert!(origin_is_allowed(&config, "http://localhost:3000", host));
        assert!(origin_is_allowed(&config, "http://localhost:4747", host));
        assert!(!origin_is_allowed(
            &config,
            "https://app.example.test",
            host
        ));
        config
            .allowed_origins
            .push("https://app.example.test".into());
        assert!(origin_is_allowed(&config, "https://app.example.test", host));
    }

    #[test]
    fn json_is_acceptable_unless_the_accept_header_rules_it_out() {
        let accepts = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, value.parse().unwrap());
            accepts_json(&headers)
        };
        assert!(accepts_json(&HeaderMap::new()));
        for ok in [
            "*/*",
            "application/json",
            "text/html,application/xhtml+xml,*/*;q=0.8",
            "application/*",
            "Application/JSON; charset=utf-8",
        ] {
            assert!(accepts(ok), "{ok}");
        }
        for refused in ["text/csv", "text/html", "application/json;q=0", "image/*"] {
            assert!(!accepts(refused), "{refused}");
        }
    }

    #[test]
    fn tokens_come_as_bearer_or_query() {
        let mut headers = HeaderMap::new();
        assert!(!carries_token(&headers, None, "s3cret"));
        assert!(carries_token(
            &headers,
            Some("limit=5&token=s3cret"),
            "s3cret"
        ));
        headers.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(carries_token(&headers, None, "s3cret"));
        assert!(!carries_token(&headers, None, "s3cre"));
    }
}
