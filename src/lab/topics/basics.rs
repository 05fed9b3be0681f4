//! HTTP basics: the welcome document, `/echo`, `/status/{code}` and `/methods`.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::error::Problem;
use crate::lab::extract::{is_json_media_type, read_body};
use crate::lab::middleware::cache_control_on;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Block, Carries, Gate};
use crate::lab::trace::{Outcome, Size, Tracer};
use crate::lab::validate::Fields;
use crate::stage::Stage;
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// HTTP basics: the welcome document, a health check, an echo, status codes and methods.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "basics",
        migrations: &[],
        seed: None,
    },
    problems: &[],
    links: &[
        ("health", "/health"),
        ("echo", "/echo"),
        ("status_codes", "/status/{code}"),
        ("methods", "/methods"),
    ],
    router,
};

/// `/echo` takes any method, so its route is registered by hand; this carries its description.
#[derive(OpenApi)]
#[openapi(paths(echo))]
struct EchoApi;

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    let echo_routes = OpenApiRouter::with_openapi(EchoApi::openapi())
        .route("/echo", any(echo))
        .route("/echo/{*rest}", any(echo));
    Ok(OpenApiRouter::new()
        // The front page changes only when the lab does: keep it, but ask again each time.
        .routes(cache_control_on(routes!(welcome), "no-cache"))
        .routes(routes!(health))
        .merge(echo_routes)
        .routes(routes!(status_demo))
        // A fixed table: any cache may keep it for a day.
        .routes(cache_control_on(routes!(methods), "public, max-age=86400"))
        .with_state(Arc::clone(lab)))
}

/// The front page.
#[derive(Serialize, ToSchema)]
struct Welcome {
    #[schema(example = "reqlab lab server")]
    name: &'static str,
    about: &'static str,
    /// Where each part of the lab lives, by name.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    links: serde_json::Map<String, Value>,
}

/// The lab's front page: what it offers, every topic's links included.
#[utoipa::path(get, path = "/", tag = "basics", summary = "What the lab offers",
    responses((status = 200, description = "The lab's name and a link to each part of it", body = Welcome)))]
async fn welcome(State(lab): State<Arc<LabState>>, tracer: Tracer, gate: Gate) -> Json<Welcome> {
    gate.auth().await;
    tracer.note(Stage::Logic, Outcome::Ok, "listed what the lab offers");
    let links: serde_json::Map<String, Value> = lab
        .catalog
        .links
        .iter()
        .map(|(name, path)| (name.to_string(), Value::from(*path)))
        .collect();
    Json(Welcome {
        name: "reqlab lab server",
        about: "A real HTTP server to poke at. Every request leaves a trace: GET /_lab/traces.",
        links,
    })
}

/// A liveness answer.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`: answering at all is the news.
    #[schema(example = "ok")]
    status: &'static str,
}

/// A liveness answer: the smallest useful endpoint, and the one the first challenge asks for.
#[utoipa::path(get, path = "/health", tag = "basics", summary = "Is the lab up?",
    responses((status = 200, description = "The lab is up", body = Health)))]
async fn health(tracer: Tracer, gate: Gate) -> Json<Health> {
    gate.auth().await;
    tracer.note(Stage::Logic, Outcome::Ok, "the lab is up");
    Json(Health { status: "ok" })
}

/// The request as the server parsed it.
#[derive(Serialize, ToSchema)]
struct Echo {
    #[schema(example = "GET")]
    method: String,
    #[schema(example = "/echo")]
    path: String,
    /// Each query parameter with every value it was given, in order.
    #[schema(value_type = std::collections::BTreeMap<String, Vec<String>>)]
    query: serde_json::Map<String, Value>,
    #[schema(example = "HTTP/1.1")]
    http_version: String,
    /// Every header as a `[name, value]` pair, in the order received (credentials are left out of a TRACE).
    #[schema(value_type = Vec<Vec<String>>)]
    headers: Vec<Value>,
    body: EchoBody,
}

/// The body as received.
#[derive(Serialize, ToSchema)]
struct EchoBody {
    /// Its length in bytes.
    bytes: usize,
    /// The body as text (invalid UTF-8 replaced), its first 4096 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// The parsed JSON, when the body said it was JSON and was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    json: Option<Value>,
    /// Why a body that said it was JSON did not parse.
    #[serde(skip_serializing_if = "Option::is_none")]
    json_error: Option<String>,
}

/// Returns the request exactly as the server parsed it.
#[utoipa::path(method(get, post, put, patch, delete), path = "/echo", tag = "basics",
    summary = "See the request as the server parsed it",
    description = "Any method (HEAD, OPTIONS, TRACE and ones HTTP does not define too), and any path under /echo/, is answered with the method, path, query, headers and body the server read. A JSON body is parsed as well; a body that is not JSON is shown as text.",
    request_body(content(("application/json"), ("text/plain"), ("application/octet-stream")), description = "Any body, up to 64 KiB"),
    responses((status = 200, description = "What the server parsed", body = Echo)))]
async fn echo(tracer: Tracer, gate: Gate, req: Request) -> Result<Json<Echo>, Problem> {
    let start = Instant::now();
    let method = req.method().to_string();
    let version = format!("{:?}", req.version());
    let path = req.uri().path().to_string();
    let mut query = serde_json::Map::new();
    if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(req.uri()) {
        for (k, v) in pairs {
            let slot = query.entry(k).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = slot {
                values.push(Value::String(v));
            }
        }
    }
    // TRACE must not hand credentials back: a script that can send TRACE could read the
    // cookies it cannot otherwise see (cross-site tracing, RFC 9110 section 9.3.8).
    let tracing_request = req.method() == axum::http::Method::TRACE;
    let credentials = [
        header::COOKIE,
        header::AUTHORIZATION,
        header::PROXY_AUTHORIZATION,
    ];
    let mut withheld = Vec::new();
    let headers: Vec<Value> = req
        .headers()
        .iter()
        .filter(|(name, _)| {
            let secret = tracing_request && credentials.contains(name);
            if secret {
                withheld.push(name.as_str().to_string());
            }
            !secret
        })
        .map(|(name, value)| json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())]))
        .collect();
    if !withheld.is_empty() {
        tracer.note(
            Stage::Security,
            Outcome::Ok,
            format_args!(
                "left {} out of the TRACE echo: credentials are never reflected",
                withheld.join(", ")
            ),
        );
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_json = content_type.as_deref().is_some_and(is_json_media_type);
    let read = read_body(req, &(), &tracer, start).await;
    gate.hold(Stage::Parsing, || {
        echo_carries(headers.len(), content_type.as_deref(), &read)
    })
    .await;
    let bytes = read?;
    let mut body = EchoBody {
        bytes: bytes.len(),
        text: None,
        json: None,
        json_error: None,
    };
    if !bytes.is_empty() {
        let text = String::from_utf8_lossy(&bytes);
        body.text = Some(text.chars().take(4096).collect());
        if is_json {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => body.json = Some(v),
                Err(e) => body.json_error = Some(e.to_string()),
            }
        }
    }
    tracer.timed(
        Stage::Parsing,
        start,
        Outcome::Ok,
        format_args!(
            "read {} header(s) and a {}-byte body ({})",
            headers.len(),
            bytes.len(),
            content_type.as_deref().unwrap_or("no Content-Type")
        ),
    );
    gate.auth().await;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "echo sends back what the server parsed, changing nothing",
    );
    Ok(Json(Echo {
        method,
        path,
        query,
        http_version: version,
        headers,
        body,
    }))
}

/// What a stepped `/echo` shows at `parsing`: the body it read, or why it could not.
fn echo_carries(
    headers: usize,
    content_type: Option<&str>,
    read: &Result<bytes::Bytes, Problem>,
) -> Carries {
    match read {
        Ok(bytes) => {
            let mut carries = Carries::new(format_args!(
                "read {headers} header(s) and {} ({})",
                Size(Some(bytes.len() as u64)),
                content_type.unwrap_or("no Content-Type")
            ))
            .with_field("Content-Type", content_type.unwrap_or("missing"))
            .with_field("body", Size(Some(bytes.len() as u64)));
            if !bytes.is_empty() {
                carries.block = Some(Block::body(bytes));
            }
            carries
        }
        Err(problem) => Carries::new(format_args!(
            "the body could not be read → {}: {}",
            problem.status.as_u16(),
            problem.public_detail()
        )),
    }
}

/// Answers with the status code in the path, explained.
#[utoipa::path(get, path = "/status/{code}", tag = "basics", summary = "Get any status code on purpose",
    description = "Answers with the status code asked for, and what it means: a JSON explanation for 2xx and 3xx (none for 204, 205 and 304; a Location for 201, 202 and redirects), a problem for 4xx and 5xx (with WWW-Authenticate for 401, Allow for 405, Retry-After for 429 and 503).",
    params(("code" = u16, Path, description = "The status code to answer with", minimum = 200, maximum = 599, example = 418)),
    responses(
        (status = "2XX", description = "The status asked for, explained", body = StatusExplained),
        (status = 204, description = "No Content: no body"),
        (status = 205, description = "Reset Content: no body"),
        (status = 304, description = "Not Modified: no body"),
        (status = "3XX", description = "The status asked for, explained, with a Location (no body for 304)", body = StatusExplained,
            headers(("Location" = String, description = "Where to go: the front page"))),
        (status = 422, description = "The code is not a status code from 200 to 599"),
        (status = "4XX", description = "The status asked for, as a problem"),
        (status = "5XX", description = "The status asked for, as a problem: nothing actually failed"),
    ))]
async fn status_demo(
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
) -> Result<Response, Problem> {
    let code = match raw.parse::<u16>() {
        Ok(c) if (200..=599).contains(&c) => c,
        _ => {
            let mut fields = Fields::query(&tracer);
            fields.error(
                "code",
                format!("must be a status code from 200 to 599, got `{raw}`"),
            );
            let refused = fields.finish(&gate).await.err();
            return Err(
                refused.unwrap_or_else(|| Problem::internal("a field error passed validation"))
            );
        }
    };
    gate.auth().await;
    let status = StatusCode::from_u16(code).map_err(Problem::internal)?;
    let reason = match crate::status::reason(code) {
        "" => "(no standard reason phrase)",
        reason => reason,
    };
    let class = crate::status::class_text(code);
    let meaning = crate::status::explanation(code).unwrap_or(crate::status::SEE_RFC);
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("answering {code} on purpose: {class}"),
    );
    if code >= 400 {
        let mut response = Problem::status(
            code,
            format!("You asked for {code} {reason} ({class}). {meaning}"),
        )
        .into_response();
        // Some statuses come with a header that says what to do next.
        let headers = response.headers_mut();
        match code {
            401 => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"reqlab\""),
                );
            }
            405 => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            429 | 503 => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            }
            _ => {}
        }
        return Ok(response);
    }
    // These statuses never carry a body.
    if matches!(code, 204 | 205 | 304) {
        return Ok(status.into_response());
    }
    let body = Json(StatusExplained {
        status: code,
        reason,
        class,
        meaning,
    });
    // A 201 says where the new resource lives, a 202 where to check on the work, and a
    // redirect where to go.
    if matches!(code, 201 | 202) || (300..400).contains(&code) {
        return Ok((status, [(header::LOCATION, "/")], body).into_response());
    }
    Ok((status, body).into_response())
}

/// A status code and what it means.
#[derive(Serialize, ToSchema)]
struct StatusExplained {
    #[schema(minimum = 200, maximum = 399, example = 202)]
    status: u16,
    /// The reason phrase, such as `Accepted`.
    reason: &'static str,
    /// Its class, such as `2xx success`.
    class: &'static str,
    /// What it means, in a sentence or two.
    meaning: &'static str,
}

/// The properties of each method, as a table.
#[utoipa::path(get, path = "/methods", tag = "basics", summary = "Which methods are safe, idempotent and cacheable",
    responses((status = 200, description = "One row per method, and what safe and idempotent mean", body = Object)))]
async fn methods(tracer: Tracer, gate: Gate) -> Json<Value> {
    gate.auth().await;
    tracer.note(Stage::Logic, Outcome::Ok, "listed method properties");
    let row = |method: &str, safe: bool, idempotent: bool, cacheable: &str, use_for: &str| json!({"method": method, "safe": safe, "idempotent": idempotent, "cacheable": cacheable, "use_for": use_for});
    // RFC 9110 §9.2.3: GET and HEAD responses are cacheable; POST and PATCH ones only when the
    // response gives explicit freshness and a Content-Location naming the target.
    let explicitly = "only with explicit freshness and a matching Content-Location";
    Json(json!({
        "methods": [
            row("GET", true, true, "yes", "read a resource or a collection"),
            row("HEAD", true, true, "yes", "GET without the body: check existence, size, freshness"),
            row("OPTIONS", true, true, "no", "ask what a resource supports (CORS preflight)"),
            row("POST", false, false, explicitly, "create a resource in a collection, or run an action"),
            row("PUT", false, true, "no", "replace a resource entirely"),
            row("PATCH", false, false, explicitly, "change part of a resource"),
            row("DELETE", false, true, "no", "remove a resource"),
        ],
        "safe": "does not change server state, so crawlers and prefetchers may call it freely",
        "idempotent": "sending it twice leaves the same state as sending it once, so a client may retry it after a timeout",
    }))
}

/// Unknown paths: a 404 problem, with the routing decision in the trace.
pub async fn not_found(tracer: Tracer, gate: Gate, req: Request) -> Problem {
    let path = req.uri().path().to_string();
    tracer.note(
        Stage::Routing,
        Outcome::Fail,
        format_args!("no route matches {path} → 404"),
    );
    gate.hold(Stage::Routing, || {
        Carries::new(format_args!(
            "no route matches {path} → 404; no handler runs"
        ))
        .with_field("path", &path)
        .with_field("route", "none")
    })
    .await;
    Problem::not_found(format!(
        "No route matches {path}. GET / lists what the lab offers."
    ))
}
