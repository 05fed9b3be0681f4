//! Schema versions, kept per topic: each topic declares its migrations and demo rows, and the
//! lab applies what a database has not seen yet. Adding a topic, or a migration to one, never
//! touches another topic's history.
//!
//! `lab_schema` records each topic's version. `PRAGMA user_version` says which scheme the file
//! uses: 0 for a new file, [`SCHEME`] for per-topic versions. Files from before per-topic
//! versions recorded `1`, meaning one migration that created the lab's, the tasks' and the
//! users' tables at once; they map onto the topics' first versions ([`LEGACY`]).

use rusqlite::{Connection, OptionalExtension, Transaction};

/// Demo rows for a topic, written once, after its tables are first created.
pub type Seed = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// One topic's part of the database.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The topic's name, the key of its version.
    pub name: &'static str,
    /// Its migrations, in order. One that has shipped never changes: add another.
    pub migrations: &'static [&'static str],
    /// Its demo rows, if any.
    pub seed: Option<Seed>,
}

/// The lab's own table: per-database settings and secrets (a topic adds its own rows, such as
/// the key that signs its cursors). Applied before every topic.
pub const LAB: Schema = Schema {
    name: "lab",
    migrations: &["CREATE TABLE lab_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"],
    seed: None,
};

/// The `user_version` of files whose versions are kept per topic.
pub const SCHEME: i64 = 2;

/// What `user_version = 1` (the single migration of earlier releases) means per topic.
const LEGACY: [(&str, i64); 3] = [("lab", 1), ("tasks", 1), ("users", 1)];

/// Why a database's schema cannot be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was made by a newer reqlab.
    #[error(
        "the database is at schema version {found}, newer than this reqlab understands ({known}); use a newer reqlab or another --db"
    )]
    TooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// One topic's tables were made by a newer reqlab.
    #[error(
        "the database's {topic} tables are at version {found}, newer than this reqlab understands ({known}); use a newer reqlab or another --db"
    )]
    TopicTooNew {
        /// The topic.
        topic: &'static str,
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
}

/// Brings the database up to date: the lab's own table, then each topic in order.
pub fn migrate(conn: &mut Connection, topics: &[Schema]) -> Result<(), SchemaError> {
    let scheme: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if scheme > SCHEME {
        return Err(SchemaError::TooNew {
            found: scheme,
            known: SCHEME,
        });
    }
    if scheme < SCHEME {
        let tx = conn.transaction()?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS lab_schema (topic TEXT PRIMARY KEY, version INTEGER NOT NULL);",
        )?;
        if scheme == 1 {
            for (topic, version) in LEGACY {
                tx.execute(
                    "INSERT INTO lab_schema (topic, version) VALUES (?1, ?2)",
                    rusqlite::params![topic, version],
                )?;
            }
        }
        tx.pragma_update(None, "user_version", SCHEME)?;
        tx.commit()?;
    }
    for schema in std::iter::once(&LAB).chain(topics) {
        apply(conn, schema)?;
    }
    Ok(())
}

/// Applies the migrations a topic has not seen, and its demo rows when it is new, in one
/// transaction.
fn apply(conn: &mut Connection, schema: &Schema) -> Result<(), SchemaError> {
    let tx = conn.transaction()?;
    let current: i64 = tx
        .query_row(
            "SELECT version FROM lab_schema WHERE topic = ?1",
            [schema.name],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let known = schema.migrations.len() as i64;
    if current > known {
        return Err(SchemaError::TopicTooNew {
            topic: schema.name,
            found: current,
            known,
        });
    }
    if current == known {
        return Ok(());
    }
    for sql in &schema.migrations[current as usize..] {
        tx.execute_batch(sql)?;
    }
    if current == 0
        && let Some(seed) = schema.seed
    {
        seed(&tx)?;
    }
    tx.execute(
        "INSERT INTO lab_schema (topic, version) VALUES (?1, ?2)
         ON CONFLICT (topic) DO UPDATE SET version = excluded.version",
        rusqlite::params![schema.name, known],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTES: Schema = Schema {
        name: "notes",
        migrations: &["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"],
        seed: Some(|tx| tx.execute_batch("INSERT INTO notes (body) VALUES ('hello');")),
    };
    const NOTES_V2: Schema = Schema {
        name: "notes",
        migrations: &[
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
            "ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;",
        ],
        seed: NOTES.seed,
    };

    fn version(conn: &Connection, topic: &str) -> i64 {
        conn.query_row(
            "SELECT version FROM lab_schema WHERE topic = ?1",
            [topic],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_topic_is_created_and_seeded_once_then_migrated_forward() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &[NOTES]).unwrap();
        migrate(&mut conn, &[NOTES]).unwrap();
        let count: i64 = conn
            .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1, "seeded once");
        assert_eq!(version(&conn, "notes"), 1);
        assert_eq!(version(&conn, "lab"), 1);

        migrate(&mut conn, &[NOTES_V2]).unwrap();
        assert_eq!(version(&conn, "notes"), 2);
        let pinned: i64 = conn
            .query_row("SELECT pinned FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pinned, 0);

        let err = migrate(&mut conn, &[NOTES]).unwrap_err();
        assert!(
            matches!(
                err,
                SchemaError::TopicTooNew {
                    topic: "notes",
                    found: 2,
                    known: 1
                }
            ),
            "{err}"
        );
    }
}
