//! `/api/data`: a small read-only document meant for pages on other origins, behind the lab's
//! CORS layer ([`crate::lab::cors`]): preflights are answered there, and an actual request's
//! answer says which origin may read it.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::Gate;
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// An API for pages on other origins.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "cross_origin",
        migrations: &[],
        seed: None,
    },
    problems: &[],
    links: &[("api_data", "/api/data"), ("cors_demo", "/cors-demo")],
    router,
};

fn router(lab: &Arc<LabState>) -> Result<Router, DbError> {
    // The answer differs by origin (and Vary says so); ask again before reusing it.
    let api = Router::new().route(
        "/api/data",
        get(data).layer(cache_control("private, no-cache")),
    );
    Ok(crate::lab::cors::around(api, lab)
        // The page is a navigation, not a cross-origin call: outside the CORS layer.
        .route(
            "/cors-demo",
            get(demo_page).layer(cache_control("no-cache")),
        ))
}

/// A page that calls the API from another origin (the lab under its other loopback name),
/// once allowed and once blocked, so a browser shows CORS at work.
async fn demo_page(tracer: Tracer) -> impl IntoResponse {
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "served the CORS demo page; its script calls /api/data under the lab's other host name, so the browser treats those calls as cross-origin",
    );
    (
        [(header::CONTENT_SECURITY_POLICY, DEMO_POLICY.as_str())],
        Html(DEMO_PAGE),
    )
}

const DEMO_PAGE: &str = include_str!("demo.html");

/// The demo page's Content-Security-Policy: its own inline script and style (by hash, so no
/// other inline code runs), calls to the lab under either loopback name, nothing else.
static DEMO_POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src http://localhost:* http://127.0.0.1:*; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        inline_hash(DEMO_PAGE, "script"),
        inline_hash(DEMO_PAGE, "style")
    )
});

/// The CSP source of the first inline `<tag>` element's text: `sha256-` and its base64 digest.
fn inline_hash(page: &str, tag: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let text = page
        .split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map_or("", |(inside, _)| inside);
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

async fn data(tracer: Tracer, gate: Gate, headers: HeaderMap) -> Json<Value> {
    gate.auth().await;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "answered the demo document; whether a page may read it is the CORS layer's decision, on the way out",
    );
    Json(json!({
        "message": "Hello from the lab's API.",
        "origin_seen": origin,
        "readable_from": [crate::lab::cors::DEMO_ORIGIN, "the lab under its other loopback name", "every --allowed-origin"],
        "items": [
            { "id": 1, "name": "alpha" },
            { "id": 2, "name": "beta" },
            { "id": 3, "name": "gamma" },
        ],
    }))
}
