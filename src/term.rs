//! Terminal output: colors (off under `NO_COLOR`, `--color never` or when not a terminal),
//! the width to wrap at, and printing styled lines.
//!
//! Everything printed goes through `anstream`, which strips styles when colors are off. The
//! styles themselves come from [`crate::view::style`].

use crate::view::style;
use anstyle::{AnsiColor, Effects};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use std::io::{IsTerminal, Write};

/// Width used when output is not a terminal and `COLUMNS` is unset.
pub const DEFAULT_WIDTH: u16 = 80;

/// The `--color` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// Color on a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always emit color codes.
    Always,
    /// Never emit color codes.
    Never,
}

/// Applies the `--color` setting for the whole process.
pub fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// Shows the library's log (the lab's internal errors, say) on standard error: warnings and
/// errors only, without timestamps, colored like the rest of the output.
/// Logs to stderr, as JSON lines when `json` else as text: warnings and errors, and each
/// request the lab answers (target `reqlab::access`, logged when `serve --log-format` asks).
pub fn log_requests_to_stderr(json: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("reqlab::access", LevelFilter::INFO);
    let result = match json {
        true => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
        false => {
            let ansi =
                anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
            tracing_subscriber::registry()
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::stderr)
                        .with_ansi(ansi)
                        .with_filter(filter),
                )
                .try_init()
        }
    };
    let _ = result;
}

/// Logs warnings and errors to stderr, plainly.
pub fn log_to_stderr() {
    let ansi = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_target(false)
        .without_time()
        .with_ansi(ansi)
        .try_init();
}

/// True when styles written to stdout will be shown (a terminal, or `--color always`,
/// and no `NO_COLOR`).
pub fn colors_on_stdout() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// The width to wrap text at: `--width`, else the terminal's, else `COLUMNS`, else 80.
pub fn output_width(requested: Option<u16>) -> u16 {
    if let Some(w) = requested {
        return w;
    }
    if std::io::stdout().is_terminal()
        && let Ok((cols, _)) = crossterm::terminal::size()
    {
        return cols.clamp(20, 120);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_WIDTH)
}

/// Converts a ratatui style (used by the shared renderers) to a terminal style.
pub fn ansi_style(style: Style) -> anstyle::Style {
    let mut out = anstyle::Style::new();
    if let Some(fg) = style.fg.and_then(ansi_color) {
        out = out.fg_color(Some(fg.into()));
    }
    let m = style.add_modifier;
    let mut effects = Effects::new();
    if m.contains(Modifier::BOLD) {
        effects |= Effects::BOLD;
    }
    if m.contains(Modifier::ITALIC) {
        effects |= Effects::ITALIC;
    }
    if m.contains(Modifier::UNDERLINED) {
        effects |= Effects::UNDERLINE;
    }
    if m.contains(Modifier::DIM) {
        effects |= Effects::DIMMED;
    }
    if m.contains(Modifier::CROSSED_OUT) {
        effects |= Effects::STRIKETHROUGH;
    }
    out.effects(effects)
}

fn ansi_color(color: Color) -> Option<AnsiColor> {
    Some(match color {
        Color::Black => AnsiColor::Black,
        Color::Red => AnsiColor::Red,
        Color::Green => AnsiColor::Green,
        Color::Yellow => AnsiColor::Yellow,
        Color::Blue => AnsiColor::Blue,
        Color::Magenta => AnsiColor::Magenta,
        Color::Cyan => AnsiColor::Cyan,
        Color::Gray => AnsiColor::White,
        Color::DarkGray => AnsiColor::BrightBlack,
        Color::LightRed => AnsiColor::BrightRed,
        Color::LightGreen => AnsiColor::BrightGreen,
        Color::LightYellow => AnsiColor::BrightYellow,
        Color::LightBlue => AnsiColor::BrightBlue,
        Color::LightMagenta => AnsiColor::BrightMagenta,
        Color::LightCyan => AnsiColor::BrightCyan,
        Color::White => AnsiColor::BrightWhite,
        _ => return None,
    })
}

/// Writes styled lines; styles are dropped by `anstream` when colors are off.
pub fn write_lines(out: &mut impl Write, lines: &[Line<'_>]) -> std::io::Result<()> {
    for line in lines {
        for span in &line.spans {
            let style = ansi_style(span.style);
            write!(out, "{style}{}{style:#}", span.content)?;
        }
        // Trailing spaces from padding are invisible; keep output diff-friendly.
        writeln!(out)?;
    }
    Ok(())
}

/// Text in a style, ready to print (`paint(style::OK, "pass")`); the escapes are dropped by
/// `anstream` when colors are off.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    let style = ansi_style(style);
    format!("{style}{text}{style:#}")
}

/// Writes one styled line to standard error.
pub fn eprint_line(line: &Line<'_>) {
    let _ = write_lines(&mut anstream::stderr().lock(), std::slice::from_ref(line));
}

/// Prints an error and its causes to stderr (`error: …` then `  caused by: …`).
pub fn print_error(err: &anyhow::Error) {
    let mut stderr = anstream::stderr().lock();
    let _ = write!(stderr, "{} ", paint(style::FAIL, "error:"));
    let top = err.to_string();
    let _ = writeln!(stderr, "{}", top.trim_end());
    let mut said = vec![top];
    for cause in err.chain().skip(1) {
        // Many errors already quote their cause; say each thing once.
        let text = cause.to_string();
        if said.iter().any(|s| s.contains(&text)) {
            continue;
        }
        let _ = writeln!(stderr, "  {} {text}", paint(style::DIM, "caused by:"));
        said.push(text);
    }
}

/// Standard output for a command's results: styled (or not) by `anstream`, and tolerant of a
/// reader that stops early (see [`PipeTolerant`]).
pub fn stdout() -> PipeTolerant<anstream::AutoStream<std::io::StdoutLock<'static>>> {
    PipeTolerant::new(anstream::stdout().lock())
}

/// A writer that treats a closed pipe (`reqlab check … | head`) as the reader having seen
/// enough: later writes are dropped instead of failing, so the command still finishes its
/// work and exits with its own status.
pub struct PipeTolerant<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> PipeTolerant<W> {
    /// Wraps a writer.
    pub fn new(inner: W) -> PipeTolerant<W> {
        PipeTolerant {
            inner,
            closed: false,
        }
    }
}

impl<W: Write> Write for PipeTolerant<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// True when the error is only a closed pipe on our output (the reader stopped reading).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
