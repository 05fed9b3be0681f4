//! reqlab's integration tests: one binary, shared helpers in `util`.
//!
//! - `lab_router`: the lab app driven without sockets (`oneshot`).
//! - `lab_server`: the lab on a real port (concurrency, live traces, shutdown).
//! - `cli`: the `reqlab` binary as a user runs it (snapshots of its output).
//! - `content`: the lesson files and the loader's error messages.

mod cli;
mod content;
mod lab_router;
mod lab_server;
mod util;
