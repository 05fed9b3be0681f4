//! The validation stage: checking parsed input against an endpoint's contract, field by field.
//!
//! [`Fields`] walks a JSON object or a query string, collects every problem (not just the
//! first), and records one `validation` trace event: passed, or which fields failed and that the
//! handler never ran.

use super::error::{FieldError, Problem};
use super::step::{Carries, Gate};
use super::trace::{Outcome, Tracer};
use crate::stage::Stage;
use serde_json::{Map, Value};
use std::time::Instant;

/// Collects field problems for one request.
pub struct Fields<'a> {
    object: Map<String, Value>,
    /// Query parameters accepted so far, as `name=value`, for the trace sentence.
    accepted: Vec<String>,
    errors: Vec<FieldError>,
    tracer: &'a Tracer,
    start: Instant,
    /// The body was not a JSON object: that one error says it all, so missing fields are not
    /// listed as well.
    shapeless: bool,
}

impl<'a> Fields<'a> {
    /// Starts validating a JSON body that must be an object with only `allowed` keys.
    pub fn json_object(body: Value, allowed: &[&str], tracer: &'a Tracer) -> Fields<'a> {
        let start = Instant::now();
        let mut errors = Vec::new();
        let shapeless = !body.is_object();
        let object = match body {
            Value::Object(map) => map,
            other => {
                errors.push(FieldError {
                    field: "body".into(),
                    message: format!("must be a JSON object, not {}", json_kind(&other)),
                });
                Map::new()
            }
        };
        for key in object.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.push(FieldError {
                    field: shorten(key, MAX_FIELD_NAME),
                    message: format!(
                        "is not a field of this endpoint (allowed: {}); unknown fields are refused so clients cannot set what they should not",
                        allowed.join(", ")
                    ),
                });
            }
        }
        Fields {
            object,
            accepted: Vec::new(),
            errors,
            tracer,
            start,
            shapeless,
        }
    }

    /// Starts validating query parameters (checked one by one with [`Fields::error`]).
    pub fn query(tracer: &'a Tracer) -> Fields<'a> {
        Fields {
            object: Map::new(),
            accepted: Vec::new(),
            errors: Vec::new(),
            tracer,
            start: Instant::now(),
            shapeless: false,
        }
    }

    /// Records a problem with `field`.
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Notes a query parameter's accepted value, for the trace.
    pub fn accept(&mut self, name: &str, value: impl std::fmt::Display) {
        if self.tracer.is_on() {
            self.accepted.push(format!("{name}={value}"));
        }
    }

    /// A required string field.
    pub fn required_str(&mut self, name: &str) -> Option<String> {
        match self.object.get(name) {
            None if self.shapeless => None,
            None | Some(Value::Null) => {
                self.error(name, "is required");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(name, format!("must be a string, not {}", json_kind(other)));
                None
            }
        }
    }

    /// An optional string field: `Some(None)` when absent, `None` when invalid.
    pub fn optional_str(&mut self, name: &str) -> Option<Option<String>> {
        match self.object.get(name) {
            None => Some(None),
            Some(_) => self.required_str(name).map(Some),
        }
    }

    /// A required boolean field.
    pub fn required_bool(&mut self, name: &str) -> Option<bool> {
        match self.object.get(name) {
            None if self.shapeless => None,
            None | Some(Value::Null) => {
                self.error(name, "is required");
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.error(
                    name,
                    format!("must be true or false, not {}", json_kind(other)),
                );
                None
            }
        }
    }

    /// An optional boolean field: `Some(None)` when absent, `None` when invalid.
    pub fn optional_bool(&mut self, name: &str) -> Option<Option<bool>> {
        match self.object.get(name) {
            None => Some(None),
            Some(_) => self.required_bool(name).map(Some),
        }
    }

    /// An optional whole-number field within `min..=max`: `Some(None)` when absent, `None`
    /// when invalid.
    pub fn optional_int(&mut self, name: &str, min: i64, max: i64) -> Option<Option<i64>> {
        match self.object.get(name) {
            None => Some(None),
            // 46.0 is a whole number too, as JSON Schema's `integer` counts it.
            Some(Value::Number(n)) => match whole(n) {
                Some(v) if (min..=max).contains(&v) => Some(Some(v)),
                _ => {
                    self.error(name, format!("must be a whole number from {min} to {max}"));
                    None
                }
            },
            Some(other) => {
                self.error(
                    name,
                    format!(
                        "must be a whole number from {min} to {max}, not {}",
                        json_kind(other)
                    ),
                );
                None
            }
        }
    }

    /// A text field held to [`length_problem`]'s rule (1 to `max` characters, one visible, no
    /// control characters): the text, or `None` with the error recorded.
    pub fn visible_text(&mut self, name: &str, text: Option<String>, max: usize) -> Option<String> {
        let text = text?;
        match length_problem(&text, 1, max) {
            Some(problem) => {
                self.error(name, problem);
                None
            }
            None => Some(text),
        }
    }

    /// True when an error about `field` is already recorded (so a later rule need not add another).
    pub fn failed(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// True when the body had this key.
    pub fn has(&self, name: &str) -> bool {
        self.object.contains_key(name)
    }

    /// Ends validation: records the outcome and returns the 422 when anything failed. A
    /// stepped request is then held at `validation`, showing each field's verdict.
    pub async fn finish(self, gate: &Gate) -> Result<(), Problem> {
        let accepted = (gate.stepping() && self.errors.is_empty()).then(|| self.verdicts());
        let result = self.conclude();
        gate.hold(Stage::Validation, || {
            verdict_carries(accepted.unwrap_or_default(), &result)
        })
        .await;
        result
    }

    /// Each field that passed, with what was accepted.
    fn verdicts(&self) -> Vec<(String, String)> {
        let body = self.object.iter().map(|(name, value)| {
            let shown = match value {
                Value::Object(_) | Value::Array(_) => json_kind(value).to_string(),
                scalar => scalar.to_string(),
            };
            (name.clone(), format!("accepted: {shown}"))
        });
        let query = self.accepted.iter().map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_string(), format!("accepted: {value}"))
        });
        body.chain(query).collect()
    }

    /// Records the outcome in the trace and returns the 422 when anything failed.
    fn conclude(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            if !self.tracer.is_on() {
                return Ok(());
            }
            let mut names: Vec<String> = self.object.keys().cloned().collect();
            names.extend(self.accepted);
            let what = if names.is_empty() {
                "nothing to check".to_string()
            } else {
                names.join(", ")
            };
            self.tracer.timed(
                Stage::Validation,
                self.start,
                Outcome::Ok,
                format_args!("validation passed: {what}"),
            );
            return Ok(());
        }
        if self.tracer.is_on() {
            let mut reasons: Vec<String> = self
                .errors
                .iter()
                .take(LISTED_IN_TRACE)
                .map(|e| format!("`{}` {}", e.field, short(&e.message)))
                .collect();
            if self.errors.len() > LISTED_IN_TRACE {
                reasons.push(format!(
                    "… and {} more",
                    self.errors.len() - LISTED_IN_TRACE
                ));
            }
            self.tracer.timed(
                Stage::Validation,
                self.start,
                Outcome::Fail,
                format_args!(
                    "validation failed: {} → 422; the handler never ran",
                    reasons.join("; ")
                ),
            );
        }
        Err(Problem::validation(self.errors))
    }
}

/// What a stepped request shows at `validation`: each field accepted, or each error.
fn verdict_carries(accepted: Vec<(String, String)>, result: &Result<(), Problem>) -> Carries {
    match result {
        Ok(()) => {
            let summary = if accepted.is_empty() {
                "validation passed: there was nothing to check".to_string()
            } else {
                format!(
                    "validation passed: {} field{} kept the contract; the handler may run",
                    accepted.len(),
                    if accepted.len() == 1 { "" } else { "s" }
                )
            };
            let mut carries = Carries::new(summary);
            for (name, verdict) in accepted {
                carries.field(name, verdict);
            }
            carries
        }
        Err(problem) => {
            let n = problem.errors.len();
            let mut carries = Carries::new(format_args!(
                "validation failed: {n} problem{} → 422; the handler never runs",
                if n == 1 { "" } else { "s" }
            ));
            for error in &problem.errors {
                carries.field(&error.field, &error.message);
            }
            carries
        }
    }
}

/// True for a character that shows: not whitespace, and not an invisible format character
/// such as a zero-width space or a byte-order mark (Unicode category Cf).
fn is_visible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    !c.is_whitespace() && !c.is_control() && c.general_category() != GeneralCategory::Format
}

/// A JSON number's value when it is a whole number that fits in an i64, written `46` or `46.0`.
fn whole(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        // i64::MAX as f64 rounds up to 2^63, which no i64 holds: that bound is exclusive.
        (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
    })
}

/// Field problems a trace sentence lists before saying how many more there are.
const LISTED_IN_TRACE: usize = 8;
/// Longest field name repeated back to a client (a key can be as long as the body).
const MAX_FIELD_NAME: usize = 100;

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The first clause of a message, for one-line trace sentences.
fn short(message: &str) -> &str {
    message.split(';').next().unwrap_or(message).trim()
}

/// "a number", "an array"… for messages about wrong types.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The rule [`length_problem`] applies, as a JSON Schema `pattern` (ECMA-262, also read by the
/// `regex` crate): no control characters, and at least one character that shows — not
/// whitespace, not an invisible format character. Format characters beyond the Basic
/// Multilingual Plane cannot be written in a pattern without the `u` flag, so a text made only
/// of those matches here and is still refused.
pub const VISIBLE_TEXT: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F]*$";

/// Why `text` is not an acceptable title/name of `min..=max` characters, if it is not: control
/// characters anywhere, nothing visible ("looks empty" is empty), or the wrong length.
pub fn length_problem(text: &str, min: usize, max: usize) -> Option<String> {
    let count = text.chars().count();
    if let Some((position, c)) = text.chars().enumerate().find(|(_, c)| c.is_control()) {
        Some(format!(
            "must not contain control characters (U+{:04X} at character {})",
            u32::from(c),
            position + 1
        ))
    } else if text.trim().is_empty() {
        Some(format!("must not be blank (1–{max} characters)"))
    } else if !text.chars().any(is_visible) {
        Some(format!(
            "has no visible character, only spaces or invisible ones such as U+{:04X} (1–{max} characters)",
            u32::from(text.chars().find(|c| !c.is_whitespace()).unwrap_or(' '))
        ))
    } else if count < min || count > max {
        Some(format!("must be {min}–{max} characters, got {count}"))
    } else {
        None
    }
}

/// Why `email` is not an email address, if it is not.
///
/// Deliberately simple: one `@`, a non-empty local part, a domain with a dot and no empty
/// labels, no spaces, at most 254 characters. Real delivery is proven by sending mail, not by
/// a pattern.
pub fn email_problem(email: &str) -> Option<&'static str> {
    if email.len() > 254 {
        return Some("is longer than 254 characters");
    }
    if email.chars().any(char::is_whitespace) {
        return Some("must not contain spaces");
    }
    if email.chars().any(|c| !is_visible(c)) {
        return Some("must not contain control or invisible characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Some("is not an email address (no @)");
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Some("is not an email address");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let valid_labels = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !valid_labels {
        return Some("is not an email address (the domain needs a dot, like example.com)");
    }
    None
}

/// Parses an integer query parameter within `min..=max`, recording a problem otherwise.
pub fn int_param(
    fields: &mut Fields<'_>,
    name: &str,
    raw: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> i64 {
    let Some(raw) = raw else {
        fields.accept(name, format_args!("{default} (default)"));
        return default;
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => {
            fields.accept(name, n);
            n
        }
        Ok(n) => {
            let range = if max == i64::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            fields.error(name, format!("must be {range}, got {n}"));
            default
        }
        Err(_) => {
            fields.error(name, format!("must be a whole number, got `{raw}`"));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "ada.lovelace+lab@example.com",
            "x@sub.example.org",
        ] {
            assert_eq!(email_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "plain",
            "a@b",
            "@example.com",
            "a@@b.com",
            "a b@c.com",
            "a\u{200b}@example.com",
            "a\u{0}@example.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_zero_fraction() {
        let n = |v: serde_json::Value| match v {
            Value::Number(n) => whole(&n),
            _ => unreachable!(),
        };
        assert_eq!(n(serde_json::json!(46)), Some(46));
        assert_eq!(n(serde_json::json!(46.0)), Some(46));
        assert_eq!(n(serde_json::json!(-3.0)), Some(-3));
        assert_eq!(n(serde_json::json!(46.5)), None);
        assert_eq!(n(serde_json::json!(1e300)), None);
        let tracer = Tracer::off();
        let mut fields = Fields::json_object(
            serde_json::json!({"page_size": 46.0}),
            &["page_size"],
            &tracer,
        );
        assert_eq!(fields.optional_int("page_size", 1, 100), Some(Some(46)));
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert_eq!(length_problem("Zoë", 1, 3), None);
        assert!(length_problem("", 1, 60).is_some());
        assert!(length_problem("   ", 1, 60).unwrap().contains("blank"));
        assert!(
            length_problem(&"x".repeat(61), 1, 60)
                .unwrap()
                .contains("got 61")
        );
        assert_eq!(length_problem(&"x".repeat(60), 1, 60), None);
    }

    #[test]
    fn text_that_looks_empty_is_empty_and_control_characters_are_refused() {
        for invisible in ["\u{200b}", "\u{feff}", " \u{200b}\u{2060} ", "\u{00a0}"] {
            let problem = length_problem(invisible, 1, 60).expect(invisible);
            assert!(
                problem.contains("blank") || problem.contains("no visible character"),
                "{problem}"
            );
        }
        for control in ["\u{0}", "a\u{7}b", "tab\there"] {
            let problem = length_problem(control, 1, 60).expect(control);
            assert!(problem.contains("control characters"), "{problem}");
        }
        // Visible text with joiners, accents and right-to-left marks stays valid.
        for fine in ["👩\u{200d}💻", "Zoë", "שלום\u{200f}", "a\u{200b}b"] {
            assert_eq!(length_problem(fine, 1, 60), None, "{fine}");
        }
    }

    #[test]
    fn thousands_of_unknown_keys_make_a_short_sentence() {
        let tracer = Tracer::recording();
        let body: serde_json::Map<String, Value> = (0..6000)
            .map(|i| (format!("k{i}"), Value::from(i)))
            .collect();
        let f = Fields::json_object(Value::Object(body), &["title"], &tracer);
        assert_eq!(f.conclude().unwrap_err().errors.len(), 6000);
        let trace = tracer
            .finish(
                "r".into(),
                crate::lab::trace::Timestamp(0),
                axum::http::Method::POST,
                "/".into(),
                422,
            )
            .unwrap()
            .to_trace();
        let sentence = &trace.events[0].message;
        assert!(sentence.contains("… and 5992 more"), "{sentence}");
        assert!(sentence.len() < 2048, "{}", sentence.len());
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_all_reported() {
        let tracer = Tracer::recording();
        let mut f = Fields::json_object(
            serde_json::json!({"email": 5, "role": "admin"}),
            &["email", "name"],
            &tracer,
        );
        f.required_str("email");
        f.required_str("name");
        let problem = f.conclude().unwrap_err();
        let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["role", "email", "name"]);
        let trace = tracer
            .finish(
                "r".into(),
                crate::lab::trace::Timestamp(0),
                axum::http::Method::POST,
                "/".into(),
                422,
            )
            .unwrap()
            .to_trace();
        assert_eq!(trace.events[0].stage, Stage::Validation);
        assert!(trace.events[0].message.contains("`role`"));
    }
}
