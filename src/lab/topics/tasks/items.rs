//! One task: read, replace, patch, delete, and the `complete` action.

use super::{Task, Tasks, missing, task_from_row, title_field};
use crate::lab::clock;
use crate::lab::db::Sql;
use crate::lab::error::Problem;
use crate::lab::extract::{JsonBody, parse_id};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::Fields;
use crate::stage::Stage;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use std::sync::Arc;

pub(super) async fn get_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    Path(raw): Path<String>,
) -> Result<Json<Task>, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    let task = lab.db.read(|c| {
        Sql::new(c, &tracer).query_opt(
            concat!("SELECT ", columns!(), " FROM tasks WHERE id = ?1"),
            &[&id],
            task_from_row,
        )
    })?;
    let task = task.ok_or_else(|| missing(&tracer, id))?;
    tracer.note(Stage::Logic, Outcome::Ok, format_args!("found task {id}"));
    Ok(Json(task))
}

/// PUT: replace the whole task. Both fields are required; repeating it changes nothing more.
pub(super) async fn replace_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Task>, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    let mut fields = Fields::json_object(body, &["title", "done"], &tracer);
    let title = fields.required_str("title");
    let title = title_field(&mut fields, title);
    let done = fields.required_bool("done");
    fields.finish()?;
    let (Some(title), Some(done)) = (title, done) else {
        return Err(Problem::internal("validation passed without values"));
    };
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "PUT replaces the whole representation; updated_at moves only if something changed, so a repeat is a no-op",
    );
    let task = write_update(&lab, &tracer, id, Some(title), Some(done)).await?;
    Ok(Json(task.ok_or_else(|| missing(&tracer, id))?))
}

/// PATCH: change only the fields sent.
pub(super) async fn update_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Task>, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    let mut fields = Fields::json_object(body, &["title", "done"], &tracer);
    let title = fields.optional_str("title");
    let title = title.map(|t| title_field(&mut fields, t));
    let done = fields.optional_bool("done");
    if !fields.has("title") && !fields.has("done") {
        fields.error("body", "send at least one of title, done");
    }
    fields.finish()?;
    let title = title.flatten();
    let done = done.flatten();
    let changing: Vec<&str> = [("title", title.is_some()), ("done", done.is_some())]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "PATCH changes only {}; other fields keep their values",
            changing.join(" and ")
        ),
    );
    let task = write_update(&lab, &tracer, id, title, done).await?;
    Ok(Json(task.ok_or_else(|| missing(&tracer, id))?))
}

/// Sets the given fields; `updated_at` moves only when a value actually changes.
pub(super) async fn write_update(
    lab: &Tasks,
    tracer: &Tracer,
    id: i64,
    title: Option<String>,
    done: Option<bool>,
) -> Result<Option<Task>, Problem> {
    let t = tracer.clone();
    let task = lab
        .db
        .write(move |conn| {
            let now = clock::timestamp();
            let task = Sql::new(conn, &t).query_opt(
                concat!("UPDATE tasks SET \
                       title = COALESCE(?2, title), \
                       done = COALESCE(?3, done), \
                       updated_at = CASE WHEN COALESCE(?2, title) IS title AND COALESCE(?3, done) IS done \
                                    THEN updated_at ELSE ?4 END \
                     WHERE id = ?1 RETURNING ", columns!()),
                &[&id, &title, &done, &now],
                task_from_row,
            )?;
            Ok(task)
        })
        .await?;
    Ok(task)
}

pub(super) async fn delete_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    Path(raw): Path<String>,
) -> Result<StatusCode, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    let t = tracer.clone();
    let deleted = lab
        .db
        .write(move |conn| {
            Ok(Sql::new(conn, &t).execute("DELETE FROM tasks WHERE id = ?1", &[&id])?)
        })
        .await?;
    if deleted == 0 {
        return Err(missing(&tracer, id));
    }
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("deleted task {id} → 204 No Content; deleting it again will be a 404, but the state stays the same (idempotent)"),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// An action endpoint that is really the state change `done = true`.
pub(super) async fn complete_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    Path(raw): Path<String>,
) -> Result<Json<Task>, Problem> {
    let id = parse_id(&raw, "task", &tracer)?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "the action 'complete' is modelled as the state change done = true, so calling it twice is harmless",
    );
    let task = write_update(&lab, &tracer, id, None, Some(true)).await?;
    Ok(Json(task.ok_or_else(|| missing(&tracer, id))?))
}
