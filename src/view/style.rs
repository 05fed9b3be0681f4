//! reqlab's palette: every style the CLI prints and the TUI draws comes from here.
//!
//! Styles are ratatui [`Style`]s; [`crate::term`] turns them into terminal escapes (or drops
//! them under `NO_COLOR`), and the TUI draws them as they are.

use crate::status::{self, Class};
use ratatui::style::{Color, Modifier, Style};

/// Success: a passed check, a 2xx/3xx status.
pub const OK: Style = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
/// Failure: a failed check, a 5xx status.
pub const FAIL: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
/// Warning and advice; a 4xx status.
pub const WARN: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// Secondary text: labels, times, hints.
pub const DIM: Style = Style::new().fg(Color::DarkGray);
/// Headings and names.
pub const STRONG: Style = Style::new().add_modifier(Modifier::BOLD);
/// Identifiers, ids, URLs, commands to copy.
pub const ID: Style = Style::new().fg(Color::Cyan);

/// A lesson's `#` title.
pub const TITLE: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
/// A lesson's `##` section heading.
pub const HEADING: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
/// Inline code.
pub const CODE: Style = Style::new().fg(Color::Yellow);
/// The text of a code block.
pub const CODE_BLOCK: Style = Style::new().fg(Color::Green);
/// A quotation.
pub const QUOTE: Style = Style::new().add_modifier(Modifier::ITALIC);
/// A link.
pub const LINK: Style = Style::new()
    .fg(Color::Blue)
    .add_modifier(Modifier::UNDERLINED);
/// SQL text in a trace.
pub const SQL: Style = Style::new().fg(Color::Yellow);
/// A failing trace event's sentence (the mark beside it uses [`FAIL`]).
pub const FAILED_TEXT: Style = Style::new().fg(Color::Red);
/// A passing trace event's mark.
pub const PASSED_MARK: Style = Style::new().fg(Color::Green);

/// A status code's style: green for 2xx/3xx, yellow for 4xx, red for 5xx.
pub fn status(code: u16) -> Style {
    match status::class(code) {
        Class::Fine => OK,
        Class::ClientError => WARN,
        Class::ServerError => FAIL,
    }
}
