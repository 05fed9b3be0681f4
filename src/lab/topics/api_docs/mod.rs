//! The lab describes itself: `GET /openapi.json` is an OpenAPI 3.1 document of every topic's
//! operations, and `GET /docs` a page that reads it (its script and style are built into the
//! binary, so it works offline).
//!
//! Each operation is declared on its handler (`#[utoipa::path]`) and registered together with
//! its route (`utoipa_axum::routes!`), so a route and its description cannot drift apart. What
//! every operation shares because of the layers around the handlers — every error is a
//! `Problem`, a JSON body can be malformed, too large or of another type, an `Accept` without
//! JSON is refused — is added here, once.

mod layer_answers;

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The lab's description of itself.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "api_docs",
        migrations: &[],
        seed: None,
    },
    problems: &[],
    links: &[("openapi", "/openapi.json"), ("docs", "/docs")],
    router,
};

/// The two routes are added by [`serve`] once every other topic's operations are known.
fn router(_: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new())
}

/// What the document says of the lab as a whole.
const DESCRIPTION: &str = "The API of the reqlab lab: a real server to send requests to while you learn, where every request leaves a trace of each stage it went through (`reqlab trace <request id>`).\n\nEvery error is an RFC 9457 problem (`application/problem+json`) with the request id in it. Validation rules are in the schemas: a request that breaks one gets 422 and a list of the fields at fault. The lab's own tooling endpoints (`/_lab/*`: traces, the live trace stream, problem type pages) are left out: they serve reqlab itself, not the lessons.";

/// The tags, in the order the docs page lists them, with what each groups.
const TAGS: &[(&str, &str)] = &[
    (
        "basics",
        "HTTP itself: a health check, an echo of the request as parsed, any status code on demand, and the table of method properties.",
    ),
    (
        "tasks",
        "A REST collection: offset and cursor pages, ETags with If-None-Match and If-Match, JSON Merge Patch, Idempotency-Key on create.",
    ),
    (
        "users",
        "Sign-up with validation: an email address unique in any letter case, a visible name.",
    ),
    (
        "auth",
        "Who is calling and what may they do: JWT bearer tokens, session cookies with a CSRF token, API keys, roles.",
    ),
    (
        "cross-origin",
        "An API for pages on other origins, behind an explicit CORS list.",
    ),
    (
        "caching",
        "HTTP caching with strong ETags and 304, and an application cache with a TTL and single flight.",
    ),
    (
        "security",
        "Abuse controls: a token-bucket rate limit with RateLimit headers.",
    ),
    (
        "uploads",
        "Safe file uploads: size and type limits, no names from the client on disk, downloads as attachments.",
    ),
    ("observability", "Prometheus metrics and a readiness probe."),
    (
        "data",
        "The data layer: posts with server-set timestamps and versions (optimistic concurrency), and transfers that commit whole or roll back.",
    ),
    (
        "dependency",
        "A slow dependency, and a call to it over HTTP with a timeout that answers 504 instead of waiting.",
    ),
    (
        "performance",
        "Loading related rows: one query per item (N+1), one IN (…) query, or a JOIN.",
    ),
    (
        "jobs",
        "Background jobs: 202 with a job to follow, a durable queue with retries, backoff and dead letters, idempotency keys, backpressure, and the outbox's events.",
    ),
    (
        "concurrency",
        "Three kinds of work to measure: waiting with an await, blocking the runtime's thread, and computing there or in a CPU pool.",
    ),
];

/// Adds `/openapi.json` and `/docs` for the operations `api` describes.
pub fn serve(app: Router, api: OpenApi) -> Router {
    let document = Bytes::from(
        serde_json::to_vec_pretty(&document(api)).expect("a JSON value always serializes"),
    );
    app.route(
        "/openapi.json",
        get(move |tracer: Tracer| openapi_json(tracer, document.clone()))
            .layer(cache_control("no-cache")),
    )
    .route("/docs", get(page).layer(cache_control("no-cache")))
    .route(
        "/docs/docs.js",
        get(script).layer(cache_control("no-cache")),
    )
    .route(
        "/docs/docs.css",
        get(style).layer(cache_control("no-cache")),
    )
}

/// The finished document: the topics' operations, with what every operation shares added.
pub fn document(api: OpenApi) -> Value {
    let mut doc = serde_json::to_value(&api).expect("an OpenAPI document always serializes");
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "reqlab lab",
        "version": env!("CARGO_PKG_VERSION"),
        "description": DESCRIPTION,
        "license": { "name": "MIT", "identifier": "MIT" },
    });
    doc["tags"] = TAGS
        .iter()
        .map(|(name, description)| json!({ "name": name, "description": description }))
        .collect();
    doc["components"]["securitySchemes"] = json!({
        "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A token from POST /login: Authorization: Bearer TOKEN" },
        "api_key": { "type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": "A key from POST /api-keys" },
        "session": { "type": "apiKey", "in": "cookie", "name": "session",
            "description": "The cookie POST /sessions sets; a change also needs X-CSRF-Token" },
    });
    layer_answers::add(&mut doc);
    unique_operation_ids(&mut doc);
    doc
}

/// One handler may serve several methods (`/echo`), and each operation needs an id of its
/// own: a repeated id gets its method added (`echo_post`).
fn unique_operation_ids(doc: &mut Value) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values() {
        for op in item.as_object().into_iter().flat_map(|m| m.values()) {
            if let Some(id) = op["operationId"].as_str() {
                *seen.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    for item in paths.values_mut() {
        for (method, op) in item.as_object_mut().into_iter().flatten() {
            if let Some(id) = op["operationId"].as_str()
                && seen.get(id).is_some_and(|n| *n > 1)
            {
                op["operationId"] = Value::String(format!("{id}_{method}"));
            }
        }
    }
}

async fn openapi_json(tracer: Tracer, document: Bytes) -> impl IntoResponse {
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "sent the OpenAPI document, built once at start-up from the handlers' own declarations",
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document,
    )
}

/// The page's policy: its own script, style and requests only.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn page(tracer: Tracer) -> impl IntoResponse {
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "served the API docs page; its script reads /openapi.json",
    );
    (
        [(header::CONTENT_SECURITY_POLICY, PAGE_POLICY)],
        Html(include_str!("docs.html")),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("docs.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("docs.css"),
    )
}

#[cfg(test)]
mod tests {
    use crate::lab::validate::{VISIBLE_TEXT, length_problem};
    use crate::lab::{Lab, LabConfig};
    use serde_json::Value;

    #[test]
    fn the_visible_text_pattern_says_what_the_validator_does_for_every_character() {
        let pattern = regex::Regex::new(VISIBLE_TEXT).unwrap();
        let mut disagree = Vec::new();
        for c in (0..=0xFFFF_u32).filter_map(char::from_u32) {
            for text in [c.to_string(), format!("a{c}"), format!("{c} ")] {
                if pattern.is_match(&text) != length_problem(&text, 1, 200).is_none() {
                    disagree.push(format!("U+{:04X} in {text:?}", u32::from(c)));
                }
            }
        }
        assert!(disagree.is_empty(), "{disagree:?}");
    }

    fn document() -> Value {
        let lab = Lab::new(LabConfig::ephemeral()).unwrap();
        super::super::openapi(&lab.state).unwrap()
    }

    fn property<'a>(doc: &'a Value, schema: &str, name: &str) -> &'a Value {
        &doc["components"]["schemas"][schema]["properties"][name]
    }

    #[test]
    fn the_documented_rules_are_the_validators_rules() {
        let doc = document();
        for (schema, field, max) in [
            ("NewTask", "title", 200),
            ("TaskReplacement", "title", 200),
            ("TaskChanges", "title", 200),
            ("TaskMergePatch", "title", 200),
            ("NewUser", "name", 60),
            ("ConfigChanges", "motd", 200),
            ("PostChange", "title", 200),
            ("IngestRequest", "tenant_id", 100),
            ("IngestRequest", "object_key", 500),
            ("IngestRequest", "idempotency_key", 200),
        ] {
            let p = property(&doc, schema, field);
            assert_eq!(p["minLength"], 1, "{schema}.{field}");
            assert_eq!(p["maxLength"], max, "{schema}.{field}");
            assert_eq!(p["pattern"], VISIBLE_TEXT, "{schema}.{field}");
        }
        assert_eq!(
            doc["components"]["schemas"]["NewTask"]["additionalProperties"],
            false
        );
        let post_title = doc["paths"]["/posts"]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "title")
            .unwrap();
        assert_eq!(post_title["schema"]["pattern"], VISIBLE_TEXT);
        assert_eq!(post_title["schema"]["maxLength"], 200);
        let limit = doc["paths"]["/tasks"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(
            limit["schema"]["maximum"],
            crate::lab::topics::tasks::LIMIT_MAX
        );
    }

    #[test]
    fn every_operation_is_tagged_summarised_and_answers_errors_as_problems() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let tags: Vec<&str> = super::TAGS.iter().map(|(name, _)| *name).collect();
        let mut operations = 0;
        let mut ids = std::collections::HashSet::new();
        let mut used_tags = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(!path.starts_with("/_lab/"), "{path}");
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let tag = op["tags"][0].as_str().unwrap_or_default();
                assert!(tags.contains(&tag), "{method} {path}: tag {tag:?}");
                used_tags.insert(tag);
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_string()), "{method} {path}: {id} repeats");
                assert!(op["summary"].is_string(), "{method} {path}");
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert!(operations >= 30, "{operations}");
        assert_eq!(used_tags.len(), tags.len(), "every tag groups something");
    }
}
