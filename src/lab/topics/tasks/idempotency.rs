//! `Idempotency-Key` on `POST /tasks` (the IETF httpapi draft): a client that retries a create
//! after a timeout sends the same key, and gets the first response again instead of a second
//! task. The same key with another body is a client error (422); a key whose first request is
//! still running is a conflict (409). Keys are kept a day, and at most [`MAX_KEYS`] of them.
//! A claim whose request never finished (the client went away between the claim and the
//! insert, or the lab stopped) lapses after [`LEASE_MICROS`], so a retry is not refused for a day.

use crate::lab::db::{DbError, Sql};
use crate::lab::error::{BAD_REQUEST, Problem, ProblemType};
use crate::lab::step::{Carries, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, ToSql};
use sha2::{Digest, Sha256};

/// The header.
pub const HEADER: &str = "idempotency-key";
/// How long a key is remembered, in microseconds (a day).
const KEPT_MICROS: i64 = 24 * 3600 * 1_000_000;
/// How long a claimed key counts as running, in microseconds: far longer than a create takes.
pub const LEASE_MICROS: i64 = 30 * 1_000_000;
/// Most keys remembered at once; the oldest go first.
const MAX_KEYS: i64 = 10_000;

/// Forgets keys older than a day (?1 is the cut-off), and the oldest past [`MAX_KEYS`] (?2).
const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE created_at < ?1 \
     OR key IN (SELECT key FROM idempotency_keys ORDER BY created_at DESC LIMIT -1 OFFSET ?2)";
/// What is known about a key.
const FIND_KEY: &str = "SELECT fingerprint, state, status, body, location, created_at FROM idempotency_keys WHERE key = ?1";
/// Forgets one key: a lapsed claim, or the claim of a request whose insert failed.
const FORGET_KEY: &str = "DELETE FROM idempotency_keys WHERE key = ?1";
/// Claims a new key for the request now running.
const CLAIM_KEY: &str = "INSERT INTO idempotency_keys (key, fingerprint, state, created_at) VALUES (?1, ?2, 'running', ?3)";
/// Keeps a claimed key's response.
pub const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET state = 'done', status = ?2, body = ?3, location = ?4 WHERE key = ?1";
/// When a statement runs only for a key seen for the first time.
pub const ONLY_IF_NEW: &str = "only if the key is new";

/// The schema of the key store (the tasks topic's second migration).
pub const MIGRATION: &str = r#"
-- The first response to each Idempotency-Key sent with POST /tasks, kept a day.
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running', 'done')),
    status      INTEGER,
    body        TEXT,
    location    TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
"#;

/// 422: the key was first used with another request body.
pub static KEY_REUSED: ProblemType = ProblemType {
    slug: "idempotency-key-reused",
    status: Some(422),
    title: "This Idempotency-Key was used with another request",
    explanation: "An Idempotency-Key names one operation. Sending it again with a different body would make the retry a different request, so the server refuses instead of guessing which one you meant. Use a new key for a new operation.",
};

/// 409: the key's first request is still being processed.
pub static KEY_IN_FLIGHT: ProblemType = ProblemType {
    slug: "idempotency-key-in-flight",
    status: Some(409),
    title: "A request with this Idempotency-Key is still running",
    explanation: "The first request with this key has not finished yet. Wait, then retry with the same key: you will get its response.",
};

/// What a key says about a request.
#[derive(Debug)]
pub enum Claim {
    /// First use: the request runs, and its response is kept under the key.
    New,
    /// Seen before with the same body: answer with the first response.
    Replay {
        /// Its status.
        status: u16,
        /// Its JSON body.
        body: String,
        /// Its Location.
        location: Option<String>,
    },
    /// Seen before with another body.
    Mismatch,
    /// Seen before, and that request is still running.
    Running,
}

/// The request's key, if it sent one (→ 400 when it is not 1–255 visible characters).
pub fn key(headers: &HeaderMap, tracer: &Tracer) -> Result<Option<String>, Problem> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        tracer.note(
            Stage::Parsing,
            Outcome::Fail,
            "the request carries more than one Idempotency-Key → 400",
        );
        return Err(Problem::new(
            &BAD_REQUEST,
            "Send one Idempotency-Key header: with two, the server cannot tell which retry this is.",
        ));
    }
    let key = value.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        tracer.note(
            Stage::Parsing,
            Outcome::Fail,
            "the Idempotency-Key is not 1–255 visible characters → 400",
        );
        return Err(Problem::new(
            &BAD_REQUEST,
            "An Idempotency-Key must be 1 to 255 visible characters, such as a UUID.",
        ));
    }
    // Keys written as quoted strings (the draft's structured-field form) mean the same key.
    Ok(Some(key.trim_matches('"').to_string()))
}

/// A short fingerprint of a request body.
pub fn fingerprint(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(body)[..16])
}

/// Looks the key up, claiming it when it is new. Runs on the writer, so two requests with
/// one key cannot both claim it.
pub fn claim(
    conn: &Connection,
    tracer: &Tracer,
    key: &str,
    fingerprint: &str,
    now_micros: i64,
) -> Result<Claim, DbError> {
    let sql = Sql::new(conn, tracer);
    sql.execute(PURGE_KEYS, &[&(now_micros - KEPT_MICROS), &MAX_KEYS])?;
    let seen = sql.query_opt(FIND_KEY, &[&key], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<u16>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let seen = match seen {
        Some((_, state, _, _, _, claimed_at))
            if state == "running" && claimed_at < now_micros - LEASE_MICROS =>
        {
            tracer.note(
                Stage::Logic,
                Outcome::Ok,
                "this key's earlier request was claimed but never finished (its client went away or the lab stopped): the claim has lapsed",
            );
            sql.execute(FORGET_KEY, &[&key])?;
            None
        }
        other => other,
    };
    Ok(match seen {
        None => {
            sql.execute(CLAIM_KEY, &[&key, &fingerprint, &now_micros])?;
            Claim::New
        }
        Some((first, ..)) if first != fingerprint => Claim::Mismatch,
        Some((_, state, ..)) if state == "running" => Claim::Running,
        Some((_, _, status, body, location, _)) => Claim::Replay {
            status: status.unwrap_or(201),
            body: body.unwrap_or_default(),
            location,
        },
    })
}

/// What claiming `key` at `now_micros` runs, then `after` (what runs once it is claimed), for
/// a data hold: the same statements and values [`claim`] runs.
pub fn carries(
    place: &str,
    key: &str,
    fingerprint: &str,
    now_micros: i64,
    after: &[Planned<'_>],
) -> Carries {
    let cutoff = now_micros - KEPT_MICROS;
    let purge: [&dyn ToSql; 2] = [&cutoff, &MAX_KEYS];
    let by_key: [&dyn ToSql; 1] = [&key];
    let claimed: [&dyn ToSql; 3] = [&key, &fingerprint, &now_micros];
    let claim = [
        Planned::new(PURGE_KEYS, &purge),
        Planned::new(FIND_KEY, &by_key),
        Planned::new(FORGET_KEY, &by_key).when("only if the key's earlier claim has lapsed"),
        Planned::new(CLAIM_KEY, &claimed).when(ONLY_IF_NEW),
    ];
    let plan: Vec<Planned<'_>> = claim.iter().chain(after).copied().collect();
    Carries::sql(place, &plan)
}

/// Keeps the response of a claimed key.
pub fn complete(
    conn: &Connection,
    tracer: &Tracer,
    key: &str,
    status: u16,
    body: &str,
    location: &str,
) -> Result<(), DbError> {
    Sql::new(conn, tracer).execute(COMPLETE_KEY, &[&key, &status, &body, &location])?;
    Ok(())
}

/// Lets go of a claimed key whose request failed, so a retry can run.
pub fn release(conn: &Connection, tracer: &Tracer, key: &str) -> Result<(), DbError> {
    Sql::new(conn, tracer).execute(FORGET_KEY, &[&key])?;
    Ok(())
}
