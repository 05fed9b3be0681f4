//! Background jobs (`/documents/ingest`, `/jobs`): work accepted now and done later.
//!
//! `POST /documents/ingest` answers `202 Accepted` with a job id and a `Location` to poll; the
//! job row and its outbox event are written in one transaction, and workers ([`worker`]) do
//! the work off the request path. An idempotency key names a request, so a client's retry gets
//! the same job. Failed attempts are retried with exponential backoff and jitter ([`backoff`]);
//! a job out of attempts is dead and listed by `GET /jobs?status=dead`, from where
//! `POST /jobs/{job_id}/retry` sends it back. When the queue is full new work is refused with
//! 503 and `Retry-After` (backpressure). `GET /job-events` streams the published events.
//!
//! - [`queue`]: the tables and every change to them.
//! - [`worker`]: the workers and the outbox dispatcher.
//! - [`backoff`]: how long a failed job waits.

pub mod backoff;
pub mod queue;
pub mod worker;

use super::Topic;
use super::tasks::idempotency::KEY_REUSED;
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_WRITER, Sql};
use crate::lab::error::{Problem, ProblemType};
use crate::lab::extract::{JsonBody, QueryPairs};
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, int_param};
use crate::stage::Stage;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use queue::{Enqueued, Job};
use rusqlite::ToSql;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Background jobs.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "jobs",
        migrations: &[queue::MIGRATION_1],
        seed: None,
    },
    problems: &[&QUEUE_FULL, &JOB_NOT_DEAD],
    links: &[
        ("ingest", "/documents/ingest"),
        ("jobs", "/jobs"),
        ("job_events", "/job-events"),
    ],
    router,
};

/// 503: the queue holds as much work as the lab accepts.
pub static QUEUE_FULL: ProblemType = ProblemType {
    slug: "queue-full",
    status: Some(503),
    title: "The job queue is full",
    explanation: "The server already holds as much waiting work as it can finish in reasonable time, so it refuses new work instead of accepting jobs it would run late. This is backpressure: Retry-After says when there should be room. Send the same request again then (with the same idempotency key).",
};

/// 409: only a dead job can be sent back to the queue.
pub static JOB_NOT_DEAD: ProblemType = ProblemType {
    slug: "job-not-dead",
    status: Some(409),
    title: "Only a dead job can be retried",
    explanation: "A job that is queued, running or failed (waiting for its next attempt) is still being worked on, and one that succeeded is done. Only a job that used all its attempts (status dead, in the dead-letter list) can be sent back to the queue.",
};

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new()
        .routes(routes!(ingest))
        .routes(routes!(list_jobs))
        .routes(routes!(job_events))
        .routes(routes!(get_job))
        .routes(routes!(retry_job))
        .with_state(Arc::clone(lab)))
}

const TENANT_MAX: usize = 100;
const OBJECT_KEY_MAX: usize = 500;
const KEY_MAX: usize = 200;
/// The longest a job's simulated work may take.
const WORK_MS_MAX: i64 = 30_000;
const WORK_MS_DEFAULT: i64 = 300;
/// Failures on purpose, at most.
const FAIL_TIMES_MAX: i64 = 10;
/// The longest job id looked up (ours are 36 characters).
const JOB_ID_MAX: usize = 64;

/// Work to accept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
struct IngestRequest {
    /// Whose document it is.
    #[schema(
        example = "acme",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    tenant_id: String,
    /// Where the document is stored.
    #[schema(
        example = "uploads/report.pdf",
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    object_key: String,
    /// Names this request: sent again (a retry), it gets the same job.
    #[schema(
        example = "ingest-report-1",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    idempotency_key: String,
    /// How long the work takes, in milliseconds (a knob of the lab's).
    #[schema(minimum = 0, maximum = 30000, default = 300, nullable = false)]
    work_ms: Option<i64>,
    /// How many attempts fail before one succeeds (a knob of the lab's).
    #[schema(minimum = 0, maximum = 10, default = 0, nullable = false)]
    fail_times: Option<i64>,
}

#[utoipa::path(post, path = "/documents/ingest", tag = "jobs", summary = "Accept a document for processing, to be done later",
    description = "Answers at once with 202 and the job; a worker does the work. The same idempotency_key with the same fields gets the same job (Idempotent-Replayed: true); with other fields, 422. When the jobs waiting or running reach the queue limit, 503 with Retry-After.",
    request_body(content((IngestRequest = "application/json"))),
    responses(
        (status = 202, description = "Accepted: the job, queued (or, for a retry, as it is now)", body = Job, headers(
            ("Location" = String, description = "Where to follow the job: /jobs/{job_id}"),
            ("Idempotent-Replayed" = String, description = "true when the key was seen before and this is its job"))),
        (status = 422, description = "A field breaks its rule, or the idempotency_key was used with other fields"),
        (status = 503, description = "The queue is full", headers(("Retry-After" = String, description = "Seconds until there should be room"))),
    ))]
async fn ingest(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let mut fields = Fields::json_object(
        body,
        &[
            "tenant_id",
            "object_key",
            "idempotency_key",
            "work_ms",
            "fail_times",
        ],
        &tracer,
    );
    let tenant_id = fields.required_str("tenant_id");
    let tenant_id = fields.visible_text("tenant_id", tenant_id, TENANT_MAX);
    let object_key = fields.required_str("object_key");
    let object_key = fields.visible_text("object_key", object_key, OBJECT_KEY_MAX);
    let key = fields.required_str("idempotency_key");
    let key = fields.visible_text("idempotency_key", key, KEY_MAX);
    let work_ms = fields.optional_int("work_ms", 0, WORK_MS_MAX);
    let fail_times = fields.optional_int("fail_times", 0, FAIL_TIMES_MAX);
    fields.finish(&gate).await?;
    let (Some(tenant_id), Some(object_key), Some(idempotency_key), Some(work_ms), Some(fail_times)) =
        (tenant_id, object_key, key, work_ms, fail_times)
    else {
        return Err(Problem::internal("validation passed without values"));
    };
    let request = queue::Request {
        tenant_id,
        object_key,
        idempotency_key,
        work_ms: work_ms.unwrap_or(WORK_MS_DEFAULT),
        fail_times: fail_times.unwrap_or(0),
    };
    gate.auth().await;
    let limit = lab.config.queue_limit;
    gate.hold(Stage::Data, || {
        let find: [&dyn ToSql; 1] = [&request.idempotency_key];
        Carries::sql(
            RUNS_ON_WRITER,
            &[
                Planned::new(queue::ENQUEUE_STATEMENTS[0], &find).when("inside BEGIN … COMMIT"),
                Planned::new(queue::ENQUEUE_STATEMENTS[1], &[])
                    .when("if the key is new: is there room?"),
                Planned::new(queue::ENQUEUE_STATEMENTS[2], &[]).when("if there is room"),
                Planned::new(queue::ENQUEUE_STATEMENTS[3], &[])
                    .when("with it, the job.queued event; then COMMIT"),
            ],
        )
    })
    .await;
    let t = tracer.clone();
    let r = request.clone();
    let enqueued = lab
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let out = queue::enqueue(&Sql::new(&tx, &t), &r, limit)?;
            tx.commit()?;
            Ok(out)
        })
        .await?;
    let (job, replayed) = match enqueued {
        Enqueued::New(job) => {
            let job_id = &job.job_id;
            tracer.note(
                Stage::Data,
                Outcome::Ok,
                format_args!("COMMIT: the job row and its job.queued event are written together (the outbox), so the event exists exactly when the job does"),
            );
            tracer.note(
                Stage::Logic,
                Outcome::Ok,
                format_args!("accepted job {job_id} → 202: the request ends here (the hot path); a worker does the {} ms of work later (the cold path)", request.work_ms),
            );
            lab.jobs.queued.notify_one();
            lab.jobs.changed.notify_one();
            (job, false)
        }
        Enqueued::Replay(job) => {
            tracer.note(
                Stage::Logic,
                Outcome::Ok,
                format_args!(
                    "idempotency key {:?} was seen with the same fields: its job {}, no new work",
                    request.idempotency_key, job.job_id
                ),
            );
            (job, true)
        }
        Enqueued::KeyReused => {
            tracer.note(
                Stage::Validation,
                Outcome::Fail,
                format_args!(
                    "idempotency key {:?} was first sent with other fields → 422",
                    request.idempotency_key
                ),
            );
            return Err(Problem::new(
                &KEY_REUSED,
                "This idempotency_key was first sent with other fields. A key names one request; use a new key for new work.",
            ));
        }
        Enqueued::Full { depth, work_ms } => {
            let workers = worker::WORKERS as i64;
            let seconds = ((work_ms / workers + 999) / 1000).clamp(1, 60);
            tracer.note(
                Stage::Logic,
                Outcome::Fail,
                format_args!("{depth} job(s) wait or run, the queue limit is {limit}: refused → 503 with Retry-After: {seconds} (about {work_ms} ms of queued work for {workers} workers)"),
            );
            return Err(Problem::new(
                &QUEUE_FULL,
                format!("{depth} jobs are waiting or running, the most this lab accepts. Send the same request again in {seconds} s."),
            )
            .with_header_value(header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
    };
    Ok(accepted(*job, replayed))
}

/// 202 with the job and where to follow it; a replay says so.
fn accepted(job: Job, replayed: bool) -> Response {
    let location = HeaderValue::from_str(&format!("/jobs/{}", job.job_id));
    let mut response = (StatusCode::ACCEPTED, Json(job)).into_response();
    if let Ok(value) = location {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A job with its history, read on a pooled connection.
fn read_job(lab: &LabState, tracer: &Tracer, job_id: &str) -> Result<Option<Job>, Problem> {
    Ok(lab
        .db
        .read(|c| queue::find_job(&Sql::new(c, tracer), job_id))?)
}

#[utoipa::path(get, path = "/jobs/{job_id}", tag = "jobs", summary = "Follow a job",
    params(("job_id" = String, Path, description = "The id POST /documents/ingest answered with")),
    responses(
        (status = 200, description = "The job: its status, attempts, and every attempt's outcome", body = Job),
        (status = 404, description = "No job has this id"),
    ))]
async fn get_job(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    Path(job_id): Path<String>,
) -> Result<Json<Job>, Problem> {
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, queue::SELECT_JOB, &[&job_id])
    })
    .await;
    let job = if job_id.len() > JOB_ID_MAX {
        None
    } else {
        read_job(&lab, &tracer, &job_id)?
    };
    let Some(job) = job else {
        tracer.note(Stage::Logic, Outcome::Fail, "no job has this id → 404");
        return Err(Problem::not_found("There is no job with this id."));
    };
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "job {}: {} after {} of {} attempt(s)",
            job.job_id, job.status, job.attempts, job.max_attempts
        ),
    );
    Ok(Json(job))
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
struct JobList {
    items: Vec<Job>,
    /// The status asked for, if any.
    status: Option<String>,
    limit: i64,
}

#[utoipa::path(get, path = "/jobs", tag = "jobs", summary = "List jobs, newest first; ?status=dead is the dead-letter list",
    params(
        ("status" = Option<String>, Query, description = "Only jobs with this status", pattern = "^(queued|running|succeeded|failed|dead)$"),
        ("limit" = Option<i64>, Query, description = "Jobs per page", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "The newest jobs (without their history)", body = JobList),
        (status = 422, description = "status or limit breaks its rule"),
    ))]
async fn list_jobs(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Json<JobList>, Problem> {
    let mut fields = Fields::query(&tracer);
    let status = match query.get("status") {
        None => None,
        Some(s) if queue::STATUSES.contains(&s) => {
            fields.accept("status", s);
            Some(s.to_string())
        }
        Some(other) => {
            fields.error(
                "status",
                format!(
                    "must be one of {}, got `{}`",
                    queue::STATUSES.join(", "),
                    crate::lab::validate::shorten(other, 40)
                ),
            );
            None
        }
    };
    let limit = int_param(&mut fields, "limit", query.get("limit"), 20, 1, 100);
    fields.finish(&gate).await?;
    gate.auth().await;
    let statement = if status.is_some() {
        queue::LIST_BY_STATUS
    } else {
        queue::LIST_ALL
    };
    let filter = status.clone().unwrap_or_default();
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, statement, &[&filter, &limit])
    })
    .await;
    let items = lab.db.read(|c| {
        Sql::new(c, &tracer).query(statement, &[&filter, &limit], |r| {
            Ok(queue::job_from_row(r)?.1)
        })
    })?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "{} job(s){}, newest first",
            items.len(),
            status
                .as_deref()
                .map_or(String::new(), |s| format!(" with status {s}"))
        ),
    );
    Ok(Json(JobList {
        items,
        status,
        limit,
    }))
}

#[utoipa::path(post, path = "/jobs/{job_id}/retry", tag = "jobs", summary = "Send a dead job back to the queue",
    description = "A redrive from the dead-letter list: the job is queued again with a fresh set of attempts.",
    params(("job_id" = String, Path, description = "A dead job's id")),
    responses(
        (status = 202, description = "Queued again", body = Job, headers(("Location" = String, description = "/jobs/{job_id}"))),
        (status = 404, description = "No job has this id"),
        (status = 409, description = "The job is not dead"),
    ))]
async fn retry_job(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    Path(job_id): Path<String>,
) -> Result<Response, Problem> {
    gate.auth().await;
    gate.hold(Stage::Data, || {
        let find: [&dyn ToSql; 1] = [&job_id];
        Carries::sql(
            RUNS_ON_WRITER,
            &[
                Planned::new(queue::REDRIVE_FIND, &find).when("inside BEGIN … COMMIT"),
                Planned::new(queue::REDRIVE, &[])
                    .when("if it is dead; with a job.queued event, then COMMIT"),
            ],
        )
    })
    .await;
    let t = tracer.clone();
    let id = job_id.clone();
    let done = if job_id.len() > JOB_ID_MAX {
        None
    } else {
        lab.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                let out = queue::redrive(&Sql::new(&tx, &t), &id)?;
                tx.commit()?;
                Ok(out)
            })
            .await?
    };
    match done {
        None => {
            tracer.note(Stage::Logic, Outcome::Fail, "no job has this id → 404");
            Err(Problem::not_found("There is no job with this id."))
        }
        Some(Err(status)) => {
            tracer.note(
                Stage::Logic,
                Outcome::Fail,
                format_args!("the job is {status}, not dead: nothing to send back → 409"),
            );
            Err(Problem::new(
                &JOB_NOT_DEAD,
                format!(
                    "This job is {status}. Only a dead job (out of attempts) can be sent back to the queue."
                ),
            ))
        }
        Some(Ok(())) => {
            tracer.note(
                Stage::Logic,
                Outcome::Ok,
                "the dead job is queued again with a fresh set of attempts → 202",
            );
            lab.jobs.queued.notify_one();
            lab.jobs.changed.notify_one();
            let job = read_job(&lab, &tracer, &job_id)?
                .ok_or_else(|| Problem::internal("a job just queued was not found"))?;
            Ok(accepted(job, false))
        }
    }
}

/// How many events one read of the outbox sends at most.
const EVENTS_PER_READ: i64 = 100;
/// How often a stream looks for events published by another process.
const EVENTS_POLL: Duration = Duration::from_millis(500);

#[utoipa::path(get, path = "/job-events", tag = "jobs", summary = "Follow every job as server-sent events",
    description = "Each event the outbox dispatcher published (job.queued, job.running, job.failed, job.succeeded, job.dead), with the outbox row's id as the event id: reconnect with Last-Event-ID to get what you missed (the newest 1000 events are kept; a gap event says which were let go). Without it, the stream starts with the next event. It never ends by itself.",
    params(("Last-Event-ID" = Option<i64>, Header, description = "The last event id you received")),
    responses((status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String)))]
async fn job_events(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id >= 0);
    let newest = lab.db.read(queue::last_event)?;
    // An id past the newest (from before the database was reset) would wait for events
    // that may never come: the stream starts from now instead.
    let after = resume.filter(|id| *id <= newest).unwrap_or(newest);
    tracer.note(
        Stage::Response,
        Outcome::Ok,
        format_args!(
            "streaming published job events after event {after}{}",
            if resume.is_some() {
                " (Last-Event-ID)"
            } else {
                " (the newest so far)"
            }
        ),
    );
    let stream = futures_util::stream::unfold(
        (lab, after, VecDeque::<queue::Event>::new()),
        |(lab, mut after, mut pending)| async move {
            loop {
                if let Some(event) = pending.pop_front() {
                    let sse = Event::default()
                        .id(event.id.to_string())
                        .event(event.event)
                        .data(event.payload);
                    return Some((Ok(sse), (lab, after, pending)));
                }
                if lab.shutdown.is_cancelled() {
                    return None;
                }
                match lab
                    .db
                    .read(|c| queue::events_after(c, after, EVENTS_PER_READ))
                {
                    Ok(found) if !found.is_empty() => {
                        // Outbox ids have no gaps: a jump means older events were let go
                        // (only the newest are kept) before this client read them.
                        if let Some(first) = found.first()
                            && first.id > after + 1
                        {
                            pending.push_back(queue::Event {
                                id: first.id - 1,
                                event: "gap".into(),
                                payload: serde_json::json!({
                                    "missed_from": after + 1,
                                    "missed_to": first.id - 1,
                                    "why": "these events are no longer kept; read the jobs' status with GET /jobs",
                                })
                                .to_string(),
                            });
                        }
                        after = found.last().map_or(after, |e| e.id);
                        pending.extend(found);
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("a job event stream could not read the outbox: {e}"),
                }
                tokio::select! {
                    _ = lab.jobs.published.notified() => {}
                    _ = tokio::time::sleep(EVENTS_POLL) => {}
                    _ = lab.shutdown.cancelled() => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
