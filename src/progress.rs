//! The learner's progress: the only module that writes it.
//!
//! A small SQLite file (`progress.db`) in reqlab's data directory. A file that is not a
//! readable database is moved aside (never deleted) and a fresh one started, with a message
//! saying where the old one went.

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// File name inside the data directory.
pub const FILE_NAME: &str = "progress.db";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS challenge_passes (
    challenge TEXT NOT NULL,
    target    TEXT NOT NULL,
    passed_at TEXT NOT NULL,
    checks    INTEGER NOT NULL,
    warnings  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS challenge_passes_by_id ON challenge_passes (challenge, passed_at);
"#;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite failed (the file may be busy, unwritable, or not a database).
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The integrity check found damage.
    #[error("the integrity check failed: {0}")]
    Damaged(String),
}

fn is_unreadable_database(err: &OpenError) -> bool {
    match err {
        OpenError::Damaged(_) => true,
        OpenError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
            e.code,
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
        ),
        OpenError::Sqlite(_) => false,
    }
}

/// One recorded pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pass {
    /// Challenge id.
    pub challenge: String,
    /// The server that passed it.
    pub target: String,
    /// When (RFC 3339 UTC).
    pub passed_at: String,
    /// Checks that passed.
    pub checks: u32,
    /// Advice not followed at the time.
    pub warnings: u32,
}

/// The open progress store.
#[derive(Debug)]
pub struct Progress {
    conn: Connection,
    path: PathBuf,
}

/// What opening found, besides the store itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenNote {
    /// Nothing unusual.
    Fine,
    /// The old file could not be read and was moved to this path.
    MovedAside(PathBuf),
}

impl Progress {
    /// Opens (or creates) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<(Progress, OpenNote)> {
        crate::paths::ensure_dir(data_dir)?;
        let path = data_dir.join(FILE_NAME);
        match Self::try_open(&path) {
            Ok(p) => Ok((p, OpenNote::Fine)),
            // Only a file that is not a readable database is moved aside; a busy, locked or
            // unwritable one is an error to report, not a reason to start over.
            Err(first) if path.exists() && is_unreadable_database(&first) => {
                let stamp = crate::lab::clock::now_string().replace([':', '.'], "-");
                let aside = data_dir.join(format!("{FILE_NAME}.unreadable-{stamp}"));
                std::fs::rename(&path, &aside).map_err(|e| {
                    anyhow::anyhow!(
                        "the progress file {} cannot be read ({first}) and could not be moved aside: {e}",
                        path.display()
                    )
                })?;
                for suffix in ["-journal", "-wal", "-shm"] {
                    let side = data_dir.join(format!("{FILE_NAME}{suffix}"));
                    if side.exists() {
                        let _ = std::fs::rename(
                            &side,
                            data_dir.join(format!("{FILE_NAME}.unreadable-{stamp}{suffix}")),
                        );
                    }
                }
                let fresh = Self::try_open(&path)?;
                Ok((fresh, OpenNote::MovedAside(aside)))
            }
            Err(e) => Err(anyhow::anyhow!(
                "cannot open the progress file {}: {e}",
                path.display()
            )),
        }
    }

    fn try_open(path: &Path) -> Result<Progress, OpenError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Reading the schema fails on a file that is not a SQLite database.
        let integrity: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            return Err(OpenError::Damaged(integrity));
        }
        conn.execute_batch(SCHEMA)?;
        Ok(Progress {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The ids of the challenges passed so far, read without creating or changing anything
    /// (none when there is no store yet, or it cannot be read).
    pub fn passed_ids(data_dir: &Path) -> Vec<String> {
        let path = data_dir.join(FILE_NAME);
        if !path.exists() {
            return Vec::new();
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let Ok(conn) = Connection::open_with_flags(&path, flags) else {
            return Vec::new();
        };
        let read = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = conn.prepare("SELECT DISTINCT challenge FROM challenge_passes")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        };
        read().unwrap_or_default()
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that `challenge` passed against `target`.
    pub fn record_pass(
        &self,
        challenge: &str,
        target: &str,
        checks: u32,
        warnings: u32,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO challenge_passes (challenge, target, passed_at, checks, warnings) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![challenge, target, crate::lab::clock::now_string(), checks, warnings],
        )?;
        Ok(())
    }

    /// The first pass of each challenge.
    pub fn first_passes(&self) -> anyhow::Result<Vec<Pass>> {
        let mut stmt = self.conn.prepare(
            "SELECT challenge, target, min(passed_at), checks, warnings FROM challenge_passes GROUP BY challenge ORDER BY min(passed_at)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Pass {
                challenge: r.get(0)?,
                target: r.get(1)?,
                passed_at: r.get(2)?,
                checks: r.get(3)?,
                warnings: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets everything.
    pub fn reset(&self) -> anyhow::Result<usize> {
        Ok(self.conn.execute("DELETE FROM challenge_passes", [])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_kept_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (p, note) = Progress::open(dir.path()).unwrap();
            assert_eq!(note, OpenNote::Fine);
            p.record_pass("rest-crud", "http://127.0.0.1:8000", 6, 0)
                .unwrap();
            p.record_pass("rest-crud", "http://127.0.0.1:8000", 6, 1)
                .unwrap();
        }
        let (p, _) = Progress::open(dir.path()).unwrap();
        let passes = p.first_passes().unwrap();
        assert_eq!(passes.len(), 1);
        assert_eq!(passes[0].challenge, "rest-crud");
        assert_eq!(p.reset().unwrap(), 2);
        assert!(p.first_passes().unwrap().is_empty());
    }

    #[test]
    fn passes_can_be_read_without_creating_a_store() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Progress::passed_ids(dir.path()).is_empty());
        assert!(!dir.path().join(FILE_NAME).exists(), "nothing was created");
        let (p, _) = Progress::open(dir.path()).unwrap();
        p.record_pass("etag", "x", 1, 0).unwrap();
        assert_eq!(Progress::passed_ids(dir.path()), ["etag"]);
    }

    #[test]
    fn an_unreadable_file_is_moved_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, b"this is not a database, but it is someone's data").unwrap();
        let (p, note) = Progress::open(dir.path()).unwrap();
        let OpenNote::MovedAside(aside) = note else {
            panic!("expected a move, got {note:?}")
        };
        assert_eq!(
            std::fs::read(&aside).unwrap(),
            b"this is not a database, but it is someone's data"
        );
        p.record_pass("etag", "x", 1, 0).unwrap();
        assert_eq!(p.first_passes().unwrap().len(), 1);
    }
}
