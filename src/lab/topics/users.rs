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
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::Row;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user))
        // Users are personal data that change: private, and asked for again before use.
        .layer(cache_control("private, no-cache"))
        .with_state(Arc::clone(lab)))
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    #[schema(minimum = 1, example = 3)]
    id: i64,
    /// Stored in lower case: addresses are unique in any letter case.
    #[schema(format = Email, example = "grace@example.com")]
    email: String,
    #[schema(example = "Grace Hopper")]
    name: String,
    #[schema(format = DateTime, example = "2026-03-01T09:30:00.000000Z")]
    created_at: String,
}

/// A sign-up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
struct NewUser {
    /// An address with a domain that has a dot; no spaces or invisible characters; unique in any letter case.
    #[schema(format = Email, max_length = 254, example = "grace@example.com")]
    email: String,
    /// 1 to 60 characters, at least one of them visible, no control characters.
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$",
        example = "Grace Hopper"
    )]
    name: String,
}

/// The newest users.
#[derive(Serialize, ToSchema)]
struct UserPage {
    #[schema(max_items = 100)]
    items: Vec<User>,
    #[schema(minimum = 1, maximum = 100)]
    limit: i64,
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

#[utoipa::path(post, path = "/users", tag = "users", summary = "Sign up",
    request_body(content((NewUser = "application/json"))),
    responses(
        (status = 201, description = "Registered", body = User, headers(("Location" = String, description = "The new user's address"))),
        (status = 409, description = "The email address is registered already (in any letter case)"),
        (status = 422, description = "A field breaks its rule"),
    ))]
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

#[utoipa::path(get, path = "/users/{id}", tag = "users", summary = "Read a user",
    params(("id" = i64, Path, description = "The user's id (anything that is not a positive whole number is a 404)", minimum = 1)),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No user has this id"),
    ))]
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

#[utoipa::path(get, path = "/users", tag = "users", summary = "List the newest users",
    params(("limit" = Option<i64>, Query, description = "Users to list", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "The newest users first", body = UserPage),
        (status = 422, description = "limit is not a whole number from 1 to 100"),
    ))]
async fn list_users(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Json<UserPage>, Problem> {
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
    Ok(Json(UserPage {
        items: users,
        limit,
    }))
}
