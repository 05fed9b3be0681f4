//! `POST /tasks`: the server assigns the id and the timestamps.

use super::{Tasks, task_from_row, title_field};
use crate::lab::clock;
use crate::lab::db::Sql;
use crate::lab::error::Problem;
use crate::lab::extract::JsonBody;
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::Fields;
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub(super) async fn create_task(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let mut fields = Fields::json_object(body, &["title", "done"], &tracer);
    let title = fields.required_str("title");
    let title = title_field(&mut fields, title);
    let done = fields.optional_bool("done");
    fields.finish()?;
    let (Some(title), Some(done)) = (title, done) else {
        return Err(Problem::internal("validation passed without values"));
    };
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        "creating a task: the server assigns the id and both timestamps",
    );
    let t = tracer.clone();
    let task = lab
        .db
        .write(move |conn| {
            let now = clock::timestamp();
            let sql = Sql::new(conn, &t);
            let task = sql.query_opt(
                concat!("INSERT INTO tasks (title, done, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) RETURNING ", columns!()),
                &[&title, &done.unwrap_or(false), &now],
                task_from_row,
            )?;
            task.ok_or_else(|| crate::lab::db::DbError::Task("insert returned no row".into()))
        })
        .await?;
    let location = format!("/tasks/{}", task.id);
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("created task {} → 201 with Location: {location}", task.id),
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(task),
    )
        .into_response())
}
