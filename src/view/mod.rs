//! Renderers that turn reqlab's data into styled lines, shared by the CLI and the TUI.

pub mod trace;
