//! HTTP status codes as reqlab names them: the one place a reason phrase comes from.
//!
//! The lab's traces and problem titles, `/status/{code}`, and the check reports all say a
//! status the same way, so a learner sees one name for each code wherever it appears.

/// The reason phrase for a status code (`404` → `Not Found`), or `""` for a code without one.
/// These are RFC 9110's names, which renamed two that older libraries still use:
/// 413 `Payload Too Large` is now `Content Too Large`, and 422 `Unprocessable Entity` is now
/// `Unprocessable Content`.
pub fn reason(code: u16) -> &'static str {
    match code {
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        _ => axum::http::StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or(""),
    }
}

/// RFC 9110's reason phrase when it differs from the one the HTTP library writes by default.
pub fn renamed(code: u16) -> Option<&'static str> {
    let library = axum::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason());
    let ours = reason(code);
    (library != Some(ours) && !ours.is_empty()).then_some(ours)
}

/// The class of a status code, for colouring and grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx and 3xx: the request went as the server intended.
    Fine,
    /// 4xx: the client has to change something.
    ClientError,
    /// 5xx, and anything else (an informational code never ends an exchange).
    ServerError,
}

/// Which class `code` belongs to.
pub fn class(code: u16) -> Class {
    match code {
        200..=399 => Class::Fine,
        400..=499 => Class::ClientError,
        _ => Class::ServerError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_classes() {
        assert_eq!(reason(404), "Not Found");
        assert_eq!(reason(422), "Unprocessable Content");
        assert_eq!(renamed(413), Some("Content Too Large"));
        assert_eq!(renamed(404), None);
        assert_eq!(reason(299), "");
        assert_eq!(class(201), Class::Fine);
        assert_eq!(class(422), Class::ClientError);
        assert_eq!(class(503), Class::ServerError);
    }
}
