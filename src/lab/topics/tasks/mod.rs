//! `/tasks`: a REST resource on SQLite — CRUD, an action as a state change, conditional
//! requests, idempotent creation, offset and cursor pagination with sorting and filtering.
//!
//! - [`create`] and [`idempotency`]: `POST /tasks`, with `Idempotency-Key`.
//! - [`items`]: one task — read, replace, patch, delete, complete — with ETags and preconditions.
//! - [`pages`]: `GET /tasks`, offset and cursor pages.

/// The columns every query returns, in the order the row mapper reads them. A macro, so
/// statements are `&'static str` built at compile time, not formatted per request.
macro_rules! columns {
    () => {
        "id, title, done, created_at, updated_at"
    };
}
mod create;
mod idempotency;
mod items;
mod pages;

use super::Topic;
use crate::lab::clock;
use crate::lab::cursor::CursorCodec;
use crate::lab::db::{Db, DbError};
use crate::lab::error::{Problem, ProblemType};
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, length_problem};
use crate::stage::Stage;
use axum::Router;
use axum::routing::{get, post};
use rusqlite::Row;
use serde::Serialize;
use std::sync::Arc;

/// `/tasks`: CRUD, an action, offset and cursor pages.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "tasks",
        migrations: &[MIGRATION_1, idempotency::MIGRATION],
        seed: Some(seed),
    },
    problems: &[
        &BAD_CURSOR,
        &idempotency::KEY_REUSED,
        &idempotency::KEY_IN_FLIGHT,
    ],
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
pub(super) struct Tasks {
    pub(super) db: Arc<Db>,
    /// Signs pagination cursors with this database's key.
    pub(super) cursors: CursorCodec,
}

fn router(lab: &Arc<LabState>) -> Result<Router, DbError> {
    let tasks = Tasks {
        db: Arc::clone(&lab.db),
        cursors: CursorCodec::new(lab.db.secret("cursor_key")?),
    };
    Ok(Router::new()
        .route("/tasks", get(pages::list_tasks).post(create::create_task))
        .route(
            "/tasks/{id}",
            get(items::get_task)
                .put(items::replace_task)
                .patch(items::update_task)
                .delete(items::delete_task),
        )
        .route("/tasks/{id}/complete", post(items::complete_task))
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

const TITLE_MAX: usize = 200;
/// Page size bounds: no unbounded lists.
pub(super) const LIMIT_MAX: i64 = 100;
pub(super) const LIMIT_DEFAULT: i64 = 20;

pub(super) fn task_from_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        title: r.get(1)?,
        done: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

pub(super) fn title_field(fields: &mut Fields<'_>, title: Option<String>) -> Option<String> {
    let title = title?;
    match length_problem(&title, 1, TITLE_MAX) {
        Some(problem) => {
            fields.error("title", problem);
            None
        }
        None => Some(title),
    }
}

pub(super) fn missing(tracer: &Tracer, id: i64) -> Problem {
    tracer.note(
        Stage::Logic,
        Outcome::Fail,
        format_args!("no task has id {id} → 404"),
    );
    Problem::not_found(format!("There is no task {id}."))
}
