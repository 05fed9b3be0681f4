//! What the guide does to the terminal besides drawing: the clipboard and `$EDITOR`, behind a
//! trait so tests can watch them; and the terminal's own setup and restoration.

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, EventStream};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use futures_util::Stream;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The terminal side effects the guide asks for.
pub trait Side {
    /// Puts `text` on the clipboard.
    fn copy(&mut self, text: &str) -> Result<(), String>;
    /// Lets the learner edit `text` in their editor; `None` when it came back unchanged.
    fn edit(&mut self, text: &str, extension: &str) -> Result<Option<String>, String>;
}

/// The terminal's input, which can be paused while another program (the editor) reads it.
pub trait Input: Stream<Item = std::io::Result<crossterm::event::Event>> + Unpin {
    /// Stops reading the terminal.
    fn pause(&mut self) {}
    /// Reads it again.
    fn resume(&mut self) {}
}

/// The real terminal's key and resize events.
#[derive(Default)]
pub struct TerminalInput {
    stream: Option<EventStream>,
}

impl TerminalInput {
    /// Starts reading.
    pub fn new() -> TerminalInput {
        TerminalInput {
            stream: Some(EventStream::new()),
        }
    }
}

impl Stream for TerminalInput {
    type Item = std::io::Result<crossterm::event::Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_next(cx),
            // Paused: the loop polls again after resuming.
            None => Poll::Pending,
        }
    }
}

impl Input for TerminalInput {
    fn pause(&mut self) {
        // Dropping the stream stops its reader, so no keystroke meant for the editor is taken.
        self.stream = None;
    }

    fn resume(&mut self) {
        self.stream = Some(EventStream::new());
    }
}

/// Puts the terminal into the guide's mode: raw input, the alternate screen, bracketed paste.
pub fn enter() -> std::io::Result<()> {
    enable_raw_mode()?;
    execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableBracketedPaste,
        cursor::Hide
    )
}

/// Gives the terminal back as it was. Safe to call more than once, and from a panic.
pub fn restore() {
    let _ = execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = std::io::stdout().flush();
}

/// Restores the terminal when dropped (on every way out of the guide, errors included).
pub struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the terminal before a panic's message is printed, so the message is readable
/// and the shell is usable afterwards.
pub fn restore_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// The clipboard through the terminal (OSC 52, which also works over SSH) and `$EDITOR`.
pub struct TerminalSide;

impl Side for TerminalSide {
    fn copy(&mut self, text: &str) -> Result<(), String> {
        use crossterm::clipboard::CopyToClipboard;
        execute!(std::io::stdout(), CopyToClipboard::to_clipboard_from(text))
            .map_err(|e| format!("could not copy: {e}"))
    }

    fn edit(&mut self, text: &str, extension: &str) -> Result<Option<String>, String> {
        let editor = std::env::var("VISUAL")
            .or_else(|_| std::env::var("EDITOR"))
            .unwrap_or_else(|_| "vi".to_string());
        let file = tempfile::Builder::new()
            .prefix("reqlab-")
            .suffix(extension)
            .tempfile()
            .map_err(|e| format!("could not make a file to edit: {e}"))?;
        std::fs::write(file.path(), text)
            .map_err(|e| format!("could not write {}: {e}", file.path().display()))?;
        restore();
        let mut words = shlex::split(&editor).unwrap_or_else(|| vec![editor.clone()]);
        if words.is_empty() {
            words.push("vi".into());
        }
        let status = tokio::task::block_in_place(|| {
            std::process::Command::new(&words[0])
                .args(&words[1..])
                .arg(file.path())
                .status()
        });
        enter().map_err(|e| format!("could not take the terminal back: {e}"))?;
        let status = status
            .map_err(|e| format!("could not start the editor `{editor}` (set $EDITOR): {e}"))?;
        if !status.success() {
            return Err(format!(
                "the editor `{editor}` exited with {status}; nothing changed"
            ));
        }
        let edited = std::fs::read_to_string(file.path())
            .map_err(|e| format!("could not read the edited text back: {e}"))?;
        Ok((edited != text).then_some(edited))
    }
}
