//! The learner's progress: the only module that writes it.
//!
//! A small SQLite file (`progress.db`) in reqlab's data directory. A file that is not a
//! readable database is moved aside (never deleted) and a fresh one started, with a message
//! saying where the old one went.
//!
//! Each pass records the challenge's version: a challenge whose checks became stricter has a
//! higher version, and a pass of an earlier one is shown as such ([`Standing`]), to be run
//! again, rather than silently taken away or silently kept. Files written before versions
//! existed gain the column when opened; their passes are version 1.

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
    warnings  INTEGER NOT NULL,
    version   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS challenge_passes_by_id ON challenge_passes (challenge, passed_at);
-- Lesson sections the learner has read to the end in the guide.
CREATE TABLE IF NOT EXISTS sections_read (
    lesson  TEXT NOT NULL,
    section TEXT NOT NULL,
    read_at TEXT NOT NULL,
    PRIMARY KEY (lesson, section)
);
-- Where the learner left off in the guide (lesson, section, challenge target, server command).
CREATE TABLE IF NOT EXISTS guide_place (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

/// The schema version this build writes (`PRAGMA user_version`): 2 added `version`, 3 the
/// sections read and the guide's place (new tables, created when missing).
const SCHEMA_VERSION: i64 = 3;

/// True when the table has the `version` column (files from before it do not).
fn has_version_column(conn: &Connection) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('challenge_passes')")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for name in names {
        if name? == "version" {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Brings a file from before versions up to date, keeping every row (as version 1).
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    if !has_version_column(conn)? {
        conn.execute_batch(
            "ALTER TABLE challenge_passes ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
        )?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
}

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
    /// The challenge's version that passed.
    pub version: u32,
}

/// Where a learner stands with a challenge, given the versions passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// The current version passed.
    Passed,
    /// Only an earlier, less strict version passed: run it again.
    EarlierVersion,
    /// Never passed.
    NotPassed,
}

impl Standing {
    /// The standing of a challenge at `current` version whose highest version passed is
    /// `passed`.
    pub fn of(passed: Option<u32>, current: u32) -> Standing {
        match passed {
            Some(v) if v >= current => Standing::Passed,
            Some(_) => Standing::EarlierVersion,
            None => Standing::NotPassed,
        }
    }
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
        migrate(&conn)?;
        Ok(Progress {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The highest version of each challenge passed so far, read without creating or
    /// changing anything (none when there is no store yet, or it cannot be read; a file
    /// from before versions counts as version 1).
    pub fn passed_versions(data_dir: &Path) -> Vec<(String, u32)> {
        let path = data_dir.join(FILE_NAME);
        if !path.exists() {
            return Vec::new();
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let Ok(conn) = Connection::open_with_flags(&path, flags) else {
            return Vec::new();
        };
        let read = || -> rusqlite::Result<Vec<(String, u32)>> {
            let sql = if has_version_column(&conn)? {
                "SELECT challenge, max(version) FROM challenge_passes GROUP BY challenge"
            } else {
                "SELECT DISTINCT challenge, 1 FROM challenge_passes"
            };
            let mut stmt = conn.prepare(sql)?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        };
        read().unwrap_or_default()
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that version `version` of `challenge` passed against `target`.
    pub fn record_pass(
        &self,
        challenge: &str,
        version: u32,
        target: &str,
        checks: u32,
        warnings: u32,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO challenge_passes (challenge, version, target, passed_at, checks, warnings) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![challenge, version, target, crate::lab::clock::now_string(), checks, warnings],
        )?;
        Ok(())
    }

    /// For each challenge, the first pass of the highest version passed.
    pub fn best_passes(&self) -> anyhow::Result<Vec<Pass>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.challenge, p.target, min(p.passed_at), p.checks, p.warnings, p.version
             FROM challenge_passes p
             JOIN (SELECT challenge, max(version) AS top FROM challenge_passes GROUP BY challenge) b
               ON p.challenge = b.challenge AND p.version = b.top
             GROUP BY p.challenge ORDER BY min(p.passed_at)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Pass {
                challenge: r.get(0)?,
                target: r.get(1)?,
                passed_at: r.get(2)?,
                checks: r.get(3)?,
                warnings: r.get(4)?,
                version: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets every pass and every section read; returns how many passes there were.
    pub fn reset(&self) -> anyhow::Result<usize> {
        let passes = self.conn.execute("DELETE FROM challenge_passes", [])?;
        self.conn.execute("DELETE FROM sections_read", [])?;
        Ok(passes)
    }

    /// Records that the learner read `section` of `lesson` to its end (once; later reads keep
    /// the first time).
    pub fn mark_read(&self, lesson: &str, section: &str) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO sections_read (lesson, section, read_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![lesson, section, crate::lab::clock::now_string()],
        )?;
        Ok(())
    }

    /// Every section read, as `(lesson, section)`.
    pub fn sections_read(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT lesson, section FROM sections_read ORDER BY lesson, section")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Where the learner left off in the guide.
    pub fn place(&self) -> anyhow::Result<Place> {
        let mut stmt = self.conn.prepare("SELECT key, value FROM guide_place")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut place = Place::default();
        for row in rows {
            let (key, value) = row?;
            match key.as_str() {
                "lesson" => place.lesson = Some(value),
                "section" => place.section = Some(value),
                "target" => place.target = Some(value),
                "command" => place.command = Some(value),
                // A key written by a newer reqlab: kept in the file, not understood here.
                _ => {}
            }
        }
        Ok(place)
    }

    /// Remembers where the learner is (a `None` field forgets that part).
    pub fn save_place(&self, place: &Place) -> anyhow::Result<()> {
        let fields = [
            ("lesson", &place.lesson),
            ("section", &place.section),
            ("target", &place.target),
            ("command", &place.command),
        ];
        for (key, value) in fields {
            match value {
                Some(v) => self.conn.execute(
                    "INSERT INTO guide_place (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    rusqlite::params![key, v],
                )?,
                None => self
                    .conn
                    .execute("DELETE FROM guide_place WHERE key = ?1", [key])?,
            };
        }
        Ok(())
    }
}

/// Where the learner left off in the guide, so it opens there next time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// The lesson open last.
    pub lesson: Option<String>,
    /// The section being read in it.
    pub section: Option<String>,
    /// The URL the challenge panel checks.
    pub target: Option<String>,
    /// The command that starts the learner's server, when the panel starts it.
    pub command: Option<String>,
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
            p.record_pass("rest-crud", 1, "http://127.0.0.1:8000", 6, 0)
                .unwrap();
            p.record_pass("rest-crud", 1, "http://127.0.0.1:8000", 6, 1)
                .unwrap();
        }
        let (p, _) = Progress::open(dir.path()).unwrap();
        let passes = p.best_passes().unwrap();
        assert_eq!(passes.len(), 1);
        assert_eq!(passes[0].challenge, "rest-crud");
        assert_eq!(p.reset().unwrap(), 2);
        assert!(p.best_passes().unwrap().is_empty());
    }

    #[test]
    fn sections_read_and_the_guides_place_are_kept_and_reset_forgets_reading() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (p, _) = Progress::open(dir.path()).unwrap();
            p.mark_read("http-basics", "methods").unwrap();
            p.mark_read("http-basics", "methods").unwrap();
            p.mark_read("validation", "layers").unwrap();
            p.save_place(&Place {
                lesson: Some("validation".into()),
                section: Some("layers".into()),
                target: Some("http://127.0.0.1:8000".into()),
                command: None,
            })
            .unwrap();
        }
        let (p, _) = Progress::open(dir.path()).unwrap();
        assert_eq!(
            p.sections_read().unwrap(),
            [
                ("http-basics".to_string(), "methods".to_string()),
                ("validation".to_string(), "layers".to_string())
            ]
        );
        let place = p.place().unwrap();
        assert_eq!(place.lesson.as_deref(), Some("validation"));
        assert_eq!(place.target.as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(place.command, None);
        p.save_place(&Place {
            target: None,
            ..place
        })
        .unwrap();
        assert_eq!(p.place().unwrap().target, None, "a None forgets that part");
        p.reset().unwrap();
        assert!(p.sections_read().unwrap().is_empty());
    }

    #[test]
    fn passes_can_be_read_without_creating_a_store() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Progress::passed_versions(dir.path()).is_empty());
        assert!(!dir.path().join(FILE_NAME).exists(), "nothing was created");
        let (p, _) = Progress::open(dir.path()).unwrap();
        p.record_pass("etag", 2, "x", 1, 0).unwrap();
        p.record_pass("etag", 1, "x", 1, 0).unwrap();
        assert_eq!(Progress::passed_versions(dir.path()), [("etag".into(), 2)]);
    }

    /// A file written before passes had versions, as that reqlab wrote it.
    fn write_unversioned_store(dir: &Path) {
        let conn = Connection::open(dir.join(FILE_NAME)).unwrap();
        conn.execute_batch(
            "CREATE TABLE challenge_passes (challenge TEXT NOT NULL, target TEXT NOT NULL, passed_at TEXT NOT NULL, checks INTEGER NOT NULL, warnings INTEGER NOT NULL);
             CREATE INDEX challenge_passes_by_id ON challenge_passes (challenge, passed_at);
             INSERT INTO challenge_passes VALUES ('etag', 'http://127.0.0.1:8000', '2026-01-02T03:04:05Z', 5, 0);
             INSERT INTO challenge_passes VALUES ('rest-crud', 'http://127.0.0.1:8000', '2026-01-03T03:04:05Z', 6, 1);",
        )
        .unwrap();
    }

    #[test]
    fn a_store_from_before_versions_keeps_its_passes_as_version_1() {
        let dir = tempfile::tempdir().unwrap();
        write_unversioned_store(dir.path());
        // Read-only readers see them before the file is migrated.
        let mut before = Progress::passed_versions(dir.path());
        before.sort();
        assert_eq!(before, [("etag".into(), 1), ("rest-crud".into(), 1)]);
        let (p, note) = Progress::open(dir.path()).unwrap();
        assert_eq!(note, OpenNote::Fine);
        let passes = p.best_passes().unwrap();
        assert_eq!(passes.len(), 2, "no row is lost");
        assert_eq!(passes[0].challenge, "etag");
        assert_eq!(passes[0].passed_at, "2026-01-02T03:04:05Z");
        assert_eq!(passes[0].version, 1);
        // A new pass of a stricter version stands above the old one.
        p.record_pass("etag", 2, "http://127.0.0.1:8000", 6, 0)
            .unwrap();
        let etag = p
            .best_passes()
            .unwrap()
            .into_iter()
            .find(|x| x.challenge == "etag")
            .unwrap();
        assert_eq!((etag.version, etag.checks), (2, 6));
        drop(p);
        // Opening again changes nothing more.
        let (p, _) = Progress::open(dir.path()).unwrap();
        assert_eq!(p.best_passes().unwrap().len(), 2);
    }

    #[test]
    fn standing_compares_the_version_passed_with_the_current_one() {
        assert_eq!(Standing::of(Some(2), 2), Standing::Passed);
        assert_eq!(Standing::of(Some(1), 2), Standing::EarlierVersion);
        assert_eq!(Standing::of(None, 1), Standing::NotPassed);
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
        p.record_pass("etag", 1, "x", 1, 0).unwrap();
        assert_eq!(p.best_passes().unwrap().len(), 1);
    }
}
