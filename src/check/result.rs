//! What a challenge run found: per-check outcomes with the evidence behind each failure, and
//! the verdict rules (one place: [`CheckOutcome::verdict`]).

use super::assert::Mismatch;
use super::http::Exchange;
use super::output::ServerOutput;
use super::repro::Reproduction;
use crate::course::challenge::Severity;
use crate::stage::Stage;
use std::time::Duration;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The server did what the check asks.
    Pass,
    /// A `must` check did not hold.
    Fail,
    /// A `should` check did not hold: advice, not failure.
    Warn,
    /// The check could not run (an earlier failure, or nothing listening).
    Skip,
}

/// What a check's result means for the run. This is the one place the rules live:
/// - a `must` check that did not hold fails the run;
/// - a check that could not run (nothing listening, or a value an earlier failure did not
///   provide) is counted as "not run", not as another failure: one cause, one failure. A
///   `must` check that did not run still keeps the run from passing — the failure that
///   stopped it is reported once, where it happened;
/// - a `should` check that did not hold is a warning and never fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It held.
    Passed,
    /// A `must` check did not hold.
    Failed,
    /// A `should` check did not hold: advice.
    Warned,
    /// A `must` check could not run because of an earlier failure.
    NotRun,
    /// A `should` check could not run.
    Skipped,
}

impl Verdict {
    /// True when the run cannot pass because of it.
    pub fn fails_run(self) -> bool {
        matches!(self, Verdict::Failed | Verdict::NotRun)
    }

    /// True when the check could not run at all.
    pub fn not_run(self) -> bool {
        matches!(self, Verdict::NotRun | Verdict::Skipped)
    }
}

/// The evidence for a failed or warned check.
#[derive(Debug, Clone)]
pub struct Finding {
    /// One sentence: what went wrong.
    pub message: String,
    /// Expected vs actual, when an assertion failed.
    pub mismatch: Option<Mismatch>,
    /// The exchange that showed it.
    pub exchange: Option<Exchange>,
    /// Every request the verdict depends on, as shell commands that reproduce it on a fresh
    /// server (filled in by the runner from the conversation).
    pub reproduction: Reproduction,
    /// True when the contract held and the finding is advice (or a part the check could not
    /// test): the check is a warning, whatever its severity.
    pub advice: bool,
}

impl Finding {
    /// A finding with a message and the exchange that showed it.
    pub fn new(message: impl Into<String>, exchange: Option<Exchange>) -> Finding {
        Finding {
            message: message.into(),
            mismatch: None,
            exchange,
            reproduction: Reproduction::default(),
            advice: false,
        }
    }

    /// Advice from a check whose contract held, with the exchange that prompted it.
    pub fn advice(message: impl Into<String>, exchange: Option<Exchange>) -> Finding {
        Finding {
            advice: true,
            ..Finding::new(message, exchange)
        }
    }

    /// A check that could not run, and why.
    pub fn not_run(reason: impl std::fmt::Display) -> Finding {
        Finding::new(format!("{NOT_RUN}{reason}"), None)
    }

    /// True when the finding says the check could not run.
    pub fn is_not_run(&self) -> bool {
        self.message.starts_with(NOT_RUN)
    }
}

/// How the message of a check that could not run begins.
pub const NOT_RUN: &str = "not run: ";

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    /// The check's name (its contract clause).
    pub name: String,
    /// The stage it tests.
    pub stage: Stage,
    /// must / should.
    pub severity: Severity,
    /// Pass, fail, warn or skip (a `must` check warns when it held with advice).
    pub status: Status,
    /// Time spent.
    pub duration: Duration,
    /// Where to read up, resolved to something a learner can act on.
    pub hint: String,
    /// Why it matters, for advice.
    pub why: Option<String>,
    /// The evidence, unless it passed.
    pub finding: Option<Finding>,
    /// What the learner's server (`--run`) printed while the check ran, when it did not pass.
    pub server_output: Option<ServerOutput>,
}

/// A whole challenge run.
#[derive(Debug, Clone)]
pub struct ChallengeOutcome {
    /// Challenge id.
    pub id: String,
    /// Challenge title.
    pub title: String,
    /// The challenge's version (see [`crate::course::Challenge::version`]).
    pub version: u32,
    /// The server checked.
    pub target: String,
    /// Every check, in order.
    pub checks: Vec<CheckOutcome>,
    /// Total time.
    pub duration: Duration,
    /// Why the server could not be reached, when a request found out (later challenges of
    /// the same run are then not run).
    pub unreachable: Option<String>,
}

impl CheckOutcome {
    /// True when the check did not run because nothing listens where the server should
    /// (said once, by the check that found out).
    pub fn not_run_unreachable(&self) -> bool {
        self.status == Status::Skip
            && self.finding.as_ref().is_some_and(|f| {
                f.message
                    .starts_with(&format!("{NOT_RUN}nothing is listening"))
            })
    }

    /// What the result means for the run (see [`Verdict`]).
    pub fn verdict(&self) -> Verdict {
        match (self.status, self.severity) {
            (Status::Pass, _) => Verdict::Passed,
            (Status::Fail, _) => Verdict::Failed,
            (Status::Warn, _) => Verdict::Warned,
            (Status::Skip, Severity::Must) => Verdict::NotRun,
            (Status::Skip, Severity::Should) => Verdict::Skipped,
        }
    }
}

impl ChallengeOutcome {
    /// True when no check fails the run.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.verdict().fails_run())
    }

    /// Counts of passed, failed, warned and not-run checks (see [`Verdict`]).
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.checks {
            match c.verdict() {
                Verdict::Passed => t.passed += 1,
                Verdict::Failed => t.failed += 1,
                Verdict::Warned => t.warnings += 1,
                Verdict::NotRun | Verdict::Skipped => t.not_run += 1,
            }
        }
        t
    }
}

/// The counts over several challenges.
pub fn total(outcomes: &[ChallengeOutcome]) -> Tally {
    let mut t = Tally::default();
    for o in outcomes {
        t += o.tally();
    }
    t
}

/// Pass / fail / warning / not-run counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Checks that passed.
    pub passed: usize,
    /// `must` checks that did not hold.
    pub failed: usize,
    /// `should` checks that did not hold.
    pub warnings: usize,
    /// Checks that could not run because of an earlier failure (nothing listening, a value
    /// an earlier check did not provide).
    pub not_run: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.warnings += o.warnings;
        self.not_run += o.not_run;
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} passed, {} failed, {} warning{}",
            self.passed,
            self.failed,
            self.warnings,
            s(self.warnings)
        )?;
        if self.not_run > 0 {
            write!(f, ", {} not run", self.not_run)?;
        }
        Ok(())
    }
}
