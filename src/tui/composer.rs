//! The request composer: method, path, headers and body, filled from a lesson's preset and
//! editable, turned into the request the console sends.

use super::msg::Field;
use crate::course::Preset;
use crate::course::request::{Body, Outgoing};
use axum::http::Method;
use ratatui_textarea::TextArea;

/// The composer's fields, in the order the pane lists them.
pub const FIELDS: [Field; 4] = [Field::Method, Field::Path, Field::Headers, Field::Body];

/// A repeated body sent as the preset wrote it (too long to show in full).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    /// The text repeated.
    pub text: String,
    /// How many times.
    pub times: usize,
}

/// The request being composed.
#[derive(Debug, Clone)]
pub struct Composer {
    /// The preset it started from, by index in the lesson.
    pub preset: Option<usize>,
    /// The method.
    pub method: TextArea<'static>,
    /// Path and query.
    pub path: TextArea<'static>,
    /// Headers, one `Name: value` per line.
    pub headers: TextArea<'static>,
    /// The body text.
    pub body: TextArea<'static>,
    /// The preset's repeated body, while the body field is not edited.
    pub repeated: Option<Repeated>,
    /// How the body's lines end: `\r\n` for a body written that way (a multipart form),
    /// and whether its last line ends too; the editor shows lines, the request keeps the bytes.
    pub body_endings: Endings,
    /// The preset's body exactly as written, sent as long as the body field is not edited
    /// (a body can mix line endings that an editor of lines cannot keep).
    pub body_as_written: Option<String>,
    /// Follow redirects (as the preset says).
    pub follow_redirects: bool,
    /// The field selected for editing.
    pub selected: Field,
    /// True once the learner changed anything.
    pub edited: bool,
}

impl Default for Composer {
    fn default() -> Self {
        Composer {
            preset: None,
            method: area("GET"),
            path: area("/"),
            headers: area(""),
            body: area(""),
            repeated: None,
            body_endings: Endings::default(),
            body_as_written: None,
            follow_redirects: false,
            selected: Field::Path,
            edited: false,
        }
    }
}

/// How a body's lines end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Endings {
    /// Lines end with CR LF rather than LF.
    pub crlf: bool,
    /// The last line ends too.
    pub trailing: bool,
}

impl Endings {
    /// The endings `text` uses.
    pub fn of(text: &str) -> Endings {
        Endings {
            crlf: text.contains("\r\n"),
            trailing: text.ends_with('\n'),
        }
    }

    /// The lines of `area` joined with these endings.
    pub fn join(self, area: &TextArea<'_>) -> String {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut out = area.lines().join(eol);
        if self.trailing && !out.is_empty() {
            out.push_str(eol);
        }
        out
    }
}

fn area(text: &str) -> TextArea<'static> {
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        text.lines().map(str::to_string).collect()
    };
    TextArea::new(lines)
}

/// The text of a field.
pub fn text(area: &TextArea<'_>) -> String {
    area.lines().join("\n")
}

impl Composer {
    /// The composer filled from preset `index` of a lesson.
    pub fn from_preset(index: usize, preset: &Preset) -> Composer {
        let request = &preset.request;
        // The headers as they will be sent: the body's content type included.
        let sent = request.outgoing("");
        let headers: Vec<String> = sent
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let (body, repeated) = match &request.body {
            Body::None => (String::new(), None),
            Body::Json(json) => (
                serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string()),
                None,
            ),
            Body::Raw { text, repeat } if *repeat > 1 => (
                String::new(),
                Some(Repeated {
                    text: text.clone(),
                    times: *repeat,
                }),
            ),
            Body::Raw { text, .. } => (text.clone(), None),
            Body::Form(_) => (
                sent.body
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
                None,
            ),
        };
        Composer {
            preset: Some(index),
            method: area(request.method.as_str()),
            path: area(&request.path),
            headers: area(&headers.join("\n")),
            body_endings: Endings::of(&body),
            body_as_written: (!body.is_empty()).then(|| body.clone()),
            body: area(&body),
            repeated,
            follow_redirects: request.follow_redirects,
            selected: Field::Path,
            edited: false,
        }
    }

    /// The composer holding a request that was sent before (history).
    pub fn from_outgoing(sent: &Outgoing, base: &str) -> Composer {
        let path = sent.url.strip_prefix(base).unwrap_or(&sent.url);
        let headers: Vec<String> = sent
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let body = sent
            .body
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        Composer {
            preset: None,
            method: area(sent.method.as_str()),
            path: area(path),
            headers: area(&headers.join("\n")),
            body_endings: Endings::of(&body),
            body_as_written: (!body.is_empty()).then(|| body.clone()),
            body: area(&body),
            repeated: None,
            follow_redirects: sent.follow_redirects,
            selected: Field::Path,
            edited: true,
        }
    }

    /// The text area of a composer field.
    pub fn field_mut(&mut self, field: Field) -> Option<&mut TextArea<'static>> {
        match field {
            Field::Method => Some(&mut self.method),
            Field::Path => Some(&mut self.path),
            Field::Headers => Some(&mut self.headers),
            Field::Body => Some(&mut self.body),
            _ => None,
        }
    }

    /// The text area of a composer field, to read.
    pub fn field(&self, field: Field) -> Option<&TextArea<'static>> {
        match field {
            Field::Method => Some(&self.method),
            Field::Path => Some(&self.path),
            Field::Headers => Some(&self.headers),
            Field::Body => Some(&self.body),
            _ => None,
        }
    }

    /// Replaces a field's text (from `$EDITOR` or a paste).
    pub fn set_text(&mut self, field: Field, text: &str) {
        if let Some(a) = self.field_mut(field) {
            *a = area(text);
            self.edited = true;
            if field == Field::Body {
                self.repeated = None;
                // Text from $EDITOR is sent as written.
                self.body_endings = Endings::of(text);
                self.body_as_written = Some(text.to_string()).filter(|t| !t.is_empty());
            }
        }
    }

    /// Notes that a field was typed into.
    pub fn touched(&mut self, field: Field) {
        self.edited = true;
        if field == Field::Body {
            self.body_as_written = None;
        }
        if field == Field::Body && !text(&self.body).is_empty() {
            self.repeated = None;
        }
    }

    /// Moves the selection to the next (`down`) or previous field.
    pub fn select_next(&mut self, down: bool) {
        let i = FIELDS.iter().position(|f| *f == self.selected).unwrap_or(0);
        let next = if down {
            (i + 1).min(FIELDS.len() - 1)
        } else {
            i.saturating_sub(1)
        };
        self.selected = FIELDS[next];
    }

    /// The request to send to the lab at `base`, or what is wrong with the fields (naming the
    /// field and line).
    pub fn outgoing(&self, base: &str) -> Result<Outgoing, String> {
        let method_text = text(&self.method).trim().to_string();
        let method = Method::from_bytes(method_text.as_bytes())
            .ok()
            .filter(|_| {
                !method_text.is_empty() && method_text.bytes().all(|b| b.is_ascii_alphabetic())
            })
            .ok_or_else(|| {
                format!("method: `{method_text}` is not a method (GET, POST, PUT, PATCH, DELETE…)")
            })?;
        let path = text(&self.path).trim().to_string();
        if !path.starts_with('/') {
            return Err(format!(
                "path: `{path}` must start with / (such as /tasks/1)"
            ));
        }
        if path.chars().any(char::is_whitespace) {
            return Err("path: spaces are not allowed in a path; write them as %20".into());
        }
        let mut headers = Vec::new();
        for (i, line) in self.headers.lines().iter().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!(
                    "headers, line {}: `{line}` needs a colon, as in `Accept: application/json`",
                    i + 1
                ));
            };
            let name = name.trim();
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(format!(
                    "headers, line {}: `{name}` is not a header name (letters, digits and - only)",
                    i + 1
                ));
            }
            let value = value.trim();
            if axum::http::HeaderValue::from_str(value).is_err() {
                return Err(format!(
                    "headers, line {}: the value of {name} holds a character a header cannot carry",
                    i + 1
                ));
            }
            headers.push((name.to_string(), value.to_string()));
        }
        let body_text = self
            .body_as_written
            .clone()
            .unwrap_or_else(|| self.body_endings.join(&self.body));
        let body = match &self.repeated {
            Some(r) if body_text.is_empty() => Some(r.text.repeat(r.times).into_bytes()),
            _ if body_text.is_empty() => None,
            _ => Some(body_text.into_bytes()),
        };
        Ok(Outgoing {
            method,
            url: format!("{}{}", base.trim_end_matches('/'), path),
            headers,
            body,
            follow_redirects: self.follow_redirects,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::{ContentSource, Course};

    fn preset(lesson: &str, id: &str) -> Preset {
        let course = Course::load(&ContentSource::Embedded).unwrap();
        course
            .lesson(lesson)
            .unwrap()
            .presets
            .iter()
            .find(|p| p.id == id)
            .unwrap()
            .clone()
    }

    #[test]
    fn a_multipart_body_keeps_its_crlf_when_edited() {
        let p = preset("security", "upload-text");
        let mut c = Composer::from_preset(0, &p);
        c.touched(Field::Body);
        let body = String::from_utf8(c.outgoing("http://lab").unwrap().body.unwrap()).unwrap();
        assert!(
            body.starts_with("--reqlab-form\r\nContent-Disposition"),
            "{body:?}"
        );
        assert!(body.ends_with("--reqlab-form--\r\n"), "{body:?}");
    }

    #[test]
    fn a_preset_becomes_the_same_request_it_would_send() {
        let course = Course::load(&ContentSource::Embedded).unwrap();
        for lesson in &course.lessons {
            for (i, p) in lesson.presets.iter().enumerate() {
                let composed = Composer::from_preset(i, p).outgoing("http://lab").unwrap();
                let direct = p.request.outgoing("http://lab");
                assert_eq!(composed.method, direct.method, "{}", p.id);
                assert_eq!(composed.url, direct.url, "{}", p.id);
                assert_eq!(composed.headers, direct.headers, "{}", p.id);
                let same_body = match (&composed.body, &direct.body) {
                    // JSON is shown pretty-printed: the same value, other whitespace.
                    (Some(a), Some(b)) => {
                        a == b
                            || serde_json::from_slice::<serde_json::Value>(a)
                                .ok()
                                .zip(serde_json::from_slice::<serde_json::Value>(b).ok())
                                .is_some_and(|(x, y)| x == y)
                    }
                    (a, b) => a == b,
                };
                assert!(same_body, "{}", p.id);
            }
        }
    }

    #[test]
    fn bad_fields_are_named_with_their_line() {
        let mut c = Composer::from_preset(0, &preset("http-basics", "echo-get"));
        c.set_text(Field::Headers, "Accept: application/json\nno colon here");
        let err = c.outgoing("http://lab").unwrap_err();
        assert!(err.starts_with("headers, line 2:"), "{err}");
        c.set_text(Field::Headers, "");
        c.set_text(Field::Path, "tasks");
        assert!(c.outgoing("http://lab").unwrap_err().starts_with("path:"));
        c.set_text(Field::Path, "/tasks");
        c.set_text(Field::Method, "GE T");
        assert!(c.outgoing("http://lab").unwrap_err().starts_with("method:"));
    }

    #[test]
    fn an_edited_body_replaces_a_repeated_one() {
        let course = Course::load(&ContentSource::Embedded).unwrap();
        let Some((i, p)) = course
            .lessons
            .iter()
            .flat_map(|l| l.presets.iter().enumerate())
            .find(|(_, p)| matches!(p.request.body, Body::Raw { repeat, .. } if repeat > 1))
        else {
            return;
        };
        let mut c = Composer::from_preset(i, p);
        assert!(c.repeated.is_some());
        let big = c.outgoing("http://lab").unwrap().body.unwrap().len();
        c.set_text(Field::Body, "{}");
        assert!(c.repeated.is_none());
        assert!(c.outgoing("http://lab").unwrap().body.unwrap().len() < big);
    }
}
