//! Abuse controls you can watch: `GET /limited` is guarded by a token bucket per client
//! address (five requests at once, one more each second). Within the budget it answers 200
//! and says how much is left; past it, 429 with `Retry-After`. Both carry the IETF
//! `RateLimit-Policy` and `RateLimit` fields, and the trace shows the bucket.
//!
//! Only this route is limited: the rest of the lab serves benchmarks, checks and lessons that
//! send many requests on purpose.

use super::Topic;
use crate::lab::db::DbError;
use crate::lab::error::{Problem, ProblemType};
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};
use serde::Serialize;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Abuse controls.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "security",
        migrations: &[],
        seed: None,
    },
    problems: &[&RATE_LIMITED],
    links: &[("rate_limited", "/limited")],
    router,
};

/// Too many requests from one client.
pub static RATE_LIMITED: ProblemType = ProblemType {
    slug: "rate-limited",
    status: Some(429),
    title: "Too many requests",
    explanation: "The client used up its request budget. The budget refills over time: Retry-After says how many seconds until the next request is allowed. A rate limit per client keeps one caller from starving the rest (or from guessing passwords quickly).",
};

/// How many requests a client may send at once.
const BURST: u32 = 5;
/// The policy, as `RateLimit-Policy` states it: a quota of 5 per 5-second window.
const POLICY: &str = "\"burst\";q=5;w=5";

static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Most clients whose buckets are kept; past it, full buckets are forgotten.
const MAX_CLIENTS: usize = 10_000;

type Limiter = RateLimiter<
    IpAddr,
    governor::state::keyed::DefaultKeyedStateStore<IpAddr>,
    DefaultClock,
    StateInformationMiddleware,
>;

struct Limited {
    limiter: Limiter,
}

fn router(_lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    let quota = Quota::per_second(NonZeroU32::MIN)
        .allow_burst(NonZeroU32::new(BURST).expect("a burst above zero"));
    let state = Arc::new(Limited {
        limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
    });
    Ok(OpenApiRouter::new()
        .routes(routes!(limited))
        .with_state(state))
}

/// A request the bucket allowed.
#[derive(Serialize, ToSchema)]
struct Allowed {
    #[schema(example = "allowed")]
    message: &'static str,
    /// Tokens left in this client's bucket.
    #[schema(maximum = 5)]
    remaining: u32,
    policy: &'static str,
}

#[utoipa::path(get, path = "/limited", tag = "security", summary = "A route behind a token-bucket rate limit",
    description = "Each client (by address) has a bucket of 5 tokens that refills at one a second; each request takes one. RateLimit-Policy states the quota and RateLimit what is left (r) and in how many seconds the bucket is full again (t).",
    responses(
        (status = 200, description = "A token was taken", body = Allowed, headers(
            ("RateLimit-Policy" = String, description = "The quota: \"burst\";q=5;w=5"),
            ("RateLimit" = String, description = "What is left: \"burst\";r=REMAINING;t=SECONDS"))),
        (status = 429, description = "The bucket is empty", headers(
            ("Retry-After" = String, description = "Seconds until the next token"),
            ("RateLimit-Policy" = String, description = "The quota"),
            ("RateLimit" = String, description = "\"burst\";r=0;t=SECONDS"))),
    ))]
async fn limited(State(state): State<Arc<Limited>>, tracer: Tracer, parts: Parts) -> Response {
    let who = crate::lab::extract::client_addr(&parts);
    let limiter = &state.limiter;
    if limiter.len() > MAX_CLIENTS {
        limiter.retain_recent();
    }
    match limiter.check_key(&who) {
        Ok(snapshot) => {
            let left = snapshot.remaining_burst_capacity();
            let full_in = BURST - left;
            tracer.note(
                Stage::Security,
                Outcome::Ok,
                format_args!(
                    "token bucket for {who}: took one token, {left} of {BURST} left; one token comes back each second (full again in {full_in} s)"
                ),
            );
            let mut response = Json(Allowed {
                message: "allowed",
                remaining: left,
                policy: "5 requests at once per client, one more each second",
            })
            .into_response();
            rate_headers(&mut response, left, full_in);
            response
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracer.note(
                Stage::Security,
                Outcome::Fail,
                format_args!(
                    "token bucket for {who} is empty ({BURST} requests at once, then one each second) → 429; the next token comes in {} ms, so Retry-After: {seconds}",
                    wait.as_millis()
                ),
            );
            let mut response = Problem::new(
                &RATE_LIMITED,
                format!(
                    "This client sent more than {BURST} requests in a burst. Wait {seconds} s (Retry-After) and send again."
                ),
            )
            .into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                headers.insert(axum::http::header::RETRY_AFTER, value);
            }
            rate_headers(&mut response, 0, seconds.try_into().unwrap_or(u32::MAX));
            response
        }
    }
}

/// `RateLimit-Policy` (the quota) and `RateLimit` (what is left, and in how many seconds the
/// quota is whole again), as the IETF httpapi draft writes them.
fn rate_headers(response: &mut Response, remaining: u32, reset: u32) {
    let headers = response.headers_mut();
    headers.insert(RATELIMIT_POLICY.clone(), HeaderValue::from_static(POLICY));
    if let Ok(value) = HeaderValue::from_str(&format!("\"burst\";r={remaining};t={reset}")) {
        headers.insert(RATELIMIT.clone(), value);
    }
}
