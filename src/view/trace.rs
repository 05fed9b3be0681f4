//! A trace as styled lines: one block per request, one row per stage event.
//!
//! Shared by `reqlab trace` (printed as ANSI text) and the guide's trace pane.

use super::markdown::wrap_spans;
use super::style::{self, DIM};
use crate::lab::trace::{Outcome, Trace, TraceEvent};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

const STAGE_WIDTH: usize = 11;

/// Renders one trace, wrapped to `width` columns.
pub fn trace_lines(trace: &Trace, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(40));
    let status_style = style::status(trace.status);
    let mut header = vec![
        Span::styled("── ", DIM),
        Span::styled(trace.status.to_string(), status_style),
        Span::raw(" "),
        Span::styled(
            format!("{} {}", trace.method, trace.path),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ];
    let mut facts = Vec::new();
    if let Some(route) = &trace.route {
        facts.push(format!("route {route}"));
    }
    facts.push(format_ms(trace.duration_us));
    facts.push(format!("id {}", trace.request_id));
    if let Some(time) = trace.started_at.to_string().get(11..19) {
        facts.push(format!("{time} UTC"));
    }
    header.push(Span::styled(format!("  ·  {}", facts.join("  ·  ")), DIM));
    let mut lines = vec![Line::from(header)];
    for event in &trace.events {
        lines.extend(event_lines(event, width));
    }
    lines
}

fn event_lines(event: &TraceEvent, width: usize) -> Vec<Line<'static>> {
    let (mark, mark_style) = match event.outcome {
        Outcome::Ok => ("✓", style::PASSED_MARK),
        Outcome::Fail => ("✗", style::FAIL),
        Outcome::Warn => ("!", style::WARN),
    };
    let at = format!("{:>12}  ", format!("+{}", format_ms(event.at_us)));
    let stage = format!("{:<STAGE_WIDTH$} ", event.stage.id());
    let indent = " ".repeat(at.chars().count() + stage.len() + 2);
    let mut message = vec![Span::styled(
        event.message.clone(),
        if event.outcome == Outcome::Fail {
            style::FAILED_TEXT
        } else {
            Style::new()
        },
    )];
    if event.duration_us > 0 {
        message.push(Span::styled(
            format!(" ({})", format_ms(event.duration_us)),
            DIM,
        ));
    }
    let mut lines = wrap_spans(&message, width, &indent, &indent);
    if let Some(first) = lines.first_mut() {
        // Replace the first line's indent with the time, stage and mark.
        first.spans[0] = Span::raw("");
        let mut spans = vec![
            Span::styled(at, DIM),
            Span::styled(stage, style::ID),
            Span::styled(mark, mark_style),
            Span::raw(" "),
        ];
        spans.extend(first.spans.drain(1..));
        first.spans = spans;
    }
    if let Some(sql) = &event.sql {
        let bar = format!("{indent}│ ");
        let statement = [Span::styled(sql.statement.clone(), style::SQL)];
        lines.extend(wrap_spans(&statement, width, &bar, &bar));
        if !sql.params.is_empty() {
            let params = [Span::styled(
                format!("params: {}", sql.params.join(", ")),
                DIM,
            )];
            lines.extend(wrap_spans(&params, width, &bar, &bar));
        }
    }
    lines
}

/// Columns of the waterfall bar in [`timeline_lines`].
const BAR: usize = 12;

/// One trace as a timeline: a row per stage event with a bar placing it in the request's
/// time (a waterfall), its duration, and its sentence; SQL below its event. `selected`
/// highlights one event (the one a learner may ask to explain).
pub fn timeline_lines(trace: &Trace, width: u16, selected: Option<usize>) -> Vec<Line<'static>> {
    let width = usize::from(width.max(30));
    // Narrow panes put each sentence under its stage instead of beside the bar.
    let compact = width < 72;
    let total = trace.duration_us.max(1);
    let indent = if compact {
        "    ".to_string()
    } else {
        " ".repeat(2 + STAGE_WIDTH + 1 + BAR + 1 + 10 + 1)
    };
    let mut lines = Vec::new();
    for (i, event) in trace.events.iter().enumerate() {
        let (mark, mark_style) = match event.outcome {
            Outcome::Ok => ("✓", style::PASSED_MARK),
            Outcome::Fail => ("✗", style::FAIL),
            Outcome::Warn => ("!", style::WARN),
        };
        let start = (event.at_us.min(total) as usize * BAR / total as usize).min(BAR - 1);
        let len =
            ((event.duration_us as usize * BAR).div_ceil(total as usize)).clamp(1, BAR - start);
        let bar = format!(
            "{}{}{}",
            " ".repeat(start),
            "█".repeat(len),
            " ".repeat(BAR - start - len)
        );
        let duration = if event.duration_us > 0 {
            format_ms(event.duration_us)
        } else {
            String::new()
        };
        let message_style = if event.outcome == Outcome::Fail {
            style::FAILED_TEXT
        } else {
            Style::new()
        };
        let body = [Span::styled(event.message.clone(), message_style)];
        let mut rows = wrap_spans(&body, width, &indent, &indent);
        if compact {
            rows.insert(
                0,
                Line::from(vec![
                    Span::styled(mark, mark_style),
                    Span::raw(" "),
                    Span::styled(format!("{:<STAGE_WIDTH$} ", event.stage.id()), style::ID),
                    Span::styled(bar, style::DIM),
                    Span::styled(format!(" {duration}"), DIM),
                ]),
            );
        } else if let Some(first) = rows.first_mut() {
            let mut spans = vec![
                Span::styled(mark, mark_style),
                Span::raw(" "),
                Span::styled(format!("{:<STAGE_WIDTH$} ", event.stage.id()), style::ID),
                Span::styled(bar, style::DIM),
                Span::raw(" "),
                Span::styled(format!("{duration:>10} "), DIM),
            ];
            spans.extend(first.spans.drain(1..));
            first.spans = spans;
        }
        if let Some(sql) = &event.sql {
            let bar = format!("{indent}│ ");
            let statement = [Span::styled(sql.statement.clone(), style::SQL)];
            rows.extend(wrap_spans(&statement, width, &bar, &bar));
            let mut facts = Vec::new();
            if !sql.params.is_empty() {
                facts.push(format!("params: {}", sql.params.join(", ")));
            }
            facts.push(match sql.rows {
                1 => "1 row".to_string(),
                n => format!("{n} rows"),
            });
            rows.extend(wrap_spans(
                &[Span::styled(facts.join("  ·  "), DIM)],
                width,
                &bar,
                &bar,
            ));
        }
        if selected == Some(i) {
            for row in &mut rows {
                row.style = Style::new().add_modifier(Modifier::REVERSED);
            }
        }
        lines.extend(rows);
    }
    lines
}

/// `0.042 ms`, `12.500 ms`.
pub fn format_ms(micros: u64) -> String {
    format!("{:.3} ms", micros as f64 / 1000.0)
}

/// Each statement's query plan: the statement, then its steps, nested, each in SQLite's words
/// and in a sentence.
pub fn plan_lines(
    plans: &[crate::lab::query_plan::StatementPlan],
    width: u16,
) -> Vec<Line<'static>> {
    let width = usize::from(width).max(40);
    let mut lines = vec![Line::from(Span::styled("query plans", style::HEADING))];
    if plans.is_empty() {
        lines.push(Line::from(Span::styled(
            "  this request ran no SQL statement",
            style::DIM,
        )));
    }
    for plan in plans {
        lines.push(Line::from(vec![
            Span::styled(format!("  [{}] ", plan.index + 1), style::DIM),
            Span::styled(plan.statement.clone(), style::SQL),
        ]));
        if let Some(error) = &plan.error {
            lines.push(Line::from(Span::styled(
                format!("      cannot be explained: {error}"),
                style::FAIL,
            )));
        }
        for step in &plan.plan {
            let indent = "  ".repeat(step.depth + 3);
            lines.push(Line::from(vec![
                Span::raw(indent.clone()),
                Span::styled(step.detail.clone(), style::STRONG),
            ]));
            let options = textwrap::Options::new(width)
                .initial_indent(&indent)
                .subsequent_indent(&indent);
            for line in textwrap::wrap(&step.said, options) {
                lines.push(Line::from(Span::styled(line.into_owned(), style::DIM)));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::trace::SqlRecord;
    use crate::stage::Stage;
    use crate::view::markdown::plain_text;

    #[test]
    fn a_trace_block_shows_each_stage_and_its_sql() {
        let trace = Trace {
            request_id: "abc".into(),
            started_at: crate::lab::trace::Timestamp(
                crate::lab::clock::parse_micros("2026-11-25T12:30:01Z").unwrap(),
            ),
            method: "GET".into(),
            path: "/tasks/1".into(),
            route: Some("/tasks/{id}".into()),
            status: 200,
            duration_us: 1500,
            caller: None,
            request: None,
            events: vec![
                TraceEvent {
                    stage: Stage::Routing,
                    outcome: Outcome::Ok,
                    at_us: 10,
                    duration_us: 0,
                    message: "matched route GET /tasks/{id}".into(),
                    sql: None,
                },
                TraceEvent {
                    stage: Stage::Data,
                    outcome: Outcome::Ok,
                    at_us: 20,
                    duration_us: 300,
                    message: "returned 1 row".into(),
                    sql: Some(SqlRecord {
                        statement: "SELECT id FROM tasks WHERE id = ?1".into(),
                        params: vec!["1".into()],
                        rows: 1,
                        call_site: None,
                    }),
                },
            ],
        };
        let timeline = plain_text(&timeline_lines(&trace, 100, None));
        assert_eq!(
            timeline,
            "✓ routing     █                       matched route GET /tasks/{id}\n\
             ✓ data        ███            0.300 ms returned 1 row\n\
             \x20                                     │ SELECT id FROM tasks WHERE id = ?1\n\
             \x20                                     │ params: 1 · 1 row\n"
        );
        let text = plain_text(&trace_lines(&trace, 100));
        assert_eq!(
            text,
            "── 200 GET /tasks/1  ·  route /tasks/{id}  ·  1.500 ms  ·  id abc  ·  12:30:01 UTC\n\
             \x20  +0.010 ms  routing     ✓ matched route GET /tasks/{id}\n\
             \x20  +0.020 ms  data        ✓ returned 1 row (0.300 ms)\n\
             \x20                           │ SELECT id FROM tasks WHERE id = ?1\n\
             \x20                           │ params: 1\n"
        );
    }
}
