//! `/work/*`: three kinds of work, to measure what each does to a server's throughput.
//!
//! - `/work/io` waits the way a request waits on a database or another service: it awaits a
//!   timer, and the runtime's thread serves other requests meanwhile.
//! - `/work/blocking` waits the wrong way: it sleeps *on the runtime's thread*, which serves
//!   nothing else until it wakes. The lab's runtime has one such thread per core, so a few of
//!   these at once stall every request.
//! - `/work/cpu` computes (chained SHA-256), either on the runtime's thread or offloaded to a
//!   CPU pool with one slot per core, which keeps the runtime free to answer others.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::error::Problem;
use crate::lab::extract::QueryPairs;
use crate::lab::state::LabState;
use crate::lab::step::Gate;
use crate::lab::trace::{Outcome, Tracer};
use crate::lab::validate::{Fields, int_param};
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Endpoints that wait, block and compute.
pub static TOPIC: Topic = Topic {
    schema: crate::lab::migrate::Schema {
        name: "concurrency",
        migrations: &[],
        seed: None,
    },
    problems: &[],
    links: &[
        ("io_wait", "/work/io"),
        ("blocking_wait", "/work/blocking"),
        ("cpu_work", "/work/cpu"),
    ],
    router,
};

/// The CPU pool's slots: one per core, so offloaded work never runs more threads than cores.
#[derive(Debug)]
struct CpuPool {
    slots: Arc<Semaphore>,
    size: usize,
}

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    let size = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = Arc::new(CpuPool {
        slots: Arc::new(Semaphore::new(size)),
        size,
    });
    Ok(OpenApiRouter::new()
        .routes(routes!(io_wait))
        .routes(routes!(blocking_wait))
        .with_state(Arc::clone(lab))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(cpu_work))
                .with_state(pool),
        ))
}

const IO_MAX_MS: i64 = 2000;
const BLOCKING_MAX_MS: i64 = 1000;
const DEFAULT_MS: i64 = 200;
const ROUNDS_MAX: i64 = 2_000_000;
const ROUNDS_DEFAULT: i64 = 200_000;

/// What a wait did.
#[derive(Debug, Serialize, ToSchema)]
struct Waited {
    /// io or blocking.
    #[schema(pattern = "^(io|blocking)$")]
    kind: &'static str,
    /// How long it waited, as asked.
    waited_ms: i64,
    /// What held the wait.
    ran_on: &'static str,
}

#[utoipa::path(get, path = "/work/io", tag = "concurrency", summary = "Wait like a request waiting on a database: the thread stays free",
    description = "Awaits a timer for ms milliseconds. While it waits, the runtime's thread serves other requests, so many of these overlap.",
    params(("ms" = Option<i64>, Query, description = "How long to wait", minimum = 1, maximum = 2000)),
    responses(
        (status = 200, description = "Waited", body = Waited),
        (status = 422, description = "ms breaks its rule"),
    ))]
async fn io_wait(tracer: Tracer, gate: Gate, query: QueryPairs) -> Result<Json<Waited>, Problem> {
    let mut fields = Fields::query(&tracer);
    let ms = int_param(&mut fields, "ms", query.get("ms"), DEFAULT_MS, 1, IO_MAX_MS);
    fields.finish(&gate).await?;
    gate.auth().await;
    tokio::time::sleep(Duration::from_millis(ms as u64)).await;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("awaited {ms} ms: the task was parked and the runtime's thread served other requests meanwhile"),
    );
    Ok(Json(Waited {
        kind: "io",
        waited_ms: ms,
        ran_on: "an async task",
    }))
}

#[utoipa::path(get, path = "/work/blocking", tag = "concurrency", summary = "Wait the wrong way: sleep on the runtime's thread",
    description = "Sleeps ms milliseconds on the runtime's worker thread, as a blocking call inside async code does. The thread serves nothing else meanwhile; with one such thread per core, a few of these at once hold up every request.",
    params(("ms" = Option<i64>, Query, description = "How long to block", minimum = 1, maximum = 1000)),
    responses(
        (status = 200, description = "Blocked, then answered", body = Waited),
        (status = 422, description = "ms breaks its rule"),
    ))]
async fn blocking_wait(
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Json<Waited>, Problem> {
    let mut fields = Fields::query(&tracer);
    let ms = int_param(
        &mut fields,
        "ms",
        query.get("ms"),
        DEFAULT_MS,
        1,
        BLOCKING_MAX_MS,
    );
    fields.finish(&gate).await?;
    gate.auth().await;
    // The mistake, on purpose: a blocking sleep where an await belongs.
    std::thread::sleep(Duration::from_millis(ms as u64));
    tracer.note(
        Stage::Logic,
        Outcome::Warn,
        format_args!("slept {ms} ms on the runtime's worker thread: no other request could use that thread meanwhile (an await, or spawn_blocking, would have freed it)"),
    );
    Ok(Json(Waited {
        kind: "blocking",
        waited_ms: ms,
        ran_on: "the runtime's worker thread, blocked",
    }))
}

/// What a computation did.
#[derive(Debug, Serialize, ToSchema)]
struct Computed {
    #[schema(pattern = "^cpu$")]
    kind: &'static str,
    rounds: i64,
    /// Whether it ran in the CPU pool.
    offload: bool,
    /// The first 16 hex digits of the last hash.
    digest: String,
    /// Where it ran.
    ran_on: &'static str,
    /// How long the hashing took, in milliseconds (not counting a wait for a pool slot).
    compute_ms: f64,
}

#[utoipa::path(get, path = "/work/cpu", tag = "concurrency", summary = "Compute: chained SHA-256, on the runtime's thread or in a CPU pool",
    description = "Hashes 32 bytes rounds times, each hash of the one before. offload=false computes on the runtime's thread (which answers nothing else meanwhile); offload=true runs it in a pool with one slot per core, and the runtime stays free.",
    params(
        ("rounds" = Option<i64>, Query, description = "How many hashes", minimum = 1, maximum = 2000000),
        ("offload" = Option<bool>, Query, description = "Run it in the CPU pool (default false)"),
    ),
    responses(
        (status = 200, description = "Computed", body = Computed),
        (status = 422, description = "rounds or offload breaks its rule"),
    ))]
async fn cpu_work(
    State(pool): State<Arc<CpuPool>>,
    tracer: Tracer,
    gate: Gate,
    query: QueryPairs,
) -> Result<Json<Computed>, Problem> {
    let mut fields = Fields::query(&tracer);
    let rounds = int_param(
        &mut fields,
        "rounds",
        query.get("rounds"),
        ROUNDS_DEFAULT,
        1,
        ROUNDS_MAX,
    );
    let offload = match query.get("offload") {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            fields.error(
                "offload",
                format!(
                    "must be true or false, got `{}`",
                    crate::lab::validate::shorten(other, 20)
                ),
            );
            false
        }
    };
    fields.accept("offload", offload);
    fields.finish(&gate).await?;
    gate.auth().await;
    let (digest, took, ran_on) = if offload {
        let queued = Instant::now();
        let slot = Arc::clone(&pool.slots)
            .acquire_owned()
            .await
            .map_err(|_| Problem::internal("the CPU pool is closed"))?;
        let waited = queued.elapsed();
        // The slot goes with the work: a client that leaves early cannot free it while the
        // hashing (which cannot be stopped) still runs.
        let (digest, took) = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            hash_chain(rounds)
        })
        .await
        .map_err(|e| Problem::internal(format!("CPU work failed: {e}")))?;
        tracer.note(
            Stage::Logic,
            Outcome::Ok,
            format_args!(
                "{rounds} hashes in the CPU pool ({} slot(s), one per core; waited {:.1} ms for one): {:.1} ms of computing, while the runtime's thread served others",
                pool.size,
                waited.as_secs_f64() * 1000.0,
                took.as_secs_f64() * 1000.0
            ),
        );
        (digest, took, "the CPU pool")
    } else {
        let (digest, took) = hash_chain(rounds);
        tracer.note(
            Stage::Logic,
            Outcome::Warn,
            format_args!(
                "{rounds} hashes on the runtime's thread: {:.1} ms in which that thread answered nothing else (offload=true moves it to the CPU pool)",
                took.as_secs_f64() * 1000.0
            ),
        );
        (digest, took, "the runtime thread")
    };
    Ok(Json(Computed {
        kind: "cpu",
        rounds,
        offload,
        digest,
        ran_on,
        compute_ms: (took.as_secs_f64() * 1_000_000.0).round() / 1000.0,
    }))
}

/// Hashes 32 zero bytes `rounds` times, each round hashing the last; returns the first 16 hex
/// digits and the time it took.
fn hash_chain(rounds: i64) -> (String, Duration) {
    let start = Instant::now();
    let mut value = [0u8; 32];
    for _ in 0..rounds {
        let next = Sha256::digest(value);
        value.copy_from_slice(&next);
    }
    let digest = value[..8].iter().map(|b| format!("{b:02x}")).collect();
    (digest, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_is_deterministic_and_depends_on_the_rounds() {
        assert_eq!(hash_chain(3).0, hash_chain(3).0);
        assert_ne!(hash_chain(3).0, hash_chain(4).0);
        // One round is SHA-256 of 32 zero bytes.
        assert_eq!(hash_chain(1).0, "66687aadf862bd77");
    }
}
