//! Check results as a learner reads them: a heading per challenge, a line per check with the
//! evidence of each failure (the request as curl, the response, expected vs actual), a
//! summary, and one line for each thing the session reports along the way.

use super::style::{self, DIM};
use crate::check::event::Event;
use crate::check::http::{Exchange, Received};
use crate::check::output::ServerOutput;
use crate::check::result::{ChallengeOutcome, CheckOutcome, NOT_RUN, Status, Tally, Verdict};
use crate::course::challenge::Severity;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Lines of a response body shown in a failure.
const BODY_LINES: usize = 20;
/// Indent of a check's evidence.
const PAD: &str = "      ";
/// Indent of a response's headers and body inside the evidence.
const BODY_PAD: &str = "                ";

/// The heading printed before a challenge's checks.
pub fn heading(id: &str, title: &str, target: &str, checks: usize) -> Vec<Line<'static>> {
    vec![
        Line::from(vec![
            Span::styled("challenge", style::STRONG),
            Span::raw(" "),
            Span::styled(id.to_string(), style::ID),
            Span::raw(format!(" — {title}")),
        ]),
        Line::styled(format!("  target {target} · {checks} checks"), DIM),
    ]
}

/// One check's line, and for a failure or warning the evidence.
pub fn check_lines(c: &CheckOutcome) -> Vec<Line<'static>> {
    let verdict = c.verdict();
    let (mark, mark_style) = match verdict {
        Verdict::Passed => ("✓", style::OK),
        Verdict::Failed => ("✗", style::FAIL),
        Verdict::Warned => ("!", style::WARN),
        Verdict::NotRun | Verdict::Skipped => ("-", DIM),
    };
    let note = match (c.status, c.severity) {
        (Status::Skip, _) => " (not run)",
        (_, Severity::Should) => " (advice)",
        (Status::Warn, Severity::Must) => " (holds, with advice)",
        _ => "",
    };
    let stage = format!("[{}]", c.stage.id());
    let mut lines = vec![Line::from(vec![
        Span::raw("  "),
        Span::styled(mark, mark_style),
        Span::raw(" "),
        Span::styled(format!("{stage:<15}"), style::ID),
        Span::raw(format!(" {}", c.name)),
        Span::styled(note, DIM),
        Span::raw("  "),
        Span::styled(format!("{} ms", c.duration.as_millis()), DIM),
    ])];
    let Some(f) = &c.finding else { return lines };
    if c.status == Status::Skip {
        let reason = f.message.trim_start_matches(NOT_RUN);
        // "Nothing is listening" was already said by the check that found it.
        if !reason.starts_with("nothing is listening") {
            lines.push(labelled("not run", vec![Span::raw(reason.to_string())]));
        }
        return lines;
    }
    if f.mismatch.is_none() {
        let (label, text_style) = if f.advice {
            ("advice", style::WARN)
        } else {
            ("problem", style::FAIL)
        };
        lines.push(labelled(
            label,
            vec![Span::styled(f.message.clone(), text_style)],
        ));
    }
    for line in f.reproduction.setup_lines() {
        lines.push(labelled("before", vec![Span::styled(line, DIM)]));
    }
    if let Some(ex) = &f.exchange {
        lines.extend(exchange_lines(ex, f.reproduction.request_line()));
    }
    if let Some(m) = &f.mismatch {
        lines.push(labelled(
            "expected",
            vec![Span::styled(m.expected.clone(), style::OK)],
        ));
        lines.push(labelled(
            "actual",
            vec![Span::styled(m.actual.clone(), style::FAIL)],
        ));
        if let Some(diff) = &m.diff {
            lines.extend(super::diff::unified_lines(
                diff,
                &format!("{PAD}          "),
            ));
        }
    }
    if let Some(out) = &c.server_output {
        lines.extend(server_output_lines(out));
    }
    if let Some(fix) = f.mismatch.as_ref().and_then(|m| m.fix.as_ref()) {
        lines.push(labelled("change", vec![Span::raw(fix.clone())]));
    }
    if let Some(why) = &c.why {
        lines.push(labelled("matters", vec![Span::raw(why.clone())]));
    }
    lines.push(labelled("hint", vec![Span::raw(c.hint.clone())]));
    lines
}

/// What the learner's server printed during a check: a crash's exception and the learner's
/// own frame first, then its last lines.
pub fn server_output_lines(out: &ServerOutput) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(exception) = &out.exception {
        lines.push(labelled(
            "crashed",
            vec![Span::styled(exception.clone(), style::FAIL)],
        ));
        for (i, frame) in out.own_frame.iter().enumerate() {
            let text = if i == 0 {
                format!("at {frame}")
            } else {
                format!("   {frame}")
            };
            lines.push(Line::from(vec![
                Span::raw(format!("{PAD}          ")),
                Span::styled(text, style::ID),
            ]));
        }
    }
    let heading = if out.omitted > 0 {
        format!(
            "your server printed ({} earlier lines not shown):",
            out.omitted
        )
    } else {
        "your server printed:".to_string()
    };
    lines.push(labelled("server", vec![Span::styled(heading, DIM)]));
    for line in &out.last_lines {
        lines.push(Line::from(vec![
            Span::raw(BODY_PAD),
            Span::raw(crate::check::assert::shorten(line, 200)),
        ]));
    }
    lines
}

/// One line for the checks of a challenge that did not run because the server is not there
/// (the check that found out said so).
pub fn not_run_line(count: usize) -> Line<'static> {
    let s = if count == 1 { "" } else { "s" };
    Line::styled(
        format!("  - {count} check{s} not run: nothing is listening"),
        DIM,
    )
}

/// An evidence line: the indent, a dim label padded to a column, then the text.
fn labelled(label: &str, text: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![
        Span::raw(PAD),
        Span::styled(format!("{label:<9}"), DIM),
        Span::raw(" "),
    ];
    spans.extend(text);
    Line::from(spans)
}

/// How much of a body an exchange shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShown {
    /// The start, each line shortened: evidence in a report.
    Excerpt,
    /// Every line whole (up to [`WHOLE_LINES`]): a learner's own exchange, whose values
    /// (a token, an id) they may want to copy.
    Whole,
}

/// The most body lines [`BodyShown::Whole`] prints.
const WHOLE_LINES: usize = 400;

/// A request as curl (`shown`, when a reproduction reads earlier values from shell
/// variables) and what came back: status, headers, the start of the body.
pub fn exchange_lines(ex: &Exchange, shown: Option<String>) -> Vec<Line<'static>> {
    exchange_lines_with(ex, shown, BodyShown::Excerpt)
}

/// [`exchange_lines`], showing the body as `body` says.
pub fn exchange_lines_with(
    ex: &Exchange,
    shown: Option<String>,
    body: BodyShown,
) -> Vec<Line<'static>> {
    let curl = shown.unwrap_or_else(|| ex.request.curl());
    let mut lines = vec![labelled("request", vec![Span::styled(curl, style::ID)])];
    let Ok(r) = &ex.response else { return lines };
    lines.push(labelled(
        "response",
        vec![
            Span::styled(
                format!("{} {}", r.status, crate::status::reason(r.status)),
                style::status(r.status),
            ),
            Span::raw(format!(
                " · {} bytes{} · {} ms",
                r.body.len(),
                if r.truncated { " (cut at 1 MiB)" } else { "" },
                r.elapsed.as_millis()
            )),
        ],
    ));
    for (k, v) in &r.headers {
        if ["date", "server", "content-length", "connection"].contains(&k.as_str()) {
            continue;
        }
        lines.push(Line::from(vec![
            Span::raw(BODY_PAD),
            Span::styled(format!("{k}: {v}"), DIM),
        ]));
    }
    let shown_body = match body {
        BodyShown::Excerpt => body_excerpt(r),
        BodyShown::Whole => body_whole(r),
    };
    for line in shown_body {
        lines.push(Line::from(vec![Span::raw(BODY_PAD), Span::raw(line)]));
    }
    lines
}

/// A body's lines, whole (up to [`WHOLE_LINES`]): pretty JSON when it is JSON, else text.
fn body_whole(r: &Received) -> Vec<String> {
    body_lines(r, WHOLE_LINES, None)
}

/// The first lines of a body: pretty JSON when it is JSON, else text.
pub fn body_excerpt(r: &Received) -> Vec<String> {
    body_lines(r, BODY_LINES, Some(160))
}

/// At most `max_lines` of a body (pretty JSON when it is JSON, else text), each shortened to
/// `width` characters when given, and a line saying how many more there are.
fn body_lines(r: &Received, max_lines: usize, width: Option<usize>) -> Vec<String> {
    if r.body.is_empty() {
        return vec!["(no body)".into()];
    }
    let text = match r.json() {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| r.text()),
        Err(_) => r.text(),
    };
    let mut lines: Vec<String> = text
        .lines()
        .take(max_lines)
        .map(|l| match width {
            Some(w) => crate::check::assert::shorten(l, w),
            None => l.to_string(),
        })
        .collect();
    let total = text.lines().count();
    if total > max_lines {
        lines.push(format!("… {} more lines", total - max_lines));
    }
    lines
}

/// The end of a run: which challenges passed (when there were several) and the counts.
pub fn summary(outcomes: &[ChallengeOutcome]) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if outcomes.len() > 1 {
        lines.push(Line::default());
        for o in outcomes {
            let tally = o.tally();
            let mark = if o.passed() {
                Span::styled("passed", style::OK)
            } else if tally.failed == 0 && tally.not_run > 0 {
                Span::styled("not run", DIM)
            } else {
                Span::styled("failed", style::FAIL)
            };
            lines.push(Line::from(vec![
                Span::raw("  "),
                mark,
                Span::raw(format!("  {}", o.id)),
            ]));
        }
    }
    lines.push(tally_line(crate::check::result::total(outcomes)));
    lines
}

/// "4 passed, 1 failed, 1 warning", red when something failed.
pub fn tally_line(tally: Tally) -> Line<'static> {
    let tally_style = if tally.failed > 0 {
        style::FAIL
    } else {
        style::OK
    };
    Line::styled(tally.to_string(), tally_style)
}

/// After a recorded pass: the lesson to read next, or that the course is done.
pub fn next_step(course: &crate::course::Course, challenge: &str) -> Line<'static> {
    let taught_by = course
        .challenge(challenge)
        .and_then(|c| c.lesson.as_deref())
        .and_then(|id| course.lesson(id));
    let next = taught_by.and_then(|l| course.lessons.iter().find(|n| n.number > l.number));
    let text = match (taught_by, next) {
        (Some(_), Some(next)) => format!(
            " {challenge} done; read on: `reqlab learn {}` — {}",
            next.id, next.title
        ),
        (Some(_), None) => format!(" {challenge} done: that was the last lesson's challenge"),
        (None, _) => format!(" {challenge} done"),
    };
    Line::from(vec![Span::styled("next", style::OK), Span::raw(text)])
}

/// What the check session says about an event, as one line for the side channel (standard
/// error on the command line); `None` for events shown elsewhere (the checks themselves) or
/// not at all. `recorded` says whether to announce recorded passes.
pub fn event_note(event: &Event, announce_recorded: bool) -> Option<Line<'static>> {
    let check = |prefix_style: Style, text: String| {
        Line::from(vec![
            Span::styled("[check]", prefix_style),
            Span::raw(format!(" {text}")),
        ])
    };
    Some(match event {
        Event::LabStarted { url } => check(DIM, format!("started the embedded lab at {url}")),
        Event::ServerStarted { command, pid } => check(
            DIM,
            format!(
                "started your server: {command}{}",
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ),
        ),
        Event::ServerOutput { line, .. } => Line::from(vec![
            Span::styled("[your server]", DIM),
            Span::raw(format!(" {line}")),
        ]),
        Event::ServerDidNotStart { reason } => check(style::FAIL, reason.clone()),
        Event::ServerExited { status } => check(
            style::FAIL,
            format!("your server exited ({status}) during the checks; its output is above"),
        ),
        Event::LabNotRecorded { target } => check(
            DIM,
            format!(
                "{target} is a reqlab lab server: passes against it show what passing looks like, and are not recorded as yours"
            ),
        ),
        Event::Recorded { challenges } if announce_recorded && !challenges.is_empty() => {
            Line::from(vec![
                Span::styled("progress", style::OK),
                Span::raw(format!(
                    " recorded: {} passed (see `reqlab progress`)",
                    challenges.join(", ")
                )),
            ])
        }
        Event::ProgressMovedAside { moved_to } => Line::from(vec![
            Span::styled("warning:", style::WARN),
            Span::raw(format!(
                " your progress file could not be read; it was moved to {} and a new one started",
                moved_to.display()
            )),
        ]),
        Event::RecordFailed { reason } => Line::from(vec![
            Span::styled("warning:", style::WARN),
            Span::raw(format!(" could not record your progress: {reason}")),
        ]),
        Event::Watching { path } => check(
            DIM,
            format!(
                "watching {} — save a file to re-run, Ctrl-C to stop",
                path.display()
            ),
        ),
        Event::ChangeSeen {
            path,
            during_run: false,
        } => check(
            style::STRONG,
            format!("{} changed — running again", path.display()),
        ),
        Event::ChangeSeen {
            path,
            during_run: true,
        } => check(
            DIM,
            format!("{} changed during the run — running again", path.display()),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::result::{CheckOutcome, Finding};
    use crate::stage::Stage;
    use crate::view::markdown::plain_text;
    use std::time::Duration;

    fn outcome(status: Status, severity: Severity) -> CheckOutcome {
        CheckOutcome {
            name: "GET /health returns 200".into(),
            stage: Stage::Response,
            severity,
            status,
            duration: Duration::from_millis(3),
            hint: "read “HTTP” in `reqlab learn http-basics`".into(),
            why: None,
            finding: (status != Status::Pass)
                .then(|| Finding::not_run("nothing is listening on 127.0.0.1:8000")),
            server_output: None,
        }
    }

    #[test]
    fn a_check_line_shows_mark_stage_name_and_time() {
        let text = plain_text(&check_lines(&outcome(Status::Pass, Severity::Must)));
        assert_eq!(text, "  ✓ [response]      GET /health returns 200  3 ms\n");
        let skipped = plain_text(&check_lines(&outcome(Status::Skip, Severity::Should)));
        assert_eq!(
            skipped, "  - [response]      GET /health returns 200 (not run)  3 ms\n",
            "the unreachable server was already reported"
        );
        // One cause, one failure: a must-check that could not run is "not run", not another ✗.
        let not_run = plain_text(&check_lines(&outcome(Status::Skip, Severity::Must)));
        assert!(not_run.starts_with("  - [response] "), "{not_run}");
        assert!(not_run.contains("(not run)"), "{not_run}");
    }

    #[test]
    fn a_must_check_that_holds_with_advice_is_a_warning_labelled_advice() {
        let mut held = outcome(Status::Warn, Severity::Must);
        held.finding = Some(Finding::advice(
            "DELETE /tasks/8 answered 405, so removal could not be tested",
            None,
        ));
        assert_eq!(held.verdict(), Verdict::Warned);
        assert!(!held.verdict().fails_run());
        let text = plain_text(&check_lines(&held));
        assert!(
            text.starts_with("  ! [response]      GET /health returns 200 (holds, with advice)"),
            "{text}"
        );
        assert!(
            text.contains("      advice    DELETE /tasks/8 answered 405"),
            "{text}"
        );
    }
}
