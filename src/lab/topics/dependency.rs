//! `/quotes` calls a slow dependency over HTTP with a timeout: `/upstream/quote` stands in for
//! another service (it answers after `delay_ms`), and the lab calls it on its own address, so
//! the call is a real outbound request. Past `timeout_ms` the lab gives up and answers 504
//! instead of waiting; the call carries the request's `traceparent`, so the dependency's work
//! belongs to the same distributed trace.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::error::{Problem, ProblemType};
use crate::lab::extract::QueryPairs;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::Gate;
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, int_param};
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A slow dependency, and a call to it with a timeout.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "dependency",
        migrations: &[],
        seed: None,
    },
    problems: &[&GATEWAY_TIMEOUT, &BAD_GATEWAY],
    links: &[("quotes", "/quotes"), ("upstream", "/upstream/quote")],
    router,
};

/// The dependency did not answer in time.
pub static GATEWAY_TIMEOUT: ProblemType = ProblemType {
    slug: "gateway-timeout",
    status: Some(504),
    title: "A dependency did not answer in time",
    explanation: "The server called another service to answer this request and gave up when the call took longer than its timeout, rather than wait without end: the caller gets a prompt 504 and the server's workers are free again.",
};

/// The dependency answered with an error, or could not be reached.
pub static BAD_GATEWAY: ProblemType = ProblemType {
    slug: "bad-gateway",
    status: Some(502),
    title: "A dependency failed",
    explanation: "The server called another service to answer this request, and that call failed: it could not be reached, or it answered with an error.",
};

/// Longest delay and timeout: enough to see the difference, short enough for load and tests.
const MAX_MS: i64 = 500;

struct Calls {
    lab: Arc<LabState>,
    client: reqwest::Client,
}

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| DbError::Task(e.to_string()))?;
    let calls = Arc::new(Calls {
        lab: Arc::clone(lab),
        client,
    });
    Ok(OpenApiRouter::new()
        .routes(routes!(upstream_quote))
        .routes(routes!(quotes))
        .with_state(calls))
}

/// What the dependency answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Quote {
    quote: String,
    /// How long it waited before answering.
    #[schema(minimum = 0, maximum = 500)]
    waited_ms: i64,
    /// The traceparent the call carried, if any.
    traceparent: Option<String>,
}

/// Reads a `0..=MAX_MS` millisecond parameter.
fn millis(fields: &mut Fields<'_>, query: &QueryPairs, name: &str, default: i64, min: i64) -> i64 {
    int_param(fields, name, query.get(name), default, min, MAX_MS)
}

#[utoipa::path(get, path = "/upstream/quote", tag = "dependency", summary = "A slow dependency",
    description = "Stands in for another service: answers after delay_ms milliseconds.",
    params(
        ("delay_ms" = Option<i64>, Query, description = "How long to wait before answering", minimum = 0, maximum = 500),
        ("traceparent" = Option<String>, Header, description = "The caller's trace context"),
    ),
    responses(
        (status = 200, description = "A quote, late by delay_ms", body = Quote),
        (status = 422, description = "delay_ms is not a whole number from 0 to 500"),
    ))]
async fn upstream_quote(
    tracer: Tracer,
    gate: Gate,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<Json<Quote>, Problem> {
    let mut fields = Fields::query(&tracer);
    let delay = millis(&mut fields, &query, "delay_ms", 0, 0);
    fields.finish(&gate).await?;
    gate.auth().await;
    tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("the dependency answered after waiting {delay} ms, as asked"),
    );
    Ok(Json(Quote {
        quote: "Measure twice, cut once.".into(),
        waited_ms: delay,
        traceparent: headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }))
}

/// The answer of `/quotes`.
#[derive(Debug, Serialize, ToSchema)]
struct QuoteAnswer {
    quote: String,
    /// How long the call to the dependency took.
    #[schema(minimum = 0)]
    call_ms: u64,
    /// The timeout the call had.
    #[schema(minimum = 1, maximum = 500)]
    timeout_ms: i64,
}

#[utoipa::path(get, path = "/quotes", tag = "dependency", summary = "Call a slow dependency, with a timeout",
    description = "Calls /upstream/quote over HTTP (the lab's own address standing in for another service) and waits at most timeout_ms for it. A dependency slower than that gets a 504 at once instead of a long wait.",
    params(
        ("delay_ms" = Option<i64>, Query, description = "How slow the dependency is this time", minimum = 0, maximum = 500),
        ("timeout_ms" = Option<i64>, Query, description = "How long to wait for it (default 200)", minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, description = "The dependency answered in time", body = QuoteAnswer),
        (status = 422, description = "delay_ms or timeout_ms breaks its rule"),
        (status = 502, description = "The dependency could not be reached or failed"),
        (status = 504, description = "The dependency did not answer within timeout_ms"),
    ))]
async fn quotes(
    State(calls): State<Arc<Calls>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Json<QuoteAnswer>, Problem> {
    let mut fields = Fields::query(&tracer);
    let delay = millis(&mut fields, &query, "delay_ms", 0, 0);
    let timeout = millis(&mut fields, &query, "timeout_ms", 200, 1);
    fields.finish(&gate).await?;
    gate.auth().await;
    let Some(addr) = calls.lab.bound.get() else {
        return Err(Problem::new(
            &BAD_GATEWAY,
            "This lab is not listening on a socket, so it cannot call the dependency over HTTP.",
        ));
    };
    let url = format!("http://{addr}/upstream/quote?delay_ms={delay}");
    let traceparent = tracer.outgoing_traceparent();
    let mut request = calls
        .client
        .get(&url)
        .timeout(Duration::from_millis(timeout as u64));
    if let Some(value) = &traceparent {
        request = request.header("traceparent", value);
    }
    let started = Instant::now();
    let result = request.send().await;
    let call_ms = started.elapsed().as_millis() as u64;
    let carried = traceparent
        .as_deref()
        .map(|t| format!(" with traceparent {t}"))
        .unwrap_or_default();
    let response = match result {
        Ok(response) => response,
        Err(e) if e.is_timeout() => {
            tracer.timed(
                Stage::Logic,
                started,
                Outcome::Fail,
                format_args!("called the dependency (GET /upstream/quote, {delay} ms slow){carried}; gave up after the {timeout} ms timeout → 504, without waiting for it"),
            );
            return Err(Problem::new(
                &GATEWAY_TIMEOUT,
                format!(
                    "The dependency did not answer within {timeout} ms (it takes {delay} ms this time); the lab stopped waiting."
                ),
            ));
        }
        Err(_) => {
            tracer.timed(
                Stage::Logic,
                started,
                Outcome::Fail,
                format_args!("called the dependency{carried}; it could not be reached → 502"),
            );
            return Err(Problem::new(
                &BAD_GATEWAY,
                "The dependency could not be reached.",
            ));
        }
    };
    let quote: Quote = match response.json().await {
        Ok(quote) => quote,
        Err(_) => {
            return Err(Problem::new(
                &BAD_GATEWAY,
                "The dependency answered something that is not a quote.",
            ));
        }
    };
    tracer.timed(
        Stage::Logic,
        started,
        Outcome::Ok,
        format_args!("called the dependency (GET /upstream/quote){carried}; it answered in {call_ms} ms, within the {timeout} ms timeout"),
    );
    Ok(Json(QuoteAnswer {
        quote: quote.quote,
        call_ms,
        timeout_ms: timeout,
    }))
}
