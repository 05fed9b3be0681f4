//! `GET /metrics`: the lab's request counts, latency histograms and requests in flight, in
//! the Prometheus text format ([`crate::lab::metrics`]), for a scraper or a curious learner;
//! and `GET /ready`, the readiness check (the database answers, the lab is not shutting
//! down) beside `/health`, the liveness check that touches nothing.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::error::{Problem, ProblemType};
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Metrics.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "observability",
        migrations: &[],
        seed: None,
    },
    problems: &[&NOT_READY],
    links: &[("metrics", "/metrics"), ("ready", "/ready")],
    router,
};

/// The exposition format's media type (OpenMetrics text, which Prometheus scrapes).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(ready))
        .with_state(Arc::clone(lab)))
}

#[utoipa::path(get, path = "/metrics", tag = "observability", summary = "Every metric, for a scraper",
    description = "Requests counted by method, route template and status; latency histograms by route; requests in flight. In the OpenMetrics text format, which Prometheus scrapes.",
    responses((status = 200, description = "The metrics as text", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String)))]
async fn metrics(State(lab): State<Arc<LabState>>, tracer: Tracer) -> impl IntoResponse {
    tracer.note(
        Stage::Observability,
        Outcome::Ok,
        "wrote every counter, histogram and gauge as text; this request is counted once it is answered",
    );
    ([(header::CONTENT_TYPE, OPENMETRICS)], lab.metrics.encode())
}

/// The trivial query a readiness check runs: can a connection be had and used?
const READY_QUERY: &str = "SELECT 1";

/// A readiness verdict.
#[derive(Serialize, ToSchema)]
struct Ready {
    #[schema(example = "ready")]
    status: &'static str,
    checks: ReadyChecks,
}

/// Each dependency checked.
#[derive(Serialize, ToSchema)]
struct ReadyChecks {
    #[schema(example = "ok")]
    database: &'static str,
}

#[utoipa::path(get, path = "/ready", tag = "observability", summary = "Should the lab get traffic?",
    description = "Unlike /health (liveness), readiness touches what requests need: here, one trivial query.",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready: the database does not answer, or the lab is shutting down", headers(("Retry-After" = String, description = "Seconds until asking again makes sense"))),
    ))]
/// Ready for traffic: the database answers a trivial query and the lab is not shutting down.
/// 503 otherwise, with Retry-After, so a load balancer sends requests elsewhere for a while.
async fn ready(State(lab): State<Arc<LabState>>, tracer: Tracer) -> Response {
    let started = std::time::Instant::now();
    let database = lab
        .db
        .read(|c| {
            crate::lab::db::Sql::new(c, &tracer).query_opt(READY_QUERY, &[], |r| r.get::<_, i64>(0))
        })
        .map(|one| one == Some(1));
    let stopping = lab.shutdown.is_cancelled();
    let (status, said) = match (database, stopping) {
        (Ok(true), false) => (StatusCode::OK, "ready"),
        (_, true) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        ),
    };
    tracer.timed(
        Stage::Observability,
        started,
        if status == StatusCode::OK { Outcome::Ok } else { Outcome::Fail },
        format_args!(
            "readiness: {said} → {}; unlike /health (liveness), this check may touch what requests need, here one trivial query",
            status.as_u16()
        ),
    );
    if status == StatusCode::OK {
        return Json(Ready {
            status: "ready",
            checks: ReadyChecks { database: "ok" },
        })
        .into_response();
    }
    Problem::new(
        &NOT_READY,
        format!("This lab is not ready for requests: {said}. Try again in a few seconds."),
    )
    .with_header(header::RETRY_AFTER, "5")
    .into_response()
}

/// Not ready for traffic.
pub static NOT_READY: ProblemType = ProblemType {
    slug: "not-ready",
    status: Some(503),
    title: "Not ready for requests",
    explanation: "The readiness check failed: a dependency requests need (here, the database) does not answer, or the server is shutting down. A load balancer sends traffic elsewhere until it passes; Retry-After says when to ask again.",
};
