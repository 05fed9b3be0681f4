//! An explanation as a learner reads it: what a status, header or stage is, what it means,
//! who set it, where the standard defines it, and the lesson section to read.
//!
//! `reqlab explain` prints these lines; the TUI draws them when the cursor is on a status,
//! a header or a trace stage.

use super::markdown::wrap_spans;
use super::style::{self, DIM};
use crate::course::{Explanation, SectionRef, SetBy, Subject};
use ratatui::text::{Line, Span};
use serde::Serialize;

/// Width of the labels (`decided by:`) before their values.
const LABEL_WIDTH: usize = 12;

/// The explanation, wrapped to `width` columns: a title line, the meaning, the detail, then
/// who sets it, the reference and the section to read, each labelled.
pub fn lines(e: &Explanation, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(20));
    let title_style = match e.subject {
        Subject::Status(code) => style::status(code),
        _ => style::STRONG,
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(e.title.clone(), title_style),
        Span::styled(format!("  · {}", kind(e)), DIM),
    ])];
    lines.extend(wrap_spans(&[Span::raw(e.meaning.clone())], width, "", ""));
    if !e.detail.is_empty() {
        lines.push(Line::default());
        lines.extend(wrap_spans(&[Span::raw(e.detail.clone())], width, "", ""));
    }
    let mut facts: Vec<(&str, Span<'static>)> = Vec::new();
    if let Some(set_by) = e.set_by {
        facts.push((set_by_label(e), Span::raw(set_by.to_string())));
    }
    if let Some(reference) = &e.reference {
        facts.push(("reference:", Span::raw(reference.clone())));
    }
    if let Some(at) = &e.teaches {
        facts.push(("read:", Span::styled(at.learn_command(), style::ID)));
    }
    if !facts.is_empty() {
        lines.push(Line::default());
    }
    let indent = " ".repeat(LABEL_WIDTH + 2);
    for (label, value) in facts {
        let first = format!("  {label:<LABEL_WIDTH$}");
        let mut wrapped = wrap_spans(&[value], width, &first, &indent);
        // The label is dim; the prefix is always each line's first span.
        if let Some(span) = wrapped.first_mut().and_then(|l| l.spans.first_mut()) {
            span.style = DIM;
        }
        lines.extend(wrapped);
    }
    lines
}

/// What kind of thing it is, in words: `status`, `response header`, `lifecycle stage`.
fn kind(e: &Explanation) -> &'static str {
    match (&e.subject, e.set_by) {
        (Subject::Status(_), _) => "status",
        (Subject::Header(_), Some(SetBy::Client)) => "request header",
        (Subject::Header(_), _) => "response header",
        (Subject::Stage(_), _) => "lifecycle stage",
    }
}

/// A request header is sent, a status decided, anything else set.
fn set_by_label(e: &Explanation) -> &'static str {
    match (&e.subject, e.set_by) {
        (Subject::Status(_), _) => "decided by:",
        (_, Some(SetBy::Client)) => "sent by:",
        _ => "set by:",
    }
}

/// The JSON form of an explanation.
#[derive(Debug, Serialize)]
pub struct ExplanationJson<'a> {
    /// `status`, `header` or `stage`.
    kind: &'static str,
    /// The code, the header's name in lower case, or the stage id.
    subject: String,
    title: &'a str,
    meaning: &'a str,
    detail: &'a str,
    reference: Option<&'a str>,
    /// `handler`, `middleware`, `server`, `client`, …
    set_by: Option<&'static str>,
    /// The same, in words.
    set_by_text: Option<String>,
    /// `lesson#section`.
    teaches: Option<&'a SectionRef>,
    /// The command that opens that section.
    read: Option<String>,
}

/// The explanation as one JSON document.
pub fn json(e: &Explanation) -> ExplanationJson<'_> {
    ExplanationJson {
        kind: e.subject.kind(),
        subject: e.subject.to_string(),
        title: &e.title,
        meaning: &e.meaning,
        detail: &e.detail,
        reference: e.reference.as_deref(),
        set_by: e.set_by.map(SetBy::id),
        set_by_text: e.set_by.map(|s| s.to_string()),
        teaches: e.teaches.as_ref(),
        read: e.teaches.as_ref().map(SectionRef::learn_command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::markdown::plain_text;

    fn etag() -> Explanation {
        Explanation {
            subject: Subject::Header("etag".into()),
            title: "ETag".into(),
            meaning: "A tag that names this version of the representation.".into(),
            detail: "A quoted string that changes when the representation does.".into(),
            reference: Some("RFC 9110 §8.8.3".into()),
            set_by: Some(SetBy::Handler),
            teaches: SectionRef::parse("rest-resources#conditional"),
        }
    }

    #[test]
    fn an_explanation_reads_title_meaning_detail_then_labelled_facts() {
        let text = plain_text(&lines(&etag(), 80));
        assert_eq!(
            text,
            "ETag  · response header\n\
             A tag that names this version of the representation.\n\
             \n\
             A quoted string that changes when the representation does.\n\
             \n\
             \x20 set by:     the route's handler\n\
             \x20 reference:  RFC 9110 §8.8.3\n\
             \x20 read:       reqlab learn rest-resources#conditional\n"
        );
    }

    #[test]
    fn a_request_header_is_sent_and_a_status_decided() {
        let mut e = etag();
        e.set_by = Some(SetBy::Client);
        assert!(plain_text(&lines(&e, 80)).contains("sent by:    the client"));
        e.subject = Subject::Status(412);
        e.set_by = Some(SetBy::Handler);
        assert!(plain_text(&lines(&e, 80)).contains("decided by: the route's handler"));
    }

    #[test]
    fn long_text_wraps_to_the_width() {
        let mut e = etag();
        e.detail = "word ".repeat(40);
        // A command is one word, so it may run past the width; prose may not.
        for line in plain_text(&lines(&e, 30))
            .lines()
            .filter(|l| !l.contains('#'))
        {
            assert!(line.chars().count() <= 30, "{line:?}");
        }
    }

    #[test]
    fn json_names_the_setter_and_the_command_to_read() {
        let v = serde_json::to_value(json(&etag())).unwrap();
        assert_eq!(v["kind"], "header");
        assert_eq!(v["subject"], "etag");
        assert_eq!(v["set_by"], "handler");
        assert_eq!(v["teaches"], "rest-resources#conditional");
        assert_eq!(v["read"], "reqlab learn rest-resources#conditional");
    }
}
