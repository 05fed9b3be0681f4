//! Caching, both kinds: HTTP caching of `GET /api/config` (a strong ETag made from the body,
//! `If-None-Match` → 304, `Cache-Control`), and an application cache in front of an expensive
//! report, `GET /api/stats` (cache-aside with a TTL and jitter, and single flight so that a
//! burst of misses computes it once; `?single_flight=off` shows the stampede instead).
//!
//! Both sit behind the CORS layer, like every `/api` route.

use super::Topic;
use crate::lab::conditional::{Condition, EntityTag};
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_WRITER, Sql};
use crate::lab::error::Problem;
use crate::lab::extract::{JsonBody, QueryPairs};
use crate::lab::middleware::cache_control_on;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, length_problem};
use crate::stage::Stage;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::ToSql;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// HTTP caching and an application cache.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "caching",
        migrations: &[MIGRATION_1],
        seed: Some(seed),
    },
    problems: &[],
    links: &[("api_config", "/api/config"), ("api_stats", "/api/stats")],
    router,
};

const MIGRATION_1: &str = r#"
CREATE TABLE app_config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL  -- a JSON value
);
"#;

fn seed(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    for (key, value) in [
        ("maintenance", "false"),
        ("motd", "\"Welcome to the lab.\""),
        ("page_size", "20"),
        ("theme", "\"light\""),
    ] {
        tx.execute(
            "INSERT INTO app_config (key, value) VALUES (?1, ?2)",
            rusqlite::params![key, value],
        )?;
    }
    Ok(())
}

/// The config's settings, in order.
const SELECT_CONFIG: &str = "SELECT key, value FROM app_config ORDER BY key";
/// One setting changed.
const UPDATE_SETTING: &str = "UPDATE app_config SET value = ?2 WHERE key = ?1";
/// What the report counts (the tasks topic's table, read only).
const SELECT_STATS: &str = "SELECT count(*), coalesce(sum(done), 0), min(CASE WHEN done = 0 THEN created_at END) FROM tasks";

/// `Cache-Control` of the config: any cache may keep it for a minute, then must ask again.
const CONFIG_CACHE_CONTROL: &str = "public, max-age=60";
/// How long the report stays in the application cache, before jitter.
const STATS_TTL: Duration = Duration::from_secs(10);
/// How long computing the report takes: a stand-in for a slow query, so misses are visible.
const STATS_COST: Duration = Duration::from_millis(200);

/// Says whether the application cache answered (`hit`) or the report was computed (`miss`).
static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// The report's cache: one entry, and the lock that makes a burst of misses compute once.
#[derive(Debug, Default)]
struct StatsCache {
    entry: Mutex<Option<Entry>>,
    computing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone)]
struct Entry {
    body: Value,
    stored: Instant,
    ttl: Duration,
}

impl Entry {
    fn fresh(&self) -> bool {
        self.stored.elapsed() < self.ttl
    }
}

struct Caching {
    lab: Arc<LabState>,
    stats: StatsCache,
}

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    let state = Arc::new(Caching {
        lab: Arc::clone(lab),
        stats: StatsCache::default(),
    });
    let api = OpenApiRouter::new()
        .routes(cache_control_on(routes!(get_config), CONFIG_CACHE_CONTROL))
        .routes(routes!(patch_config))
        // The report changes as tasks do: ask again each time (the server caches it itself).
        .routes(cache_control_on(routes!(stats), "no-cache"))
        .with_state(state);
    Ok(crate::lab::cors::around(api, lab))
}

/// The settings document.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the document config_document builds from the table.
struct Config {
    /// Whether the lab says it is down for maintenance.
    maintenance: bool,
    /// The message of the day.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    motd: String,
    #[schema(minimum = 1, maximum = 100)]
    page_size: i64,
    theme: Theme,
}

/// A colour theme.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Describes the values the validator accepts.
enum Theme {
    Light,
    Dark,
}

/// Settings to change: any of them, the rest keep their values.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the body the validator reads field by field.
struct ConfigChanges {
    #[schema(nullable = false)]
    maintenance: Option<bool>,
    /// 1 to 200 characters, at least one of them visible, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        nullable = false,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    motd: Option<String>,
    #[schema(minimum = 1, maximum = 100, nullable = false)]
    page_size: Option<i64>,
    #[schema(nullable = false)]
    theme: Option<Theme>,
}

/// The report: counts over every task.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the document the report builds.
struct Stats {
    #[schema(minimum = 0)]
    tasks: i64,
    #[schema(minimum = 0)]
    done: i64,
    #[schema(minimum = 0)]
    open: i64,
    /// When the oldest open task was created; null when none is open.
    #[schema(format = DateTime)]
    oldest_open_created_at: Option<String>,
    /// When the report was computed (a cached one is older than the request).
    #[schema(format = DateTime)]
    computed_at: String,
}

/// The config document and its entity tag (a hash of exactly these bytes).
fn config_document(lab: &LabState, tracer: &Tracer) -> Result<(Vec<u8>, EntityTag), Problem> {
    let rows = lab.db.read(|c| {
        Sql::new(c, tracer).query(SELECT_CONFIG, &[], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
    })?;
    let mut document = Map::new();
    for (key, value) in rows {
        document.insert(key, serde_json::from_str(&value).unwrap_or(Value::Null));
    }
    let body = serde_json::to_vec(&Value::Object(document)).unwrap_or_default();
    // The first 64 bits of the body's hash: the same bytes, the same tag.
    let mut opaque = crate::lab::digest::sha256_hex(&body);
    opaque.truncate(16);
    Ok((body, EntityTag::strong(opaque)))
}

#[utoipa::path(get, path = "/api/config", tag = "caching", summary = "Read the settings, with an ETag",
    description = "A strong ETag (a hash of the exact bytes) and Cache-Control: public, max-age=60. Send the tag back in If-None-Match to get 304 while it is current.",
    params(("If-None-Match" = Option<String>, Header, description = "ETags the client holds (a list, W/ forms or *; a value that holds no entity tag matches none)")),
    responses(
        (status = 200, description = "The settings", body = Config, headers(
            ("ETag" = String, description = "The document's version"),
            ("Cache-Control" = String, description = "public, max-age=60"))),
        (status = 304, description = "The copy the client holds is current", headers(("ETag" = String, description = "The document's version"))),
    ))]
async fn get_config(
    State(state): State<Arc<Caching>>,
    tracer: Tracer,
    gate: Gate,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, SELECT_CONFIG, &[])
    })
    .await;
    let (body, tag) = config_document(&state.lab, &tracer)?;
    let etag = tag.header();
    let mut response = match Condition::from_headers(&headers, &header::IF_NONE_MATCH) {
        Some(condition) if condition.matches_weakly(&tag) => {
            tracer.note(
                Stage::Caching,
                Outcome::Ok,
                format_args!(
                    "If-None-Match {} names the current tag {etag} → 304 Not Modified: the client's copy is current, so no body is sent",
                    condition.shown()
                ),
            );
            StatusCode::NOT_MODIFIED.into_response()
        }
        Some(condition) => {
            tracer.note(
                Stage::Caching,
                Outcome::Ok,
                format_args!(
                    "If-None-Match {} does not name the current tag {etag} → the whole document, 200",
                    condition.shown()
                ),
            );
            json_response(body)
        }
        None => {
            tracer.note(
                Stage::Caching,
                Outcome::Ok,
                format_args!(
                    "no If-None-Match: the whole document with ETag {etag} (a hash of the body) and Cache-Control: {CONFIG_CACHE_CONTROL}; send the tag back in If-None-Match to revalidate"
                ),
            );
            json_response(body)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[utoipa::path(patch, path = "/api/config", tag = "caching", summary = "Change settings",
    description = "Only the settings sent change. The document's bytes change, so its ETag does too; changing a setting back brings the old tag back.",
    request_body(content((ConfigChanges = "application/json"))),
    responses(
        (status = 200, description = "The settings as they are now", body = Config, headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "A page on another site may not change data here"),
        (status = 422, description = "A field breaks its rule"),
    ))]
async fn patch_config(
    State(state): State<Arc<Caching>>,
    tracer: Tracer,
    gate: Gate,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let mut fields = Fields::json_object(
        body,
        &["maintenance", "motd", "page_size", "theme"],
        &tracer,
    );
    let maintenance = fields.optional_bool("maintenance");
    let motd = fields.optional_str("motd");
    if let Some(Some(text)) = &motd
        && let Some(problem) = length_problem(text, 1, 200)
    {
        fields.error("motd", problem);
    }
    let page_size = fields.optional_int("page_size", 1, 100);
    let theme = fields.optional_str("theme");
    if let Some(Some(theme)) = &theme
        && !matches!(theme.as_str(), "light" | "dark")
    {
        fields.error("theme", "must be \"light\" or \"dark\"");
    }
    fields.finish(&gate).await?;
    gate.auth().await;
    let mut changes: Vec<(&'static str, String)> = Vec::new();
    if let Some(Some(v)) = maintenance {
        changes.push(("maintenance", v.to_string()));
    }
    if let Some(Some(v)) = motd {
        changes.push(("motd", Value::String(v).to_string()));
    }
    if let Some(Some(v)) = page_size {
        changes.push(("page_size", v.to_string()));
    }
    if let Some(Some(v)) = theme {
        changes.push(("theme", Value::String(v).to_string()));
    }
    gate.hold(Stage::Data, || {
        let params: Vec<[&dyn ToSql; 2]> =
            changes.iter().map(|(k, v)| [k as &dyn ToSql, v]).collect();
        let plan: Vec<Planned<'_>> = params
            .iter()
            .map(|p| Planned::new(UPDATE_SETTING, p))
            .collect();
        Carries::sql(RUNS_ON_WRITER, &plan)
    })
    .await;
    let count = changes.len();
    if count > 0 {
        let t = tracer.clone();
        state
            .lab
            .db
            .write(move |conn| {
                let tx = conn.transaction()?;
                for (key, value) in &changes {
                    Sql::new(&tx, &t).execute(UPDATE_SETTING, &[key, value])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
    }
    let (body, tag) = config_document(&state.lab, &tracer)?;
    tracer.note(
        Stage::Caching,
        Outcome::Ok,
        format_args!(
            "changed {count} setting{}: the document's bytes changed, so its ETag is now {}; a cached copy revalidated with the old tag gets the new document",
            if count == 1 { "" } else { "s" },
            tag.header()
        ),
    );
    let mut response = json_response(body);
    if let Ok(value) = HeaderValue::from_str(&tag.header()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// `GET /api/stats`: cache-aside in front of a slow report.
#[utoipa::path(get, path = "/api/stats", tag = "caching", summary = "A slow report, kept in a cache",
    description = "Cache-aside with a 10-second TTL (with jitter). A miss costs about 200 ms; concurrent misses compute once (single flight) unless single_flight=off. X-Cache says hit or miss.",
    params(("single_flight" = Option<String>, Query, description = "off lets every concurrent miss compute the report", pattern = "^(on|off)$")),
    responses(
        (status = 200, description = "The report", body = Stats, headers(("X-Cache" = String, description = "hit or miss"))),
        (status = 422, description = "single_flight is neither on nor off"),
    ))]
async fn stats(
    State(state): State<Arc<Caching>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Response, Problem> {
    let mut fields = Fields::query(&tracer);
    let single_flight = match query.get("single_flight") {
        None | Some("on") => true,
        Some("off") => {
            fields.accept("single_flight", "off");
            false
        }
        Some(_) => {
            fields.error("single_flight", "must be on or off");
            true
        }
    };
    fields.finish(&gate).await?;
    gate.auth().await;
    let cache = &state.stats;

    if let Some(entry) = cached(cache) {
        return Ok(hit(&tracer, &entry));
    }
    let waited = Instant::now();
    let _computing = if single_flight {
        let guard = cache.computing.lock().await;
        // Another request may have computed it while this one waited for the lock.
        if let Some(entry) = cached(cache) {
            tracer.timed(
                Stage::Caching,
                waited,
                Outcome::Ok,
                "cache miss, but another request was already computing the report: waited for its result instead of computing it again (single flight)",
            );
            return Ok(answer(&entry, "hit"));
        }
        Some(guard)
    } else {
        tracer.note(
            Stage::Caching,
            Outcome::Fail,
            "cache miss, and single flight is off: this request computes the report even if others are computing it right now (in a burst, that is a stampede on the database)",
        );
        None
    };
    if single_flight {
        tracer.note(
            Stage::Caching,
            Outcome::Ok,
            "cache miss: no fresh report stored → computing it (the lab adds 200 ms here to stand in for an expensive query)",
        );
    }
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, SELECT_STATS, &[])
    })
    .await;
    tokio::time::sleep(STATS_COST).await;
    let (total, done, oldest_open) = state.lab.db.read(|c| {
        Sql::new(c, &tracer)
            .query_opt(SELECT_STATS, &[], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })
            .map(|row| row.unwrap_or((0, 0, None)))
    })?;
    let body = json!({
        "tasks": total,
        "done": done,
        "open": total - done,
        "oldest_open_created_at": oldest_open,
        "computed_at": crate::lab::clock::timestamp(),
    });
    // Jitter spreads the expiries of entries stored together, so they are not recomputed
    // together either.
    let ttl = STATS_TTL.mul_f64(0.9 + fastrand::f64() * 0.2);
    let entry = Entry {
        body,
        stored: Instant::now(),
        ttl,
    };
    *cache.entry.lock().expect("stats cache lock") = Some(entry.clone());
    tracer.note(
        Stage::Caching,
        Outcome::Ok,
        format_args!(
            "stored the report for {:.1} s (a TTL of {} s with up to ±10% jitter); until then every request is a hit and the database is not asked",
            ttl.as_secs_f64(),
            STATS_TTL.as_secs()
        ),
    );
    Ok(answer(&entry, "miss"))
}

fn cached(cache: &StatsCache) -> Option<Entry> {
    cache
        .entry
        .lock()
        .expect("stats cache lock")
        .as_ref()
        .filter(|e| e.fresh())
        .cloned()
}

fn hit(tracer: &Tracer, entry: &Entry) -> Response {
    let age = entry.stored.elapsed();
    tracer.note(
        Stage::Caching,
        Outcome::Ok,
        format_args!(
            "cache hit: the report was stored {:.1} s ago and stays fresh {:.1} s more; the database was not touched",
            age.as_secs_f64(),
            entry.ttl.saturating_sub(age).as_secs_f64()
        ),
    );
    answer(entry, "hit")
}

fn answer(entry: &Entry, how: &'static str) -> Response {
    let mut response = axum::Json(entry.body.clone()).into_response();
    response
        .headers_mut()
        .insert(X_CACHE.clone(), HeaderValue::from_static(how));
    response
}
