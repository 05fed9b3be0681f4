//! `GET /tasks`: offset pages, or cursor pages that keep their place while tasks are added.

use super::{LIMIT_DEFAULT, LIMIT_MAX, Task, Tasks, task_from_row};
use crate::lab::cursor::CursorError;
use crate::lab::db::{RUNS_INLINE, RUNS_ON_BLOCKING_POOL, Sql};
use crate::lab::error::Problem;
use crate::lab::extract::QueryPairs;
use crate::lab::step::{Carries, Gate};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, int_param};
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    NewestFirst,
    OldestFirst,
    TitleAz,
    TitleZa,
}

impl Sort {
    const CHOICES: &'static str = "-created_at, created_at, title, -title";

    fn parse(raw: &str) -> Option<Sort> {
        Some(match raw {
            "-created_at" => Sort::NewestFirst,
            "created_at" => Sort::OldestFirst,
            "title" => Sort::TitleAz,
            "-title" => Sort::TitleZa,
            _ => return None,
        })
    }

    fn order_by(self) -> &'static str {
        match self {
            Sort::NewestFirst => "created_at DESC, id DESC",
            Sort::OldestFirst => "created_at ASC, id ASC",
            Sort::TitleAz => "title COLLATE NOCASE ASC, id ASC",
            Sort::TitleZa => "title COLLATE NOCASE DESC, id DESC",
        }
    }
}

/// How a list may be ordered.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the values Sort::parse reads.
enum SortKey {
    /// Newest first (the default).
    #[schema(rename = "-created_at")]
    NewestFirst,
    /// Oldest first.
    #[schema(rename = "created_at")]
    OldestFirst,
    /// By title, A to Z (letter case ignored).
    #[schema(rename = "title")]
    TitleAz,
    /// By title, Z to A.
    #[schema(rename = "-title")]
    TitleZa,
}

/// `GET /tasks`: offset pages, or cursor pages when `cursor` is given.
#[utoipa::path(get, path = "/tasks", tag = "tasks", summary = "List tasks, a page at a time",
    description = "Offset pages by default (limit and offset). Pass the next_cursor of a page as cursor to walk on from it instead: a cursor page keeps its place while tasks are added and removed. A cursor cannot be combined with offset or sort. Unknown parameters are ignored.",
    params(
        ("limit" = Option<i64>, Query, description = "Tasks per page", minimum = 1, maximum = 100, example = 5),
        ("offset" = Option<i64>, Query, description = "Tasks to skip (offset pages only)", minimum = 0),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the page before: an opaque, signed token", min_length = 1),
        ("done" = Option<bool>, Query, description = "Only tasks that are (or are not) done"),
        ("sort" = inline(Option<SortKey>), Query, description = "The order (offset pages only)"),
    ),
    responses(
        (status = 200, description = "One page", body = Page,
            headers(("Link" = String, description = "The next page's address, rel=\"next\" (cursor pages)"))),
        (status = 400, description = "The cursor was not issued by the lab, was edited, or is combined with offset or sort"),
        (status = 422, description = "A parameter breaks its rule: the errors list each one"),
    ))]
pub(super) async fn list_tasks(
    State(lab): State<Arc<Tasks>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Response, Problem> {
    let known = ["limit", "offset", "cursor", "done", "sort"];
    let ignored = query.unknown(&known);
    if !ignored.is_empty() {
        tracer.note(
            Stage::Parsing,
            Outcome::Ok,
            format_args!(
                "ignored unknown query parameter(s): {} (this endpoint reads {})",
                ignored.join(", "),
                known.join(", ")
            ),
        );
    }
    let mut fields = Fields::query(&tracer);
    let limit = int_param(
        &mut fields,
        "limit",
        query.get("limit"),
        LIMIT_DEFAULT,
        1,
        LIMIT_MAX,
    );
    let offset = int_param(&mut fields, "offset", query.get("offset"), 0, 0, i64::MAX);
    let done = match query.get("done") {
        None => None,
        Some("true") => {
            fields.accept("done", true);
            Some(true)
        }
        Some("false") => {
            fields.accept("done", false);
            Some(false)
        }
        Some(other) => {
            fields.error("done", format!("must be true or false, got `{other}`"));
            None
        }
    };
    let sort = match query.get("sort") {
        None => Sort::NewestFirst,
        Some(raw) => match Sort::parse(raw) {
            Some(sort) => {
                fields.accept("sort", raw);
                sort
            }
            None => {
                fields.error(
                    "sort",
                    format!("must be one of {}, got `{raw}`", Sort::CHOICES),
                );
                Sort::NewestFirst
            }
        },
    };
    fields.finish(&gate).await?;
    gate.auth().await;

    let cursor = match query.get("cursor") {
        None => None,
        Some(raw) => {
            if query.get("offset").is_some() {
                return Err(bad_cursor(
                    &tracer,
                    "use either offset or cursor, not both".into(),
                ));
            }
            if sort != Sort::NewestFirst {
                return Err(bad_cursor(
                    &tracer,
                    "cursor pages walk newest first; drop sort= when you pass a cursor".into(),
                ));
            }
            match lab.cursors.decode(raw, done) {
                Ok(position) => Some(position),
                Err(err @ (CursorError::Invalid | CursorError::FilterMismatch { .. })) => {
                    return Err(bad_cursor(&tracer, err.to_string()));
                }
            }
        }
    };

    // One extra row tells whether another page exists without a COUNT(*).
    let fetch = limit + 1;
    let mut conditions = Vec::new();
    let mut params: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(done) = done {
        conditions.push("done = ?");
        params.push(i64::from(done).into());
    }
    if let Some(p) = &cursor {
        conditions.push("(created_at, id) < (?, ?)");
        params.push(p.c.clone().into());
        params.push(p.i.into());
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let mut sql = format!(
        "SELECT {} FROM tasks{where_clause} ORDER BY {} LIMIT ?",
        columns!(),
        sort.order_by()
    );
    params.push(fetch.into());
    match &cursor {
        Some(p) => tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!(
                "fetching a cursor page of up to {limit} after ({}, {})",
                p.c, p.i
            ),
        ),
        None => {
            sql.push_str(" OFFSET ?");
            params.push(offset.into());
            tracer.note(
                Stage::Logic,
                Outcome::Ok,
                format_args!("fetching an offset page: limit {limit}, offset {offset}"),
            );
        }
    }

    // A page read straight off the (created_at, id) index touches at most limit + 1 rows, so
    // it runs inline like a point read. Skipping an offset, filtering on done or sorting by
    // title can touch every row, so those go to the blocking pool.
    let bounded = (cursor.is_some() || offset == 0)
        && done.is_none()
        && matches!(sort, Sort::NewestFirst | Sort::OldestFirst);
    gate.hold(Stage::Data, || {
        let refs: Vec<&dyn rusqlite::ToSql> =
            params.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        let place = if bounded {
            RUNS_INLINE
        } else {
            RUNS_ON_BLOCKING_POOL
        };
        Carries::statement(place, &sql, &refs)
    })
    .await;
    let run = move |c: &rusqlite::Connection, t: &Tracer| {
        let refs: Vec<&dyn rusqlite::ToSql> =
            params.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        Sql::new(c, t).query(sql, &refs, task_from_row)
    };
    let mut items = if bounded {
        lab.db.read(|c| run(c, &tracer))?
    } else {
        let t = tracer.clone();
        lab.db.scan(move |c| run(c, &t)).await?
    };
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);

    let next_cursor = match (more, sort, items.last()) {
        (true, Sort::NewestFirst, Some(last)) => {
            Some(lab.cursors.encode(&last.created_at, last.id, done))
        }
        _ => None,
    };
    let end_note = if more {
        "more rows exist, so the response carries a next page"
    } else {
        "this is the last page"
    };
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("{} task(s) on this page; {end_note}", items.len()),
    );
    // The next page's address as a web link too (RFC 8288), for clients that follow links.
    let link = next_cursor.as_ref().map(|next| {
        let mut target = url::form_urlencoded::Serializer::new(String::new());
        target.append_pair("limit", &limit.to_string());
        if let Some(done) = done {
            target.append_pair("done", if done { "true" } else { "false" });
        }
        target.append_pair("cursor", next);
        format!("</tasks?{}>; rel=\"next\"", target.finish())
    });
    let mut response = Json(Page {
        items,
        limit,
        offset: cursor.is_none().then_some(offset),
        next_cursor,
    })
    .into_response();
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// One page of tasks. `offset` is present on offset pages only.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Page {
    #[schema(max_items = 100)]
    items: Vec<Task>,
    #[schema(minimum = 1, maximum = 100)]
    limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, nullable = false)]
    offset: Option<i64>,
    /// Pass it as cursor for the page after this one; null on the last page.
    next_cursor: Option<String>,
}

fn bad_cursor(tracer: &Tracer, why: String) -> Problem {
    tracer.note(
        Stage::Validation,
        Outcome::Fail,
        format_args!("cursor refused: {why} → 400; the handler never queried"),
    );
    Problem::new(
        &super::BAD_CURSOR,
        format!("The cursor cannot be used: {why}."),
    )
}
