//! What a check session reports while it runs, as events on a channel.
//!
//! `reqlab check` renders them as text as they arrive; a UI draws them. Events come in the
//! order things happen: for one run, the servers start, then each challenge's checks (each
//! check's requests inside it), then the report, then what was recorded, then the end of the
//! run; with `--watch`, each change seen starts the next run.

use super::http::Exchange;
use super::result::{ChallengeOutcome, CheckOutcome};
use crate::stage::Stage;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Which output stream of the learner's server a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One thing that happened in a check session.
#[derive(Debug, Clone)]
pub enum Event {
    /// The embedded lab was started to be checked.
    LabStarted {
        /// Its base URL.
        url: String,
    },
    /// The learner's server (`--run`) was started.
    ServerStarted {
        /// The command line.
        command: String,
        /// Its process id, when known.
        pid: Option<u32>,
    },
    /// A line the learner's server printed.
    ServerOutput {
        /// Which stream.
        stream: Stream,
        /// The line, without its line ending (bytes that are not UTF-8 replaced).
        line: String,
    },
    /// The learner's server did not come up, so this run checked nothing.
    ServerDidNotStart {
        /// Why, in a sentence.
        reason: String,
    },
    /// The learner's server exited by itself while the checks ran.
    ServerExited {
        /// How it exited.
        status: std::process::ExitStatus,
    },
    /// A challenge's checks are about to run.
    ChallengeStarted {
        /// Challenge id.
        id: String,
        /// Challenge title.
        title: String,
        /// The server checked.
        target: String,
        /// How many checks it has.
        checks: usize,
    },
    /// A check is about to run.
    CheckStarted {
        /// The challenge it belongs to.
        challenge: String,
        /// Its position in the challenge, from 0.
        index: usize,
        /// Its name.
        name: String,
        /// The stage it tests.
        stage: Stage,
    },
    /// A check sent a request and this is what came of it.
    RequestSent {
        /// The challenge.
        challenge: String,
        /// The check's position, from 0.
        check: usize,
        /// The request and the response (or why none came).
        exchange: Box<Exchange>,
    },
    /// A check finished.
    CheckFinished {
        /// The challenge.
        challenge: String,
        /// The check's position, from 0.
        index: usize,
        /// How it ended, with the evidence.
        outcome: Box<CheckOutcome>,
    },
    /// A challenge's checks all ran.
    ChallengeFinished(Box<ChallengeOutcome>),
    /// Every challenge of the run has finished: the run's report.
    Report(Vec<ChallengeOutcome>),
    /// The passes were recorded in the learner's progress.
    Recorded {
        /// The challenges recorded as passed.
        challenges: Vec<String>,
    },
    /// The target is a reqlab lab, so its passes are not the learner's and were not recorded.
    LabNotRecorded {
        /// The target's base URL.
        target: String,
    },
    /// The progress file could not be read; it was moved aside and a new one started.
    ProgressMovedAside {
        /// Where the unreadable file went.
        moved_to: PathBuf,
    },
    /// Recording the passes failed (the check results stand).
    RecordFailed {
        /// Why, in a sentence.
        reason: String,
    },
    /// A run ended.
    RunFinished {
        /// True when every must-check of every challenge passed.
        passed: bool,
    },
    /// Waiting for a file under the watched path to change.
    Watching {
        /// The watched path.
        path: PathBuf,
    },
    /// A file changed, so the checks run again.
    ChangeSeen {
        /// The file.
        path: PathBuf,
        /// True when the change happened while the previous run was going.
        during_run: bool,
    },
}

/// Where a session sends its events: a channel, or nowhere (for callers that only want the
/// outcome). Sending waits while the receiver is behind, so a slow reader slows the checks
/// instead of piling events up in memory; a receiver that has gone away is ignored.
#[derive(Debug, Clone, Default)]
pub struct EventSink(Option<mpsc::Sender<Event>>);

impl EventSink {
    /// Events go to this channel.
    pub fn to(sender: mpsc::Sender<Event>) -> EventSink {
        EventSink(Some(sender))
    }

    /// Events are dropped.
    pub fn discard() -> EventSink {
        EventSink(None)
    }

    /// True when someone listens (so events worth building are built only then).
    pub fn is_listening(&self) -> bool {
        self.0.as_ref().is_some_and(|s| !s.is_closed())
    }

    /// Sends an event.
    pub async fn emit(&self, event: Event) {
        if let Some(sender) = &self.0 {
            let _ = sender.send(event).await;
        }
    }
}
