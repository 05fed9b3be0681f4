//! Everything that turns reqlab's data into styled lines: lessons, traces, check results and
//! reports. The CLI prints these lines; the TUI draws them.
//!
//! - [`style`]: the palette.
//! - [`markdown`]: lesson Markdown → wrapped lines.
//! - [`trace`]: a request's trace as one block, or as a timeline.
//! - [`check`]: check results and the check session's events, as a learner reads them.
//! - [`diff`]: differences between two texts, unified or side by side.
//! - [`send`]: a sent preset, its verdict and its trace.
//! - [`explain`]: what a status, header or stage means, who set it, and where it is taught.
//! - [`report`]: the machine formats of check results (JSON, JUnit XML, TAP).

pub mod check;
pub mod diff;
pub mod explain;
pub mod load;
pub mod markdown;
pub mod report;
pub mod send;
pub mod style;
pub mod trace;
pub mod trace_diff;
