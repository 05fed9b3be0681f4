//! The job queue in SQLite: what enqueueing, claiming, finishing and failing do to the rows.
//!
//! A job is a row in `jobs`; its status is its place in the queue. A worker claims the oldest
//! due job in one write transaction and holds it with a lease it renews while it works. A
//! lease that lapses means the worker's process died: the next claim takes the job again and
//! records the lost attempt. Every change of status writes an event into `job_outbox` in the
//! same transaction, so an event exists exactly when its change was committed.

use super::backoff;
use crate::lab::clock;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The statuses a job moves through.
pub const STATUSES: [&str; 5] = ["queued", "running", "succeeded", "failed", "dead"];
/// Attempts before a failing job is dead.
pub const MAX_ATTEMPTS: i64 = 4;
/// Finished jobs (succeeded or dead) kept; the oldest go, and their idempotency keys with them.
pub const KEPT_FINISHED: i64 = 1000;
/// Published events kept for clients that reconnect with `Last-Event-ID`.
pub const KEPT_EVENTS: i64 = 1000;

/// The schema (the jobs topic's first migration).
pub const MIGRATION_1: &str = r#"
-- One row per accepted job. status is its place in the queue; run_at (microseconds) is when
-- it may run next, lease_until how long the worker holding it counts as alive.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    job_id          TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    fingerprint     TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    object_key      TEXT NOT NULL,
    work_ms         INTEGER NOT NULL CHECK (work_ms >= 0),
    fail_times      INTEGER NOT NULL CHECK (fail_times >= 0),
    status          TEXT NOT NULL
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    run_at          INTEGER NOT NULL,
    lease_until     INTEGER,
    worker          TEXT,
    last_error      TEXT,
    result          TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX jobs_by_status ON jobs (status, run_at);
CREATE INDEX jobs_by_update ON jobs (updated_at);
-- Every attempt at a job, kept with the job.
CREATE TABLE job_attempts (
    id          INTEGER PRIMARY KEY,
    job         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT CHECK (outcome IN ('succeeded', 'failed', 'lost', 'interrupted')),
    error       TEXT
);
CREATE INDEX job_attempts_by_job ON job_attempts (job, id);
-- The outbox: an event per committed change, written in the change's own transaction. The
-- dispatcher publishes them in order (published_at), and GET /job-events streams them.
CREATE TABLE job_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event        TEXT NOT NULL,
    job_id       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX job_outbox_unpublished ON job_outbox (id) WHERE published_at IS NULL;
"#;

/// What a client asked to have done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Whose document it is.
    pub tenant_id: String,
    /// Where the document is stored.
    pub object_key: String,
    /// Names this request: the same key again is a retry of it.
    pub idempotency_key: String,
    /// How long the work takes, in milliseconds.
    pub work_ms: i64,
    /// How many attempts fail before one succeeds.
    pub fail_times: i64,
}

impl Request {
    /// A digest of what the request asks for (not its key): a retry must match it.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [self.tenant_id.as_bytes(), self.object_key.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update(self.work_ms.to_be_bytes());
        h.update(self.fail_times.to_be_bytes());
        URL_SAFE_NO_PAD.encode(h.finalize())
    }
}

/// The columns [`job_from_row`] reads, in its order.
macro_rules! job_columns {
    () => {
        "id, job_id, status, tenant_id, object_key, work_ms, fail_times, attempts, max_attempts, created_at, updated_at, run_at, last_error, result"
    };
}

/// A job by its public id.
pub const SELECT_JOB: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE job_id = ?1");
/// The newest jobs (?1 is the empty filter).
pub const LIST_ALL: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE ?1 = '' ORDER BY id DESC LIMIT ?2"
);
/// The newest jobs with a status.
pub const LIST_BY_STATUS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE status = ?1 ORDER BY id DESC LIMIT ?2"
);

/// What enqueueing did.
#[derive(Debug)]
pub enum Enqueued {
    /// A new job, queued.
    New(Box<Job>),
    /// The key was seen with the same request: its job, as it is now.
    Replay(Box<Job>),
    /// The key was seen with another request.
    KeyReused,
    /// The queue is full: this many jobs wait or run, with this much work between them.
    Full {
        /// Jobs waiting or running.
        depth: i64,
        /// Their work, in milliseconds.
        work_ms: i64,
    },
}

/// Jobs waiting or running, and their work in milliseconds.
const DEPTH: &str =
    "SELECT count(*), total(work_ms) FROM jobs WHERE status IN ('queued', 'failed', 'running')";
const FIND_KEY: &str = "SELECT job_id, fingerprint FROM jobs WHERE idempotency_key = ?1";
const INSERT_JOB: &str = concat!(
    "INSERT INTO jobs (job_id, idempotency_key, fingerprint, tenant_id, object_key, work_ms, fail_times, status, max_attempts, run_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9, ?10, ?10) RETURNING ",
    job_columns!()
);
const INSERT_EVENT: &str =
    "INSERT INTO job_outbox (event, job_id, payload, created_at) VALUES (?1, ?2, ?3, ?4)";

/// The statements enqueueing runs, in order, for the trace's plan.
pub const ENQUEUE_STATEMENTS: [&str; 4] = [FIND_KEY, DEPTH, INSERT_JOB, INSERT_EVENT];

/// Enqueues a job unless its key was seen or the queue is full. The caller runs it in one
/// transaction, so the job row and its `job.queued` event are committed together or not at all.
pub fn enqueue(
    sql: &crate::lab::db::Sql<'_>,
    request: &Request,
    limit: usize,
) -> rusqlite::Result<Enqueued> {
    let fingerprint = request.fingerprint();
    if let Some((job_id, seen)) = sql.query_opt(FIND_KEY, &[&request.idempotency_key], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        if seen != fingerprint {
            return Ok(Enqueued::KeyReused);
        }
        let job = find_job(sql, &job_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        return Ok(Enqueued::Replay(Box::new(job)));
    }
    let (depth, work) = sql
        .query_opt(DEPTH, &[], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
        })?
        .unwrap_or((0, 0.0));
    if depth >= i64::try_from(limit).unwrap_or(i64::MAX) {
        return Ok(Enqueued::Full {
            depth,
            work_ms: work as i64,
        });
    }
    let job_id = uuid::Uuid::new_v4().to_string();
    // Due now by the wall clock the workers read (unique timestamps may run ahead of it).
    let now = clock::wall_micros();
    let stamp = clock::timestamp();
    let (_, job) = sql
        .query_opt(
            INSERT_JOB,
            &[
                &job_id,
                &request.idempotency_key,
                &fingerprint,
                &request.tenant_id,
                &request.object_key,
                &request.work_ms,
                &request.fail_times,
                &MAX_ATTEMPTS,
                &now,
                &stamp,
            ],
            job_from_row,
        )?
        .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    let payload = serde_json::json!({ "job_id": job_id, "status": "queued" }).to_string();
    sql.execute(INSERT_EVENT, &[&"job.queued", &job_id, &payload, &stamp])?;
    Ok(Enqueued::New(Box::new(job)))
}

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Row id.
    pub id: i64,
    /// Public id.
    pub job_id: String,
    /// This attempt's number.
    pub attempt: i64,
    /// How long the work takes.
    pub work_ms: i64,
    /// Attempts that fail before one succeeds.
    pub fail_times: i64,
    /// The document's key.
    pub object_key: String,
}

/// Why an attempt that never reported back is recorded as lost.
const LOST: &str = "the worker stopped renewing its lease (its process was killed or hung), so another worker took the job again";

/// Claims the oldest due job for `worker` with a lease until `lease_until` (microseconds):
/// a queued job, a failed one whose backoff is over, or a running one whose lease lapsed.
/// A lapsed job that had used its last attempt is declared dead instead.
pub fn claim(
    conn: &mut Connection,
    worker: &str,
    lease_until: i64,
) -> rusqlite::Result<Option<Claimed>> {
    let tx = conn.transaction()?;
    let now = clock::wall_micros();
    loop {
        let due = tx
            .query_row(
                "SELECT id, job_id, status, attempts, max_attempts, work_ms, fail_times, object_key FROM jobs \
                 WHERE (status IN ('queued', 'failed') AND run_at <= ?1) OR (status = 'running' AND lease_until < ?1) \
                 ORDER BY run_at, id LIMIT 1",
                [now],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, job_id, status, attempts, max_attempts, work_ms, fail_times, object_key)) =
            due
        else {
            tx.commit()?;
            return Ok(None);
        };
        let stamp = clock::timestamp();
        if status == "running" {
            close_attempt(&tx, id, "lost", Some(LOST), &stamp)?;
            if attempts >= max_attempts {
                bury(&tx, id, &job_id, LOST, &stamp)?;
                continue;
            }
        }
        let attempt = attempts + 1;
        tx.execute(
            "UPDATE jobs SET status = 'running', attempts = ?2, lease_until = ?3, worker = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, attempt, lease_until, worker, stamp],
        )?;
        tx.execute(
            "INSERT INTO job_attempts (job, attempt, worker, started_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, attempt, worker, stamp],
        )?;
        event(
            &tx,
            "job.running",
            &job_id,
            serde_json::json!({ "attempt": attempt, "worker": worker }),
            &stamp,
        )?;
        tx.commit()?;
        return Ok(Some(Claimed {
            id,
            job_id,
            attempt,
            work_ms,
            fail_times,
            object_key,
        }));
    }
}

/// Renews a lease; false when the job is no longer this worker's (another took it).
pub fn renew(
    conn: &Connection,
    job: &Claimed,
    worker: &str,
    lease_until: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
        params![job.id, worker, lease_until],
    )? == 1)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The work is done, with this result.
    Succeeded(serde_json::Value),
    /// It failed with this error.
    Failed(String),
    /// The lab is stopping: the job goes back to the queue at once, the attempt not counted.
    Interrupted,
}

/// Records how an attempt ended, if the job is still this worker's: the job's new status, the
/// attempt's outcome and the event, in one transaction. Returns the new status.
pub fn finish(
    conn: &mut Connection,
    job: &Claimed,
    worker: &str,
    outcome: &Outcome,
) -> rusqlite::Result<Option<&'static str>> {
    let tx = conn.transaction()?;
    let held: Option<i64> = tx
        .query_row(
            "SELECT max_attempts FROM jobs WHERE id = ?1 AND worker = ?2 AND status = 'running'",
            params![job.id, worker],
            |r| r.get(0),
        )
        .optional()?;
    let Some(max_attempts) = held else {
        return Ok(None);
    };
    let stamp = clock::timestamp();
    let status = match outcome {
        Outcome::Succeeded(result) => {
            tx.execute(
                "UPDATE jobs SET status = 'succeeded', result = ?2, last_error = NULL, lease_until = NULL, updated_at = ?3 WHERE id = ?1",
                params![job.id, result.to_string(), stamp],
            )?;
            close_attempt(&tx, job.id, "succeeded", None, &stamp)?;
            event(
                &tx,
                "job.succeeded",
                &job.job_id,
                serde_json::json!({ "result": result }),
                &stamp,
            )?;
            "succeeded"
        }
        Outcome::Failed(error) if job.attempt >= max_attempts => {
            close_attempt(&tx, job.id, "failed", Some(error), &stamp)?;
            bury(&tx, job.id, &job.job_id, error, &stamp)?;
            "dead"
        }
        Outcome::Failed(error) => {
            let delay = backoff::delay(job.attempt);
            let run_at = clock::wall_micros() + delay.as_micros() as i64;
            tx.execute(
                "UPDATE jobs SET status = 'failed', last_error = ?2, run_at = ?3, lease_until = NULL, updated_at = ?4 WHERE id = ?1",
                params![job.id, error, run_at, stamp],
            )?;
            close_attempt(&tx, job.id, "failed", Some(error), &stamp)?;
            event(
                &tx,
                "job.failed",
                &job.job_id,
                serde_json::json!({ "attempt": job.attempt, "error": error, "next_attempt_at": clock::format_micros(run_at) }),
                &stamp,
            )?;
            "failed"
        }
        Outcome::Interrupted => {
            tx.execute(
                "UPDATE jobs SET status = 'queued', attempts = attempts - 1, run_at = ?2, lease_until = NULL, worker = NULL, updated_at = ?3 WHERE id = ?1",
                params![job.id, clock::wall_micros(), stamp],
            )?;
            close_attempt(
                &tx,
                job.id,
                "interrupted",
                Some(
                    "the lab was stopping; the job went back to the queue, and this attempt does not count",
                ),
                &stamp,
            )?;
            event(
                &tx,
                "job.queued",
                &job.job_id,
                serde_json::json!({ "interrupted": true }),
                &stamp,
            )?;
            "queued"
        }
    };
    prune(&tx)?;
    tx.commit()?;
    Ok(Some(status))
}

/// Puts a dead job back in the queue with a fresh set of attempts (a redrive from the
/// dead-letter list). Returns its status when it was not dead (nothing changes), `None` when
/// there is no such job. The caller runs it in one transaction.
pub fn redrive(
    sql: &crate::lab::db::Sql<'_>,
    job_id: &str,
) -> rusqlite::Result<Option<Result<(), String>>> {
    let Some(status) = sql.query_opt(REDRIVE_FIND, &[&job_id], |r| r.get::<_, String>(0))? else {
        return Ok(None);
    };
    if status != "dead" {
        return Ok(Some(Err(status)));
    }
    let stamp = clock::timestamp();
    sql.execute(REDRIVE, &[&job_id, &clock::wall_micros(), &stamp])?;
    let payload =
        serde_json::json!({ "job_id": job_id, "status": "queued", "redriven": true }).to_string();
    sql.execute(INSERT_EVENT, &[&"job.queued", &job_id, &payload, &stamp])?;
    Ok(Some(Ok(())))
}

/// The statements a redrive runs.
pub const REDRIVE_FIND: &str = "SELECT status FROM jobs WHERE job_id = ?1";
/// Back to the queue, with its attempts reset.
pub const REDRIVE: &str = "UPDATE jobs SET status = 'queued', attempts = 0, run_at = ?2, last_error = NULL, worker = NULL, updated_at = ?3 WHERE job_id = ?1";

fn close_attempt(
    tx: &Transaction<'_>,
    job: i64,
    outcome: &str,
    error: Option<&str>,
    stamp: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE job_attempts SET outcome = ?2, error = ?3, finished_at = ?4 WHERE job = ?1 AND finished_at IS NULL",
        params![job, outcome, error, stamp],
    )?;
    Ok(())
}

/// Out of attempts: the job joins the dead-letter list.
fn bury(
    tx: &Transaction<'_>,
    id: i64,
    job_id: &str,
    error: &str,
    stamp: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE jobs SET status = 'dead', last_error = ?2, lease_until = NULL, updated_at = ?3 WHERE id = ?1",
        params![id, error, stamp],
    )?;
    event(
        tx,
        "job.dead",
        job_id,
        serde_json::json!({ "error": error }),
        stamp,
    )
}

fn event(
    tx: &Transaction<'_>,
    name: &str,
    job_id: &str,
    mut payload: serde_json::Value,
    stamp: &str,
) -> rusqlite::Result<()> {
    if let Some(map) = payload.as_object_mut() {
        map.insert("job_id".into(), job_id.into());
        map.insert("status".into(), name.trim_start_matches("job.").into());
    }
    tx.execute(
        INSERT_EVENT,
        params![name, job_id, payload.to_string(), stamp],
    )?;
    Ok(())
}

/// Keeps the tables bounded: the newest finished jobs and published events only.
fn prune(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('succeeded', 'dead') \
         ORDER BY updated_at DESC LIMIT -1 OFFSET ?1)",
        [KEPT_FINISHED],
    )?;
    tx.execute(
        "DELETE FROM job_outbox WHERE published_at IS NOT NULL AND id <= \
         (SELECT id FROM job_outbox WHERE published_at IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET ?1)",
        [KEPT_EVENTS],
    )?;
    Ok(())
}

/// True when committed events wait to be published.
pub fn unpublished(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM job_outbox WHERE published_at IS NULL)",
        [],
        |r| r.get(0),
    )
}

/// Publishes every committed, unpublished event, oldest first; returns how many.
pub fn publish(conn: &mut Connection) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "UPDATE job_outbox SET published_at = ?1 WHERE published_at IS NULL",
        [clock::timestamp()],
    )?;
    tx.commit()?;
    Ok(n)
}

/// A published event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its outbox id (the stream's event id).
    pub id: i64,
    /// Its name, such as `job.succeeded`.
    pub event: String,
    /// Its JSON.
    pub payload: String,
}

/// Published events after `after`, oldest first, at most `limit`.
pub fn events_after(conn: &Connection, after: i64, limit: i64) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, event, payload FROM job_outbox WHERE id > ?1 AND published_at IS NOT NULL ORDER BY id LIMIT ?2",
    )?;
    stmt.query_map([after, limit], |r| {
        Ok(Event {
            id: r.get(0)?,
            event: r.get(1)?,
            payload: r.get(2)?,
        })
    })?
    .collect()
}

/// The newest published event's id (0 when none).
pub fn last_event(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(max(id), 0) FROM job_outbox WHERE published_at IS NOT NULL",
        [],
        |r| r.get(0),
    )
}

/// How many jobs have each status, and the queue depth (waiting or running).
pub fn counts(conn: &Connection) -> rusqlite::Result<(Vec<(&'static str, i64)>, i64)> {
    let mut stmt = conn.prepare_cached("SELECT status, count(*) FROM jobs GROUP BY status")?;
    let found: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let by_status: Vec<(&'static str, i64)> = STATUSES
        .iter()
        .map(|s| {
            (
                *s,
                found.iter().find(|(f, _)| f == s).map_or(0, |(_, n)| *n),
            )
        })
        .collect();
    let depth = by_status
        .iter()
        .filter(|(s, _)| matches!(*s, "queued" | "failed" | "running"))
        .map(|(_, n)| n)
        .sum();
    Ok((by_status, depth))
}

/// When the next job falls due (microseconds), for a worker deciding how long to sleep.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT min(t) FROM (SELECT min(run_at) AS t FROM jobs WHERE status IN ('queued', 'failed') \
         UNION ALL SELECT min(lease_until) FROM jobs WHERE status = 'running')",
        [],
        |r| r.get(0),
    )
}

/// One attempt, as a job's history shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    /// Its number (an interrupted attempt's number is used again).
    #[schema(minimum = 1)]
    pub attempt: i64,
    /// The worker that made it.
    pub worker: String,
    pub started_at: String,
    /// Null while it runs.
    pub finished_at: Option<String>,
    /// Null while it runs.
    #[schema(value_type = Option<String>, pattern = "^(succeeded|failed|lost|interrupted)$")]
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// A job, as `GET /jobs/{job_id}` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Job {
    pub job_id: String,
    /// queued, running, succeeded, failed (waiting to retry) or dead (out of attempts).
    #[schema(pattern = "^(queued|running|succeeded|failed|dead)$")]
    pub status: String,
    pub tenant_id: String,
    pub object_key: String,
    /// How long its work takes, in milliseconds.
    pub work_ms: i64,
    /// How many attempts fail on purpose before one succeeds.
    pub fail_times: i64,
    /// Attempts made (counting the running one).
    #[schema(minimum = 0)]
    pub attempts: i64,
    #[schema(minimum = 1)]
    pub max_attempts: i64,
    pub created_at: String,
    pub updated_at: String,
    /// When a failed job is tried again; null otherwise.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    /// What the work produced, once it succeeded.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Every attempt, oldest first.
    pub history: Vec<Attempt>,
}

/// Reads a job row selected with `job_columns!()` (its history empty): `(row id, job)`.
pub fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Job)> {
    let status: String = r.get(2)?;
    let run_at: i64 = r.get(11)?;
    let result: Option<String> = r.get(13)?;
    Ok((
        r.get(0)?,
        Job {
            job_id: r.get(1)?,
            next_attempt_at: (status == "failed").then(|| clock::format_micros(run_at)),
            status,
            tenant_id: r.get(3)?,
            object_key: r.get(4)?,
            work_ms: r.get(5)?,
            fail_times: r.get(6)?,
            attempts: r.get(7)?,
            max_attempts: r.get(8)?,
            created_at: r.get(9)?,
            updated_at: r.get(10)?,
            last_error: r.get(12)?,
            result: result.and_then(|t| serde_json::from_str(&t).ok()),
            history: Vec::new(),
        },
    ))
}

/// A job with its history, by its public id.
pub fn find_job(sql: &crate::lab::db::Sql<'_>, job_id: &str) -> rusqlite::Result<Option<Job>> {
    let Some((id, mut job)) = sql.query_opt(SELECT_JOB, &[&job_id], job_from_row)? else {
        return Ok(None);
    };
    job.history = sql.query(HISTORY, &[&id], attempt_from_row)?;
    Ok(Some(job))
}

/// A job's attempts, oldest first.
pub const HISTORY: &str = "SELECT attempt, worker, started_at, finished_at, outcome, error FROM job_attempts WHERE job = ?1 ORDER BY id";

/// Reads an attempt row selected by [`HISTORY`].
pub fn attempt_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        attempt: r.get(0)?,
        worker: r.get(1)?,
        started_at: r.get(2)?,
        finished_at: r.get(3)?,
        outcome: r.get(4)?,
        error: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::db::Sql;
    use crate::lab::trace::Tracer;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        conn.execute_batch(MIGRATION_1).unwrap();
        let _ = &mut conn;
        conn
    }

    fn request(key: &str, fail_times: i64) -> Request {
        Request {
            tenant_id: "acme".into(),
            object_key: "uploads/a.pdf".into(),
            idempotency_key: key.into(),
            work_ms: 0,
            fail_times,
        }
    }

    fn enqueue_one(conn: &mut Connection, r: &Request, limit: usize) -> Enqueued {
        let tracer = Tracer::off();
        let tx = conn.transaction().unwrap();
        let out = enqueue(&Sql::new(&tx, &tracer), r, limit).unwrap();
        tx.commit().unwrap();
        out
    }

    #[test]
    fn a_key_names_one_request() {
        let mut conn = db();
        let Enqueued::New(first) = enqueue_one(&mut conn, &request("k", 0), 10) else {
            panic!("new")
        };
        assert!(
            matches!(enqueue_one(&mut conn, &request("k", 0), 10), Enqueued::Replay(same) if same.job_id == first.job_id)
        );
        assert!(matches!(
            enqueue_one(&mut conn, &request("k", 1), 10),
            Enqueued::KeyReused
        ));
        assert!(
            matches!(enqueue_one(&mut conn, &request("other", 0), 10), Enqueued::New(other) if other.job_id != first.job_id)
        );
    }

    #[test]
    fn a_full_queue_refuses_and_says_how_much_waits() {
        let mut conn = db();
        for i in 0..3 {
            assert!(matches!(
                enqueue_one(&mut conn, &request(&format!("k{i}"), 0), 3),
                Enqueued::New(_)
            ));
        }
        assert!(matches!(
            enqueue_one(&mut conn, &request("k3", 0), 3),
            Enqueued::Full { depth: 3, .. }
        ));
        // A replay is still answered: it asks for no new work.
        assert!(matches!(
            enqueue_one(&mut conn, &request("k0", 0), 3),
            Enqueued::Replay(_)
        ));
    }

    #[test]
    fn failures_retry_until_the_last_attempt_then_the_job_is_dead() {
        let mut conn = db();
        enqueue_one(&mut conn, &request("k", 10), 10);
        for attempt in 1..=MAX_ATTEMPTS {
            // Make the backoff due at once.
            conn.execute("UPDATE jobs SET run_at = 0", []).unwrap();
            let job = claim(&mut conn, "w", i64::MAX).unwrap().expect("due");
            assert_eq!(job.attempt, attempt);
            let status = finish(&mut conn, &job, "w", &Outcome::Failed("boom".into())).unwrap();
            let want = if attempt == MAX_ATTEMPTS {
                "dead"
            } else {
                "failed"
            };
            assert_eq!(status, Some(want));
        }
        conn.execute("UPDATE jobs SET run_at = 0", []).unwrap();
        assert!(
            claim(&mut conn, "w", i64::MAX).unwrap().is_none(),
            "a dead job is never claimed"
        );
        let events: Vec<String> = conn
            .prepare("SELECT event FROM job_outbox ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(events.first().map(String::as_str), Some("job.queued"));
        assert_eq!(events.last().map(String::as_str), Some("job.dead"));
    }

    #[test]
    fn a_lapsed_lease_is_claimed_again_and_the_lost_attempt_recorded() {
        let mut conn = db();
        enqueue_one(&mut conn, &request("k", 0), 10);
        let first = claim(&mut conn, "dead-worker", 0).unwrap().expect("due");
        // Its lease (until 0) has lapsed: another worker takes it.
        let second = claim(&mut conn, "w2", i64::MAX).unwrap().expect("lapsed");
        assert_eq!((first.attempt, second.attempt), (1, 2));
        // The first worker, back from the dead, no longer owns it.
        assert_eq!(
            finish(
                &mut conn,
                &first,
                "dead-worker",
                &Outcome::Succeeded(serde_json::json!({}))
            )
            .unwrap(),
            None
        );
        assert_eq!(
            finish(
                &mut conn,
                &second,
                "w2",
                &Outcome::Succeeded(serde_json::json!({}))
            )
            .unwrap(),
            Some("succeeded")
        );
        let outcomes: Vec<String> = conn
            .prepare("SELECT outcome FROM job_attempts ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(outcomes, ["lost", "succeeded"]);
    }

    #[test]
    fn an_interrupted_attempt_goes_back_without_counting() {
        let mut conn = db();
        enqueue_one(&mut conn, &request("k", 0), 10);
        let job = claim(&mut conn, "w", i64::MAX).unwrap().unwrap();
        assert_eq!(
            finish(&mut conn, &job, "w", &Outcome::Interrupted).unwrap(),
            Some("queued")
        );
        let again = claim(&mut conn, "w", i64::MAX).unwrap().unwrap();
        assert_eq!(again.attempt, 1);
    }

    #[test]
    fn finished_jobs_and_published_events_stay_bounded() {
        let mut conn = db();
        let tracer = Tracer::off();
        for i in 0..(KEPT_FINISHED + 5) {
            let tx = conn.transaction().unwrap();
            enqueue(
                &Sql::new(&tx, &tracer),
                &request(&format!("k{i}"), 0),
                usize::MAX,
            )
            .unwrap();
            tx.commit().unwrap();
            let job = claim(&mut conn, "w", i64::MAX).unwrap().unwrap();
            publish(&mut conn).unwrap();
            finish(
                &mut conn,
                &job,
                "w",
                &Outcome::Succeeded(serde_json::json!({})),
            )
            .unwrap();
        }
        let jobs: i64 = conn
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
            .unwrap();
        let events: i64 = conn
            .query_row("SELECT count(*) FROM job_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(jobs, KEPT_FINISHED);
        assert!(events <= KEPT_EVENTS + 3, "{events}");
    }
}
