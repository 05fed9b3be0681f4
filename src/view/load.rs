//! A load run's summary as styled lines: throughput, latency percentiles, answers by status,
//! failures by kind, and what the numbers leave out.

use super::style::{self, DIM, STRONG};
use crate::load::report::{PERCENTILES, Report};
use ratatui::text::{Line, Span};

/// The summary of `report`, run against `target`, its note wrapped to `width` columns.
pub fn lines(report: &Report, target: &str, width: u16) -> Vec<Line<'static>> {
    let label = |text: &str| Span::styled(format!("  {text:<11}"), DIM);
    let mut lines = vec![Line::from(vec![
        Span::styled("load ", style::TITLE),
        Span::styled(target.to_string(), style::ID),
    ])];
    let schedule = match report.rate {
        Some(rate) => format!("open loop at {rate} requests/s"),
        None => "closed loop".to_string(),
    };
    lines.push(Line::from(vec![
        label("run"),
        Span::raw(format!(
            "{} connection{} · {} thread{} · {:.1} s · {schedule}",
            report.connections,
            plural(report.connections),
            report.threads,
            plural(report.threads),
            report.duration.as_secs_f64()
        )),
    ]));
    let failed = report.failed();
    lines.push(Line::from(vec![
        label("requests"),
        Span::styled(
            format!("{:.1} requests/s", report.requests_per_second()),
            STRONG,
        ),
        Span::raw(format!(" · {} answered · ", report.answered())),
        Span::styled(
            format!("{failed} failed"),
            if failed > 0 { style::FAIL } else { DIM },
        ),
    ]));
    let mut latency = vec![label("latency")];
    match report.latency_ms(50.0) {
        None => latency.push(Span::styled("no answers, so no latencies", DIM)),
        Some(_) => {
            let points = PERCENTILES
                .iter()
                .map(|(name, q)| (name.replace('_', "."), report.latency_ms(*q)))
                .chain([
                    ("max".to_string(), report.max_ms()),
                    ("mean".to_string(), report.mean_ms()),
                ]);
            for (i, (name, value)) in points.enumerate() {
                if i > 0 {
                    latency.push(Span::styled(" · ", DIM));
                }
                latency.push(Span::styled(format!("{name} "), DIM));
                latency.push(Span::raw(format!("{:.2} ms", value.unwrap_or_default())));
            }
        }
    }
    lines.push(Line::from(latency));
    if !report.statuses().is_empty() {
        let mut statuses = vec![label("statuses")];
        for (i, (status, n)) in report.statuses().iter().enumerate() {
            if i > 0 {
                statuses.push(Span::styled(" · ", DIM));
            }
            let look = match status {
                200..=399 => style::OK,
                400..=499 => style::WARN,
                _ => style::FAIL,
            };
            statuses.push(Span::styled(status.to_string(), look));
            statuses.push(Span::raw(format!(" × {n}")));
        }
        lines.push(Line::from(statuses));
    }
    if !report.errors().is_empty() {
        let mut errors = vec![label("failures")];
        for (i, (kind, n)) in report.errors().iter().enumerate() {
            if i > 0 {
                errors.push(Span::styled(" · ", DIM));
            }
            errors.push(Span::styled(kind.to_string(), style::FAIL));
            errors.push(Span::raw(format!(" × {n}")));
        }
        lines.push(Line::from(errors));
    }
    let note = if report.corrected() {
        "Latencies count from the moment each request was due, so time spent queued behind a slow answer is included (corrected for coordinated omission)."
    } else {
        "Closed loop: each connection waits for an answer before it sends again, so a slow answer also delays the requests behind it, and that waiting is in no number above. --rate sends on a schedule and counts it (coordinated omission)."
    };
    let width = usize::from(width).max(40);
    let wrapped = textwrap::wrap(
        note,
        textwrap::Options::new(width)
            .initial_indent("  ")
            .subsequent_indent("  "),
    );
    lines.extend(
        wrapped
            .into_iter()
            .map(|l| Line::from(Span::styled(l.into_owned(), DIM))),
    );
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
