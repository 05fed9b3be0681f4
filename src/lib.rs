//! reqlab: learn backend development from first principles.
//!
//! A learner reads a lesson, sends requests to a real embedded server, watches the trace of
//! every lifecycle stage (HTTP → routing → parsing → validation → auth → business logic → data
//! layer → response), then proves they can build the same thing in their own stack.
//!
//! # Layout
//! - [`cli`]: the command line (clap); its doc comments are the `--help` text.
//! - [`commands`]: one module per subcommand; `main.rs` only parses and dispatches here.
//! - [`course`]: lessons and challenges — formats, loader (embedded or `--lessons DIR`),
//!   Markdown renderer.
//! - [`lab`]: the embedded axum + SQLite lab server, its traces and its problem+json errors.
//! - [`check`]: challenge checks against any server — runner, probes, reporters.
//! - [`progress`]: the learner's passed challenges (the only module that writes them).
//! - [`view`]: renderers from data to styled lines, shared by the CLI and the TUI.
//! - [`stage`]: the lifecycle stage names used by lessons, traces and checks alike.
//! - [`term`]: colors (respecting `NO_COLOR`), widths and printing.
//! - [`curl`]: requests as copy-pasteable curl commands.
//! - [`paths`]: where reqlab keeps its data.

pub mod check;
pub mod cli;
pub mod commands;
pub mod course;
pub mod curl;
pub mod lab;
pub mod paths;
pub mod progress;
pub mod stage;
pub mod status;
pub mod term;
pub mod view;
