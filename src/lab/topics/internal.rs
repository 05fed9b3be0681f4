//! `/_lab/*`: the lab's own endpoints — traces (JSON and live), problem types, server info.
//! These requests are not traced themselves, so watching never adds noise.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::error::Problem;
use crate::lab::extract::QueryPairs;
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::trace::Trace;
use crate::lab::validate::{Fields, int_param};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa_axum::router::OpenApiRouter;

/// `/_lab/*`: the lab's own endpoints.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "internal",
        migrations: &[],
        seed: None,
    },
    problems: &[],
    links: &[
        ("traces", "/_lab/traces"),
        ("live_traces", "/_lab/traces/stream"),
    ],
    router,
};

/// Not in the OpenAPI document: these serve reqlab's own tools, not the lessons.
fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(Router::new()
        .route("/_lab/info", get(info))
        .route("/_lab/traces", get(list_traces))
        .route("/_lab/traces/stream", get(stream_traces))
        .route("/_lab/traces/{request_id}", get(get_trace))
        .route("/_lab/traces/{request_id}/plans", get(trace_plans))
        .route("/_lab/traces/pinned", get(pinned_traces))
        .route(
            "/_lab/traces/{request_id}/pin",
            axum::routing::put(pin_trace).delete(unpin_trace),
        )
        // Problem type pages are documentation: any cache may keep them for a day.
        .route(
            "/_lab/problems/{slug}",
            get(problem_type).layer(cache_control("public, max-age=86400")),
        )
        .with_state(Arc::clone(lab))
        .into())
}

async fn info(State(lab): State<Arc<LabState>>) -> Json<Value> {
    Json(json!({
        "name": "reqlab",
        "version": env!("CARGO_PKG_VERSION"),
        "tracing": lab.config.tracing,
        "trace_capacity": lab.config.trace_capacity,
        "traces_kept": lab.traces.len(),
        "body_limit": lab.config.body_limit,
        "database": if lab.config.memory { "memory" } else { "file" },
    }))
}

/// About how many bytes of traces one `/_lab/traces` answer holds; older ones are left out.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

async fn list_traces(
    State(lab): State<Arc<LabState>>,
    query: QueryPairs,
) -> Result<Json<Value>, Problem> {
    let tracer = crate::lab::trace::Tracer::off();
    let mut fields = Fields::query(&tracer);
    // Asking for more than the lab keeps is fine: you get all of them.
    let limit = int_param(&mut fields, "limit", query.get("limit"), 50, 1, i64::MAX);
    fields.finish(&crate::lab::step::Gate::off()).await?;
    let recent = lab.traces.recent_within(
        usize::try_from(limit).unwrap_or(usize::MAX),
        MAX_ANSWER_BYTES,
    );
    let mut answer = json!({ "traces": recent.traces, "tracing": lab.config.tracing });
    if recent.left_out > 0 {
        // Say so, rather than answer with an unbounded body.
        answer["left_out"] = recent.left_out.into();
    }
    Ok(Json(answer))
}

async fn get_trace(
    State(lab): State<Arc<LabState>>,
    Path(request_id): Path<String>,
) -> Result<Json<Trace>, Problem> {
    lab.traces.get(&request_id).map(Json).ok_or_else(|| {
        Problem::not_found(format!(
            "No trace for request {request_id}: it never reached the lab, or it is older than the last {} kept.",
            lab.config.trace_capacity
        ))
    })
}

/// How SQLite means to run each statement a traced request ran (`EXPLAIN QUERY PLAN`), in
/// words. The statements come from the trace the lab recorded, never from the client, and are
/// explained on a read-only connection (EXPLAIN prepares a statement, it does not run it).
async fn trace_plans(
    State(lab): State<Arc<LabState>>,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let trace = lab.traces.get(&request_id).ok_or_else(|| {
        Problem::not_found(format!(
            "No trace for request {request_id}: it never reached the lab, or it is older than the last {} kept.",
            lab.config.trace_capacity
        ))
    })?;
    let statements: Vec<String> = trace
        .events
        .iter()
        .filter_map(|e| e.sql.as_ref().map(|s| s.statement.clone()))
        .collect();
    let plans = lab
        .db
        .scan(move |conn| Ok(crate::lab::query_plan::explain_all(conn, statements)))
        .await?;
    Ok(Json(
        json!({ "request_id": request_id, "statements": plans }),
    ))
}

/// The pinned traces, oldest pinned first.
async fn pinned_traces(State(lab): State<Arc<LabState>>) -> Json<Value> {
    Json(json!({
        "traces": lab.traces.pinned(),
        "cap": crate::lab::trace::store::MAX_PINNED,
    }))
}

/// Keeps a trace past eviction (idempotent: pinning it again changes nothing).
async fn pin_trace(
    State(lab): State<Arc<LabState>>,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, Problem> {
    use crate::lab::trace::store::PinError;
    match lab.traces.pin(&request_id) {
        Ok(pinned) => Ok(Json(json!({
            "request_id": request_id,
            "pinned": pinned,
            "cap": crate::lab::trace::store::MAX_PINNED,
        }))),
        Err(PinError::Missing) => Err(Problem::not_found(format!(
            "No trace for request {request_id}: it never reached the lab, or it is older than the last {} kept.",
            lab.config.trace_capacity
        ))),
        Err(e @ PinError::Full) => Err(Problem::new(&crate::lab::error::CONFLICT, format!("{e}."))),
    }
}

/// Lets a pinned trace go.
async fn unpin_trace(
    State(lab): State<Arc<LabState>>,
    Path(request_id): Path<String>,
) -> Result<axum::http::StatusCode, Problem> {
    if lab.traces.unpin(&request_id) {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!(
            "The trace of request {request_id} is not pinned."
        )))
    }
}

/// Server-sent events: one `trace` event per finished request, until the lab shuts down.
async fn stream_traces(
    State(lab): State<Arc<LabState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let shutdown = lab.shutdown.clone();
    let updates = BroadcastStream::new(lab.traces.subscribe()).filter_map(|item| match item {
        Ok(trace) => Event::default()
            .event("trace")
            .id(trace.request_id())
            .json_data(trace.to_trace())
            .ok()
            .map(Ok),
        // A viewer too slow to keep up skips traces rather than slowing the lab down.
        Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
            Some(Ok(Event::default().event("lagged").data(format!(
                "{n} trace(s) skipped: the viewer fell behind"
            ))))
        }
    });
    let stream =
        futures_util::StreamExt::take_until(updates, async move { shutdown.cancelled().await });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn problem_type(
    State(lab): State<Arc<LabState>>,
    Path(slug): Path<String>,
) -> Result<Json<Value>, Problem> {
    let kind = lab
        .catalog
        .problem(&slug)
        .ok_or_else(|| Problem::not_found(format!("There is no problem type `{slug}`.")))?;
    Ok(Json(json!({
        "type": format!("/_lab/problems/{slug}"),
        "title": kind.title,
        "status": kind.status,
        "explanation": kind.explanation,
    })))
}
