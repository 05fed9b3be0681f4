//! Challenge checks against any server — the learner's own, or the embedded lab — as a library
//! that reports what happens as events. `reqlab check` renders the events as text; a UI can
//! draw them.
//!
//! - [`plan`]: what a session runs, resolved from a command's arguments ([`plan::Plan`]).
//! - [`session`]: running a plan — servers, challenges, progress, watching — cancellably.
//! - [`event`]: the events a session emits, and where they go.
//! - [`run`]: one challenge's checks, in order ([`run::run_challenge`]).
//! - [`conversation`]: the requests of one challenge run and the values they capture.
//! - [`http`]: sending requests with timeouts and a body cap, recording each exchange.
//! - [`assert`]: evaluating one assertion, explaining expected vs actual.
//! - [`echo`]: what a response says apart from the copy of the request it repeats.
//! - [`probes`]: built-in probes for behaviour steps cannot express.
//! - [`server`]: starting the learner's server (`--run`), finding and waiting for its port.
//! - [`output`]: what the learner's server printed, kept per check (a crash's traceback).
//! - [`repro`]: reproductions — the requests a failure depends on, as `sh` commands.
//! - [`watch`]: which file changes start another run.
//! - [`result`]: what a run found, and the verdict rules.

// A `Finding` is the evidence of a failed check (request, response, expected vs actual). It is
// built at most once per check, never on a hot path, so returning it by value is fine.
#![allow(clippy::result_large_err)]

pub mod assert;
pub mod conversation;
pub mod echo;
pub mod event;
pub mod http;
pub mod json_equal;
pub mod output;
pub mod plan;
pub mod probes;
pub mod repro;
pub mod result;
pub mod run;
pub mod server;
pub mod session;
pub mod watch;
