//! `/api/data`: a small read-only document meant for pages on other origins, behind the lab's
//! CORS layer ([`crate::lab::cors`]): preflights are answered there, and an actual request's
//! answer says which origin may read it.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::middleware::cache_control_on;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::Gate;
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::Json;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    // The answer differs by origin (and Vary says so); ask again before reusing it.
    let api = OpenApiRouter::new().routes(cache_control_on(routes!(data), "private, no-cache"));
    Ok(crate::lab::cors::around(api, lab)
        // The page is a navigation, not a cross-origin call: outside the CORS layer.
        .routes(cache_control_on(routes!(demo_page), "no-cache")))
}

#[utoipa::path(get, path = "/cors-demo", tag = "cross-origin", summary = "A page that calls the API from another origin",
    description = "Open it in a browser: its script calls /api/data under the lab's other loopback name, once as an origin the CORS list allows and once as one it does not, and shows what the browser let it read.",
    responses((status = 200, description = "The page", content_type = "text/html")))]
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

/// The demo document.
#[derive(Serialize, ToSchema)]
struct DemoData {
    message: &'static str,
    /// The request's Origin header, if it had one.
    origin_seen: Option<String>,
    /// Which pages the CORS layer lets read this.
    readable_from: [&'static str; 3],
    items: [DemoItem; 3],
}

/// One item of the demo document.
#[derive(Serialize, ToSchema)]
struct DemoItem {
    id: u8,
    name: &'static str,
}

#[utoipa::path(get, path = "/api/data", tag = "cross-origin", summary = "A document for pages on other origins",
    description = "Behind the CORS layer: an Origin on the list (the demo front end http://localhost:3000, the lab under its other loopback name, each --allowed-origin) gets Access-Control-Allow-Origin and may read the answer; any other gets the same answer without it, and the browser hides it. Preflights (OPTIONS) are answered by the layer.",
    params(("Origin" = Option<String>, Header, description = "The page's origin, as a browser sends it")),
    responses((status = 200, description = "The document", body = DemoData, headers(
        ("Access-Control-Allow-Origin" = String, description = "The Origin, when it is on the list"),
        ("Vary" = String, description = "Origin: the answer differs by origin"),
    ))))]
async fn data(tracer: Tracer, gate: Gate, headers: HeaderMap) -> Json<DemoData> {
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
    Json(DemoData {
        message: "Hello from the lab's API.",
        origin_seen: origin,
        readable_from: [
            crate::lab::cors::DEMO_ORIGIN,
            "the lab under its other loopback name",
            "every --allowed-origin",
        ],
        items: [
            DemoItem {
                id: 1,
                name: "alpha",
            },
            DemoItem {
                id: 2,
                name: "beta",
            },
            DemoItem {
                id: 3,
                name: "gamma",
            },
        ],
    })
}
