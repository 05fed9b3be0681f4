//! reqlab's integration tests: one binary, shared helpers in `util`.
//!
//! - `lab_router`: the lab app driven without sockets (`oneshot`).
//! - `lab_api`: CORS decisions, ETag revalidation, the stats cache, the rate limit, uploads.
//! - `lab_auth`: logins, tokens, sessions and CSRF, API keys, roles; no secret in traces or logs.
//! - `lab_guard`: Host, Origin, the lab token and transfer codings, checked before routing.
//! - `lab_limits`: the lab under hostile input stays bounded (memory, bodies, files).
//! - `lab_server`: the lab on a real port (concurrency, live traces, shutdown).
//! - `jobs`: background jobs — surviving a kill, retries and dead letters, backpressure, events.
//! - `replicas`: `serve --replicas 3` behind a real nginx.
//! - `replay`: `reqlab replay`, credentials left out and named.
//! - `lab_step`: step mode — requests held at each stage boundary and released one stage on.
//! - `browser`: CORS in headless Chromium, against the lab's demo page; the API docs page.
//! - `openapi`: the lab's OpenAPI document, and schemathesis holding the lab to it.
//! - `cli`: the `reqlab` binary as a user runs it (snapshots of its output).
//! - `content`: the lesson files and the loader's error messages.
//! - `explain`: `reqlab explain`, and `dev check` holding explain.toml to what the lab sends.
//! - `check_session`: the check session's event stream, consumed as a library.
//! - `check_cli`: `reqlab check` and `reqlab progress` end to end (the lab, --run, --watch, formats).
//! - `check_tls`: `reqlab check` against an https server with a self-signed certificate.
//! - `load`: `reqlab load` against a lab — counts, percentiles, the rate schedule, refusals.
//! - `send`: `reqlab send`, learn sections, progress marks, `serve --reset`, trace filters.
//! - `trace_otlp`: `reqlab trace <id> --format otlp`, parsed into the OTLP protobuf schema.
//! - `fixture_apps`: challenges against the FastAPI learner apps in fixtures/.
//! - `hostile`: challenges against servers that misbehave on purpose.
//! - `reproduce`: failures' printed reproductions, replayed against fresh fixture servers.
//! - `tui`: the guide — `update` on messages, every screen drawn, the real loop driven by keys.
//! - `tmux`: the real binary in tmux, end to end, as a learner uses it.

// First, so its macros are visible to the modules below.
#[macro_use]
mod util;

mod browser;
mod check_cli;
mod check_session;
mod check_tls;
mod cli;
mod content;
mod explain;
mod fixture_apps;
mod hostile;
mod jobs;
mod lab_api;
mod lab_auth;
mod lab_guard;
mod lab_limits;
mod lab_router;
mod lab_server;
mod lab_step;
mod load;
mod openapi;
mod replay;
mod replicas;
mod reproduce;
mod send;
mod tmux;
mod trace_otlp;
mod tui;
