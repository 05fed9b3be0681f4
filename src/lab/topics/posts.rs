//! `/posts`: timestamps the server sets, a list ordered by them (the `timestamps` contract),
//! and optimistic concurrency: each post has a version, its ETag says which, and a change
//! sent with `If-Match` is written only if the post is still at that version (else 412).

use super::Topic;
use crate::lab::clock;
use crate::lab::conditional::{Condition, EntityTag};
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_BLOCKING_POOL, RUNS_ON_WRITER, Sql};
use crate::lab::error::{PRECONDITION_FAILED, Problem};
use crate::lab::extract::{JsonBody, QueryPairs, parse_id};
use crate::lab::middleware::cache_control;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, int_param};
use crate::stage::Stage;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::Row;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Posts with timestamps and versions.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "posts",
        migrations: &[MIGRATION_1],
        seed: None,
    },
    problems: &[],
    links: &[("posts", "/posts")],
    router,
};

const MIGRATION_1: &str = r#"
CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
);
CREATE INDEX posts_by_created ON posts (created_at, id);
"#;

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new()
        .routes(routes!(list_posts, create_post))
        .routes(routes!(get_post, update_post))
        .layer(cache_control("private, no-cache"))
        .with_state(Arc::clone(lab)))
}

const INSERT_POST: &str = "INSERT INTO posts (title, created_at, updated_at) VALUES (?1, ?2, ?2) RETURNING id, title, created_at, updated_at, version";
const SELECT_POST: &str =
    "SELECT id, title, created_at, updated_at, version FROM posts WHERE id = ?1";
const LIST_NEWEST: &str = "SELECT id, title, created_at, updated_at, version FROM posts ORDER BY created_at DESC, id DESC LIMIT ?1 OFFSET ?2";
const LIST_OLDEST: &str = "SELECT id, title, created_at, updated_at, version FROM posts ORDER BY created_at ASC, id ASC LIMIT ?1 OFFSET ?2";
/// A change written only if the post is still at the version the client read (`?3`), or at
/// any version when it sent no `If-Match` (`?3` is NULL): one statement, so no other write
/// can slip in between the check and the change.
const UPDATE_POST: &str = "UPDATE posts SET title = ?2, updated_at = ?4, version = version + 1 WHERE id = ?1 AND (?3 IS NULL OR version = ?3) RETURNING id, title, created_at, updated_at, version";
const TITLE_MAX: usize = 200;

/// A post.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Post {
    #[schema(minimum = 1)]
    id: i64,
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Set by the server when the post is created: RFC 3339 in UTC, with microseconds.
    #[schema(format = DateTime)]
    created_at: String,
    /// Set by the server whenever the post changes.
    #[schema(format = DateTime)]
    updated_at: String,
    /// Goes up by one with every change; the ETag names it.
    #[schema(minimum = 1)]
    version: i64,
}

fn post_from_row(r: &Row<'_>) -> rusqlite::Result<Post> {
    Ok(Post {
        id: r.get(0)?,
        title: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
        version: r.get(4)?,
    })
}

/// A post's entity tag: its id and version.
fn etag(post: &Post) -> EntityTag {
    EntityTag::strong(format!("{}-v{}", post.id, post.version))
}

fn tagged(status: StatusCode, post: Post) -> Response {
    let tag = etag(&post);
    let mut response = (status, Json(post)).into_response();
    if let Ok(value) = HeaderValue::from_str(&tag.header()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A page of posts.
#[derive(Debug, Serialize, ToSchema)]
struct PostPage {
    #[schema(max_items = 100)]
    items: Vec<Post>,
    #[schema(minimum = 1, maximum = 100)]
    limit: i64,
    #[schema(minimum = 0)]
    offset: i64,
}

/// A change to a post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
struct PostChange {
    /// 1 to 200 characters, at least one of them visible, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: String,
}

#[utoipa::path(post, path = "/posts", tag = "data", summary = "Create a post",
    description = "The title comes in the query string. The server sets id, created_at, updated_at and version 1.",
    params(("title" = String, Query, description = "1 to 200 characters, at least one of them visible", min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$")),
    responses(
        (status = 201, description = "Created", body = Post, headers(
            ("Location" = String, description = "The new post's address"),
            ("ETag" = String, description = "Its version"))),
        (status = 422, description = "The title is missing or breaks its rule"),
    ))]
async fn create_post(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Response, Problem> {
    let mut fields = Fields::query(&tracer);
    let title = match query.get("title") {
        Some(t) => Some(t.to_string()),
        None => {
            fields.error("title", "is required (POST /posts?title=…)");
            None
        }
    };
    let title = fields.visible_text("title", title, TITLE_MAX);
    if let Some(t) = &title {
        fields.accept("title", format_args!("{t:?}"));
    }
    fields.finish(&gate).await?;
    let Some(title) = title else {
        return Err(Problem::internal("validation passed without a title"));
    };
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_ON_WRITER, INSERT_POST, &[&title, &"<now>"])
    })
    .await;
    let t = tracer.clone();
    let post = lab
        .db
        .write(move |conn| {
            // The clock is read on the writer, so timestamps follow the order of the writes.
            let now = clock::timestamp();
            Ok(Sql::new(conn, &t).query_opt(INSERT_POST, &[&title, &now], post_from_row)?)
        })
        .await?
        .ok_or_else(|| Problem::internal("INSERT … RETURNING returned no row"))?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "created post {}: the server set created_at = updated_at = {} (UTC) and version 1",
            post.id, post.created_at
        ),
    );
    let location = format!("/posts/{}", post.id);
    let mut response = tagged(StatusCode::CREATED, post);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// How a list is ordered.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // Describes the values the handler reads.
enum PostOrder {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    Desc,
}

#[utoipa::path(get, path = "/posts", tag = "data", summary = "List posts by creation time",
    params(
        ("sort" = inline(Option<PostOrder>), Query, description = "asc: oldest first; desc (the default): newest first; ties broken by id"),
        ("limit" = Option<i64>, Query, description = "Posts per page", minimum = 1, maximum = 100),
        ("offset" = Option<i64>, Query, description = "Posts to skip", minimum = 0),
    ),
    responses(
        (status = 200, description = "One page", body = PostPage, headers(("Link" = String, description = "The next page, rel=\"next\", when there is one"))),
        (status = 422, description = "sort, limit or offset breaks its rule"),
    ))]
async fn list_posts(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Response, Problem> {
    let mut fields = Fields::query(&tracer);
    let newest_first = match query.get("sort") {
        None => {
            fields.accept("sort", "desc (default)");
            true
        }
        Some("desc") => {
            fields.accept("sort", "desc");
            true
        }
        Some("asc") => {
            fields.accept("sort", "asc");
            false
        }
        Some(other) => {
            fields.error("sort", format!("must be asc or desc, got `{other}`"));
            true
        }
    };
    let limit = int_param(&mut fields, "limit", query.get("limit"), 20, 1, 100);
    let offset = int_param(&mut fields, "offset", query.get("offset"), 0, 0, i64::MAX);
    fields.finish(&gate).await?;
    gate.auth().await;
    let statement = if newest_first {
        LIST_NEWEST
    } else {
        LIST_OLDEST
    };
    // One more than the page, to know whether another follows.
    let fetch = limit + 1;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_ON_BLOCKING_POOL, statement, &[&fetch, &offset])
    })
    .await;
    let t = tracer.clone();
    let mut items = lab
        .db
        .scan(move |c| Sql::new(c, &t).query(statement, &[&fetch, &offset], post_from_row))
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!(
            "{} post(s), {} first by created_at, ties broken by id{}",
            items.len(),
            if newest_first { "newest" } else { "oldest" },
            if more { "; a next page follows" } else { "" }
        ),
    );
    let mut response = Json(PostPage {
        items,
        limit,
        offset,
    })
    .into_response();
    if more {
        let sort = if newest_first { "desc" } else { "asc" };
        let next = format!(
            "</posts?sort={sort}&limit={limit}&offset={}>; rel=\"next\"",
            offset.saturating_add(limit)
        );
        if let Ok(value) = HeaderValue::from_str(&next) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

#[utoipa::path(get, path = "/posts/{id}", tag = "data", summary = "Read a post",
    params(("id" = i64, Path, description = "The post's id", minimum = 1)),
    responses(
        (status = 200, description = "The post", body = Post, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No post has this id"),
    ))]
async fn get_post(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
) -> Result<Response, Problem> {
    let id = parse_id(&raw, "post", &tracer)?;
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, SELECT_POST, &[&id])
    })
    .await;
    let post = lab
        .db
        .read(|c| Sql::new(c, &tracer).query_opt(SELECT_POST, &[&id], post_from_row))?
        .ok_or_else(|| missing(&tracer, id))?;
    Ok(tagged(StatusCode::OK, post))
}

fn missing(tracer: &Tracer, id: i64) -> Problem {
    tracer.note(
        Stage::Logic,
        Outcome::Fail,
        format_args!("no post has id {id} → 404"),
    );
    Problem::not_found(format!("There is no post {id}."))
}

#[utoipa::path(patch, path = "/posts/{id}", tag = "data", summary = "Retitle a post, optimistically",
    description = "With If-Match, the change is written only if the post is still at that version (its ETag); someone else's change in between → 412 and nothing written. Without it, the last write wins.",
    params(("id" = i64, Path, description = "The post's id", minimum = 1),
        ("If-Match" = Option<String>, Header, description = "The ETag the client read")),
    request_body(content((PostChange = "application/json"))),
    responses(
        (status = 200, description = "The post, one version on", body = Post, headers(("ETag" = String, description = "Its new version"))),
        (status = 404, description = "No post has this id"),
        (status = 412, description = "If-Match names a version the post is no longer at: nothing was written"),
        (status = 422, description = "The title breaks its rule"),
    ))]
async fn update_post(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let id = parse_id(&raw, "post", &tracer)?;
    let mut fields = Fields::json_object(body, &["title"], &tracer);
    let title = fields.required_str("title");
    let title = fields.visible_text("title", title, TITLE_MAX);
    fields.finish(&gate).await?;
    let Some(title) = title else {
        return Err(Problem::internal("validation passed without a title"));
    };
    gate.auth().await;
    let condition = Condition::from_headers(&headers, &header::IF_MATCH);
    // The version the client read, from its ETag (`"7-v3"` → 3): `None` without If-Match or
    // with `*` (any version), and -1, which no post has, for a tag that names no version of
    // this post. If-Match compares strongly: a weak tag matches no version.
    let bound: Option<i64> = match &condition {
        None | Some(Condition::Any) => None,
        Some(Condition::Tags(tags)) => Some(
            tags.iter()
                .filter(|t| !t.weak)
                .find_map(|t| {
                    let (post, version) = t.opaque.split_once("-v")?;
                    if post != id.to_string() {
                        return None;
                    }
                    version.parse().ok()
                })
                .unwrap_or(-1),
        ),
    };
    match (&condition, bound) {
        (None, _) => tracer.note(
            Stage::Logic,
            Outcome::Ok,
            "no If-Match: the change is written whatever the post's version (the last write wins)",
        ),
        (Some(Condition::Any), _) => tracer.note(
            Stage::Logic,
            Outcome::Ok,
            "If-Match: * asks only that the post exists: the change is written at any version",
        ),
        (Some(_), Some(v)) if v >= 0 => tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!("If-Match names version {v}: the UPDATE writes only if the post is still at it"),
        ),
        (Some(_), _) => tracer.note(
            Stage::Logic,
            Outcome::Ok,
            "If-Match names no version of this post (a tag of another post, a weak tag, or none at all): it can match no version",
        ),
    }
    let now = clock::timestamp();
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_ON_WRITER, UPDATE_POST, &[&id, &title, &bound, &now])
    })
    .await;
    let t = tracer.clone();
    let (updated, current) = lab
        .db
        .write(move |conn| {
            let sql = Sql::new(conn, &t);
            let updated =
                sql.query_opt(UPDATE_POST, &[&id, &title, &bound, &now], post_from_row)?;
            let current = match updated {
                Some(_) => None,
                None => sql.query_opt(SELECT_POST, &[&id], post_from_row)?,
            };
            Ok((updated, current))
        })
        .await?;
    if let Some(post) = updated {
        tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!(
                "post {id} is now at version {}; updated_at moved to {}",
                post.version, post.updated_at
            ),
        );
        return Ok(tagged(StatusCode::OK, post));
    }
    let Some(current) = current else {
        return Err(missing(&tracer, id));
    };
    let now_tag = etag(&current).header();
    tracer.note(
        Stage::Logic,
        Outcome::Fail,
        format_args!(
            "the post is at {now_tag}, not the version If-Match named: someone changed it since the client read it → 412; the UPDATE matched no row, so nothing was written"
        ),
    );
    Err(Problem::new(
        &PRECONDITION_FAILED,
        format!(
            "Post {id} is now at version {} ({now_tag}). Read it again, reapply your change, and send it with If-Match: {now_tag}.",
            current.version
        ),
    ))
}

#[cfg(test)]
mod tests {
    /// What `post_from_row` reads, in order.
    const COLUMNS: &str = "id, title, created_at, updated_at, version";

    #[test]
    fn every_statement_reads_the_columns_the_row_mapper_expects() {
        for statement in [
            super::INSERT_POST,
            super::SELECT_POST,
            super::LIST_NEWEST,
            super::LIST_OLDEST,
            super::UPDATE_POST,
        ] {
            assert!(statement.contains(COLUMNS), "{statement}");
        }
    }
}
