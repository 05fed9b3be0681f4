//! The lab's one error shape: RFC 9457 `application/problem+json`.
//!
//! Handlers return [`Problem`]; the capture middleware adds the request id and writes the body,
//! so every error — from a handler, an extractor, the router or a panic — looks the same.
//! Nothing internal (SQL, file paths, panic messages) ever reaches a response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Which problem happened; each kind has a stable `type` URI served by the lab itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the body is not valid JSON.
    MalformedJson,
    /// 400: a pagination cursor was altered, expired or mixed with other parameters.
    BadCursor,
    /// 400: some other request the server cannot interpret.
    BadRequest,
    /// 404: no such route or resource.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (a duplicate).
    Conflict,
    /// 413: the body is bigger than the server accepts.
    PayloadTooLarge,
    /// 415: the body is not in a format the endpoint reads.
    UnsupportedMediaType,
    /// 422: well-formed input that breaks the input contract.
    Validation,
    /// 500: the lab failed; details are logged, never sent.
    Internal,
    /// Any other error status: one a learner asked `/status/{code}` for, or one the HTTP
    /// layer produced (a path segment that is not UTF-8, say).
    Status(u16),
}

/// Every kind with a documentation page, for `/_lab/problems/{slug}`.
pub const DOCUMENTED_KINDS: [ProblemKind; 11] = [
    ProblemKind::MalformedJson,
    ProblemKind::BadCursor,
    ProblemKind::BadRequest,
    ProblemKind::NotFound,
    ProblemKind::MethodNotAllowed,
    ProblemKind::Conflict,
    ProblemKind::PayloadTooLarge,
    ProblemKind::UnsupportedMediaType,
    ProblemKind::Validation,
    ProblemKind::Internal,
    ProblemKind::Status(0),
];

impl ProblemKind {
    /// The HTTP status this problem is sent with.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::MalformedJson | ProblemKind::BadCursor | ProblemKind::BadRequest => {
                StatusCode::BAD_REQUEST
            }
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Conflict => StatusCode::CONFLICT,
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemKind::Status(code) => {
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// The slug in the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::MalformedJson => "malformed-json",
            ProblemKind::BadCursor => "bad-cursor",
            ProblemKind::BadRequest => "bad-request",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::Conflict => "conflict",
            ProblemKind::PayloadTooLarge => "payload-too-large",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::Validation => "validation",
            ProblemKind::Internal => "internal",
            ProblemKind::Status(_) => "http-status",
        }
    }

    /// A short, human-readable summary that does not change between occurrences.
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::MalformedJson => "The body is not valid JSON",
            ProblemKind::BadCursor => "The pagination cursor is not valid",
            ProblemKind::BadRequest => "The request cannot be interpreted",
            ProblemKind::NotFound => "Not found",
            ProblemKind::MethodNotAllowed => "Method not allowed on this path",
            ProblemKind::Conflict => "The request conflicts with existing data",
            ProblemKind::PayloadTooLarge => "The body is too large",
            ProblemKind::UnsupportedMediaType => "The body's media type is not supported",
            ProblemKind::Validation => "The input breaks the endpoint's contract",
            ProblemKind::Internal => "The lab server failed",
            ProblemKind::Status(code) => StatusCode::from_u16(code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("An HTTP error status"),
        }
    }

    /// A longer explanation served at the `type` URI, for learners who follow it.
    pub fn explanation(self) -> &'static str {
        match self {
            ProblemKind::MalformedJson => {
                "The request said its body was JSON, but the bytes do not parse as JSON. The server stops at the parsing stage: nothing after it runs. Check quotes, commas and braces."
            }
            ProblemKind::BadCursor => {
                "Cursors are opaque tokens the server signs. One that was edited, cut short, issued for another filter or order, or combined with offset is refused with 400 instead of silently returning the wrong page."
            }
            ProblemKind::BadRequest => {
                "The request is syntactically wrong in a way that is not about field values; the detail says what."
            }
            ProblemKind::NotFound => {
                "Either no route matches the path, or the route matched but the resource (for example a task id) does not exist."
            }
            ProblemKind::MethodNotAllowed => {
                "The path exists but does not support this method. The Allow header lists the methods it does support."
            }
            ProblemKind::Conflict => {
                "The input is valid on its own but clashes with the current state, such as an email address that is already registered."
            }
            ProblemKind::PayloadTooLarge => {
                "The server caps body size so one request cannot exhaust its memory. The cap is set with `reqlab serve --body-limit`."
            }
            ProblemKind::UnsupportedMediaType => {
                "The endpoint reads JSON; send the body with Content-Type: application/json."
            }
            ProblemKind::Validation => {
                "The JSON parsed, but a field is missing, has the wrong type or breaks a rule. `errors` lists each field and what is wrong with it. The handler never ran."
            }
            ProblemKind::Internal => {
                "Something failed inside the lab. The response carries only the request id; the detail is in the lab's log."
            }
            ProblemKind::Status(_) => {
                "An error status with no more specific type here: the status code itself says what kind of problem it is, and the detail says what happened."
            }
        }
    }

    /// Looks a kind up by its slug.
    pub fn from_slug(slug: &str) -> Option<ProblemKind> {
        DOCUMENTED_KINDS.into_iter().find(|k| k.slug() == slug)
    }
}

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The field name (`email`, `limit`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error response from the lab.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Which problem.
    pub kind: ProblemKind,
    /// What went wrong with this request, in one or two sentences.
    pub detail: String,
    /// Field-level problems, for validation failures.
    pub errors: Vec<FieldError>,
}

/// The JSON body of a problem response.
#[derive(Debug, Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    request_id: &'a str,
}

impl Problem {
    /// A problem of `kind` with a detail sentence.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A 422 listing the fields that failed.
    pub fn validation(errors: Vec<FieldError>) -> Problem {
        let detail = match errors.as_slice() {
            [one] => format!("`{}` {}", one.field, one.message),
            many => format!(
                "{} fields are invalid: {}",
                many.len(),
                many.iter()
                    .map(|e| e.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Problem {
            kind: ProblemKind::Validation,
            detail,
            errors,
        }
    }

    /// 404 for a missing resource.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemKind::NotFound, detail)
    }

    /// A 500 whose cause is logged (with the request id, by the middleware) but never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        Problem {
            kind: ProblemKind::Internal,
            detail: cause.to_string(),
            errors: Vec::new(),
        }
    }

    /// The detail a client may see: internal causes are replaced by a generic sentence.
    pub fn public_detail(&self) -> &str {
        if self.kind == ProblemKind::Internal {
            "The lab server hit an internal error. Quote the request id when reporting it."
        } else {
            &self.detail
        }
    }

    /// The response body, with the request id.
    pub fn to_json(&self, request_id: &str) -> String {
        let body = ProblemBody {
            type_uri: format!("/_lab/problems/{}", self.kind.slug()),
            title: self.kind.title(),
            status: self.kind.status().as_u16(),
            detail: self.public_detail(),
            errors: &self.errors,
            request_id,
        };
        serde_json::to_string(&body).expect("problem bodies always serialize")
    }
}

impl IntoResponse for Problem {
    /// The status and content type now; the middleware writes the body once it knows the
    /// request id (it finds the problem in the response extensions).
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let mut response = status.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self);
        response
    }
}

impl From<super::db::DbError> for Problem {
    fn from(err: super::db::DbError) -> Problem {
        Problem::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_body() {
        let p = Problem::internal("no such table: tasks at /home/me/lab.db");
        let body = p.to_json("req-1");
        assert!(!body.contains("no such table"), "{body}");
        assert!(!body.contains("/home"), "{body}");
        assert!(body.contains("\"request_id\":\"req-1\""));
        assert!(body.contains("\"status\":500"));
    }

    #[test]
    fn validation_problems_list_their_fields() {
        let p = Problem::validation(vec![FieldError {
            field: "email".into(),
            message: "is not an email address".into(),
        }]);
        let v: serde_json::Value = serde_json::from_str(&p.to_json("r")).unwrap();
        assert_eq!(v["type"], "/_lab/problems/validation");
        assert_eq!(v["status"], 422);
        assert_eq!(v["errors"][0]["field"], "email");
        assert_eq!(v["detail"], "`email` is not an email address");
    }

    #[test]
    fn every_documented_kind_round_trips_its_slug() {
        for kind in DOCUMENTED_KINDS {
            assert_eq!(ProblemKind::from_slug(kind.slug()), Some(kind));
        }
    }
}
