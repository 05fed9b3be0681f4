//! HTTP status codes as reqlab names them: the one place a reason phrase comes from.
//!
//! The lab's traces and problem titles, `/status/{code}`, and the check reports all say a
//! status the same way, so a learner sees one name for each code wherever it appears.

/// The reason phrase for a status code (`404` → `Not Found`), or `""` for a code without one.
pub fn reason(code: u16) -> &'static str {
    axum::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
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
        assert_eq!(reason(299), "");
        assert_eq!(class(201), Class::Fine);
        assert_eq!(class(422), Class::ClientError);
        assert_eq!(class(503), Class::ServerError);
    }
}
