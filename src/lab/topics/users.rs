//! `/users`: validation in three layers.
//!
//! 1. **Schema at the edge** ([`Fields`]): shape, types, email form, name length → 422.
//! 2. **Service rule**: an email may be registered once (case-insensitively) → 409.
//! 3. **Database constraint**: a UNIQUE index catches the duplicate that two simultaneous
//!    requests can slip past the service check → also 409.

use super::Topic;
use crate::lab::clock;
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_BLOCKING_POOL, RUNS_ON_WRITER, Sql};
use crate::lab::error::{CONFLICT, Problem};
use crate::lab::extract::{JsonBody, QueryPairs, parse_id};
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, email_problem, int_param, length_problem};
use crate::stage::Stage;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::Row;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// `/users`: validation in three layers.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "users",
        migrations: &[MIGRATION_1],
        seed: Some(seed),
    },
    problems: &[],
    links: &[("users", "/users")],
    router,
};

const MIGRATION_1: &str = r#"
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- The last guard against duplicate emails, even when two requests race.
CREATE UNIQUE INDEX users_email_unique ON users (email);
"#;

fn seed(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let now = clock::unique_now_micros();
    let hour = 3_600_000_000i64;
    for (i, (email, name)) in [
        ("ada@example.com", "Ada Lovelace"),
        ("grace@example.com", "Grace Hopper"),
    ]
    .iter()
    .enumerate()
    {
        let ts = clock::format_micros(now - (2 - i as i64) * hour);
        tx.execute(
            "INSERT INTO users (email, name, created_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![email, name, ts],
        )?;
    }
    Ok(())
}

fn router(lab: &Arc<LabState>) -> Result<Router, DbError> {
    Ok(Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", get(get_user))
        // Users are personal data that change: private, and asked for again before use.
        .layer(cache_control("private, no-cache"))
        .with_state(Arc::clone(lab)))
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    id: i64,
    email: String,
    name: String,
    created_at: String,
}

/// The columns every query returns, in the order the row mapper reads them. A macro, so
/// statements are `&'static str` built at compile time, not formatted per request.
macro_rules! columns {
    () => {
        "id, email, name, created_at"
    };
}
const NAME_MAX: usize = 60;

/// Whether an email is registered: the service's check before it writes.
const EMAIL_TAKEN: &str = "SELECT id FROM users WHERE email = ?1";
/// Registers a user.
const INSERT_USER: &str = concat!(
    "INSERT INTO users (email, name, created_at) VALUES (?1, ?2, ?3) RETURNING ",
    columns!()
);
/// One user by id.
const SELECT_USER: &str = concat!("SELECT ", columns!(), " FROM users WHERE id = ?1");
/// The newest users.
const LIST_USERS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM users ORDER BY created_at DESC, id DESC LIMIT ?1"
);

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn conflict(email: &str) -> Problem {
    Problem::new(
        &CONFLICT,
        format!("A user with the email {email} already exists."),
    )
}

async fn create_user(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    // Layer 1: the input contract.
    let mut fields = Fields::json_object(body, &["email", "name"], &tracer);
    let email = fields.required_str("email");
    let email = email.and_then(|e| match email_problem(&e) {
        Some(problem) => {
            fields.error("email", problem);
            None
        }
        None => Some(e.to_lowercase()),
    });
    let name = fields.required_str("name");
    let name = name.and_then(|n| match length_problem(&n, 1, NAME_MAX) {
        Some(problem) => {
            fields.error("name", problem);
            None
        }
        None => Some(n),
    });
    fields.finish(&gate).await?;
    let (Some(email), Some(name)) = (email, name) else {
        return Err(Problem::internal("validation passed without values"));
    };
    gate.auth().await;

    // A stepped request shows its timestamp at the data hold, so it takes it before; any other
    // takes it on the writer, where timestamps follow the order of the writes.
    let now = gate.stepping().then(clock::timestamp);
    gate.hold(Stage::Data, || {
        Carries::sql(
            &format!("{RUNS_INLINE}, then {RUNS_ON_WRITER}"),
            &[
                Planned::new(EMAIL_TAKEN, &[&email]),
                Planned::new(INSERT_USER, &[&email, &name, &now])
                    .when("only if no user has the email"),
            ],
        )
    })
    .await;

    // Layer 2: the business rule, checked by the service before writing.
    let taken = lab
        .db
        .read(|c| Sql::new(c, &tracer).query_opt(EMAIL_TAKEN, &[&email], |r| r.get::<_, i64>(0)))?;
    if taken.is_some() {
        tracer.note(
            Stage::Logic,
            Outcome::Fail,
            format_args!("business rule: each email registers once, and {email} is taken → 409"),
        );
        return Err(conflict(&email));
    }
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("business rule passed: {email} is not registered yet"),
    );

    // Layer 3: the database's UNIQUE index, the guard that holds under concurrency.
    let t = tracer.clone();
    let insert_email = email.clone();
    let result = lab
        .db
        .write(move |conn| {
            let now = now.unwrap_or_else(clock::timestamp);
            Sql::new(conn, &t)
                .query_opt(INSERT_USER, &[&insert_email, &name, &now], user_from_row)?
                .ok_or_else(|| DbError::Task("insert returned no row".into()))
        })
        .await;
    let user = match result {
        Ok(user) => user,
        Err(err) if err.is_unique_violation() => {
            tracer.note(
                Stage::Data,
                Outcome::Fail,
                format_args!(
                    "the UNIQUE index on users.email stopped a duplicate: another request registered {email} between the service check and this insert → 409"
                ),
            );
            return Err(conflict(&email));
        }
        Err(err) => return Err(err.into()),
    };
    let location = format!("/users/{}", user.id);
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "registered user {} → 201 with Location: {location}",
            user.id
        ),
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(user),
    )
        .into_response())
}

async fn get_user(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
) -> Result<Json<User>, Problem> {
    let id = parse_id(&raw, "user", &tracer)?;
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, SELECT_USER, &[&id])
    })
    .await;
    let user = lab
        .db
        .read(|c| Sql::new(c, &tracer).query_opt(SELECT_USER, &[&id], user_from_row))?;
    match user {
        Some(user) => {
            tracer.note(Stage::Logic, Outcome::Ok, format_args!("found user {id}"));
            Ok(Json(user))
        }
        None => {
            tracer.note(
                Stage::Logic,
                Outcome::Fail,
                format_args!("no user has id {id} → 404"),
            );
            Err(Problem::not_found(format!("There is no user {id}.")))
        }
    }
}

async fn list_users(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Json<Value>, Problem> {
    let mut fields = Fields::query(&tracer);
    let limit = int_param(&mut fields, "limit", query.get("limit"), 20, 1, 100);
    fields.finish(&gate).await?;
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_ON_BLOCKING_POOL, LIST_USERS, &[&limit])
    })
    .await;
    let t = tracer.clone();
    let users = lab
        .db
        .scan(move |c| Sql::new(c, &t).query(LIST_USERS, &[&limit], user_from_row))
        .await?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("listed {} user(s), newest first", users.len()),
    );
    Ok(Json(json!({ "items": users, "limit": limit })))
}
