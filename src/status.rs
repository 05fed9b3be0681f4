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

/// What a status code tells the client, in a phrase a learner can act on (`None` for codes
/// reqlab's lessons do not use).
pub fn meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        200 => "it worked, and the body is the result",
        201 => "a new resource was created; say where with Location",
        202 => "the work was accepted and will happen later",
        204 => "it worked, and there is no body",
        301 | 308 => "the resource moved for good",
        302 | 307 => "the resource is elsewhere for now",
        304 => "the client's cached copy is still good, so no body is sent",
        400 => "the request is malformed",
        401 => "the client must authenticate (no or bad credentials)",
        403 => "the client is known but not allowed to do this",
        404 => "there is nothing at this path",
        405 => "this path exists, but not with this method",
        409 => "the request conflicts with the current state, such as a duplicate",
        413 => "the body is too large",
        415 => "the body's content type is not one the server reads",
        422 => "the body is well-formed but its values are invalid",
        429 => "too many requests; slow down",
        500 => "the server crashed while handling it (an unhandled exception)",
        501 => "the server does not implement this method at all",
        503 => "the server cannot handle it right now",
        _ => return None,
    })
}

/// What to change when a server answered `actual` but the contract wants one of `expected`:
/// the status to answer and why, and what the one it sent means.
pub fn advice(expected: &[u16], actual: u16) -> String {
    let name = |code: u16| format!("{code} {}", reason(code)).trim_end().to_string();
    let wanted: Vec<String> = expected
        .iter()
        .map(|&code| match meaning(code) {
            Some(m) => format!("{} ({m})", name(code)),
            None => name(code),
        })
        .collect();
    let mut text = format!("answer {}", wanted.join(" or "));
    match meaning(actual) {
        Some(m) => text.push_str(&format!("; {} means {m}", name(actual))),
        None => text.push_str(&format!("; it answered {}", name(actual))),
    }
    if actual == 500 {
        text.push_str(": see the exception your server printed");
    }
    text
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

    #[test]
    fn advice_names_the_status_to_answer_and_why() {
        assert_eq!(
            advice(&[405], 501),
            "answer 405 Method Not Allowed (this path exists, but not with this method); 501 Not Implemented means the server does not implement this method at all"
        );
        assert!(advice(&[409], 500).ends_with("see the exception your server printed"));
    }
}
