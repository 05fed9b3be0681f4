//! The challenge panel: where the checks go (a URL, maybe a command that starts the
//! learner's server), the checks as they arrive, the server's output, and the verdict.

use crate::check::event::{Event, Stream};
use crate::check::http::Exchange;
use crate::check::result::{CheckOutcome, Verdict};
use crate::course::challenge::{Challenge, Severity};
use crate::stage::Stage;
use ratatui_textarea::TextArea;
use std::collections::VecDeque;

/// Most server output lines kept.
pub const OUTPUT_LINES: usize = 400;
/// Most exchanges kept per check.
const EXCHANGES_PER_CHECK: usize = 32;

/// Where one check stands.
#[derive(Debug, Clone)]
pub enum CheckState {
    /// Not run (yet, or in this run).
    Waiting,
    /// Running now.
    Running,
    /// Finished.
    Done(Box<CheckOutcome>),
}

/// One check of the challenge.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its name.
    pub name: String,
    /// The stage it tests.
    pub stage: Stage,
    /// Must or should.
    pub severity: Severity,
    /// Where it stands.
    pub state: CheckState,
    /// The requests it sent in the last run.
    pub exchanges: Vec<Exchange>,
}

/// How the last run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Nothing run yet.
    Idle,
    /// Running (against the lab when `lab`).
    Running {
        /// Against a fresh lab.
        lab: bool,
    },
    /// Finished: every must-check passed or not.
    Finished {
        /// Passed.
        passed: bool,
        /// Against a fresh lab.
        lab: bool,
    },
    /// Could not run (a configuration problem).
    Failed(String),
}

/// The panel.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The challenge id.
    pub challenge: String,
    /// Its title.
    pub title: String,
    /// What it asks, in a sentence.
    pub summary: String,
    /// Where the checks go.
    pub target: TextArea<'static>,
    /// The command that starts the learner's server (empty: none).
    pub command: TextArea<'static>,
    /// The current run's number.
    pub run: u64,
    /// How it is going.
    pub state: RunState,
    /// The checks.
    pub rows: Vec<Row>,
    /// The selected check.
    pub selected: usize,
    /// What the learner's server printed.
    pub output: VecDeque<(Stream, String)>,
    /// Session notes (server started, passes recorded…), newest last.
    pub notes: VecDeque<String>,
    /// The lab's exchanges for a check's requests, when compared.
    pub compared: Option<(usize, Vec<Exchange>)>,
}

fn one_line(text: &str) -> TextArea<'static> {
    TextArea::new(vec![text.to_string()])
}

impl Panel {
    /// A panel for `challenge`, checking `target` (started by `command`, if any).
    pub fn new(challenge: &Challenge, target: &str, command: &str) -> Panel {
        Panel {
            challenge: challenge.id.clone(),
            title: challenge.title.clone(),
            summary: challenge.summary.clone(),
            target: one_line(target),
            command: one_line(command),
            run: 0,
            state: RunState::Idle,
            rows: challenge
                .checks
                .iter()
                .map(|c| Row {
                    name: c.name.clone(),
                    stage: c.stage,
                    severity: c.severity,
                    state: CheckState::Waiting,
                    exchanges: Vec::new(),
                })
                .collect(),
            selected: 0,
            output: VecDeque::new(),
            notes: VecDeque::new(),
            compared: None,
        }
    }

    /// The target URL as typed.
    pub fn target_text(&self) -> String {
        self.target.lines().join("").trim().to_string()
    }

    /// The command as typed (`None` when empty).
    pub fn command_text(&self) -> Option<String> {
        let c = self.command.lines().join(" ").trim().to_string();
        (!c.is_empty()).then_some(c)
    }

    /// True while a run goes on.
    pub fn running(&self) -> bool {
        matches!(self.state, RunState::Running { .. })
    }

    /// Starts run `run` (clearing the last one's results).
    pub fn start(&mut self, run: u64, lab: bool) {
        self.run = run;
        self.state = RunState::Running { lab };
        for row in &mut self.rows {
            row.state = CheckState::Waiting;
            row.exchanges.clear();
        }
        self.output.clear();
        self.notes.clear();
        self.compared = None;
    }

    fn note(&mut self, text: String) {
        if self.notes.len() == 50 {
            self.notes.pop_front();
        }
        self.notes.push_back(text);
    }

    /// Takes in one event of the current run.
    pub fn event(&mut self, event: Event) {
        match event {
            Event::CheckStarted { index, .. } => {
                if let Some(row) = self.rows.get_mut(index) {
                    row.state = CheckState::Running;
                }
            }
            Event::RequestSent {
                check, exchange, ..
            } => {
                if let Some(row) = self.rows.get_mut(check)
                    && row.exchanges.len() < EXCHANGES_PER_CHECK
                {
                    row.exchanges.push(*exchange);
                }
            }
            Event::CheckFinished { index, outcome, .. } => {
                if let Some(row) = self.rows.get_mut(index) {
                    row.state = CheckState::Done(outcome);
                }
            }
            Event::ServerOutput { stream, line } => {
                if self.output.len() == OUTPUT_LINES {
                    self.output.pop_front();
                }
                self.output.push_back((stream, line));
            }
            Event::ServerStarted { command, .. } => self.note(format!("started: {command}")),
            Event::ServerDidNotStart { reason } => {
                self.note(format!("your server did not start: {reason}"))
            }
            Event::ServerExited { status } => self.note(format!("your server exited ({status})")),
            Event::LabStarted { url } => {
                self.note(format!("a fresh lab at {url} is being checked"))
            }
            Event::Recorded { challenges } if !challenges.is_empty() => {
                self.note("passed: recorded in your progress".to_string())
            }
            Event::LabNotRecorded { .. } => self.note(
                "this was the lab: its passes are not yours, so nothing was recorded".to_string(),
            ),
            Event::RecordFailed { reason } => {
                self.note(format!("could not record the pass: {reason}"))
            }
            Event::ProgressMovedAside { moved_to } => self.note(format!(
                "the progress file could not be read; it was moved to {}",
                moved_to.display()
            )),
            Event::RunFinished { passed } => {
                if let RunState::Running { lab } = self.state {
                    self.state = RunState::Finished { passed, lab };
                }
                // Checks a stopped run never reached stay "waiting"; say so by leaving them.
            }
            _ => {}
        }
    }

    /// The selected check's outcome, when it ran.
    pub fn selected_outcome(&self) -> Option<&CheckOutcome> {
        match &self.rows.get(self.selected)?.state {
            CheckState::Done(o) => Some(o),
            _ => None,
        }
    }

    /// Counts of passed, failed (must) and warned checks.
    pub fn tally(&self) -> (usize, usize, usize) {
        let mut t = (0, 0, 0);
        for row in &self.rows {
            if let CheckState::Done(o) = &row.state {
                match o.verdict() {
                    Verdict::Passed => t.0 += 1,
                    Verdict::Failed => t.1 += 1,
                    Verdict::Warned => t.2 += 1,
                    Verdict::NotRun | Verdict::Skipped => {}
                }
            }
        }
        t
    }
}
