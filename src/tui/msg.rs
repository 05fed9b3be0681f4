//! What can happen to the guide ([`Msg`]) and what the guide asks the world to do
//! ([`Effect`]). `update` turns messages into effects without doing any I/O itself; the
//! runner carries the effects out and their results come back as messages.

use crate::check::event::Event as CheckEvent;
use crate::check::http::Exchange;
use crate::check::session::Ending;
use crate::course::request::Outgoing;
use crate::lab::trace::Trace;
use crate::progress::Place;
use crossterm::event::KeyEvent;

/// Something that happened.
#[derive(Debug)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// Text was pasted (bracketed paste).
    Paste(String),
    /// The terminal changed size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// The lab recorded a trace (of any request: the console's, a check's, curl's).
    Trace(Box<Trace>),
    /// The trace feed fell behind and these many traces were not shown.
    TracesSkipped(u64),
    /// A request the console sent came back (or failed).
    Sent {
        /// Which request.
        id: u64,
        /// What was sent and what came of it.
        exchange: Box<Exchange>,
    },
    /// A request sent in step mode is held at a stage boundary.
    Held(Box<crate::lab::step::Held>),
    /// The challenge run reported something.
    Check {
        /// Which run (an older run's late events are ignored).
        run: u64,
        /// What happened.
        event: Box<CheckEvent>,
    },
    /// A challenge run ended.
    CheckEnded {
        /// Which run.
        run: u64,
        /// How, or why it could not run.
        result: Result<Ending, String>,
    },
    /// A failed check's requests, sent to the lab as well.
    Compared {
        /// The check's position in the challenge.
        check: usize,
        /// The lab's exchanges for the same requests, or why there are none.
        result: Result<Vec<Exchange>, String>,
    },
    /// `$EDITOR` finished with a field's text.
    Edited {
        /// The field.
        field: Field,
        /// The new text; `None` when it was left unchanged; an error when the editor failed.
        result: Result<Option<String>, String>,
    },
    /// Something the runner did failed or finished, to tell the learner.
    Notice(Notice),
    /// Leave now (a signal, or the input ended).
    Quit,
}

/// A line for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// True for a problem.
    pub error: bool,
}

impl Notice {
    /// Plain information.
    pub fn info(text: impl Into<String>) -> Notice {
        Notice {
            text: text.into(),
            error: false,
        }
    }

    /// A problem.
    pub fn error(text: impl Into<String>) -> Notice {
        Notice {
            text: text.into(),
            error: true,
        }
    }
}

/// The fields a learner can type into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The request method.
    Method,
    /// The request path and query.
    Path,
    /// The request headers, one `Name: value` per line.
    Headers,
    /// The request body.
    Body,
    /// The challenge's target URL.
    Target,
    /// The command that starts the learner's server.
    Command,
    /// A search in the focused pane.
    Search,
}

impl Field {
    /// One line only (Enter confirms).
    pub fn single_line(self) -> bool {
        !matches!(self, Field::Headers | Field::Body)
    }

    /// Its label.
    pub fn label(self) -> &'static str {
        match self {
            Field::Method => "method",
            Field::Path => "path",
            Field::Headers => "headers",
            Field::Body => "body",
            Field::Target => "target",
            Field::Command => "command",
            Field::Search => "search",
        }
    }
}

/// Where a challenge run sends its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunTarget {
    /// The learner's server at this URL, started by this command when there is one.
    Learner {
        /// The base URL.
        url: String,
        /// The command that starts it.
        command: Option<String>,
    },
    /// A fresh lab: what passing looks like.
    Lab,
}

/// Something for the runner to do.
#[derive(Debug)]
pub enum Effect {
    /// Send a request to the lab.
    Send {
        /// Its number, to match the answer.
        id: u64,
        /// The request.
        request: Outgoing,
        /// Hold it at every stage (step mode).
        stepped: bool,
    },
    /// Let a held request move on: one stage, or to the end.
    Release(Box<crate::lab::step::Held>, crate::lab::step::Go),
    /// Put text on the clipboard.
    Copy(String),
    /// Edit a field's text in `$EDITOR`.
    Edit {
        /// The field.
        field: Field,
        /// Its text now.
        text: String,
    },
    /// Run a challenge.
    RunChallenge {
        /// The run's number.
        run: u64,
        /// The challenge id.
        challenge: String,
        /// Where.
        target: RunTarget,
    },
    /// Stop the challenge run (and the server it started).
    CancelChallenge,
    /// Send one check's requests to a fresh lab.
    CompareWithLab {
        /// The challenge id.
        challenge: String,
        /// The check's position.
        check: usize,
    },
    /// Remember that a section was read.
    MarkRead {
        /// The lesson id.
        lesson: String,
        /// The section id.
        section: String,
    },
    /// Remember where the learner is.
    SavePlace(Place),
}
