//! `/tasks`: a REST resource on SQLite — CRUD, an action as a state change, offset and cursor
//! pagination with sorting and filtering.

use super::Topic;
use crate::lab::clock;
use crate::lab::cursor::{CursorCodec, CursorError};
use crate::lab::db::{Db, DbError, Sql};
use crate::lab::error::{Problem, ProblemType};
use crate::lab::extract::{JsonBody, QueryPairs, parse_id};
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, int_param, length_problem};
use crate::stage::Stage;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::Row;
use serde::Serialize;
use std::sync::Arc;

/// `/tasks`: CRUD, an action, offset and cursor pages.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "tasks",
        migrations: &[MIGRATION_1],
        seed: Some(seed),
    },
    problems: &[&BAD_CURSOR],
    links: &[("tasks", "/tasks")],
    router,
};

/// The tasks table, and the key that signs this topic's cursors. randomblob() draws on
/// SQLite's generator, which is seeded from the operating system's randomness.
const MIGRATION_1: &str = r#"
CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    done       INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- Serves newest-first lists and the (created_at, id) cursor in one index walk.
CREATE INDEX tasks_by_created ON tasks (created_at DESC, id DESC);
INSERT INTO lab_meta (key, value) VALUES ('cursor_key', randomblob(32));
"#;

/// Demo rows, so the very first request already shows something.
pub const SEED_TASKS: &[(&str, bool)] = &[
    ("Read the HTTP lesson", true),
    ("Send a request with curl", true),
    ("Watch a trace in a second terminal", false),
    ("Create a task with POST /tasks", false),
    ("Break validation on purpose", false),
    ("Find the Allow header on a 405", false),
    ("Page through tasks with limit and offset", false),
    ("Follow a cursor to the last page", false),
    ("Register a user twice and get a 409", false),
    ("Compare PUT and PATCH", false),
    ("Mark a task done with PATCH", false),
    ("Build the same API in your own stack", false),
];

fn seed(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    // Spread over the past hours so lists and cursors have a visible order.
    let now = clock::unique_now_micros();
    let hour = 3_600_000_000i64;
    let count = SEED_TASKS.len() as i64;
    for (i, (title, done)) in SEED_TASKS.iter().enumerate() {
        let ts = clock::format_micros(now - (count - i as i64) * hour);
        tx.execute(
            "INSERT INTO tasks (title, done, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            rusqlite::params![title, done, ts],
        )?;
    }
    Ok(())
}

/// 400: a pagination cursor was altered, expired or mixed with other parameters.
pub static BAD_CURSOR: ProblemType = ProblemType {
    slug: "bad-cursor",
    status: Some(400),
    title: "The pagination cursor is not valid",
    explanation: "Cursors are opaque tokens the server signs. One that was edited, cut short, issued for another filter or order, or combined with offset is refused with 400 instead of silently returning the wrong page.",
};

/// What the tasks handlers share.
#[derive(Debug)]
struct Tasks {
    db: Arc<Db>,
    /// Signs pagination cursors with this database's key.
    cursors: CursorCodec,
}

fn router(lab: &Arc<LabState>) -> Result<Router, DbError> {
    let tasks = Tasks {
        db: Arc::clone(&lab.db),
        cursors: CursorCodec::new(lab.db.secret("cursor_key")?),
    };
    Ok(Router::new()
        .route("/tasks", get(list_tasks).post(create_task))
        .route(
            "/tasks/{id}",
            get(get_task)
                .put(replace_task)
                .patch(update_task)
                .delete(delete_task),
        )
        .route("/tasks/{id}/complete", post(complete_task))
        // Tasks change at any time: a cache may keep one only if it asks again before use.
        .layer(cache_control("private, no-cache"))
        .with_state(Arc::new(tasks)))
}

/// A task as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    id: i64,
    title: String,
    done: bool,
    created_at: String,
    updated_at: String,
}

/// The columns every query returns, in the order the row mapper reads them. A macro, so
/// statements are `&'static str` built at compile time, not formatted per request.
macro_rules! columns {
    () => {
        "id, title, done, created_at, updated_at"
    };
}
const TITLE_MAX: usize = 200;
/// Page size bounds: no unbounded lists.
const LIMIT_MAX: i64 = 100;
const LIMIT_DEFAULT: i64 = 20;

fn task_from_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        title: r.get(1)?,
        done: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

fn title_field(fields: &mut Fields<'_>, title: Option<String>) -> Option<String> {
    let title = title?;
    match length_problem(&title, 1, TITLE_MAX) {
        Some(problem) => {
            fields.error("title", problem);
            None
        }
        None => Some(title),
    }
}

fn missing(tracer: &Tracer, id: i64) -> Problem {
    tracer.note(
        Stage::Logic,
        Outcome::Fail,
        format_args!("no task has id {id} → 404"),
    );
    Problem::not_found(format!("There is no task {id}."))
}

async fn create_task(
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

async fn get_task(
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
async fn replace_task(
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
async fn update_task(
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
async fn write_update(
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

async fn delete_task(
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
async fn complete_task(
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

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    NewestFirst,
    OldestFirst,
    TitleAz,
    TitleZa,
}

impl Sort {
    const CHOICES: &'static str = "-created_at, created_at, title, -title";

    fn parse(raw: &str) -> Option<Sort> {
        Some(match raw {
            "-created_at" => Sort::NewestFirst,
            "created_at" => Sort::OldestFirst,
            "title" => Sort::TitleAz,
            "-title" => Sort::TitleZa,
            _ => return None,
        })
    }

    fn order_by(self) -> &'static str {
        match self {
            Sort::NewestFirst => "created_at DESC, id DESC",
            Sort::OldestFirst => "created_at ASC, id ASC",
            Sort::TitleAz => "title COLLATE NOCASE ASC, id ASC",
            Sort::TitleZa => "title COLLATE NOCASE DESC, id DESC",
        }
    }
}

/// `GET /tasks`: offset pages, or cursor pages when `cursor` is given.
async fn list_tasks(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    query: QueryPairs,
) -> Result<Json<Page>, Problem> {
    let known = ["limit", "offset", "cursor", "done", "sort"];
    let ignored = query.unknown(&known);
    if !ignored.is_empty() {
        tracer.note(
            Stage::Parsing,
            Outcome::Ok,
            format_args!(
                "ignored unknown query parameter(s): {} (this endpoint reads {})",
                ignored.join(", "),
                known.join(", ")
            ),
        );
    }
    let mut fields = Fields::query(&tracer);
    let limit = int_param(
        &mut fields,
        "limit",
        query.get("limit"),
        LIMIT_DEFAULT,
        1,
        LIMIT_MAX,
    );
    let offset = int_param(&mut fields, "offset", query.get("offset"), 0, 0, i64::MAX);
    let done = match query.get("done") {
        None => None,
        Some("true") => {
            fields.accept("done", true);
            Some(true)
        }
        Some("false") => {
            fields.accept("done", false);
            Some(false)
        }
        Some(other) => {
            fields.error("done", format!("must be true or false, got `{other}`"));
            None
        }
    };
    let sort = match query.get("sort") {
        None => Sort::NewestFirst,
        Some(raw) => match Sort::parse(raw) {
            Some(sort) => {
                fields.accept("sort", raw);
                sort
            }
            None => {
                fields.error(
                    "sort",
                    format!("must be one of {}, got `{raw}`", Sort::CHOICES),
                );
                Sort::NewestFirst
            }
        },
    };
    fields.finish()?;

    let cursor = match query.get("cursor") {
        None => None,
        Some(raw) => {
            if query.get("offset").is_some() {
                return Err(bad_cursor(
                    &tracer,
                    "use either offset or cursor, not both".into(),
                ));
            }
            if sort != Sort::NewestFirst {
                return Err(bad_cursor(
                    &tracer,
                    "cursor pages walk newest first; drop sort= when you pass a cursor".into(),
                ));
            }
            match lab.cursors.decode(raw, done) {
                Ok(position) => Some(position),
                Err(err @ (CursorError::Invalid | CursorError::FilterMismatch { .. })) => {
                    return Err(bad_cursor(&tracer, err.to_string()));
                }
            }
        }
    };

    // One extra row tells whether another page exists without a COUNT(*).
    let fetch = limit + 1;
    let mut conditions = Vec::new();
    let mut params: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(done) = done {
        conditions.push("done = ?");
        params.push(i64::from(done).into());
    }
    if let Some(p) = &cursor {
        conditions.push("(created_at, id) < (?, ?)");
        params.push(p.c.clone().into());
        params.push(p.i.into());
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let mut sql = format!(
        "SELECT {} FROM tasks{where_clause} ORDER BY {} LIMIT ?",
        columns!(),
        sort.order_by()
    );
    params.push(fetch.into());
    match &cursor {
        Some(p) => tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!(
                "fetching a cursor page of up to {limit} after ({}, {})",
                p.c, p.i
            ),
        ),
        None => {
            sql.push_str(" OFFSET ?");
            params.push(offset.into());
            tracer.note(
                Stage::Logic,
                Outcome::Ok,
                format_args!("fetching an offset page: limit {limit}, offset {offset}"),
            );
        }
    }

    // A page read straight off the (created_at, id) index touches at most limit + 1 rows, so
    // it runs inline like a point read. Skipping an offset, filtering on done or sorting by
    // title can touch every row, so those go to the blocking pool.
    let bounded = (cursor.is_some() || offset == 0)
        && done.is_none()
        && matches!(sort, Sort::NewestFirst | Sort::OldestFirst);
    let run = move |c: &rusqlite::Connection, t: &Tracer| {
        let refs: Vec<&dyn rusqlite::ToSql> =
            params.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        Sql::new(c, t).query(sql, &refs, task_from_row)
    };
    let mut items = if bounded {
        lab.db.read(|c| run(c, &tracer))?
    } else {
        let t = tracer.clone();
        lab.db.scan(move |c| run(c, &t)).await?
    };
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);

    let next_cursor = match (more, sort, items.last()) {
        (true, Sort::NewestFirst, Some(last)) => {
            Some(lab.cursors.encode(&last.created_at, last.id, done))
        }
        _ => None,
    };
    let end_note = if more {
        "more rows exist, so the response carries a next page"
    } else {
        "this is the last page"
    };
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("{} task(s) on this page; {end_note}", items.len()),
    );
    Ok(Json(Page {
        items,
        limit,
        offset: cursor.is_none().then_some(offset),
        next_cursor,
    }))
}

/// One page of tasks. `offset` is present on offset pages only.
#[derive(Debug, Serialize)]
struct Page {
    items: Vec<Task>,
    limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    next_cursor: Option<String>,
}

fn bad_cursor(tracer: &Tracer, why: String) -> Problem {
    tracer.note(
        Stage::Validation,
        Outcome::Fail,
        format_args!("cursor refused: {why} → 400; the handler never queried"),
    );
    Problem::new(&BAD_CURSOR, format!("The cursor cannot be used: {why}."))
}
