//! What a response says in its own words: its text with every copy of the request it repeats
//! taken out, so "the body names the field" is not satisfied by a body that only echoes the
//! request back.
//!
//! JSON, HTML and plain-text bodies are read alike. A JSON body loses every object that holds
//! the request's fields with the values sent (those fields only: an error list beside them
//! stays); an HTML body is read as the text a browser shows (plus the values of its form
//! inputs, which a re-rendered form echoes); any text loses a whole copy of the payload
//! written as `field: value` pairs (JSON, a Python dict, form encoding, a table), and every
//! value sent (so an email sent as `not-an-email` does not name the field `email`).

use super::http::Outgoing;
use regex::Regex;
use serde_json::{Map, Value};

/// The request's own payload: the fields it sent and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// Top-level fields with scalar values, as text (`done = false` is `"false"`).
    pairs: Vec<(String, String)>,
    /// The payload as a JSON object, when it was JSON or a form.
    object: Map<String, Value>,
}

impl Payload {
    /// The payload of a request: its JSON object, or its form fields.
    pub fn of(out: &Outgoing) -> Payload {
        let Some(body) = &out.body else {
            return Payload::default();
        };
        let object = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => Map::new(),
            Err(_) => url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        };
        let pairs = object
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(_) | Value::Bool(_) => Some((k.clone(), v.to_string())),
                _ => None,
            })
            .collect();
        Payload { pairs, object }
    }
}

/// The text a body says apart from the request it repeats, for a body of this content type.
pub fn own_text(body: &[u8], content_type: Option<&str>, payload: &Payload) -> String {
    let raw = String::from_utf8_lossy(body);
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(mut json) => {
            remove_echoed_fields(&mut json, &payload.object);
            let mut out = String::new();
            flatten(&json, &mut out);
            out
        }
        Err(_) if is_html(content_type, &raw) => visible_text(&raw),
        Err(_) => raw.into_owned(),
    };
    remove_values(&remove_pair_echo(&text, payload), payload)
}

/// True when `text` names `field` as a word, ignoring letter case (`user_name` does not name
/// `name`).
pub fn names(text: &str, field: &str) -> bool {
    Regex::new(&format!(r"(?i)\b{}\b", regex::escape(field))).is_ok_and(|re| re.is_match(text))
}

/// Takes the request's fields out of every object that holds all of them with the values sent.
fn remove_echoed_fields(v: &mut Value, payload: &Map<String, Value>) {
    match v {
        Value::Object(map) => {
            let echoes = !payload.is_empty()
                && payload.iter().all(|(k, sent)| {
                    map.get(k)
                        .is_some_and(|got| super::json_equal::json_equal(sent, got))
                });
            if echoes {
                for k in payload.keys() {
                    map.remove(k);
                }
            }
            for child in map.values_mut() {
                remove_echoed_fields(child, payload);
            }
        }
        Value::Array(items) => {
            for item in items {
                remove_echoed_fields(item, payload);
            }
        }
        _ => {}
    }
}

/// A JSON value as lines of `key: value` text.
fn flatten(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                out.push_str(k);
                out.push_str(": ");
                flatten(child, out);
                out.push('\n');
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(item, out);
                out.push('\n');
            }
        }
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
}

fn is_html(content_type: Option<&str>, text: &str) -> bool {
    content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"))
        || text.trim_start().starts_with('<')
}

/// What a browser shows of an HTML document, with the values of its form inputs in place
/// (a re-rendered form repeats what was sent there).
fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skipping: Option<&str> = None;
    while let Some(start) = rest.find('<') {
        if skipping.is_none() {
            out.push_str(&rest[..start]);
        }
        let tag_and_after = &rest[start + 1..];
        let end = tag_end(tag_and_after);
        let tag = &tag_and_after[..end];
        rest = tag_and_after.get(end + 1..).unwrap_or("");
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match skipping {
            Some(until) if tag.starts_with('/') && name == until => skipping = None,
            Some(_) => {}
            None if !tag.starts_with('/') && (name == "script" || name == "style") => {
                skipping = Some(if name == "script" { "script" } else { "style" });
            }
            None => {
                out.push(' ');
                if name == "input"
                    && let Some(value) = attribute(tag, "value")
                {
                    out.push_str(&value);
                    out.push(' ');
                }
            }
        }
    }
    if skipping.is_none() {
        out.push_str(rest);
    }
    decode_entities(&out)
}

/// Where a tag ends (its `>` outside quotes), as an index into `s`.
fn tag_end(s: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return i,
            _ => {}
        }
    }
    s.len()
}

/// An attribute's value in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let re = Regex::new(&format!(
        r#"(?i)\s{}\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#,
        regex::escape(name)
    ))
    .ok()?;
    let caps = re.captures(tag)?;
    let value = caps.get(1).or(caps.get(2)).or(caps.get(3))?.as_str();
    Some(decode_entities(value))
}

/// The common HTML character references decoded.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let re = Regex::new(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);").expect("a valid pattern");
    re.replace_all(s, |caps: &regex::Captures<'_>| {
        let name = &caps[1];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else {
                    name.strip_prefix('#').and_then(|d| d.parse().ok())
                };
                code.and_then(char::from_u32)
            }
        };
        decoded.map_or_else(|| caps[0].to_string(), String::from)
    })
    .into_owned()
}

/// A value as a pattern: as sent or form-encoded, matched as a whole word where it begins or
/// ends with a word character.
fn value_pattern(value: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let alternatives = if encoded == value {
        regex::escape(value)
    } else {
        format!("{}|{}", regex::escape(value), regex::escape(&encoded))
    };
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let before = if word(value.chars().next()) {
        r"\b"
    } else {
        ""
    };
    let after = if word(value.chars().last()) {
        r"\b"
    } else {
        ""
    };
    format!("{before}(?:{alternatives}){after}")
}

/// Takes out a whole copy of the payload written as `field: value` pairs — every field sent
/// with a value appears next to it — and nothing when only some of it appears (an error
/// message may quote the one value it refuses).
fn remove_pair_echo(text: &str, payload: &Payload) -> String {
    const SEPARATOR: &str = r#"[\s"'`:=>]{1,12}"#;
    let filled: Vec<&(String, String)> = payload
        .pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if filled.is_empty() {
        return text.to_string();
    }
    let mut patterns = Vec::new();
    for (k, v) in &filled {
        let Ok(re) = Regex::new(&format!(
            r"(?i)\b{}\b{SEPARATOR}{}",
            regex::escape(k),
            value_pattern(v)
        )) else {
            return text.to_string();
        };
        if !re.is_match(text) {
            return text.to_string();
        }
        patterns.push(re);
    }
    // Fields sent empty, where the copy shows them with nothing after them.
    for (k, _) in payload.pairs.iter().filter(|(_, v)| v.is_empty()) {
        if let Ok(re) = Regex::new(&format!(
            r#"(?im)\b{}\b["'`]?\s*[:=]\s*(?:""|'')?\s*(?:[,&;)}}\]]|$)"#,
            regex::escape(k)
        )) {
            patterns.push(re);
        }
    }
    let mut out = text.to_string();
    for re in patterns {
        out = re.replace_all(&out, " ").into_owned();
    }
    out
}

/// Takes out every value the request sent.
fn remove_values(text: &str, payload: &Payload) -> String {
    let mut out = text.to_string();
    for (_, v) in payload.pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if let Ok(re) = Regex::new(&format!("(?i){}", value_pattern(v))) {
            out = re.replace_all(&out, " ").into_owned();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn sent(json: &str) -> Payload {
        let mut out = Outgoing::new(Method::POST, "http://h/users".into());
        out.body = Some(json.as_bytes().to_vec());
        Payload::of(&out)
    }

    fn named(body: &str, content_type: &str, payload: &Payload, field: &str) -> bool {
        names(
            &own_text(body.as_bytes(), Some(content_type), payload),
            field,
        )
    }

    const BAD_EMAIL: &str = r#"{"email": "not-an-address", "name": "Pat"}"#;
    const EMPTY_NAME: &str = r#"{"email": "field-1@example.com", "name": ""}"#;

    #[test]
    fn json_error_bodies_of_every_shape_name_the_field() {
        let p = sent(BAD_EMAIL);
        let fastapi = r#"{"detail":[{"type":"value_error","loc":["body","email"],"msg":"value is not a valid email address","input":"not-an-address"}]}"#;
        let express = r#"{"errors":[{"type":"field","value":"not-an-address","msg":"Invalid value","path":"email","location":"body"}]}"#;
        let spring = r#"{"status":400,"error":"Bad Request","errors":[{"field":"email","defaultMessage":"must be a well-formed email address","rejectedValue":"not-an-address"}]}"#;
        let keyed =
            r#"{"email": "not-an-address", "name": "Pat", "errors": {"email": "is not valid"}}"#;
        for body in [fastapi, express, spring, keyed] {
            assert!(named(body, "application/json", &p, "email"), "{body}");
        }
    }

    #[test]
    fn a_json_body_that_only_echoes_the_request_names_nothing() {
        let p = sent(BAD_EMAIL);
        let echo =
            r#"{"error": "invalid input", "received": {"email": "not-an-address", "name": "Pat"}}"#;
        assert!(!named(echo, "application/json", &p, "email"));
        let flat = r#"{"email": "not-an-address", "name": "Pat", "error": "invalid input"}"#;
        assert!(!named(flat, "application/json", &p, "email"));
        // Quoted inside a message string, the copy is still a copy.
        let quoted = r#"{"error": "invalid input: {'email': 'not-an-address', 'name': 'Pat'}"}"#;
        assert!(!named(quoted, "application/json", &p, "email"));
    }

    #[test]
    fn a_value_that_contains_the_field_name_does_not_name_it() {
        let p = sent(r#"{"email": "not-an-email", "name": "Pat"}"#);
        let body = r#"{"error": "invalid input", "input": "not-an-email"}"#;
        assert!(!named(body, "application/json", &p, "email"));
        let body = r#"{"error": "'not-an-email' is not a valid email address"}"#;
        assert!(named(body, "application/json", &p, "email"));
    }

    #[test]
    fn plain_text_bodies_are_judged_apart_from_a_copy_of_the_payload() {
        let p = sent(BAD_EMAIL);
        assert!(named(
            "email: not a valid address",
            "text/plain",
            &p,
            "email"
        ));
        assert!(named(
            "email: \"not-an-address\" is not a valid address",
            "text/plain",
            &p,
            "email"
        ));
        assert!(!named(
            "invalid input: email=not-an-address&name=Pat",
            "text/plain",
            &p,
            "email"
        ));
        assert!(!named(
            "Invalid input.\nemail: not-an-address\nname: Pat\n",
            "text/plain",
            &p,
            "email"
        ));
        let p = sent(EMPTY_NAME);
        assert!(named("name: must not be blank", "text/plain", &p, "name"));
        assert!(!named(
            "invalid input: email=field-1%40example.com&name=",
            "text/plain",
            &p,
            "name"
        ));
    }

    #[test]
    fn html_is_read_as_a_browser_shows_it() {
        let p = sent(BAD_EMAIL);
        let with_error = r#"<!doctype html><html><head><title>Sign up</title><style>.email{color:red}</style></head>
<body><form method="post"><p class="error">Enter a valid email address.</p>
<label for="email">Email</label><input id="email" name="email" value="not-an-address">
<label for="name">Name</label><input id="name" name="name" value="Pat"></form></body></html>"#;
        assert!(named(with_error, "text/html; charset=utf-8", &p, "email"));
        let echo_only = r#"<html><body><p>Please correct the errors below.</p><form method="post">
<label for="email">Email</label><input id="email" name="email" value="not-an-address">
<label for="name">Name</label><input id="name" name="name" value="Pat"></form></body></html>"#;
        assert!(!named(echo_only, "text/html", &p, "email"));
        let table = "<table><tr><td>email</td><td>not-an-address</td></tr><tr><td>name</td><td>Pat</td></tr></table>";
        assert!(!named(table, "text/html", &p, "email"));
        assert!(named(
            "<p>The field &quot;email&quot; is invalid</p>",
            "text/html",
            &p,
            "email"
        ));
    }

    #[test]
    fn form_payloads_are_read_too() {
        let mut out = Outgoing::new(Method::POST, "http://h/login".into());
        out.body = Some(b"username=alice&password=x".to_vec());
        let p = Payload::of(&out);
        assert!(!names(
            &own_text(b"you sent username=alice password=x", None, &p),
            "username"
        ));
    }
}
