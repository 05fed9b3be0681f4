//! What a load run measured: answers by status, failures by kind, and latencies in an HDR
//! histogram, from which percentiles are read (averages hide the slow requests users feel).

use super::{Plan, histogram};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// What one connection (or several, merged) counted.
#[derive(Debug)]
pub struct Tally {
    latency: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<&'static str, u64>,
}

impl Tally {
    /// Nothing counted yet.
    pub fn new() -> Tally {
        Tally {
            latency: histogram(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    /// An answer with `status`, `micros` after it was sent (or due).
    pub fn answered(&mut self, status: u16, micros: u64) {
        self.latency.saturating_record(micros);
        *self.statuses.entry(status).or_default() += 1;
    }

    /// A request that got no answer, and why.
    pub fn error(&mut self, kind: &'static str) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// Adds another tally's counts to this one.
    pub fn merge(&mut self, other: Tally) {
        // Both histograms share bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Report {
    /// Connections used.
    pub connections: usize,
    /// Threads used.
    pub threads: usize,
    /// The rate asked for, if any (open loop).
    pub rate: Option<f64>,
    /// How long it ran.
    pub duration: Duration,
    tally: Tally,
}

/// The percentiles reported, with their names in JSON.
pub const PERCENTILES: [(&str, f64); 4] =
    [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9)];

impl Report {
    /// The connections' tallies, merged.
    pub fn new(plan: &Plan, tallies: Vec<Tally>, duration: Duration) -> Report {
        let mut tally = Tally::new();
        for t in tallies {
            tally.merge(t);
        }
        Report {
            connections: plan.connections,
            threads: plan.threads,
            rate: plan.rate,
            duration,
            tally,
        }
    }

    /// Requests that got an answer (any status).
    pub fn answered(&self) -> u64 {
        self.tally.statuses.values().sum()
    }

    /// Requests that got none.
    pub fn failed(&self) -> u64 {
        self.tally.errors.values().sum()
    }

    /// Answers per second over the whole run.
    pub fn requests_per_second(&self) -> f64 {
        let seconds = self.duration.as_secs_f64();
        if seconds > 0.0 {
            self.answered() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The latency at percentile `q` (0–100), in milliseconds; `None` with no answers.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        (!self.tally.latency.is_empty())
            .then(|| self.tally.latency.value_at_percentile(q) as f64 / 1000.0)
    }

    /// The slowest answer, in milliseconds.
    pub fn max_ms(&self) -> Option<f64> {
        (!self.tally.latency.is_empty()).then(|| self.tally.latency.max() as f64 / 1000.0)
    }

    /// The mean latency, in milliseconds.
    pub fn mean_ms(&self) -> Option<f64> {
        (!self.tally.latency.is_empty()).then(|| self.tally.latency.mean() / 1000.0)
    }

    /// Answers by status code.
    pub fn statuses(&self) -> &BTreeMap<u16, u64> {
        &self.tally.statuses
    }

    /// Failures by kind (`connect`, `timeout`, `connection closed`, `body cut short`).
    pub fn errors(&self) -> &BTreeMap<&'static str, u64> {
        &self.tally.errors
    }

    /// True when latencies count from each request's scheduled time (a rate was given).
    pub fn corrected(&self) -> bool {
        self.rate.is_some()
    }

    /// The report as JSON (`reqlab load --format json`).
    pub fn to_json(&self, target: &str) -> Value {
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        let mut latency = serde_json::Map::new();
        for (name, q) in PERCENTILES {
            latency.insert(name.into(), json!(self.latency_ms(q).map(round)));
        }
        latency.insert("max".into(), json!(self.max_ms().map(round)));
        latency.insert("mean".into(), json!(self.mean_ms().map(round)));
        json!({
            "target": target,
            "connections": self.connections,
            "threads": self.threads,
            "rate": self.rate,
            "duration_s": round(self.duration.as_secs_f64()),
            "requests": self.answered(),
            "requests_per_second": round(self.requests_per_second()),
            "latency_ms": latency,
            "coordinated_omission_corrected": self.corrected(),
            "status_counts": self.tally.statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "errors": self.tally.errors.iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Stop;

    fn plan() -> Plan {
        Plan {
            addr: "127.0.0.1:1".parse().unwrap(),
            request: crate::load::wire::Prepared::new("GET", "/", &[], b""),
            connections: 2,
            threads: 1,
            stop: Stop::Requests(10),
            rate: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn percentiles_come_from_every_connection_merged() {
        let mut a = Tally::new();
        let mut b = Tally::new();
        for ms in 1..=90 {
            a.answered(200, ms * 1000);
        }
        for ms in 91..=100 {
            b.answered(503, ms * 1000);
        }
        b.error("timeout");
        let report = Report::new(&plan(), vec![a, b], Duration::from_secs(2));
        assert_eq!(report.answered(), 100);
        assert_eq!(report.failed(), 1);
        assert_eq!(report.requests_per_second(), 50.0);
        let p50 = report.latency_ms(50.0).unwrap();
        assert!((49.9..=50.1).contains(&p50), "{p50}");
        let p99 = report.latency_ms(99.0).unwrap();
        assert!((98.9..=99.1).contains(&p99), "{p99}");
        let json = report.to_json("http://127.0.0.1:1/");
        assert_eq!(json["status_counts"]["200"], 90);
        assert_eq!(json["status_counts"]["503"], 10);
        assert_eq!(json["errors"]["timeout"], 1);
        assert_eq!(json["coordinated_omission_corrected"], false);
        assert!(json["latency_ms"]["max"].as_f64().unwrap() >= 99.9);
    }

    #[test]
    fn a_run_without_answers_has_no_latencies() {
        let report = Report::new(&plan(), vec![Tally::new()], Duration::ZERO);
        assert_eq!(report.latency_ms(50.0), None);
        assert_eq!(report.requests_per_second(), 0.0);
        assert_eq!(report.to_json("t")["latency_ms"]["p99"], Value::Null);
    }
}
