//! How SQLite means to run a statement a request ran (`EXPLAIN QUERY PLAN`), with each step
//! said in words: a full scan, a lookup by key or through an index, a sort no index spares.
//! Only statements the lab itself recorded are explained, on a read-only connection, and
//! EXPLAIN prepares a statement without running it.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

/// One statement's plan, as `/_lab/traces/{id}/plans` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatementPlan {
    /// Its place among the request's statements, from 0.
    pub index: usize,
    /// The statement.
    pub statement: String,
    /// Its steps (none when it could not be explained).
    #[serde(default)]
    pub plan: Vec<PlanStep>,
    /// Why it could not be explained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Explains each of `statements`, in order.
pub fn explain_all(conn: &Connection, statements: Vec<String>) -> Vec<StatementPlan> {
    statements
        .into_iter()
        .enumerate()
        .map(|(index, statement)| match explain(conn, &statement) {
            Ok(plan) => StatementPlan {
                index,
                statement,
                plan,
                error: None,
            },
            Err(e) => StatementPlan {
                index,
                statement,
                plan: Vec::new(),
                error: Some(e.to_string()),
            },
        })
        .collect()
}

/// One step of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanStep {
    /// How deep it sits under the steps it belongs to (0 at the top).
    pub depth: usize,
    /// SQLite's own words.
    pub detail: String,
    /// The same, in a sentence.
    pub said: String,
}

/// The plan for `statement`, its steps in order, nested steps after their parent.
pub fn explain(conn: &Connection, statement: &str) -> rusqlite::Result<Vec<PlanStep>> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {statement}"))?;
    // The plan does not depend on the values: every parameter is bound to NULL.
    let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
    let rows: Vec<(i64, i64, String)> = stmt
        .query_map(rusqlite::params_from_iter(nulls), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut depths: Vec<(i64, usize)> = Vec::new();
    Ok(rows
        .into_iter()
        .map(|(id, parent, detail)| {
            let depth = depths
                .iter()
                .find(|(i, _)| *i == parent)
                .map_or(0, |(_, d)| d + 1);
            depths.push((id, depth));
            let said = words(&detail);
            PlanStep {
                depth,
                detail,
                said,
            }
        })
        .collect())
}

/// One plan step in a sentence.
pub fn words(detail: &str) -> String {
    let table = |rest: &str| rest.split_whitespace().next().unwrap_or("").to_string();
    if let Some(rest) = detail.strip_prefix("SCAN ") {
        let t = table(rest);
        return if rest.contains("USING COVERING INDEX") {
            format!(
                "reads all of {t} through an index that holds every column it needs (a covering index): no table rows are read"
            )
        } else if let Some(index) = rest.split("USING INDEX ").nth(1) {
            format!(
                "reads every row of {t} in the order of index {}: still all of them",
                index.trim()
            )
        } else if t == "CONSTANT" {
            "reads no table: the answer is a constant row".to_string()
        } else {
            format!(
                "reads {t} row by row from the start (a scan): all of it unless a LIMIT stops it early, so the work grows with the table; an index on the columns it filters by would let it look rows up instead"
            )
        };
    }
    if let Some(rest) = detail.strip_prefix("SEARCH ") {
        let t = table(rest);
        let condition = rest
            .rsplit_once('(')
            .map(|(_, c)| c.trim_end_matches(')'))
            .unwrap_or("");
        return if rest.contains("INTEGER PRIMARY KEY") {
            format!(
                "looks {t} rows up by primary key ({condition}): a direct lookup, however big the table"
            )
        } else if let Some(index) = rest.split("USING COVERING INDEX ").nth(1) {
            let index = index.split_whitespace().next().unwrap_or("");
            format!(
                "looks {t} rows up through index {index} ({condition}), which alone holds every column it needs"
            )
        } else if let Some(index) = rest.split("USING INDEX ").nth(1) {
            let index = index.split_whitespace().next().unwrap_or("");
            format!(
                "looks {t} rows up through index {index} ({condition}) instead of reading them all"
            )
        } else {
            format!("looks {t} rows up ({condition})")
        };
    }
    if let Some(what) = detail.strip_prefix("USE TEMP B-TREE FOR ") {
        return format!(
            "sorts the rows itself for {what}: no index gives them in that order, so every matching row is read before the first is returned"
        );
    }
    if detail.starts_with("CORRELATED") {
        return format!("{detail}: runs again for every row of the outer query");
    }
    detail.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_scans_and_sorts_are_told_apart() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER);
             CREATE INDEX books_by_author ON books (author_id);",
        )
        .unwrap();
        let by_key = explain(&conn, "SELECT title FROM books WHERE id = ?1").unwrap();
        assert!(
            by_key[0]
                .said
                .starts_with("looks books rows up by primary key"),
            "{by_key:?}"
        );
        let by_index = explain(&conn, "SELECT title FROM books WHERE author_id = ?1").unwrap();
        assert!(
            by_index[0].said.contains("through index books_by_author"),
            "{by_index:?}"
        );
        let scan = explain(
            &conn,
            "SELECT id FROM books WHERE title LIKE ?1 ORDER BY title",
        )
        .unwrap();
        assert!(
            scan[0]
                .said
                .starts_with("reads books row by row from the start (a scan)"),
            "{scan:?}"
        );
        assert!(
            scan.iter()
                .any(|s| s.said.starts_with("sorts the rows itself")),
            "{scan:?}"
        );
        // EXPLAIN prepares, it does not run: a write is explained and nothing changes.
        explain(&conn, "DELETE FROM books WHERE id = ?1").unwrap();
    }
}
