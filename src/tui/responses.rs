//! What the console sent and what came back: a bounded history, the response shown, and a
//! cursor over its lines (the status line and each header can be explained).

use crate::check::http::Exchange;
use crate::course::request::Outgoing;
use crate::status;
use crate::view::style;
use ratatui::text::{Line, Span};
use std::collections::VecDeque;

/// Most exchanges kept; the oldest go first.
pub const HISTORY: usize = 50;
/// Most body bytes shown (the rest is said to be cut).
const SHOWN_BODY: usize = 256 * 1024;

/// What a line of the response view is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// The status line.
    Status(u16),
    /// A header, by lower-case name.
    Header(String),
    /// Body text (or a note).
    Body,
}

/// One request the console sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its number.
    pub id: u64,
    /// The preset it came from, if unchanged.
    pub preset: Option<String>,
    /// The request.
    pub request: Outgoing,
    /// Sent in step mode.
    pub stepped: bool,
    /// The answer, once it came.
    pub exchange: Option<Exchange>,
    /// The response as lines, and what each line is.
    pub lines: Vec<(LineKind, Line<'static>)>,
}

impl Sent {
    /// The lab's request id for it (from `X-Request-ID`).
    pub fn request_id(&self) -> Option<String> {
        self.exchange
            .as_ref()?
            .response
            .as_ref()
            .ok()?
            .header("x-request-id")
    }

    /// The status, once answered.
    pub fn status(&self) -> Option<u16> {
        Some(self.exchange.as_ref()?.response.as_ref().ok()?.status)
    }
}

/// The response pane's state.
#[derive(Debug, Clone, Default)]
pub struct Responses {
    /// Oldest first.
    pub history: VecDeque<Sent>,
    /// The one shown, by index into `history`.
    pub shown: Option<usize>,
    /// The line under the cursor.
    pub cursor: usize,
    /// First row on screen.
    pub scroll: usize,
    /// The response marked for comparing (by id).
    pub marked: Option<u64>,
}

impl Responses {
    /// Records a request as sent (no answer yet) and shows it.
    pub fn sending(&mut self, id: u64, request: Outgoing, preset: Option<String>, stepped: bool) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        let waiting = if stepped {
            "held in step mode: follow it in the trace pane (4)"
        } else {
            "sent, waiting for the answer…"
        };
        self.history.push_back(Sent {
            id,
            preset,
            request,
            stepped,
            exchange: None,
            lines: vec![(LineKind::Body, Line::styled(waiting, style::DIM))],
        });
        self.show(self.history.len() - 1);
    }

    /// Files the answer to request `id`; true when it was found.
    pub fn answered(&mut self, id: u64, exchange: Exchange) -> bool {
        let Some(sent) = self.history.iter_mut().find(|s| s.id == id) else {
            return false;
        };
        sent.lines = response_lines(&exchange);
        sent.exchange = Some(exchange);
        true
    }

    /// Shows history entry `index`.
    pub fn show(&mut self, index: usize) {
        self.shown = Some(index.min(self.history.len().saturating_sub(1)));
        self.cursor = 0;
        self.scroll = 0;
    }

    /// The exchange shown.
    pub fn current(&self) -> Option<&Sent> {
        self.history.get(self.shown?)
    }

    /// Moves the cursor by `delta` lines.
    pub fn move_cursor(&mut self, delta: isize) {
        let len = self.current().map_or(0, |s| s.lines.len());
        self.cursor = self
            .cursor
            .saturating_add_signed(delta)
            .min(len.saturating_sub(1));
    }

    /// Shows the older (`back`) or newer exchange.
    pub fn browse(&mut self, back: bool) {
        let Some(i) = self.shown else { return };
        let next = if back {
            i.saturating_sub(1)
        } else {
            (i + 1).min(self.history.len().saturating_sub(1))
        };
        self.show(next);
    }

    /// The marked exchange, if still kept.
    pub fn marked(&self) -> Option<&Sent> {
        let id = self.marked?;
        self.history.iter().find(|s| s.id == id)
    }
}

/// An exchange as lines: the status line, each header, then the body (JSON pretty-printed).
pub fn response_lines(exchange: &Exchange) -> Vec<(LineKind, Line<'static>)> {
    let r = match &exchange.response {
        Ok(r) => r,
        Err(e) => {
            return vec![(
                LineKind::Body,
                Line::styled(format!("no response: {e}"), style::FAIL),
            )];
        }
    };
    let mut lines = vec![(
        LineKind::Status(r.status),
        Line::from(vec![
            Span::styled(
                format!("{} {}", r.status, status::reason(r.status)),
                style::status(r.status),
            ),
            Span::styled(
                format!(
                    "  ·  {}  ·  {}",
                    size(r.body.len(), r.truncated),
                    crate::view::trace::format_ms(r.elapsed.as_micros() as u64)
                ),
                style::DIM,
            ),
        ]),
    )];
    for (name, value) in &r.headers {
        lines.push((
            LineKind::Header(name.to_ascii_lowercase()),
            Line::from(vec![
                Span::styled(format!("{name}: "), style::ID),
                Span::raw(value.clone()),
            ]),
        ));
    }
    lines.push((LineKind::Body, Line::default()));
    let shown = &r.body[..r.body.len().min(SHOWN_BODY)];
    let is_json = r
        .header("content-type")
        .is_some_and(|ct| ct.contains("json"));
    let text = match serde_json::from_slice::<serde_json::Value>(shown) {
        Ok(v) if is_json => serde_json::to_string_pretty(&v).unwrap_or_default(),
        _ => String::from_utf8_lossy(shown).into_owned(),
    };
    if r.body.is_empty() {
        lines.push((LineKind::Body, Line::styled("(no body)", style::DIM)));
    }
    for line in text.lines() {
        lines.push((LineKind::Body, json_line(line, is_json)));
    }
    if r.truncated || r.body.len() > SHOWN_BODY {
        lines.push((
            LineKind::Body,
            Line::styled(
                format!(
                    "… the body is longer; the first {} are shown",
                    size(shown.len(), false)
                ),
                style::DIM,
            ),
        ));
    }
    lines
}

/// A line of pretty JSON with its keys set apart.
fn json_line(line: &str, is_json: bool) -> Line<'static> {
    if !is_json {
        return Line::raw(line.to_string());
    }
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix('"')
        && let Some(end) = rest.find("\": ")
    {
        let indent = &line[..line.len() - trimmed.len()];
        let key = &trimmed[..end + 2];
        let value = &trimmed[end + 2..];
        return Line::from(vec![
            Span::raw(indent.to_string()),
            Span::styled(key.to_string(), style::ID),
            Span::raw(value.to_string()),
        ]);
    }
    Line::raw(line.to_string())
}

/// `0 bytes`, `512 bytes`, `1.5 KiB`.
pub fn size(bytes: usize, cut: bool) -> String {
    let more = if cut { "+" } else { "" };
    if bytes < 1024 {
        format!("{bytes}{more} bytes")
    } else {
        format!("{:.1}{more} KiB", bytes as f64 / 1024.0)
    }
}

/// The exchange as plain text for comparing two of them: status, headers (sorted, volatile
/// ones left out) and the body.
pub fn comparable(sent: &Sent) -> String {
    const VOLATILE: [&str; 3] = ["date", "x-request-id", "x-response-time-ms"];
    let Some(exchange) = &sent.exchange else {
        return "(no answer yet)".into();
    };
    let mut out = format!(
        "{} {}\n",
        exchange.request.method,
        exchange
            .request
            .url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or(&exchange.request.url)
    );
    match &exchange.response {
        Ok(r) => {
            out.push_str(&format!("{} {}\n", r.status, status::reason(r.status)));
            let mut headers: Vec<String> = r
                .headers
                .iter()
                .filter(|(k, _)| !VOLATILE.contains(&k.to_ascii_lowercase().as_str()))
                .map(|(k, v)| format!("{}: {v}", k.to_ascii_lowercase()))
                .collect();
            headers.sort();
            for h in headers {
                out.push_str(&h);
                out.push('\n');
            }
            out.push('\n');
            let body = match serde_json::from_slice::<serde_json::Value>(&r.body) {
                Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
                Err(_) => String::from_utf8_lossy(&r.body).into_owned(),
            };
            out.push_str(&body);
        }
        Err(e) => out.push_str(&format!("no response: {e}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::http::Received;
    use axum::http::Method;
    use std::time::Duration;

    fn exchange(status: u16, body: &str) -> Exchange {
        Exchange {
            request: Outgoing::new(Method::GET, "http://127.0.0.1:1/tasks/1".into()),
            response: Ok(Received {
                status,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("etag".into(), "\"1-2\"".into()),
                ],
                body: body.as_bytes().to_vec(),
                truncated: false,
                elapsed: Duration::from_micros(1500),
            }),
        }
    }

    #[test]
    fn lines_say_what_they_are() {
        let lines = response_lines(&exchange(200, r#"{"id":1,"title":"x"}"#));
        assert_eq!(lines[0].0, LineKind::Status(200));
        assert_eq!(lines[2].0, LineKind::Header("etag".into()));
        let body: Vec<String> = lines[4..]
            .iter()
            .map(|(_, l)| crate::tui::text::plain(l))
            .collect();
        assert_eq!(body, ["{", "  \"id\": 1,", "  \"title\": \"x\"", "}"]);
    }

    #[test]
    fn history_is_bounded_and_answers_find_their_request() {
        let mut r = Responses::default();
        for id in 0..(HISTORY as u64 + 5) {
            r.sending(
                id,
                Outgoing::new(Method::GET, "http://x/".into()),
                None,
                false,
            );
        }
        assert_eq!(r.history.len(), HISTORY);
        assert!(
            !r.answered(0, exchange(200, "{}")),
            "the oldest were let go"
        );
        assert!(r.answered(HISTORY as u64 + 4, exchange(404, "{}")));
        assert_eq!(r.current().unwrap().status(), Some(404));
    }
}
