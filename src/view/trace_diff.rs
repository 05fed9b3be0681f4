//! Two traces side by side (`reqlab trace diff A B`): where the time went in each stage, which
//! statements ran how often in each, and one sentence that says what changed most.

use super::style::{self, DIM, STRONG};
use crate::lab::trace::{Outcome, Trace};
use crate::stage::Stage;
use ratatui::text::{Line, Span};
use serde::Serialize;

/// What differs between two traces.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceDiff {
    /// Total time of each, microseconds.
    pub total_us: (u64, u64),
    /// Each stage that took time in either, in lifecycle order: microseconds in A and in B.
    pub stages: Vec<(Stage, u64, u64)>,
    /// Each statement that ran in either, with how many times in A and in B.
    pub statements: Vec<(String, usize, usize)>,
    /// N+1 and repeat warnings in A and in B.
    pub warnings: (usize, usize),
    /// What changed most, in a sentence.
    pub summary: String,
}

/// Compares `a` with `b`.
pub fn diff(a: &Trace, b: &Trace) -> TraceDiff {
    let spent = |t: &Trace, stage: Stage| -> u64 {
        t.events
            .iter()
            .filter(|e| e.stage == stage)
            .map(|e| e.duration_us)
            .sum()
    };
    let mut stages: Vec<Stage> = a
        .events
        .iter()
        .chain(&b.events)
        .filter(|e| e.duration_us > 0)
        .map(|e| e.stage)
        .collect();
    stages.sort();
    stages.dedup();
    let stages: Vec<(Stage, u64, u64)> = stages
        .into_iter()
        .map(|s| (s, spent(a, s), spent(b, s)))
        .collect();
    let mut statements: Vec<(String, usize, usize)> = Vec::new();
    for (trace, side) in [(a, 0), (b, 1)] {
        for sql in trace.events.iter().filter_map(|e| e.sql.as_ref()) {
            let entry = match statements.iter_mut().find(|(s, _, _)| *s == sql.statement) {
                Some(entry) => entry,
                None => {
                    statements.push((sql.statement.clone(), 0, 0));
                    statements.last_mut().expect("just pushed")
                }
            };
            if side == 0 {
                entry.1 += 1;
            } else {
                entry.2 += 1;
            }
        }
    }
    let warned = |t: &Trace| {
        t.events
            .iter()
            .filter(|e| e.outcome == Outcome::Warn)
            .count()
    };
    let warnings = (warned(a), warned(b));
    let summary = summarize(a, b, &stages, &statements);
    TraceDiff {
        total_us: (a.duration_us, b.duration_us),
        stages,
        statements,
        warnings,
        summary,
    }
}

/// The change that matters most, in a sentence: the total, the stage that moved most, and the
/// statement count when it differs.
fn summarize(
    a: &Trace,
    b: &Trace,
    stages: &[(Stage, u64, u64)],
    statements: &[(String, usize, usize)],
) -> String {
    let delta = b.duration_us as i64 - a.duration_us as i64;
    let verb = if delta >= 0 { "more" } else { "less" };
    let mut sentence = format!("B took {} {verb} than A", ms(delta.unsigned_abs()));
    if let Some((stage, x, y)) = stages
        .iter()
        .max_by_key(|(_, x, y)| (*y as i64 - *x as i64).unsigned_abs())
        .filter(|(_, x, y)| x != y)
    {
        sentence.push_str(&format!(
            ", most of it in {} ({} → {})",
            stage.id(),
            ms(*x),
            ms(*y)
        ));
    }
    let (in_a, in_b): (usize, usize) = statements
        .iter()
        .fold((0, 0), |(x, y), (_, a, b)| (x + a, y + b));
    if in_a != in_b {
        sentence.push_str(&format!(
            "; it ran {in_b} SQL statement{} where A ran {in_a}",
            if in_b == 1 { "" } else { "s" }
        ));
        if let Some((statement, x, y)) = statements
            .iter()
            .max_by_key(|(_, x, y)| (*y as i64 - *x as i64).unsigned_abs())
        {
            let shown: String = statement.chars().take(70).collect();
            sentence.push_str(&format!(" (`{shown}`: {x}× → {y}×)"));
        }
    }
    sentence
}

/// Microseconds as milliseconds with three decimals.
fn ms(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

/// The comparison as lines for a terminal.
pub fn lines(a: &Trace, b: &Trace, d: &TraceDiff) -> Vec<Line<'static>> {
    let head = |label: &str, t: &Trace| {
        Line::from(vec![
            Span::styled(format!("{label} "), STRONG),
            Span::styled(t.request_id.clone(), style::ID),
            Span::raw(format!(
                "  {} {} → {}  {}",
                t.method,
                t.path,
                t.status,
                ms(t.duration_us)
            )),
        ])
    };
    let mut lines = vec![head("A", a), head("B", b), Line::default()];
    lines.push(Line::from(Span::styled(d.summary.clone(), STRONG)));
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!("  {:<13}{:>12}{:>12}{:>13}", "stage", "A", "B", "B − A"),
        DIM,
    )));
    let row = |name: &str, x: u64, y: u64| {
        let change = y as i64 - x as i64;
        let look = match change {
            c if c > 0 => style::WARN,
            c if c < 0 => style::OK,
            _ => DIM,
        };
        let sign = if change > 0 {
            "+"
        } else if change < 0 {
            "−"
        } else {
            " "
        };
        Line::from(vec![
            Span::raw(format!("  {name:<13}{:>12}{:>12}", ms(x), ms(y))),
            Span::styled(
                format!("{:>13}", format!("{sign}{}", ms(change.unsigned_abs()))),
                look,
            ),
        ])
    };
    for (stage, x, y) in &d.stages {
        lines.push(row(stage.id(), *x, *y));
    }
    lines.push(row("total", d.total_us.0, d.total_us.1));
    if !d.statements.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            "  statements (times run in A → in B)",
            DIM,
        )));
        for (statement, x, y) in &d.statements {
            let look = if x == y { DIM } else { style::WARN };
            lines.push(Line::from(vec![
                Span::styled(format!("  {x:>3}× → {y:>3}×  "), look),
                Span::styled(statement.clone(), style::SQL),
            ]));
        }
    }
    if d.warnings != (0, 0) {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!(
                "  warnings about statements run more than once: {} in A, {} in B",
                d.warnings.0, d.warnings.1
            ),
            style::WARN,
        )));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::trace::{SqlRecord, Timestamp, TraceEvent};

    fn trace(id: &str, total: u64, queries: &[(&str, u64)], warn: bool) -> Trace {
        let mut events = vec![TraceEvent {
            stage: Stage::Validation,
            outcome: Outcome::Ok,
            at_us: 10,
            duration_us: 20,
            message: "validation passed".into(),
            sql: None,
        }];
        for (statement, us) in queries {
            events.push(TraceEvent {
                stage: Stage::Data,
                outcome: Outcome::Ok,
                at_us: 40,
                duration_us: *us,
                message: "returned 1 row".into(),
                sql: Some(SqlRecord {
                    statement: statement.to_string(),
                    params: Vec::new(),
                    rows: 1,
                    call_site: None,
                }),
            });
        }
        if warn {
            events.push(TraceEvent {
                stage: Stage::Data,
                outcome: Outcome::Warn,
                at_us: 90,
                duration_us: 0,
                message: "N+1".into(),
                sql: None,
            });
        }
        Trace {
            request_id: id.into(),
            started_at: Timestamp(0),
            method: "GET".into(),
            path: "/books".into(),
            route: Some("/books".into()),
            status: 200,
            duration_us: total,
            events,
            caller: None,
            request: None,
        }
    }

    #[test]
    fn the_sentence_names_the_stage_and_the_statement_that_changed_most() {
        let join = "SELECT b.id FROM books b JOIN authors a";
        let one = "SELECT id, name FROM authors WHERE id = ?1";
        let list = "SELECT id FROM books";
        let a = trace("a", 500, &[(join, 100)], false);
        let b = trace(
            "b",
            2_100,
            &[(list, 100), (one, 50), (one, 50), (one, 50)],
            true,
        );
        let d = diff(&a, &b);
        assert_eq!(
            d.stages,
            [(Stage::Validation, 20, 20), (Stage::Data, 100, 250)]
        );
        assert_eq!(d.statements[0], (join.to_string(), 1, 0));
        assert_eq!(d.statements[2], (one.to_string(), 0, 3));
        assert_eq!(d.warnings, (0, 1));
        assert_eq!(
            d.summary,
            "B took 1.600 ms more than A, most of it in data (0.100 ms → 0.250 ms); it ran 4 SQL statements where A ran 1 (`SELECT id, name FROM authors WHERE id = ?1`: 0× → 3×)"
        );
        let reverse = diff(&b, &a);
        assert!(reverse.summary.starts_with("B took 1.600 ms less than A"));
    }
}
