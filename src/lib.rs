//! reqlab: learn backend development from first principles.
//!
//! A learner reads a lesson, sends requests to a real embedded server, watches the trace of
//! every lifecycle stage (HTTP → routing → parsing → validation → auth → business logic → data
//! layer → response), then proves they can build the same thing in their own stack.
//!
//! # Layout
//! - [`cli`]: the command line (clap); its doc comments are the `--help` text.
//! - [`commands`]: one module per subcommand: resolve the arguments into a plan, run it,
//!   print what it reports. `main.rs` only parses and dispatches here.
//! - [`course`]: lessons and challenges — formats parsed into typed values at load (presets,
//!   steps and their assertions, templates, JSON paths), the loader (embedded or
//!   `--lessons DIR`), with every problem reported by file and line.
//! - [`lab`]: the embedded axum + SQLite lab server. `lab::topics` holds one module per topic
//!   (routes, tables and demo rows, problem types, state) registered in one list; `lab::trace`
//!   is the trace in three parts (model, recording, store); errors are problem+json.
//! - [`check`]: the check session as a library: a plan runs (servers, challenges, progress,
//!   watching) and reports events on a channel, cancellably; runner, probes, HTTP exchanges.
//! - [`load`]: `reqlab load`'s engine — connections driven directly, latencies in an HDR
//!   histogram, a rate schedule that corrects for coordinated omission.
//! - [`view`]: everything that turns data into styled lines — lesson Markdown, traces, check
//!   results and their events — plus the machine report formats; the CLI prints these lines
//!   and a UI draws them.
//! - [`tui`]: the guide (`reqlab` on a terminal): the lifecycle map, lessons beside a lab
//!   console, step mode, the challenge panel; an update function without I/O inside a loop
//!   over any backend.
//! - [`progress`]: the learner's passed challenges, sections read and place in the guide
//!   (the only module that writes them).
//! - [`stage`]: the lifecycle stage names used by lessons, traces and checks alike.
//! - [`status`]: HTTP status reason phrases and classes, said the same way everywhere.
//! - [`suggest`]: close matches for a mistyped name ("did you mean …").
//! - [`term`]: printing styled lines (respecting `NO_COLOR`), widths, the log on stderr; with
//!   `main.rs` and `commands`, the only code that writes to the terminal.
//! - [`curl`]: requests as copy-pasteable curl commands.
//! - [`paths`]: where reqlab keeps its data.

pub mod check;
pub mod cli;
pub mod commands;
pub mod course;
pub mod curl;
pub mod lab;
pub mod load;
pub mod nginx;
pub mod paths;
pub mod progress;
pub mod stage;
pub mod status;
pub mod suggest;
pub mod term;
pub mod tui;
pub mod view;
