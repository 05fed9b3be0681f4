//! One task: read, replace, patch, delete, and the `complete` action — each answer carries the
//! task's `ETag`, reads honour `If-None-Match` (→ 304) and writes honour `If-Match` (→ 412 when
//! someone changed the task first).

use super::{Task, Tasks, missing, task_from_row, title_field};
use crate::lab::clock;
use crate::lab::conditional::{Condition, EntityTag};
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_WRITER, Sql};
use crate::lab::error::{PRECONDITION_FAILED, Problem};
use crate::lab::extract::{JsonBody, PatchBody, parse_id};
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::Fields;
use crate::stage::Stage;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::ToSql;
use serde_json::Value;
use std::sync::Arc;

/// One task by id.
const SELECT_TASK: &str = concat!("SELECT ", columns!(), " FROM tasks WHERE id = ?1");
/// A task's current version, read inside a write to check `If-Match`.
const TASK_VERSION: &str = "SELECT updated_at FROM tasks WHERE id = ?1";
/// Sets the fields given (`NULL` keeps one); `updated_at` moves only when a value changes.
const UPDATE_TASK: &str = concat!(
    "UPDATE tasks SET \
       title = COALESCE(?2, title), \
       done = COALESCE(?3, done), \
       updated_at = CASE WHEN COALESCE(?2, title) IS title AND COALESCE(?3, done) IS done \
                    THEN updated_at ELSE ?4 END \
     WHERE id = ?1 RETURNING ",
    columns!()
);
/// Removes one task.
const DELETE_TASK: &str = "DELETE FROM tasks WHERE id = ?1";
/// When the `If-Match` check runs.
const ONLY_IF_MATCH: &str = "only because the request sent If-Match";
/// When a write runs after the `If-Match` check.
const IF_MATCH_HOLDS: &str = "only if If-Match holds";

/// A task's entity tag: its id and the moment it last changed. `updated_at` moves whenever a
/// value changes, so the tag changes exactly when the representation does.
pub(super) fn etag(id: i64, updated_at: &str) -> EntityTag {
    let version: String = updated_at.chars().filter(char::is_ascii_digit).collect();
    EntityTag::strong(format!("{id}-{version}"))
}

/// A task answered with its `ETag`.
fn tagged(status: StatusCode, task: Task) -> Response {
    let tag = etag(task.id, &task.updated_at);
    with_etag((status, Json(task)).into_response(), &tag)
}

/// The response, carrying `tag` as its `ETag`.
pub(super) fn with_etag(mut response: Response, tag: &EntityTag) -> Response {
    if let Ok(value) = HeaderValue::from_str(&tag.header()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `GET /tasks/{id}`.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", summary = "Read a task",
    params(("id" = i64, Path, description = "The task's id (anything that is not a positive whole number is a 404)", minimum = 1, example = 7),
        ("If-None-Match" = Option<String>, Header, description = "ETags the client holds: when one is current, the answer is 304 with no body (a value that holds no entity tag matches none)")),
    responses(
        (status = 200, description = "The task", body = Task, headers(("ETag" = String, description = "Its version"))),
        (status = 304, description = "The copy the client holds is current", headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No task has this id"),
    ))]
pub(super) async fn get_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, SELECT_TASK, &[&id])
    })
    .await;
    let task = lab
        .db
        .read(|c| Sql::new(c, &tracer).query_opt(SELECT_TASK, &[&id], task_from_row))?;
    let task = task.ok_or_else(|| missing(&tracer, id))?;
    tracer.note(Stage::Logic, Outcome::Ok, format_args!("found task {id}"));
    if let Some(condition) = Condition::from_headers(&headers, &header::IF_NONE_MATCH) {
        let current = etag(task.id, &task.updated_at);
        if condition.matches_weakly(&current) {
            tracer.note(
                Stage::Logic,
                Outcome::Ok,
                format_args!(
                    "If-None-Match {} names the current version {}: the client's copy is current → 304 Not Modified, no body sent",
                    condition.shown(),
                    current.header()
                ),
            );
            return Ok(with_etag(
                StatusCode::NOT_MODIFIED.into_response(),
                &current,
            ));
        }
        tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!(
                "If-None-Match {} does not name the current version {}: the full task is sent",
                condition.shown(),
                current.header()
            ),
        );
    }
    Ok(tagged(StatusCode::OK, task))
}

/// PUT: replace the whole task. Both fields are required; repeating it changes nothing more.
#[utoipa::path(put, path = "/tasks/{id}", tag = "tasks", summary = "Replace a task",
    description = "Both fields are required; sending the same body again changes nothing (idempotent).",
    params(("id" = i64, Path, description = "The task's id (anything that is not a positive whole number is a 404)", minimum = 1, example = 7),
        ("If-Match" = Option<String>, Header, description = "Write only if the task is still at this ETag (else 412); a value that holds no entity tag matches none")),
    request_body(content((super::TaskReplacement = "application/json"))),
    responses(
        (status = 200, description = "The task as it is now", body = Task, headers(("ETag" = String, description = "Its new version"))),
        (status = 404, description = "No task has this id"),
        (status = 412, description = "If-Match names a version the task is no longer at: nothing was written"),
        (status = 422, description = "A field breaks its rule"),
    ))]
pub(super) async fn replace_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    let mut fields = Fields::json_object(body, &["title", "done"], &tracer);
    let title = fields.required_str("title");
    let title = title_field(&mut fields, title);
    let done = fields.required_bool("done");
    fields.finish(&gate).await?;
    gate.auth().await;
    let (Some(title), Some(done)) = (title, done) else {
        return Err(Problem::internal("validation passed without values"));
    };
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "PUT replaces the whole representation; updated_at moves only if something changed, so a repeat is a no-op",
    );
    let written = write_update(&lab, &tracer, &gate, id, Some(title), Some(done), &headers).await?;
    Ok(tagged(StatusCode::OK, answer(written, &tracer, id)?))
}

/// PATCH: change only the fields sent — as plain JSON, or as a JSON Merge Patch (RFC 7396),
/// where `null` removes a field (`done` falls back to `false`; a task cannot lose its title).
#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", summary = "Change some fields of a task",
    params(("id" = i64, Path, description = "The task's id (anything that is not a positive whole number is a 404)", minimum = 1, example = 7),
        ("If-Match" = Option<String>, Header, description = "Write only if the task is still at this ETag (else 412); a value that holds no entity tag matches none")),
    request_body(content(
        (super::TaskChanges = "application/json"),
        (super::TaskMergePatch = "application/merge-patch+json"),
    )),
    responses(
        (status = 200, description = "The task as it is now", body = Task, headers(("ETag" = String, description = "Its new version"))),
        (status = 404, description = "No task has this id"),
        (status = 412, description = "If-Match names a version the task is no longer at: nothing was written"),
        (status = 422, description = "A field breaks its rule, is null where null is not allowed, or no field was sent"),
    ))]
pub(super) async fn update_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: PatchBody,
) -> Result<Response, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    let merge_patch = body.merge_patch;
    let nulls: Vec<String> = match &body.value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    };
    let mut fields = Fields::json_object(body.value, &["title", "done"], &tracer);
    for name in &nulls {
        match (merge_patch, name.as_str()) {
            (true, "title") => fields.error(
                "title",
                "cannot be removed: a task always has a title (set another instead)",
            ),
            (true, _) => {}
            (false, _) => fields.error(
                name,
                "must not be null in a JSON body; to remove a field, send the patch as application/merge-patch+json",
            ),
        }
    }
    let title = match fields.has("title") && !nulls.iter().any(|n| n == "title") {
        true => fields
            .optional_str("title")
            .map(|t| title_field(&mut fields, t)),
        false => Some(None),
    };
    // In a merge patch, `"done": null` removes the field: it returns to its default, false.
    // In plain JSON a null was refused above, and is not read again.
    let done_null = nulls.iter().any(|n| n == "done");
    let reset_done = merge_patch && done_null;
    let done = match (reset_done, done_null) {
        (true, _) => Some(Some(false)),
        (false, true) => Some(None),
        (false, false) => fields.optional_bool("done"),
    };
    if !fields.failed("body") && !fields.has("title") && !fields.has("done") {
        fields.error("body", "send at least one of title, done");
    }
    fields.finish(&gate).await?;
    gate.auth().await;
    let title = title.flatten();
    let done = done.flatten();
    let changing: Vec<&str> = [("title", title.is_some()), ("done", done.is_some())]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    if merge_patch {
        let removed = if reset_done {
            "; done was removed, so it is back to its default, false"
        } else {
            ""
        };
        tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!(
                "applied a JSON Merge Patch (RFC 7396) to {}{removed}; fields not in the patch keep their values",
                changing.join(" and ")
            ),
        );
    } else {
        tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!(
                "PATCH changes only {}; other fields keep their values",
                changing.join(" and ")
            ),
        );
    }
    let written = write_update(&lab, &tracer, &gate, id, title, done, &headers).await?;
    Ok(tagged(StatusCode::OK, answer(written, &tracer, id)?))
}

/// How a write went.
enum Written<T> {
    /// Done; the result.
    Done(T),
    /// There is no such task.
    Missing,
    /// `If-Match` named another version than the current one.
    Stale {
        /// What the client asked for; `None` when its header held no valid entity tag.
        asked: Option<String>,
        /// The task's current tag.
        current: EntityTag,
    },
}

/// The result of a write, or the 404 or 412 it became.
fn answer<T>(written: Written<T>, tracer: &Tracer, id: i64) -> Result<T, Problem> {
    match written {
        Written::Done(value) => Ok(value),
        Written::Missing => Err(missing(tracer, id)),
        Written::Stale { asked, current } => {
            let now = current.header();
            let Some(asked) = asked else {
                tracer.note(
                    Stage::Logic,
                    Outcome::Fail,
                    "If-Match holds no valid entity tag (a tag is quoted), so it matches no version → 412; nothing was written",
                );
                return Err(Problem::new(
                    &PRECONDITION_FAILED,
                    format!(
                        "If-Match holds no valid entity tag, so it matches no version. Entity tags are quoted: send the ETag from GET /tasks/{id} as it came, such as If-Match: {now}."
                    ),
                ));
            };
            tracer.note(
                Stage::Logic,
                Outcome::Fail,
                format_args!(
                    "If-Match {asked}, but the task is now at {now}: someone changed it since the client read it → 412; nothing was written"
                ),
            );
            Err(Problem::new(
                &PRECONDITION_FAILED,
                format!(
                    "Task {id} is now at version {now}, not {asked}. Read it again (GET /tasks/{id}), reapply your change, and send it with If-Match: {now}."
                ),
            ))
        }
    }
}

/// Checks `If-Match` against the task's current version, inside the write, so no other write
/// can slip in between the check and the change.
fn precondition(
    sql: &Sql<'_>,
    id: i64,
    condition: Option<&Condition>,
    tracer: &Tracer,
) -> Result<Option<Written<std::convert::Infallible>>, DbError> {
    let Some(condition) = condition else {
        return Ok(None);
    };
    let updated_at = sql.query_opt(TASK_VERSION, &[&id], |r| r.get::<_, String>(0))?;
    let Some(updated_at) = updated_at else {
        return Ok(Some(Written::Missing));
    };
    let current = etag(id, &updated_at);
    if !condition.matches_strongly(&current) {
        return Ok(Some(Written::Stale {
            asked: (!condition.names_no_tag()).then(|| condition.shown()),
            current,
        }));
    }
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "If-Match {} holds: the task is still at the version the client read, so the write goes ahead",
            condition.shown()
        ),
    );
    Ok(None)
}

/// The same outcome, for any result type (a precondition that failed carries no result).
fn carry<T>(w: Written<std::convert::Infallible>) -> Written<T> {
    match w {
        Written::Done(never) => match never {},
        Written::Missing => Written::Missing,
        Written::Stale { asked, current } => Written::Stale { asked, current },
    }
}

/// Sets the given fields (if `If-Match` holds); `updated_at` moves only when a value actually
/// changes.
async fn write_update(
    lab: &Tasks,
    tracer: &Tracer,
    gate: &Gate,
    id: i64,
    title: Option<String>,
    done: Option<bool>,
    headers: &HeaderMap,
) -> Result<Written<Task>, Problem> {
    let t = tracer.clone();
    let condition = Condition::from_headers(headers, &header::IF_MATCH);
    // A stepped request shows its timestamp at the data hold, so it takes it before; any other
    // takes it on the writer, where timestamps follow the order of the writes.
    let now = gate.stepping().then(clock::timestamp);
    gate.hold(Stage::Data, || {
        let updated: [&dyn ToSql; 4] = [&id, &title, &done, &now];
        let update = Planned::new(UPDATE_TASK, &updated);
        match condition {
            Some(_) => Carries::sql(
                RUNS_ON_WRITER,
                &[
                    Planned::new(TASK_VERSION, &[&id]).when(ONLY_IF_MATCH),
                    update.when(IF_MATCH_HOLDS),
                ],
            ),
            None => Carries::sql(RUNS_ON_WRITER, &[update]),
        }
    })
    .await;
    let written = lab
        .db
        .write(move |conn| {
            let sql = Sql::new(conn, &t);
            if let Some(refused) = precondition(&sql, id, condition.as_ref(), &t)? {
                return Ok(carry(refused));
            }
            let now = now.unwrap_or_else(clock::timestamp);
            let task = sql.query_opt(UPDATE_TASK, &[&id, &title, &done, &now], task_from_row)?;
            Ok(task.map_or(Written::Missing, Written::Done))
        })
        .await?;
    Ok(written)
}

/// `DELETE /tasks/{id}`.
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", summary = "Delete a task",
    params(("id" = i64, Path, description = "The task's id (anything that is not a positive whole number is a 404)", minimum = 1, example = 7),
        ("If-Match" = Option<String>, Header, description = "Delete only if the task is still at this ETag (else 412); a value that holds no entity tag matches none")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No task has this id (deleting twice leaves the same state)"),
        (status = 412, description = "If-Match names a version the task is no longer at: nothing was deleted"),
    ))]
pub(super) async fn delete_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    gate.auth().await;
    let t = tracer.clone();
    let condition = Condition::from_headers(&headers, &header::IF_MATCH);
    gate.hold(Stage::Data, || match condition {
        Some(_) => Carries::sql(
            RUNS_ON_WRITER,
            &[
                Planned::new(TASK_VERSION, &[&id]).when(ONLY_IF_MATCH),
                Planned::new(DELETE_TASK, &[&id]).when(IF_MATCH_HOLDS),
            ],
        ),
        None => Carries::statement(RUNS_ON_WRITER, DELETE_TASK, &[&id]),
    })
    .await;
    let written = lab
        .db
        .write(move |conn| {
            let sql = Sql::new(conn, &t);
            if let Some(refused) = precondition(&sql, id, condition.as_ref(), &t)? {
                return Ok(carry(refused));
            }
            let deleted = sql.execute(DELETE_TASK, &[&id])?;
            Ok(if deleted == 0 {
                Written::Missing
            } else {
                Written::Done(())
            })
        })
        .await?;
    answer(written, &tracer, id)?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("deleted task {id} → 204 No Content; deleting it again will be a 404, but the state stays the same (idempotent)"),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// An action endpoint that is really the state change `done = true`.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks", summary = "Mark a task done",
    description = "An action that is really the state change done = true: calling it twice is harmless.",
    params(("id" = i64, Path, description = "The task's id (anything that is not a positive whole number is a 404)", minimum = 1, example = 7),
        ("If-Match" = Option<String>, Header, description = "Write only if the task is still at this ETag (else 412); a value that holds no entity tag matches none")),
    responses(
        (status = 200, description = "The task, done", body = Task, headers(("ETag" = String, description = "Its new version"))),
        (status = 404, description = "No task has this id"),
        (status = 412, description = "If-Match names a version the task is no longer at: nothing was written"),
    ))]
pub(super) async fn complete_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    gate.auth().await;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "the action 'complete' is modelled as the state change done = true, so calling it twice is harmless",
    );
    let written = write_update(&lab, &tracer, &gate, id, None, Some(true), &headers).await?;
    Ok(tagged(StatusCode::OK, answer(written, &tracer, id)?))
}
