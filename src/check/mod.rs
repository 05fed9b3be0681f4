//! Challenge checks against any server: the learner's own, or the embedded lab.
//!
//! - [`run`]: runs a challenge's checks in order ([`run::run_challenge`]).
//! - [`http`]: sends requests with timeouts and a body cap, records each exchange.
//! - [`assert`]: evaluates one assertion, explaining expected vs actual.
//! - [`probes`]: built-in probes for behaviour steps cannot express.
//! - [`template`] and [`jsonpath`]: `{{variables}}` and JSON paths in challenge files.
//! - [`server`]: starting the learner's server (`--run`) and waiting for its port.
//! - [`report`]: text, JSON, JUnit and TAP output.
//! - [`result`]: what a run found.

// A `Finding` is the evidence of a failed check (request, response, expected vs actual). It is
// built at most once per check, never on a hot path, so returning it by value is fine.
#![allow(clippy::result_large_err)]

pub mod assert;
pub mod http;
pub mod jsonpath;
pub mod probes;
pub mod report;
pub mod result;
pub mod run;
pub mod server;
pub mod template;
