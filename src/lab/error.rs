//! The lab's one error shape: RFC 9457 `application/problem+json`.
//!
//! Handlers return [`Problem`]; the capture middleware adds the request id and writes the body,
//! so every error — from a handler, an extractor, the router or a panic — looks the same.
//! Nothing internal (SQL, file paths, panic messages) ever reaches a response.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A kind of problem: a stable `type` URI (served by the lab at `/_lab/problems/{slug}`), the
/// status it is sent with, a title that does not change between occurrences, and a longer
/// explanation for learners who follow the URI. The kinds every topic may answer with are
/// here; a topic declares its own beside its routes.
#[derive(Debug, PartialEq, Eq)]
pub struct ProblemType {
    /// The last segment of the `type` URI.
    pub slug: &'static str,
    /// The status it is sent with; `None` for [`HTTP_STATUS`], which takes the status given.
    pub status: Option<u16>,
    /// A short, human-readable summary.
    pub title: &'static str,
    /// What it means and what to do about it.
    pub explanation: &'static str,
}

/// 400: the body is not valid JSON.
pub static MALFORMED_JSON: ProblemType = ProblemType {
    slug: "malformed-json",
    status: Some(400),
    title: "The body is not valid JSON",
    explanation: "The request said its body was JSON, but the bytes do not parse as JSON. The server stops at the parsing stage: nothing after it runs. Check quotes, commas and braces.",
};

/// 400: some other request the server cannot interpret.
pub static BAD_REQUEST: ProblemType = ProblemType {
    slug: "bad-request",
    status: Some(400),
    title: "The request cannot be interpreted",
    explanation: "The request is syntactically wrong in a way that is not about field values; the detail says what.",
};

/// 404: no such route or resource.
pub static NOT_FOUND: ProblemType = ProblemType {
    slug: "not-found",
    status: Some(404),
    title: "Not found",
    explanation: "Either no route matches the path, or the route matched but the resource (for example a task id) does not exist.",
};

/// 405: the path exists but not with this method.
pub static METHOD_NOT_ALLOWED: ProblemType = ProblemType {
    slug: "method-not-allowed",
    status: Some(405),
    title: "Method not allowed on this path",
    explanation: "The path exists but does not support this method. The Allow header lists the methods it does support.",
};

/// 408: the request did not arrive in time.
pub static REQUEST_TIMEOUT: ProblemType = ProblemType {
    slug: "request-timeout",
    status: Some(408),
    title: "The request did not arrive in time",
    explanation: "The server waits a bounded time for each part of a request, so a client that stalls cannot hold a connection (and its memory) forever. Send the whole request promptly.",
};

/// 401: the lab's own endpoints need the lab token (the lab listens beyond this machine).
pub static LAB_TOKEN: ProblemType = ProblemType {
    slug: "lab-token",
    status: Some(401),
    title: "The lab token is missing or wrong",
    explanation: "When the lab listens on an address other machines can reach, its own endpoints (/_lab/*), which show every request's data, need the token `reqlab serve` printed when it started.",
};

/// 403: a web page on another origin tried to change data.
pub static CROSS_SITE_REQUEST: ProblemType = ProblemType {
    slug: "cross-site-request",
    status: Some(403),
    title: "A cross-site request may not change data here",
    explanation: "A browser sends the Origin of the page that made a request. A page on another site must not be able to change your data just because your browser can reach the server (cross-site request forgery, CSRF). Origins you trust go on the allow-list: `reqlab serve --allowed-origin ORIGIN`.",
};

/// 406: the request accepts no media type the endpoint can produce.
pub static NOT_ACCEPTABLE: ProblemType = ProblemType {
    slug: "not-acceptable",
    status: Some(406),
    title: "No acceptable representation",
    explanation: "The request's Accept header lists the media types the client can use, and none of them is one this endpoint produces (application/json). Accept application/json, or */*.",
};

/// 409: the request conflicts with the current state (a duplicate).
pub static CONFLICT: ProblemType = ProblemType {
    slug: "conflict",
    status: Some(409),
    title: "The request conflicts with existing data",
    explanation: "The input is valid on its own but clashes with the current state, such as an email address that is already registered.",
};

/// 409: a step session is already stepping another request.
pub static STEP_SESSION_BUSY: ProblemType = ProblemType {
    slug: "step-session-busy",
    status: Some(409),
    title: "This step session is already stepping a request",
    explanation: "A step session holds one request at a time, so what it shows always belongs to one request. A second request sent with the same step token while the first is still being stepped is refused rather than queued: release the first (or let it run to the end), then send the next.",
};

/// 412: a precondition (`If-Match`) did not hold.
pub static PRECONDITION_FAILED: ProblemType = ProblemType {
    slug: "precondition-failed",
    status: Some(412),
    title: "The resource changed since you read it",
    explanation: "The request said to go ahead only if the resource still had the version (ETag) the client last saw, and it has another now: someone changed it first. Read it again, reapply the change, and send it with the new ETag.",
};

/// 413: the body is bigger than the server accepts.
pub static PAYLOAD_TOO_LARGE: ProblemType = ProblemType {
    slug: "payload-too-large",
    status: Some(413),
    title: "The body is too large",
    explanation: "The server caps body size so one request cannot exhaust its memory. The cap is set with `reqlab serve --body-limit`.",
};

/// 414: the request target is longer than the server reads.
pub static URI_TOO_LONG: ProblemType = ProblemType {
    slug: "uri-too-long",
    status: Some(414),
    title: "The URL is too long",
    explanation: "The server caps the length of a request's path and query so one request cannot exhaust its memory. Data that big belongs in a body.",
};

/// 415: the body is not in a format the endpoint reads.
pub static UNSUPPORTED_MEDIA_TYPE: ProblemType = ProblemType {
    slug: "unsupported-media-type",
    status: Some(415),
    title: "The body's media type is not supported",
    explanation: "The endpoint reads JSON; send the body with Content-Type: application/json.",
};

/// 431: the request's head (its line and headers) is larger than the server reads.
pub static HEADERS_TOO_LARGE: ProblemType = ProblemType {
    slug: "headers-too-large",
    status: Some(431),
    title: "The request's headers are too large",
    explanation: "The server caps the size of a request's head so one request cannot exhaust its memory. Oversized cookies or tokens are the usual cause.",
};

/// 421: the request names a host this server does not answer to.
pub static MISDIRECTED_REQUEST: ProblemType = ProblemType {
    slug: "misdirected-request",
    status: Some(421),
    title: "This server does not answer to that host name",
    explanation: "The Host header names the server the client meant to reach. A local server that answers to any name can be read by a web page through DNS rebinding, so the lab answers to loopback names and those given with `reqlab serve --allowed-host NAME`.",
};

/// 422: well-formed input that breaks the input contract.
pub static VALIDATION: ProblemType = ProblemType {
    slug: "validation",
    status: Some(422),
    title: "The input breaks the endpoint's contract",
    explanation: "The JSON parsed, but a field is missing, has the wrong type or breaks a rule. `errors` lists each field and what is wrong with it. The handler never ran.",
};

/// 500: the lab failed; details are logged, never sent.
pub static INTERNAL: ProblemType = ProblemType {
    slug: "internal",
    status: Some(500),
    title: "The lab server failed",
    explanation: "Something failed inside the lab. The response carries only the request id; the detail is in the lab's log.",
};

/// 501: the request uses a transfer coding the server does not implement.
pub static UNSUPPORTED_TRANSFER_CODING: ProblemType = ProblemType {
    slug: "unsupported-transfer-coding",
    status: Some(501),
    title: "The transfer coding is not implemented",
    explanation: "A server must refuse a Transfer-Encoding it does not understand rather than guess where the body ends (RFC 9112, section 6.1): guessing is how request smuggling works. The lab decodes `chunked` only.",
};

/// Any other error status: one a learner asked `/status/{code}` for, or one the HTTP layer
/// produced (a path segment that is not UTF-8, say). Its title is the status's reason phrase.
pub static HTTP_STATUS: ProblemType = ProblemType {
    slug: "http-status",
    status: None,
    title: "An HTTP error status",
    explanation: "An error status with no more specific type here: the status code itself says what kind of problem it is, and the detail says what happened.",
};

/// The problem types any topic may answer with.
pub static COMMON: [&ProblemType; 20] = [
    &NOT_ACCEPTABLE,
    &PRECONDITION_FAILED,
    &URI_TOO_LONG,
    &HEADERS_TOO_LARGE,
    &MALFORMED_JSON,
    &BAD_REQUEST,
    &LAB_TOKEN,
    &CROSS_SITE_REQUEST,
    &NOT_FOUND,
    &METHOD_NOT_ALLOWED,
    &REQUEST_TIMEOUT,
    &MISDIRECTED_REQUEST,
    &UNSUPPORTED_TRANSFER_CODING,
    &CONFLICT,
    &STEP_SESSION_BUSY,
    &PAYLOAD_TOO_LARGE,
    &UNSUPPORTED_MEDIA_TYPE,
    &VALIDATION,
    &INTERNAL,
    &HTTP_STATUS,
];

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
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
    pub kind: &'static ProblemType,
    /// The status it is sent with.
    pub status: StatusCode,
    /// What went wrong with this request, in one or two sentences.
    pub detail: String,
    /// Field-level problems, for validation failures.
    pub errors: Vec<FieldError>,
    /// Headers the answer needs besides the body (`Allow`, `Accept-Post`, `WWW-Authenticate`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Field errors a problem body lists; `errors_omitted` counts the rest, so a body stays small
/// however many fields a request gets wrong.
pub const MAX_LISTED_ERRORS: usize = 20;
/// Field names a `detail` sentence lists before saying how many more.
const NAMED_IN_DETAIL: usize = 10;

/// An RFC 9457 problem: what every error answer of the lab holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody<'a> {
    /// Which problem: a URI reference whose page explains it (`GET /_lab/problems/{slug}`).
    #[serde(rename = "type")]
    #[schema(example = "/_lab/problems/validation")]
    type_uri: String,
    /// The problem type's short summary, the same for every occurrence.
    title: &'a str,
    /// The HTTP status code, repeated for whoever reads only the body.
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong with this request.
    detail: &'a str,
    /// The fields that failed validation (422 only), at most 20.
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    #[schema(value_type = Vec<FieldError>, max_items = 20)]
    errors: &'a [FieldError],
    /// How many more field errors there were than `errors` lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    errors_omitted: Option<usize>,
    /// The request's id, as in its `X-Request-ID` header: quote it, and `reqlab trace <id>` shows the trace.
    request_id: &'a str,
}

impl Problem {
    /// A problem of `kind` with a detail sentence.
    pub fn new(kind: &'static ProblemType, detail: impl Into<String>) -> Problem {
        let status = kind
            .status
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Problem {
            kind,
            status,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The same problem, answered with one more header.
    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Problem {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// The same problem, answered with one more header whose value is computed.
    pub fn with_header_value(mut self, name: HeaderName, value: HeaderValue) -> Problem {
        self.headers.push((name, value));
        self
    }

    /// A problem that is only its status (see [`HTTP_STATUS`]).
    pub fn status(code: u16, detail: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ..Problem::new(&HTTP_STATUS, detail)
        }
    }

    /// The title: the kind's, or for a bare status its reason phrase.
    pub fn title(&self) -> &'static str {
        if self.kind == &HTTP_STATUS {
            match crate::status::reason(self.status.as_u16()) {
                "" => HTTP_STATUS.title,
                reason => reason,
            }
        } else {
            self.kind.title
        }
    }

    /// A 422 listing the fields that failed.
    pub fn validation(errors: Vec<FieldError>) -> Problem {
        let detail = match errors.as_slice() {
            [one] => format!("`{}` {}", one.field, one.message),
            many => {
                let mut names: Vec<&str> = many
                    .iter()
                    .take(NAMED_IN_DETAIL)
                    .map(|e| e.field.as_str())
                    .collect();
                let more = many.len().saturating_sub(NAMED_IN_DETAIL);
                let more = format!("and {more} more");
                if many.len() > NAMED_IN_DETAIL {
                    names.push(&more);
                }
                format!("{} fields are invalid: {}", many.len(), names.join(", "))
            }
        };
        Problem {
            errors,
            ..Problem::new(&VALIDATION, detail)
        }
    }

    /// 404 for a missing resource.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(&NOT_FOUND, detail)
    }

    /// A 500 whose cause is logged (with the request id, by the middleware) but never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        Problem::new(&INTERNAL, cause.to_string())
    }

    /// The detail a client may see: internal causes are replaced by a generic sentence.
    pub fn public_detail(&self) -> &str {
        if self.kind == &INTERNAL {
            "The lab server hit an internal error. Quote the request id when reporting it."
        } else {
            &self.detail
        }
    }

    /// The response body, with the request id.
    pub fn to_json(&self, request_id: &str) -> String {
        let body = ProblemBody {
            type_uri: format!("/_lab/problems/{}", self.kind.slug),
            title: self.title(),
            status: self.status.as_u16(),
            detail: self.public_detail(),
            errors: &self.errors[..self.errors.len().min(MAX_LISTED_ERRORS)],
            errors_omitted: (self.errors.len() > MAX_LISTED_ERRORS)
                .then(|| self.errors.len() - MAX_LISTED_ERRORS),
            request_id,
        };
        serde_json::to_string(&body).expect("problem bodies always serialize")
    }
}

impl IntoResponse for Problem {
    /// The status and content type now; the middleware writes the body once it knows the
    /// request id (it finds the problem in the response extensions).
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
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
    fn a_body_lists_a_bounded_number_of_field_errors() {
        let errors = (0..500)
            .map(|i| FieldError {
                field: format!("k{i}"),
                message: "is not a field of this endpoint".into(),
            })
            .collect();
        let body = Problem::validation(errors).to_json("r");
        assert!(body.len() < 4096, "{}", body.len());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["errors"].as_array().unwrap().len(), MAX_LISTED_ERRORS);
        assert_eq!(v["errors_omitted"], 480);
        assert!(v["detail"].as_str().unwrap().ends_with("k9, and 490 more"));
    }

    #[test]
    fn a_bare_status_is_titled_by_its_reason_phrase() {
        let p = Problem::status(418, "teapot");
        let v: serde_json::Value = serde_json::from_str(&p.to_json("r")).unwrap();
        assert_eq!(v["type"], "/_lab/problems/http-status");
        assert_eq!(v["title"], "I'm a teapot");
        assert_eq!(v["status"], 418);
    }
}
