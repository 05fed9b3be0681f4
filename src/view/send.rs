//! A sent preset as a learner reads it: which request, what came back, whether that is what
//! the lesson expects, what to look for, and the request's trace.

use super::check::{BodyShown, exchange_lines_with};
use super::markdown::wrap_spans;
use super::style::{self, DIM};
use super::trace::trace_lines;
use crate::check::http::Exchange;
use crate::course::{Lesson, Preset};
use crate::lab::trace::Trace;
use ratatui::text::{Line, Span};
use serde::Serialize;

/// The exchange (the request shown as `curl`), the verdict on its status, the lesson's note,
/// and the trace.
pub fn lines(
    lesson: &Lesson,
    preset: &Preset,
    curl: String,
    exchange: &Exchange,
    trace: Option<&Trace>,
    width: u16,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled("send", style::STRONG),
        Span::raw(" "),
        Span::styled(format!("{}/{}", lesson.id, preset.id), style::ID),
        Span::raw(format!(" — {}", preset.title)),
    ])];
    lines.extend(exchange_lines_with(exchange, Some(curl), BodyShown::Whole));
    if let Ok(r) = &exchange.response {
        let expected = preset.expect_status;
        lines.push(if r.status == expected {
            Line::from(vec![
                Span::raw("  "),
                Span::styled("✓", style::OK),
                Span::raw(format!(" answered {expected}, as the lesson expects")),
            ])
        } else {
            Line::from(vec![
                Span::raw("  "),
                Span::styled("✗", style::FAIL),
                Span::raw(format!(
                    " answered {}, but the lesson expects {expected} from a freshly seeded lab (start one with `reqlab serve --reset`)",
                    r.status
                )),
            ])
        });
    }
    if let Some(note) = &preset.note {
        let note = [Span::styled(note.clone(), DIM)];
        lines.extend(wrap_spans(&note, usize::from(width), "  ", "  "));
    }
    match trace {
        Some(trace) => {
            lines.push(Line::default());
            lines.extend(trace_lines(trace, width));
        }
        None => lines.push(Line::styled(
            "  (no trace: the lab records none, or it was started with --no-trace)",
            DIM,
        )),
    }
    lines
}

/// The JSON form.
#[derive(Debug, Serialize)]
pub struct SentJson<'a> {
    lesson: &'a str,
    preset: &'a str,
    title: &'a str,
    request: RequestJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<ResponseJson<'a>>,
    expected_status: u16,
    as_expected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a Trace>,
}

#[derive(Debug, Serialize)]
struct RequestJson<'a> {
    method: &'a str,
    url: &'a str,
    curl: String,
}

#[derive(Debug, Serialize)]
struct ResponseJson<'a> {
    status: u16,
    headers: &'a [(String, String)],
    body: String,
}

/// The exchange as one JSON document.
pub fn json<'a>(
    lesson: &'a Lesson,
    preset: &'a Preset,
    curl: String,
    exchange: &'a Exchange,
    trace: Option<&'a Trace>,
) -> SentJson<'a> {
    let response = exchange.response.as_ref().ok();
    SentJson {
        lesson: &lesson.id,
        preset: &preset.id,
        title: &preset.title,
        request: RequestJson {
            method: exchange.request.method.as_str(),
            url: &exchange.request.url,
            curl,
        },
        response: response.map(|r| ResponseJson {
            status: r.status,
            headers: &r.headers,
            body: r.text(),
        }),
        expected_status: preset.expect_status,
        as_expected: response.is_some_and(|r| r.status == preset.expect_status),
        trace,
    }
}
