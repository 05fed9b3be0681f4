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

impl ChallengeOutcome {
    /// True when every `must` check passed.
    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.severity == Severity::Should || c.status == Status::Pass)
    }

    /// Counts: (passed, failed, warnings). Skipped `must` checks count as failed.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.checks {
            match (c.status, c.severity) {
                (Status::Pass, _) => t.passed += 1,
                (Status::Warn, _) | (Status::Skip, Severity::Should) => t.warnings += 1,
                (Status::Fail, _) | (Status::Skip, Severity::Must) => t.failed += 1,
            }
        }
        t
    }
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
