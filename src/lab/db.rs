//! The lab's SQLite database: migrations, demo data, and where each kind of work runs.
//!
//! Where work runs, and why:
//! - **Point reads** (a row by primary key) run inline on the async worker, on a pooled read
//!   connection. From a warm page cache they take microseconds; hopping to another thread would
//!   cost more than the read itself.
//! - **Index walks bounded by a LIMIT** (a first page, a cursor page) also run inline: they
//!   touch at most `limit + 1` rows.
//! - **Scans** (deep offset pages, filters and sorts without an index) run on tokio's blocking
//!   pool ([`Db::scan`]): their cost grows with the data, and they must not stall other
//!   requests.
//! - **Writes** go to one writer thread through a queue ([`Db::write`]). SQLite allows one
//!   writer at a time anyway; a single thread makes that explicit, and waiting on the busy
//!   timeout never blocks an async worker.
//!
//! File databases use WAL so readers never wait for the writer. `--memory` databases live in
//! SQLite's in-process `memdb` store, shared by all of this lab's connections.

use super::migrate::{Schema, SchemaError, migrate};
use super::trace::Tracer;
use rusqlite::{Connection, OpenFlags, Row, ToSql};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Where the lab keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A database file (created when missing).
    File(PathBuf),
    /// An in-memory database that disappears when the lab stops.
    Memory,
}

/// A database failure. Its text is for the lab's log, never for a response.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The writer thread is gone (the lab is shutting down).
    #[error("the database writer has stopped")]
    WriterGone,
    /// The schema could not be brought up to date.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The blocking pool failed to run a scan.
    #[error("a database task failed: {0}")]
    Task(String),
}

impl DbError {
    /// True when a UNIQUE constraint rejected the statement.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        )
    }
}

/// Where [`Db::read`] runs its work, as step mode's data hold says it.
pub const RUNS_INLINE: &str = "inline, on a pooled read connection";
/// Where [`Db::scan`] runs its work.
pub const RUNS_ON_BLOCKING_POOL: &str =
    "on the blocking pool, as a read whose cost grows with the data";
/// Where [`Db::write`] runs its work.
pub const RUNS_ON_WRITER: &str = "on the writer thread";

/// How long a statement waits for a lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Read connections kept for reuse. Scans run on the blocking pool, so under load as many
/// connections as concurrent scans are in use; keeping them avoids reopening (and re-preparing
/// statements) on every request.
const MAX_POOLED_READERS: usize = 64;

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// The lab database handle, shared by all requests.
pub struct Db {
    uri: String,
    is_file: bool,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating and migrating if needed) the database with the topics' schemas,
    /// seeding each topic's demo data when its tables are new.
    pub fn open(location: &DbLocation, topics: &[Schema]) -> Result<Arc<Db>, DbError> {
        let (uri, is_file) = match location {
            DbLocation::File(path) => (path.to_string_lossy().into_owned(), true),
            DbLocation::Memory => (
                format!("file:/reqlab-{}?vfs=memdb", uuid::Uuid::new_v4().simple()),
                false,
            ),
        };
        let mut write_conn = open_connection(&uri, is_file, false)?;
        // Every write transaction takes the write lock when it begins. A deferred one starts as
        // a read and, when another process (a replica) wrote in the meantime, cannot become a
        // write: SQLite answers busy at once, without waiting the busy timeout.
        write_conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        migrate(&mut write_conn, topics)?;

        let (tx, rx) = mpsc::channel::<WriteJob>();
        let thread = std::thread::Builder::new()
            .name("reqlab-db-writer".into())
            .spawn(move || {
                let mut conn = write_conn;
                while let Ok(job) = rx.recv() {
                    // A panicking job must not take the writer (and every later write) down.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
                }
            })
            .map_err(|e| DbError::Task(e.to_string()))?;

        Ok(Arc::new(Db {
            uri,
            is_file,
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
        }))
    }

    /// Runs a short read inline on the calling thread (point reads by key).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let conn = match self.readers.lock().expect("reader pool lock").pop() {
            Some(conn) => conn,
            None => open_connection(&self.uri, self.is_file, true)?,
        };
        let result = f(&conn);
        let mut pool = self.readers.lock().expect("reader pool lock");
        if pool.len() < MAX_POOLED_READERS {
            pool.push(conn);
        }
        Ok(result?)
    }

    /// Runs a read whose cost grows with the data on the blocking pool.
    pub async fn scan<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, DbError> {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || db.read(f))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Queues a write for the writer thread and waits for its result.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        {
            let writer = self.writer.lock().expect("writer lock");
            writer
                .as_ref()
                .ok_or(DbError::WriterGone)?
                .send(job)
                .map_err(|_| DbError::WriterGone)?;
        }
        rx.await.map_err(|_| DbError::WriterGone)?
    }

    /// Reads a per-database secret a topic's migration made (`lab_meta`, see [`super::migrate`]).
    pub fn secret(&self, key: &str) -> Result<Vec<u8>, DbError> {
        self.read(|c| {
            c.query_row("SELECT value FROM lab_meta WHERE key = ?1", [key], |r| {
                r.get::<_, Vec<u8>>(0)
            })
        })
    }

    /// Stops the writer thread after the queued writes finish, then checkpoints the WAL into
    /// the database file, so the file alone holds the data.
    pub fn close(&self) {
        // Readers first: a checkpoint cannot move pages a reader may still need.
        self.readers.lock().expect("reader pool lock").clear();
        if let Some(writer) = self.writer.lock().expect("writer lock").take()
            && self.is_file
        {
            let checkpoint: WriteJob = Box::new(|conn| {
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
                    tracing::warn!("could not checkpoint the lab database: {e}");
                }
            });
            let _ = writer.send(checkpoint);
        }
        if let Some(thread) = self
            .writer_thread
            .lock()
            .expect("writer thread lock")
            .take()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.close();
    }
}

fn open_connection(uri: &str, is_file: bool, read_only: bool) -> Result<Connection, DbError> {
    let mut flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    flags |= if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    };
    let conn = Connection::open_with_flags(uri, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if is_file && !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// A connection plus the request's tracer: every statement run through it is timed and recorded.
pub struct Sql<'a> {
    conn: &'a Connection,
    tracer: &'a Tracer,
}

impl<'a> Sql<'a> {
    /// Wraps a connection for one request.
    pub fn new(conn: &'a Connection, tracer: &'a Tracer) -> Sql<'a> {
        Sql { conn, tracer }
    }

    /// Runs a query and maps every row. Statements are usually `&'static str`, so recording
    /// them costs no copy.
    #[track_caller]
    pub fn query<T>(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: &[&dyn ToSql],
        mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let sql = sql.into();
        let start = Instant::now();
        let result = self.conn.prepare_cached(&sql).and_then(|mut stmt| {
            stmt.query_map(params, |row| map(row))?
                .collect::<rusqlite::Result<Vec<T>>>()
        });
        self.record(
            start,
            sql,
            params,
            result.as_ref().map(|rows| rows.len() as u64),
        );
        result
    }

    /// Runs a query expected to return at most one row.
    #[track_caller]
    pub fn query_opt<T>(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: &[&dyn ToSql],
        map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Option<T>> {
        let sql = sql.into();
        let start = Instant::now();
        let result = self.conn.prepare_cached(&sql).and_then(|mut stmt| {
            let mut rows = stmt.query(params)?;
            let first = match rows.next()? {
                Some(row) => Some(map(row)?),
                None => None,
            };
            // Step to the end: a write with RETURNING commits only when its statement
            // completes, and only a commit lets SQLite checkpoint the WAL.
            while rows.next()?.is_some() {}
            Ok(first)
        });
        self.record(
            start,
            sql,
            params,
            result.as_ref().map(|found| u64::from(found.is_some())),
        );
        result
    }

    /// Runs a write and returns the number of rows changed.
    #[track_caller]
    pub fn execute(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: &[&dyn ToSql],
    ) -> rusqlite::Result<usize> {
        let sql = sql.into();
        let start = Instant::now();
        let result = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.execute(params));
        self.record(start, sql, params, result.as_ref().map(|n| *n as u64));
        result
    }

    /// Records a statement in the trace, succeeded or not: a refused statement is part of
    /// the story (a UNIQUE constraint stopping a duplicate, say).
    #[track_caller]
    fn record(
        &self,
        start: Instant,
        sql: Cow<'static, str>,
        params: &[&dyn ToSql],
        rows: Result<u64, &rusqlite::Error>,
    ) {
        // The handler's line that ran the statement: every caller up to here tracks it.
        let call_site = std::panic::Location::caller();
        match rows {
            Ok(n) => self.tracer.sql(start, sql, params, n, call_site),
            Err(e) => {
                self.tracer.sql(start, sql, params, 0, call_site);
                self.tracer.note(
                    crate::stage::Stage::Data,
                    super::trace::Outcome::Fail,
                    format_args!("the database refused the statement: {}", sqlite_reason(e)),
                );
            }
        }
    }
}

/// A short reason for a refused statement, fit for a trace (constraint names, not paths).
fn sqlite_reason(err: &rusqlite::Error) -> String {
    match err {
        rusqlite::Error::SqliteFailure(e, Some(msg))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            msg.clone()
        }
        rusqlite::Error::SqliteFailure(e, _) => format!("{:?}", e.code),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTES: Schema = Schema {
        name: "notes",
        migrations: &["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"],
        seed: None,
    };

    #[tokio::test]
    async fn writes_are_visible_to_inline_reads() {
        let db = Db::open(&DbLocation::Memory, &[NOTES]).unwrap();
        db.write(|c| {
            c.execute("INSERT INTO notes (body) VALUES ('x')", [])?;
            Ok(())
        })
        .await
        .unwrap();
        let n: i64 = db
            .read(|c| {
                c.query_row("SELECT count(*) FROM notes WHERE body = 'x'", [], |r| {
                    r.get(0)
                })
            })
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_database_from_a_newer_reqlab_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Db::open(&DbLocation::File(path), &[]).unwrap_err();
        assert!(
            matches!(err, DbError::Schema(SchemaError::TooNew { found: 99, .. })),
            "{err}"
        );
    }
}
