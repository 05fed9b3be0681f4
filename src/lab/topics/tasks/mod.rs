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
pub mod idempotency;
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
use crate::lab::validate::Fields;
use crate::stage::Stage;
use rusqlite::Row;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    let tasks = Tasks {
        db: Arc::clone(&lab.db),
        cursors: CursorCodec::new(lab.db.secret("cursor_key")?),
    };
    Ok(OpenApiRouter::new()
        .routes(routes!(pages::list_tasks, create::create_task))
        .routes(routes!(
            items::get_task,
            items::replace_task,
            items::update_task,
            items::delete_task
        ))
        .routes(routes!(items::complete_task))
        // Tasks change at any time: a cache may keep one only if it asks again before use.
        .layer(cache_control("private, no-cache"))
        .with_state(Arc::new(tasks)))
}

/// A task as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Task {
    /// Assigned by the server.
    #[schema(minimum = 1, example = 7)]
    id: i64,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$",
        example = "Write the README"
    )]
    title: String,
    done: bool,
    /// When it was created: RFC 3339 in UTC, with microseconds.
    #[schema(format = DateTime, example = "2026-03-01T09:30:00.000000Z")]
    created_at: String,
    /// When a value last changed (a write that changes nothing leaves it).
    #[schema(format = DateTime, example = "2026-03-01T09:30:00.000000Z")]
    updated_at: String,
}

/// A new task: the server assigns the id and the timestamps.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
pub(super) struct NewTask {
    /// 1 to 200 characters, at least one of them visible, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$",
        example = "Write the README"
    )]
    title: String,
    /// False when absent.
    #[schema(default = false, nullable = false)]
    done: Option<bool>,
}

/// A whole task, for PUT: every field the client may set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
pub(super) struct TaskReplacement {
    /// 1 to 200 characters, at least one of them visible, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$",
        example = "Write the README"
    )]
    title: String,
    done: bool,
}

/// Some fields of a task, for a PATCH in plain JSON: at least one, and no nulls.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
pub(super) struct TaskChanges {
    /// 1 to 200 characters, at least one of them visible, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        nullable = false,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$",
        example = "Write the README"
    )]
    title: Option<String>,
    #[schema(nullable = false)]
    done: Option<bool>,
}

/// Some fields of a task, as a JSON Merge Patch (RFC 7396): at least one; `"done": null`
/// removes done, which returns to false. A task cannot lose its title.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
pub(super) struct TaskMergePatch {
    /// 1 to 200 characters, at least one of them visible, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        nullable = false,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$",
        example = "Write the README"
    )]
    title: Option<String>,
    /// `null` resets it to false.
    done: Option<bool>,
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
    fields.visible_text("title", title, TITLE_MAX)
}

pub(super) fn missing(tracer: &Tracer, id: i64) -> Problem {
    tracer.note(
        Stage::Logic,
        Outcome::Fail,
        format_args!("no task has id {id} → 404"),
    );
    Problem::not_found(format!("There is no task {id}."))
}
