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

/// The class of a status code in a sentence a learner can act on (`/status/{code}` and
/// `reqlab explain` say it); the codes whose class misleads (304, the retryable 4xx) get
/// their own.
pub fn class_text(code: u16) -> &'static str {
    match code {
        304 => "3xx, but not a new location: your cached copy is still valid, so use it",
        408 | 425 | 429 => {
            "4xx client error, but a retryable one: the same request may succeed when sent again (after Retry-After, when given)"
        }
        _ => match code / 100 {
            1 => "1xx informational: an interim answer; the final response follows",
            2 => "2xx success: the request did what it asked",
            3 => "3xx redirection: the answer is elsewhere (see Location)",
            4 => "4xx client error: this request cannot succeed as sent; change it first",
            _ => "5xx server error: the server failed, and the same request may work later",
        },
    }
}

/// What [`explanation`] leaves to the standard for a code it does not describe.
pub const SEE_RFC: &str = "See RFC 9110 for this code's exact meaning.";

/// What a status code means, in a sentence or two (`None` for codes reqlab does not
/// describe; [`SEE_RFC`] says where to look).
pub fn explanation(code: u16) -> Option<&'static str> {
    Some(match code {
        200 => "The usual success for reads and updates, with a body.",
        201 => "A new resource was created; Location says where it lives.",
        202 => "Accepted to be done later; Location names where to check on it.",
        204 => "Success with nothing to send back (typical for DELETE).",
        301 => "Moved permanently: update your links (clients may turn a POST into a GET).",
        302 => "Found elsewhere for now (clients may turn a POST into a GET).",
        303 => "See Other: GET the result at Location (the usual answer to a POST a browser sent).",
        304 => "Not modified: the cached copy named by your validator is still current.",
        307 => "Temporarily elsewhere: repeat the same method and body at Location.",
        308 => "Moved permanently, and the method and body must stay the same.",
        400 => "The request is malformed: bad JSON, a bad cursor, a missing part.",
        401 => "Not authenticated: no credentials, or credentials that do not check out.",
        403 => "Authenticated, but not allowed to do this.",
        404 => "Nothing lives at this path (or it is hidden from you).",
        405 => "The path exists, but not for this method; see Allow.",
        406 => "None of the media types the request Accepts can be produced.",
        408 => "The request did not arrive in time; sending it again may work.",
        409 => "The request conflicts with current state, such as a duplicate.",
        412 => "A precondition (If-Match) did not hold: someone changed it first.",
        413 => "The body is larger than the server accepts.",
        414 => "The URL (path and query) is longer than the server reads.",
        415 => "The body's media type is not one the endpoint reads.",
        421 => "The request reached a server that does not answer for the host it names.",
        422 => "Well-formed, but the values break the contract.",
        425 => "Too early: the server will not risk a replayed request; send it again later.",
        428 => "The server requires this request to be conditional: send it with If-Match.",
        429 => "Too many requests: slow down and retry after Retry-After.",
        431 => "The request's headers (or one of them) are larger than the server reads.",
        500 => "The server failed in a way it did not plan for.",
        501 => "The server does not support what the request needs to be carried out.",
        502 => "A gateway got a bad answer from the server behind it.",
        503 => "Temporarily unavailable: overloaded or in maintenance.",
        504 => "A gateway gave up waiting for the server behind it.",
        _ => return None,
    })
}

/// The name the HTTP library still prints for a code RFC 9110 renamed (413 → `Payload Too
/// Large`), so a learner who meets it elsewhere knows it is the same status.
pub fn former_name(code: u16) -> Option<&'static str> {
    renamed(code)?;
    axum::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
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
        assert_eq!(former_name(413), Some("Payload Too Large"));
        assert_eq!(former_name(404), None);
        assert!(class_text(101).starts_with("1xx"));
        assert_eq!(explanation(299), None);
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
