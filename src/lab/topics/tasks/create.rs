//! `POST /tasks`: the server assigns the id and the timestamps; with an `Idempotency-Key`, a
//! retried create answers with the first response instead of making a second task.

use super::idempotency::{self, Claim};
use super::items::{etag, with_etag};
use super::{Tasks, task_from_row, title_field};
use crate::lab::clock;
use crate::lab::db::{DbError, RUNS_ON_WRITER, Sql};
use crate::lab::error::Problem;
use crate::lab::extract::JsonBody;
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::Fields;
use crate::stage::Stage;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::ToSql;
use std::sync::Arc;

/// Adds a task; the server assigns its id and timestamps.
const INSERT_TASK: &str = concat!(
    "INSERT INTO tasks (title, done, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) RETURNING ",
    columns!()
);
/// When a claimed key's response is kept.
const AFTER_INSERT: &str =
    "only if the key is new, after the insert: ?3 and ?4 are the new task's JSON and Location";

/// Marks a response replayed for a repeated Idempotency-Key.
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `POST /tasks`.
#[utoipa::path(post, path = "/tasks", tag = "tasks", summary = "Create a task",
    description = "The server assigns the id and both timestamps. With an Idempotency-Key, a retry with the same body gets the first answer again (Idempotent-Replayed: true) instead of a second task.",
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible characters, such as a UUID: repeating the request with it creates the task once", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    request_body(content((super::NewTask = "application/json"))),
    responses(
        (status = 201, description = "Created (or, for a repeated Idempotency-Key, the first answer replayed)", body = super::Task,
            headers(
                ("Location" = String, description = "The new task's address"),
                ("ETag" = String, description = "Its version, for If-None-Match and If-Match"),
                ("Idempotent-Replayed" = String, description = "true when this is the first answer replayed"),
            )),
        (status = 400, description = "The body is not valid JSON, or the Idempotency-Key is not 1 to 255 visible characters (or was sent twice)"),
        (status = 409, description = "A request with this Idempotency-Key is still being handled"),
        (status = 422, description = "A field breaks its rule, or the Idempotency-Key was used before with another body"),
    ))]
pub(super) async fn create_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    gate: Gate,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let key = idempotency::key(&headers, &tracer)?;
    let fingerprint = idempotency::fingerprint(&serde_json::to_vec(&body).unwrap_or_default());
    let mut fields = Fields::json_object(body, &["title", "done"], &tracer);
    let title = fields.required_str("title");
    let title = title_field(&mut fields, title);
    let done = fields.optional_bool("done");
    fields.finish(&gate).await?;
    let (Some(title), Some(done)) = (title, done) else {
        return Err(Problem::internal("validation passed without values"));
    };
    gate.auth().await;
    gate.hold(Stage::Logic, || {
        let mut carries = Carries::new(
            "the handler's rules, before the database: the server assigns the id and both timestamps, and done defaults to false",
        )
        .with_field("title", format_args!("{title:?}"));
        match done {
            Some(done) => carries.field("done", done),
            None => carries.field("done", "false (absent, so the default)"),
        }
        match &key {
            Some(key) => carries.field(
                "Idempotency-Key",
                format_args!("{key}: a repeat with this body replays the first answer"),
            ),
            None => carries.field(
                "Idempotency-Key",
                "none: a retry of this request would create a second task",
            ),
        }
        carries
    })
    .await;
    let done = done.unwrap_or(false);

    // A stepped request shows its timestamps at the data hold, so it takes them before; any
    // other takes them on the writer, where timestamps follow the order of the writes. (A
    // stepped claim's lease so counts from the hold; claim and insert then run back to back.)
    let claimed_at = gate.stepping().then(clock::wall_micros);
    let now = gate.stepping().then(clock::timestamp);
    gate.hold(Stage::Data, || {
        let inserted: [&dyn ToSql; 3] = [&title, &done, &now];
        let insert = Planned::new(INSERT_TASK, &inserted);
        match (&key, claimed_at) {
            (Some(key), Some(claimed_at)) => {
                let kept: [&dyn ToSql; 2] = [key, &201];
                idempotency::carries(
                    RUNS_ON_WRITER,
                    key,
                    &fingerprint,
                    claimed_at,
                    &[
                        insert.when(idempotency::ONLY_IF_NEW),
                        Planned::new(idempotency::COMPLETE_KEY, &kept).when(AFTER_INSERT),
                    ],
                )
            }
            _ => Carries::sql(RUNS_ON_WRITER, &[insert]),
        }
    })
    .await;

    if let Some(key) = &key {
        let t = tracer.clone();
        let (k, f) = (key.clone(), fingerprint.clone());
        let claim = lab
            .db
            .write(move |conn| {
                let at = claimed_at.unwrap_or_else(clock::wall_micros);
                idempotency::claim(conn, &t, &k, &f, at)
            })
            .await?;
        match claim {
            Claim::New => tracer.note(
                Stage::Logic,
                Outcome::Ok,
                format_args!(
                    "Idempotency-Key {key} is new: claimed it, and the task is created once"
                ),
            ),
            Claim::Replay {
                status,
                body,
                location,
            } => {
                tracer.note(
                    Stage::Logic,
                    Outcome::Ok,
                    format_args!(
                        "Idempotency-Key {key} was used before with this same body: replaying its first response ({status}); no second task is created"
                    ),
                );
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
                let mut response =
                    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
                let headers = response.headers_mut();
                headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
                if let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                    headers.insert(header::LOCATION, value);
                }
                return Ok(response);
            }
            Claim::Mismatch => {
                tracer.note(
                    Stage::Logic,
                    Outcome::Fail,
                    format_args!("Idempotency-Key {key} was first used with another body → 422; nothing was created"),
                );
                return Err(Problem::new(
                    &idempotency::KEY_REUSED,
                    format!(
                        "Idempotency-Key {key} was first sent with another body. Use a new key for a new task."
                    ),
                ));
            }
            Claim::Running => {
                tracer.note(
                    Stage::Logic,
                    Outcome::Fail,
                    format_args!("Idempotency-Key {key}: its first request is still running → 409"),
                );
                return Err(Problem::new(
                    &idempotency::KEY_IN_FLIGHT,
                    format!(
                        "A request with Idempotency-Key {key} is still running; retry with the same key in a moment."
                    ),
                ));
            }
        }
    }

    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "creating a task: the server assigns the id and both timestamps",
    );
    let t = tracer.clone();
    let claimed = key.clone();
    let created = lab
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let now = now.unwrap_or_else(clock::timestamp);
            let inserted =
                Sql::new(&tx, &t).query_opt(INSERT_TASK, &[&title, &done, &now], task_from_row);
            let task = match inserted {
                Ok(Some(task)) => task,
                failed => {
                    drop(tx);
                    // The claim is let go, so the client's retry can run.
                    if let Some(key) = &claimed {
                        idempotency::release(conn, &t, key)?;
                    }
                    return match failed {
                        Err(e) => Err(DbError::from(e)),
                        _ => Err(DbError::Task("insert returned no row".into())),
                    };
                }
            };
            let body = serde_json::to_string(&task).map_err(|e| DbError::Task(e.to_string()))?;
            let location = format!("/tasks/{}", task.id);
            if let Some(key) = &claimed {
                idempotency::complete(&tx, &t, key, 201, &body, &location)?;
            }
            tx.commit()?;
            Ok((task, body, location))
        })
        .await?;
    let (task, body, location) = created;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("created task {} → 201 with Location: {location}", task.id),
    );
    let mut response = (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(with_etag(response, &etag(task.id, &task.updated_at)))
}
