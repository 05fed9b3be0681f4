//! `/accounts` and `/transfers`: a transfer is a debit and a credit in one transaction, so it
//! happens whole or not at all. One can be told to fail between the two (`fail_midway`), and
//! a CHECK constraint refuses a debit the balance cannot cover: either way the trace shows the
//! transaction rolled back and the balances as they were.

use super::Topic;
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_WRITER, Sql};
use crate::lab::error::{CONFLICT, Problem};
use crate::lab::extract::JsonBody;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::Fields;
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rusqlite::ToSql;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Accounts and transfers between them.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "transfers",
        migrations: &[MIGRATION_1],
        seed: Some(seed),
    },
    problems: &[],
    links: &[("accounts", "/accounts"), ("transfers", "/transfers")],
    router,
};

const MIGRATION_1: &str = r#"
CREATE TABLE bank_accounts (
    id      INTEGER PRIMARY KEY,
    owner   TEXT NOT NULL UNIQUE,
    -- The last guard: no statement can leave a balance below zero.
    balance INTEGER NOT NULL CHECK (balance >= 0)
);
"#;

fn seed(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    for (owner, balance) in [("alice", 100), ("bob", 50)] {
        tx.execute(
            "INSERT INTO bank_accounts (owner, balance) VALUES (?1, ?2)",
            rusqlite::params![owner, balance],
        )?;
    }
    Ok(())
}

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new()
        .routes(routes!(list_accounts))
        .routes(routes!(transfer))
        .with_state(Arc::clone(lab)))
}

const LIST_ACCOUNTS: &str = "SELECT id, owner, balance FROM bank_accounts ORDER BY id";
const DEBIT: &str =
    "UPDATE bank_accounts SET balance = balance - ?2 WHERE owner = ?1 RETURNING balance";
const CREDIT: &str =
    "UPDATE bank_accounts SET balance = balance + ?2 WHERE owner = ?1 RETURNING balance";
/// Largest amount one transfer may move.
const MAX_AMOUNT: i64 = 1_000_000;

/// An account.
#[derive(Debug, Serialize, ToSchema)]
struct Account {
    #[schema(minimum = 1)]
    id: i64,
    owner: String,
    /// Never below zero (a CHECK constraint).
    #[schema(minimum = 0)]
    balance: i64,
}

/// Every account.
#[derive(Debug, Serialize, ToSchema)]
struct Accounts {
    items: Vec<Account>,
}

#[utoipa::path(get, path = "/accounts", tag = "data", summary = "The demo accounts and their balances",
    responses((status = 200, description = "Every account", body = Accounts)))]
async fn list_accounts(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
) -> Result<Json<Accounts>, Problem> {
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, LIST_ACCOUNTS, &[])
    })
    .await;
    let items = lab.db.read(|c| {
        Sql::new(c, &tracer).query(LIST_ACCOUNTS, &[], |r| {
            Ok(Account {
                id: r.get(0)?,
                owner: r.get(1)?,
                balance: r.get(2)?,
            })
        })
    })?;
    Ok(Json(Accounts { items }))
}

/// A transfer to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
struct TransferRequest {
    /// The owner of the account to debit.
    #[schema(example = "alice")]
    from: String,
    /// The owner of the account to credit (another one).
    #[schema(example = "bob")]
    to: String,
    #[schema(minimum = 1, maximum = 1000000, example = 30)]
    amount: i64,
    /// Fail on purpose after the debit and before the credit, to see the rollback.
    #[schema(default = false, nullable = false)]
    fail_midway: Option<bool>,
}

/// A transfer that happened.
#[derive(Debug, Serialize, ToSchema)]
struct Transferred {
    from: String,
    to: String,
    amount: i64,
    /// The balances after it.
    from_balance: i64,
    to_balance: i64,
}

/// How a transfer ended inside its transaction.
enum Ended {
    Committed(i64, i64),
    /// An account is missing (by owner).
    Missing(String),
    /// The CHECK constraint refused the debit.
    Overdrawn,
    /// Failed on purpose between debit and credit.
    Midway,
}

#[utoipa::path(post, path = "/transfers", tag = "data", summary = "Move money between accounts, all or nothing",
    description = "A debit and a credit in one transaction. fail_midway makes it fail between the two, and a debit the balance cannot cover is refused by a CHECK constraint: either way the transaction rolls back and no balance changes.",
    request_body(content((TransferRequest = "application/json"))),
    responses(
        (status = 201, description = "Both halves committed", body = Transferred),
        (status = 404, description = "No account has that owner"),
        (status = 409, description = "Rolled back: the balance cannot cover it, or it failed midway on purpose; no balance changed"),
        (status = 422, description = "A field breaks its rule"),
    ))]
async fn transfer(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let mut fields = Fields::json_object(body, &["from", "to", "amount", "fail_midway"], &tracer);
    let from = fields.required_str("from");
    let to = fields.required_str("to");
    let amount = fields.optional_int("amount", 1, MAX_AMOUNT);
    if !fields.failed("amount") && !fields.has("amount") {
        fields.error("amount", "is required");
    }
    let fail_midway = fields.optional_bool("fail_midway");
    if let (Some(f), Some(t)) = (&from, &to)
        && f == t
    {
        fields.error("to", "must be another account than from");
    }
    fields.finish(&gate).await?;
    let (Some(from), Some(to), Some(Some(amount)), Some(fail_midway)) =
        (from, to, amount, fail_midway)
    else {
        return Err(Problem::internal("validation passed without values"));
    };
    let fail_midway = fail_midway.unwrap_or(false);
    gate.auth().await;
    gate.hold(Stage::Data, || {
        let debit: [&dyn ToSql; 2] = [&from, &amount];
        let credit: [&dyn ToSql; 2] = [&to, &amount];
        Carries::sql(
            RUNS_ON_WRITER,
            &[
                Planned::new(DEBIT, &debit).when("inside BEGIN … COMMIT"),
                Planned::new(CREDIT, &credit).when(if fail_midway {
                    "never: the transfer fails before it, on purpose, and rolls back"
                } else {
                    "then COMMIT, or ROLLBACK if anything failed"
                }),
            ],
        )
    })
    .await;
    let t = tracer.clone();
    let (f, to_owner) = (from.clone(), to.clone());
    let ended = lab
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let sql = Sql::new(&tx, &t);
            let debited = match sql.query_opt(DEBIT, &[&f, &amount], |r| r.get::<_, i64>(0)) {
                Ok(Some(balance)) => balance,
                Ok(None) => return Ok(Ended::Missing(f)),
                Err(e) if is_check_violation(&e) => return Ok(Ended::Overdrawn),
                Err(e) => return Err(e.into()),
            };
            if fail_midway {
                // Dropping the transaction rolls it back: the debit is undone.
                return Ok(Ended::Midway);
            }
            let Some(credited) =
                sql.query_opt(CREDIT, &[&to_owner, &amount], |r| r.get::<_, i64>(0))?
            else {
                return Ok(Ended::Missing(to_owner));
            };
            tx.commit()?;
            Ok(Ended::Committed(debited, credited))
        })
        .await?;
    match ended {
        Ended::Committed(from_balance, to_balance) => {
            tracer.note(
                Stage::Data,
                Outcome::Ok,
                format_args!("COMMIT: both halves are written together — {from} now has {from_balance}, {to} has {to_balance}"),
            );
            Ok((
                StatusCode::CREATED,
                Json(Transferred {
                    from,
                    to,
                    amount,
                    from_balance,
                    to_balance,
                }),
            )
                .into_response())
        }
        Ended::Missing(owner) => {
            tracer.note(
                Stage::Data,
                Outcome::Fail,
                format_args!("ROLLBACK: no account belongs to {owner}, so nothing of the transfer is kept → 404"),
            );
            Err(Problem::not_found(format!(
                "No account belongs to {owner}."
            )))
        }
        Ended::Overdrawn => {
            tracer.note(
                Stage::Data,
                Outcome::Fail,
                format_args!("ROLLBACK: the CHECK (balance >= 0) constraint refused to take {amount} from {from} → 409; no balance changed"),
            );
            Err(Problem::new(
                &CONFLICT,
                format!(
                    "{from}'s balance cannot cover {amount}: the transfer was rolled back and no balance changed."
                ),
            ))
        }
        Ended::Midway => {
            tracer.note(
                Stage::Data,
                Outcome::Fail,
                format_args!("ROLLBACK: failed on purpose after the debit and before the credit; the debit is undone with it, so {from} still has what it had → 409"),
            );
            Err(Problem::new(
                &CONFLICT,
                "The transfer failed midway (as asked) and was rolled back: the debit was undone, no balance changed.",
            ))
        }
    }
}

/// True when SQLite refused a statement for a CHECK constraint.
fn is_check_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _)
        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_CHECK)
}
