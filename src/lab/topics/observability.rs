//! `GET /metrics`: the lab's request counts, latency histograms and requests in flight, in
//! the Prometheus text format ([`crate::lab::metrics`]), for a scraper or a curious learner.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

/// Metrics.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "observability",
        migrations: &[],
        seed: None,
    },
    problems: &[],
    links: &[("metrics", "/metrics")],
    router,
};

/// The exposition format's media type (OpenMetrics text, which Prometheus scrapes).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn router(lab: &Arc<LabState>) -> Result<Router, DbError> {
    Ok(Router::new()
        .route("/metrics", get(metrics))
        .with_state(Arc::clone(lab)))
}

async fn metrics(State(lab): State<Arc<LabState>>, tracer: Tracer) -> impl IntoResponse {
    tracer.note(
        Stage::Observability,
        Outcome::Ok,
        "wrote every counter, histogram and gauge as text; this request is counted once it is answered",
    );
    ([(header::CONTENT_TYPE, OPENMETRICS)], lab.metrics.encode())
}
