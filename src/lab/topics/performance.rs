//! `/books`: one list, three ways to load what each item refers to, so the trace shows what an
//! ORM's lazy loading costs. Each book names its author:
//!
//! - `authors=lazy`: the books, then one query per book for its author — the N+1 pattern,
//!   which the trace's data stage flags with its fix;
//! - `authors=batched`: the books, then every author they name in one `IN (…)` query;
//! - `authors=joined` (the default): one query with a JOIN.
//!
//! The answer is the same each way; only the statements differ.

use super::Topic;
use crate::lab::db::{DbError, RUNS_INLINE, Sql};
use crate::lab::error::Problem;
use crate::lab::extract::QueryPairs;
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, int_param};
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Loading related rows: N+1, batched, joined.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "performance",
        migrations: &[MIGRATION_1],
        seed: Some(seed),
    },
    problems: &[],
    links: &[("books", "/books")],
    router,
};

const MIGRATION_1: &str = r#"
CREATE TABLE authors (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE books (
    id        INTEGER PRIMARY KEY,
    title     TEXT NOT NULL,
    published INTEGER NOT NULL,
    author_id INTEGER NOT NULL REFERENCES authors (id)
);
CREATE INDEX books_by_author ON books (author_id);
"#;

/// Demo authors; each writes several of the demo books.
const AUTHORS: [&str; 12] = [
    "Octavia Butler",
    "Ted Chiang",
    "Ursula K. Le Guin",
    "Stanisław Lem",
    "N. K. Jemisin",
    "Iain M. Banks",
    "Becky Chambers",
    "Liu Cixin",
    "Ann Leckie",
    "Arkady Martine",
    "Martha Wells",
    "Adrian Tchaikovsky",
];

fn seed(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    for name in AUTHORS {
        tx.execute("INSERT INTO authors (name) VALUES (?1)", [name])?;
    }
    // Sixty books dealt round the authors, so any page names many of them.
    for n in 1..=60i64 {
        let author = (n * 7) % AUTHORS.len() as i64 + 1;
        tx.execute(
            "INSERT INTO books (title, published, author_id) VALUES (?1, ?2, ?3)",
            rusqlite::params![format!("Volume {n}"), 1970 + n, author],
        )?;
    }
    Ok(())
}

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new()
        .routes(routes!(list_books))
        .layer(cache_control("private, no-cache"))
        .with_state(Arc::clone(lab)))
}

/// A page of books, oldest first.
const SELECT_BOOKS: &str = "SELECT id, title, published, author_id FROM books ORDER BY id LIMIT ?1";
/// One author: what lazy loading runs once per book.
const SELECT_AUTHOR: &str = "SELECT id, name FROM authors WHERE id = ?1";
/// The authors of a page, in one statement (the `IN` list is built from the page).
const SELECT_AUTHORS_IN: &str = "SELECT id, name FROM authors WHERE id IN (";
/// Books and their authors together.
const SELECT_BOOKS_JOINED: &str = "SELECT b.id, b.title, b.published, a.id, a.name FROM books b JOIN authors a ON a.id = b.author_id ORDER BY b.id LIMIT ?1";

/// How the authors are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
enum Loading {
    /// One query per book (the N+1 pattern).
    Lazy,
    /// One `IN (…)` query for every author on the page.
    Batched,
    /// One query with a JOIN.
    Joined,
}

impl Loading {
    fn parse(raw: &str) -> Option<Loading> {
        Some(match raw {
            "lazy" => Loading::Lazy,
            "batched" => Loading::Batched,
            "joined" => Loading::Joined,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Loading::Lazy => "lazy",
            Loading::Batched => "batched",
            Loading::Joined => "joined",
        }
    }
}

/// A book and its author.
#[derive(Debug, Serialize, ToSchema)]
struct Book {
    #[schema(minimum = 1)]
    id: i64,
    title: String,
    published: i64,
    author: Author,
}

/// An author.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Author {
    #[schema(minimum = 1)]
    id: i64,
    name: String,
}

/// A page of books.
#[derive(Debug, Serialize, ToSchema)]
struct BookPage {
    #[schema(max_items = 50)]
    items: Vec<Book>,
    #[schema(minimum = 1, maximum = 50)]
    limit: i64,
    /// How the authors were loaded, and so how many statements it took.
    authors: &'static str,
    statements: usize,
}

#[utoipa::path(get, path = "/books", tag = "performance", summary = "Books with their authors, loaded three ways",
    description = "The same answer three ways: authors=lazy runs one query per book for its author (the N+1 pattern, which the trace flags), batched one IN (…) query for all of them, joined (the default) a single JOIN. statements says how many SQL statements it took.",
    params(
        ("limit" = Option<i64>, Query, description = "Books on the page", minimum = 1, maximum = 50, example = 20),
        ("authors" = inline(Option<Loading>), Query, description = "How each book's author is loaded"),
    ),
    responses(
        (status = 200, description = "The books, oldest first, each with its author", body = BookPage),
        (status = 422, description = "limit or authors breaks its rule"),
    ))]
async fn list_books(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Json<BookPage>, Problem> {
    let mut fields = Fields::query(&tracer);
    let limit = int_param(&mut fields, "limit", query.get("limit"), 20, 1, 50);
    let loading = match query.get("authors") {
        None => Loading::Joined,
        Some(raw) => match Loading::parse(raw) {
            Some(loading) => {
                fields.accept("authors", raw);
                loading
            }
            None => {
                fields.error(
                    "authors",
                    format!("must be lazy, batched or joined, got `{raw}`"),
                );
                Loading::Joined
            }
        },
    };
    fields.finish(&gate).await?;
    gate.auth().await;
    let first = match loading {
        Loading::Joined => SELECT_BOOKS_JOINED,
        Loading::Lazy | Loading::Batched => SELECT_BOOKS,
    };
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, first, &[&limit])
    })
    .await;
    let (items, statements) = lab.db.read(|c| {
        let sql = Sql::new(c, &tracer);
        match loading {
            Loading::Joined => joined(&sql, limit),
            Loading::Lazy => lazy(&sql, limit),
            Loading::Batched => batched(&sql, limit),
        }
    })?;
    let how = match loading {
        Loading::Lazy => format!(
            "loaded each book's author lazily, one query per book: {statements} statements for {} books",
            items.len()
        ),
        Loading::Batched => format!(
            "loaded the page's authors in one IN (…) query: {statements} statements for {} books",
            items.len()
        ),
        Loading::Joined => format!(
            "loaded books and authors with one JOIN: {statements} statement for {} books",
            items.len()
        ),
    };
    tracer.note(Stage::Logic, Outcome::Ok, how);
    Ok(Json(BookPage {
        items,
        limit,
        authors: loading.name(),
        statements,
    }))
}

/// A book row before its author is known.
type BookRow = (i64, String, i64, i64);

fn book_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BookRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn author_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Author> {
    Ok(Author {
        id: r.get(0)?,
        name: r.get(1)?,
    })
}

fn joined(sql: &Sql<'_>, limit: i64) -> rusqlite::Result<(Vec<Book>, usize)> {
    let items = sql.query(SELECT_BOOKS_JOINED, &[&limit], |r| {
        Ok(Book {
            id: r.get(0)?,
            title: r.get(1)?,
            published: r.get(2)?,
            author: Author {
                id: r.get(3)?,
                name: r.get(4)?,
            },
        })
    })?;
    Ok((items, 1))
}

fn lazy(sql: &Sql<'_>, limit: i64) -> rusqlite::Result<(Vec<Book>, usize)> {
    let rows = sql.query(SELECT_BOOKS, &[&limit], book_row)?;
    let mut items = Vec::with_capacity(rows.len());
    for (id, title, published, author_id) in rows {
        // What `book.author` does in an ORM that loads relations lazily.
        let author = sql
            .query_opt(SELECT_AUTHOR, &[&author_id], author_row)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        items.push(Book {
            id,
            title,
            published,
            author,
        });
    }
    let statements = items.len() + 1;
    Ok((items, statements))
}

fn batched(sql: &Sql<'_>, limit: i64) -> rusqlite::Result<(Vec<Book>, usize)> {
    let rows = sql.query(SELECT_BOOKS, &[&limit], book_row)?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.3).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok((Vec::new(), 1));
    }
    // One placeholder per distinct author: the statement's text depends on the page, never
    // on the client's input.
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("?{i}")).collect();
    let statement = format!("{SELECT_AUTHORS_IN}{})", placeholders.join(", "));
    let params: Vec<&dyn rusqlite::ToSql> = ids.iter().map(|i| i as &dyn rusqlite::ToSql).collect();
    let authors = sql.query(statement, &params, author_row)?;
    let items = rows
        .into_iter()
        .filter_map(|(id, title, published, author_id)| {
            let author = authors.iter().find(|a| a.id == author_id)?.clone();
            Some(Book {
                id,
                title,
                published,
                author,
            })
        })
        .collect();
    Ok((items, 2))
}

#[cfg(test)]
mod tests {
    use crate::lab::{Lab, LabConfig};

    #[tokio::test]
    async fn the_three_loadings_give_the_same_books_and_lazy_is_flagged() {
        let lab = Lab::new(LabConfig::ephemeral()).unwrap();
        let app = lab.router();
        let mut bodies = Vec::new();
        for loading in ["lazy", "batched", "joined"] {
            let request = axum::http::Request::get(format!("/books?limit=10&authors={loading}"))
                .header("host", "127.0.0.1")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = tower::ServiceExt::oneshot(app.clone(), request)
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            let mut body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let statements = body["statements"].as_u64().unwrap();
            body["authors"] = serde_json::Value::Null;
            body["statements"] = serde_json::Value::Null;
            bodies.push((statements, body));
        }
        assert_eq!(bodies[0].0, 11, "lazy: the list and one per book");
        assert_eq!(bodies[1].0, 2);
        assert_eq!(bodies[2].0, 1);
        assert_eq!(bodies[0].1, bodies[1].1);
        assert_eq!(bodies[1].1, bodies[2].1);
        let traces = lab.state.traces.recent(3);
        let flagged: Vec<usize> = traces.iter().map(|t| t.repeat_warnings().count()).collect();
        // Newest first: joined, batched, lazy.
        assert_eq!(flagged, [0, 0, 1]);
        let lazy = &traces[2];
        let warning = lazy.repeat_warnings().next().unwrap();
        assert!(
            warning
                .message
                .starts_with("N+1: `SELECT id, name FROM authors WHERE id = ?1` ran 10×"),
            "{}",
            warning.message
        );
        assert!(
            warning.message.contains("src/lab/topics/performance.rs:"),
            "{}",
            warning.message
        );
    }

    #[tokio::test]
    async fn strict_mode_counts_an_n_plus_one_and_the_client_still_gets_its_answer() {
        let mut config = LabConfig::ephemeral();
        config.strict_queries = true;
        let lab = Lab::new(config).unwrap();
        let app = lab.router();
        let alarms = || {
            lab.state
                .query_alarms
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        for (loading, expected) in [("joined", 0), ("lazy", 1), ("batched", 1)] {
            let request = axum::http::Request::get(format!("/books?authors={loading}"))
                .header("host", "127.0.0.1")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = tower::ServiceExt::oneshot(app.clone(), request)
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{loading}");
            assert_eq!(alarms(), expected, "{loading}");
        }
    }
}
