//! The lab's topics: each one owns its routes, its tables and demo rows, its problem types and
//! its state, and is registered in [`TOPICS`]. A new lesson's endpoints are a new module here
//! and one line in that list.

pub mod api_docs;
pub mod auth;
pub mod basics;
pub mod caching;
pub mod concurrency;
pub mod cross_origin;
pub mod dependency;
pub mod internal;
pub mod jobs;
pub mod observability;
pub mod performance;
pub mod posts;
pub mod security;
pub mod tasks;
pub mod transfers;
pub mod uploads;
pub mod users;

use super::db::DbError;
use super::error::{COMMON, ProblemType};
use super::migrate::Schema;
use super::state::{Catalog, LabState};
use axum::Router;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;

/// One topic of the lab.
#[derive(Debug)]
pub struct Topic {
    /// Its tables: migrations and demo rows (its name keys its schema version).
    pub schema: Schema,
    /// The problem types its endpoints answer with, beyond the common ones.
    pub problems: &'static [&'static ProblemType],
    /// What the welcome document lists for it, as `(name, path)`.
    pub links: &'static [(&'static str, &'static str)],
    /// Its routes, with their state made from the lab's (a topic may read its secrets here),
    /// each documented operation registered together with its description.
    pub router: fn(&Arc<LabState>) -> Result<OpenApiRouter, DbError>,
}

/// Every topic, in the order the welcome document lists them and their tables are created.
pub static TOPICS: [&Topic; 17] = [
    &basics::TOPIC,
    &tasks::TOPIC,
    &users::TOPIC,
    &auth::TOPIC,
    &cross_origin::TOPIC,
    &caching::TOPIC,
    &security::TOPIC,
    &uploads::TOPIC,
    &observability::TOPIC,
    &performance::TOPIC,
    &dependency::TOPIC,
    &posts::TOPIC,
    &transfers::TOPIC,
    &jobs::TOPIC,
    &concurrency::TOPIC,
    &internal::TOPIC,
    &api_docs::TOPIC,
];

/// The topics' schemas, in order.
pub fn schemas() -> Vec<Schema> {
    TOPICS.iter().map(|t| t.schema).collect()
}

/// What the topics offer together: their links and every problem type.
pub fn catalog() -> Catalog {
    Catalog {
        links: TOPICS
            .iter()
            .flat_map(|t| t.links.iter().copied())
            .collect(),
        problems: COMMON
            .iter()
            .copied()
            .chain(TOPICS.iter().flat_map(|t| t.problems.iter().copied()))
            .collect(),
    }
}

/// Every topic's routes, merged, with `/openapi.json` and `/docs` describing them.
pub fn router(lab: &Arc<LabState>) -> Result<Router, DbError> {
    let (app, api) = documented(lab)?;
    Ok(api_docs::serve(app, api))
}

/// Every topic's routes, and the operations they document.
fn documented(lab: &Arc<LabState>) -> Result<(Router, utoipa::openapi::OpenApi), DbError> {
    Ok(TOPICS
        .iter()
        .try_fold(OpenApiRouter::new(), |app, topic| {
            Ok::<_, DbError>(app.merge((topic.router)(lab)?))
        })?
        .split_for_parts())
}

/// The lab's OpenAPI document, as `/openapi.json` serves it.
pub fn openapi(lab: &Arc<LabState>) -> Result<serde_json::Value, DbError> {
    Ok(api_docs::document(documented(lab)?.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::db::{Db, DbLocation};
    use std::collections::HashSet;

    #[test]
    fn names_slugs_and_links_are_unique() {
        let mut names = HashSet::from([crate::lab::migrate::LAB.name]);
        for topic in TOPICS {
            assert!(names.insert(topic.schema.name), "{}", topic.schema.name);
        }
        let catalog = catalog();
        let slugs: HashSet<_> = catalog.problems.iter().map(|p| p.slug).collect();
        assert_eq!(slugs.len(), catalog.problems.len());
        let links: HashSet<_> = catalog.links.iter().map(|(name, _)| name).collect();
        assert_eq!(links.len(), catalog.links.len());
    }

    #[tokio::test]
    async fn a_new_database_is_migrated_and_seeded() {
        let db = Db::open(&DbLocation::Memory, &schemas()).unwrap();
        let tasks: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(tasks, tasks::SEED_TASKS.len() as i64);
        let version: i64 = db
            .read(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .unwrap();
        assert_eq!(version, crate::lab::migrate::SCHEME);
    }

    #[tokio::test]
    async fn a_file_database_reopens_without_reseeding_and_keeps_its_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.db");
        let first = {
            let db = Db::open(&DbLocation::File(path.clone()), &schemas()).unwrap();
            db.write(|c| {
                c.execute("DELETE FROM tasks WHERE id = 1", [])?;
                Ok(())
            })
            .await
            .unwrap();
            db.secret("cursor_key").unwrap()
        };
        let db = Db::open(&DbLocation::File(path), &schemas()).unwrap();
        let n: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, tasks::SEED_TASKS.len() as i64 - 1);
        assert_eq!(db.secret("cursor_key").unwrap(), first);
        assert_eq!(first.len(), 32);
    }

    /// The schema earlier releases created in one migration, recorded as `user_version = 1`.
    const EARLIER_RELEASE: &str = r#"
CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    done       INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tasks_by_created ON tasks (created_at DESC, id DESC);
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_unique ON users (email);
CREATE TABLE lab_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
INSERT INTO lab_meta (key, value) VALUES ('cursor_key', x'00112233');
INSERT INTO tasks (title, done, created_at, updated_at)
    VALUES ('kept', 0, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
PRAGMA user_version = 1;
"#;

    #[tokio::test]
    async fn a_database_from_an_earlier_release_keeps_its_rows_and_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(EARLIER_RELEASE)
            .unwrap();
        let db = Db::open(&DbLocation::File(path), &schemas()).unwrap();
        let titles: Vec<String> = db
            .read(|c| {
                let mut stmt = c.prepare("SELECT title FROM tasks")?;
                stmt.query_map([], |r| r.get(0))?.collect()
            })
            .unwrap();
        assert_eq!(titles, ["kept"], "nothing re-created or re-seeded");
        assert_eq!(db.secret("cursor_key").unwrap(), [0x00, 0x11, 0x22, 0x33]);
        let users: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(users, 0);
    }
}
