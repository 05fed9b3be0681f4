//! What a challenge run found: per-check outcomes with the evidence behind each failure.

use super::assert::Mismatch;
use super::http::Exchange;
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

/// What a check's result means for the run. This is the one place the rules live: a `must`
/// check that could not run counts as failed; a `should` check that did not hold, or could
/// not run, counts as a warning and never fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It held.
    Passed,
    /// A `must` check did not hold, or could not run.
    Failed,
    /// A `should` check did not hold: advice.
    Warned,
    /// A `should` check could not run.
    Skipped,
}

impl Verdict {
    /// True when the run fails because of it.
    pub fn fails_run(self) -> bool {
        self == Verdict::Failed
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
    /// Requests sent earlier in the same check (to reproduce the state).
    pub earlier: Vec<Exchange>,
}

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    /// The check's name (its contract clause).
    pub name: String,
    /// The stage it tests.
    pub stage: Stage,
    /// must / should.
    pub severity: Severity,
    /// Pass, fail, warn or skip.
    pub status: Status,
    /// Time spent.
    pub duration: Duration,
    /// Where to read up, resolved to something a learner can act on.
    pub hint: String,
    /// Why it matters, for advice.
    pub why: Option<String>,
    /// The evidence, unless it passed.
    pub finding: Option<Finding>,
}

/// A whole challenge run.
#[derive(Debug, Clone)]
pub struct ChallengeOutcome {
    /// Challenge id.
    pub id: String,
    /// Challenge title.
    pub title: String,
    /// The server checked.
    pub target: String,
    /// Every check, in order.
    pub checks: Vec<CheckOutcome>,
    /// Total time.
    pub duration: Duration,
}

impl CheckOutcome {
    /// What the result means for the run (see [`Verdict`]).
    pub fn verdict(&self) -> Verdict {
        match (self.status, self.severity) {
            (Status::Pass, _) => Verdict::Passed,
            (Status::Fail, _) | (Status::Skip, Severity::Must) => Verdict::Failed,
            (Status::Warn, _) => Verdict::Warned,
            (Status::Skip, Severity::Should) => Verdict::Skipped,
        }
    }
}

impl ChallengeOutcome {
    /// True when no check fails the run.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.verdict().fails_run())
    }

    /// Counts of passed, failed and warned checks (see [`Verdict`]).
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.checks {
            match c.verdict() {
                Verdict::Passed => t.passed += 1,
                Verdict::Failed => t.failed += 1,
                Verdict::Warned | Verdict::Skipped => t.warnings += 1,
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

/// Pass / fail / warning counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Checks that passed.
    pub passed: usize,
    /// `must` checks that failed or could not run.
    pub failed: usize,
    /// `should` checks that did not hold.
    pub warnings: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.warnings += o.warnings;
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
        )
    }
}
