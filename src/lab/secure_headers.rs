//! The security headers every lab response carries, errors and refusals included: browsers
//! must not sniff types, no other page may frame the lab, and the lab's URLs are not sent to
//! other sites as referrers. A page the lab serves brings its own Content-Security-Policy
//! (see the CORS demo); everything else is data, which needs no script, style or frame at all.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// `Content-Security-Policy` of a data response: nothing may load, nothing may frame it.
const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

static X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");
static X_FRAME_OPTIONS: HeaderName = HeaderName::from_static("x-frame-options");

/// What the trace says this layer did (a fixed sentence: cheap to record).
pub const SENTENCE: &str = "← security headers: X-Content-Type-Options: nosniff, X-Frame-Options: DENY, a Content-Security-Policy and Referrer-Policy: no-referrer, on every response, errors included";

/// Adds the headers a response does not already set.
pub fn add(headers: &mut HeaderMap) {
    headers
        .entry(X_CONTENT_TYPE_OPTIONS.clone())
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(X_FRAME_OPTIONS.clone())
        .or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(DATA_POLICY));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_its_own_policy_and_gets_the_rest() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        add(&mut headers);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    }
}
