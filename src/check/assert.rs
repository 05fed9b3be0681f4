//! Evaluating one assertion against a response, with an expected/actual explanation when it
//! does not hold.
//!
//! Comparisons follow the contract, not a framework's habits: header names and values
//! compare case-insensitively, a captured `"7"` equals a JSON `7`, and timestamps compare as
//! instants whether they end in `Z`, an offset, or nothing.

use super::echo::{Payload, names, own_text};
use super::http::{Outgoing, Received};
use super::json_equal::json_equal;
use crate::course::assertion::{Assertion, HeaderCheck, JsonCheck, JsonType, SortOrder, TextCheck};
use crate::course::jsonpath::JsonPath;
use crate::course::template::Vars;
use serde_json::Value;
use std::cmp::Ordering;

/// Why an assertion did not hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// What was expected, in words.
    pub expected: String,
    /// What the response had.
    pub actual: String,
    /// A line diff of expected and actual JSON, when both are multi-line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// What to change, when the mismatch says it (a wrong status: which one, and why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Mismatch {
    fn new(expected: impl Into<String>, actual: impl Into<String>) -> Mismatch {
        Mismatch {
            expected: expected.into(),
            actual: actual.into(),
            diff: None,
            fix: None,
        }
    }
}

/// Checks one assertion about a response to a request that sent nothing of note.
pub fn check(a: &Assertion, r: &Received, vars: &Vars) -> Result<(), Mismatch> {
    check_reply(a, None, r, vars)
}

/// Checks one assertion about the response `r` to the request `sent` (which `names_field`
/// needs, to tell the body's own words from a copy of the request).
pub fn check_reply(
    a: &Assertion,
    sent: Option<&Outgoing>,
    r: &Received,
    vars: &Vars,
) -> Result<(), Mismatch> {
    match a {
        Assertion::Status { codes, instead } => {
            if codes.contains(&r.status) {
                Ok(())
            } else {
                let mut m = Mismatch::new(
                    format!("status {}", join_or(codes)),
                    format!("status {}", r.status),
                );
                m.fix = Some(
                    note_for(instead, r.status)
                        .unwrap_or_else(|| crate::status::advice(codes, r.status)),
                );
                Err(m)
            }
        }
        Assertion::AnyOf {
            alternatives,
            describe,
            instead,
        } => {
            let mut closest: Option<(usize, Mismatch)> = None;
            for alternative in alternatives {
                let mut held = 0;
                let mut failed = None;
                for a in alternative {
                    match check_reply(a, sent, r, vars) {
                        Ok(()) => held += 1,
                        Err(m) => {
                            failed = Some(m);
                            break;
                        }
                    }
                }
                let Some(m) = failed else { return Ok(()) };
                if closest.as_ref().is_none_or(|(best, _)| held > *best) {
                    closest = Some((held, m));
                }
            }
            let (_, nearest) = closest.expect("any_of has alternatives");
            // When the alternatives differ by status, say the status the server answered.
            let by_status = alternatives
                .iter()
                .flatten()
                .any(|a| matches!(a, Assertion::Status { .. }));
            let actual = if by_status && !nearest.actual.starts_with("status") {
                format!("status {}; {}", r.status, nearest.actual)
            } else {
                nearest.actual
            };
            let mut m = Mismatch::new(describe.clone(), actual);
            m.fix = note_for(instead, r.status).or(nearest.fix);
            Err(m)
        }
        Assertion::Header { name, checks } => {
            let value = r.header(name);
            checks
                .iter()
                .try_for_each(|c| check_header(c, name, value.as_deref(), vars))
        }
        Assertion::Json { path, checks } => check_json(path, checks, r, vars),
        Assertion::EmptyBody => {
            if r.body.is_empty() {
                Ok(())
            } else {
                Err(Mismatch::new(
                    "an empty body",
                    format!("a body of {} bytes", r.body.len()),
                ))
            }
        }
        Assertion::Text(checks) => {
            let text = r.text();
            let lower = text.to_lowercase();
            checks
                .iter()
                .try_for_each(|c| check_text(c, &text, &lower, vars, (sent, r)))
        }
    }
}

/// The note an assertion keeps for a status the server answered instead.
fn note_for(instead: &[(u16, String)], status: u16) -> Option<String> {
    instead
        .iter()
        .find(|(code, _)| *code == status)
        .map(|(_, note)| note.clone())
}

/// The body names `field` in its own words, not only in a copy of the request.
fn check_names_field(field: &str, sent: Option<&Outgoing>, r: &Received) -> Result<(), Mismatch> {
    let payload = sent.map(Payload::of).unwrap_or_default();
    let own = own_text(&r.body, r.header("content-type").as_deref(), &payload);
    if names(&own, field) {
        return Ok(());
    }
    let mut m = Mismatch::new(
        format!("a body that names the field {field}"),
        format!("the body: {}", text_excerpt(&r.text())),
    );
    if names(&r.text(), field) {
        m.actual.push_str(&format!(
            " (it mentions {field} only where it repeats what the request sent)"
        ));
    }
    Err(m)
}

fn join_or(codes: &[u16]) -> String {
    let parts: Vec<String> = codes.iter().map(u16::to_string).collect();
    match parts.as_slice() {
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        [] => String::new(),
    }
}

fn render_value(v: &Value, vars: &Vars) -> Result<Value, Mismatch> {
    vars.render_json(v)
        .map_err(|e| Mismatch::new("a value this check could compute", e))
}

fn check_header(
    c: &HeaderCheck,
    name: &str,
    value: Option<&str>,
    vars: &Vars,
) -> Result<(), Mismatch> {
    match c {
        HeaderCheck::Exists(want) => match (value, want) {
            (Some(_), true) | (None, false) => Ok(()),
            (None, true) => Err(Mismatch::new(format!("a {name} header"), "no such header")),
            (Some(v), false) => Err(Mismatch::new(
                format!("no {name} header"),
                format!("{name}: {v}"),
            )),
        },
        HeaderCheck::Equals(expected) => {
            let want = text_of(&render_value(expected, vars)?);
            match value {
                Some(v) if v.trim().eq_ignore_ascii_case(want.trim()) => Ok(()),
                Some(v) => Err(Mismatch::new(
                    format!("{name}: {want}"),
                    format!("{name}: {v}"),
                )),
                None => Err(Mismatch::new(format!("{name}: {want}"), "no such header")),
            }
        }
        HeaderCheck::NotIn(forbidden) => {
            let Some(v) = value else { return Ok(()) };
            for f in forbidden {
                let f = text_of(&render_value(f, vars)?);
                if v.trim().eq_ignore_ascii_case(f.trim()) {
                    return Err(Mismatch::new(
                        format!("{name} absent, or not {}", quoted_list(forbidden)),
                        format!("{name}: {v}"),
                    ));
                }
            }
            Ok(())
        }
        HeaderCheck::Matches(pattern) => match value {
            Some(v) if pattern.is_match(v) => Ok(()),
            Some(v) => Err(Mismatch::new(
                pattern.expected(name),
                format!("{name}: {v}"),
            )),
            None => Err(Mismatch::new(pattern.expected(name), "no such header")),
        },
        HeaderCheck::Lists(token) => {
            let token = vars
                .render(token)
                .map_err(|e| Mismatch::new(token.clone(), e))?;
            match value {
                Some(v) if v.split(',').any(|t| t.trim().eq_ignore_ascii_case(&token)) => Ok(()),
                Some(v) => Err(Mismatch::new(
                    format!("{name} listing {token}"),
                    format!("{name}: {v}"),
                )),
                None => Err(Mismatch::new(
                    format!("{name} listing {token}"),
                    "no such header",
                )),
            }
        }
    }
}

fn quoted_list(values: &[Value]) -> String {
    values.iter().map(text_of).collect::<Vec<_>>().join(" or ")
}

/// A value as plain text: strings without quotes, everything else as JSON.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_json(
    path: &JsonPath,
    checks: &[JsonCheck],
    r: &Received,
    vars: &Vars,
) -> Result<(), Mismatch> {
    let body = r
        .json()
        .map_err(|why| Mismatch::new(format!("a JSON body with `{path}`"), why))?;
    let found = path.get(&body);
    let shown_path = if path.is_the_list() {
        "the list (the body as an array, or its `items`)".to_string()
    } else {
        format!("`{path}`")
    };
    let absent = || {
        Mismatch::new(
            format!("{shown_path} in the JSON body"),
            format!("no {shown_path}; the body is {}", excerpt(&body)),
        )
    };
    // `exists` speaks first; after it, a missing value fails every check that needs one.
    if let Some(JsonCheck::Exists(want)) = checks.first() {
        match (found, want) {
            (Some(_), true) | (None, false) => {}
            (None, true) => return Err(absent()),
            (Some(v), false) => {
                return Err(Mismatch::new(
                    format!("no {shown_path}"),
                    format!("{shown_path} = {}", excerpt(v)),
                ));
            }
        }
    }
    let Some(value) = found else {
        return match checks.iter().any(JsonCheck::needs_value) {
            true => Err(absent()),
            false => Ok(()),
        };
    };
    for c in checks {
        check_json_value(c, value, &shown_path, vars)?;
    }
    Ok(())
}

fn check_json_value(
    c: &JsonCheck,
    value: &Value,
    shown_path: &str,
    vars: &Vars,
) -> Result<(), Mismatch> {
    match c {
        JsonCheck::Exists(_) => Ok(()),
        JsonCheck::Equals(expected) => {
            let want = render_value(expected, vars)?;
            if json_equal(&want, value) {
                return Ok(());
            }
            let mut m = Mismatch::new(
                format!("{shown_path} = {}", excerpt(&want)),
                format!("{shown_path} = {}", excerpt(value)),
            );
            m.diff = json_diff(&want, value);
            Err(m)
        }
        JsonCheck::NotIn(forbidden) => {
            for f in forbidden {
                let f = render_value(f, vars)?;
                if json_equal(&f, value) {
                    return Err(Mismatch::new(
                        format!("{shown_path} not {}", quoted_list(forbidden)),
                        format!("{shown_path} = {}", excerpt(value)),
                    ));
                }
            }
            Ok(())
        }
        JsonCheck::Matches(pattern) => {
            if pattern.is_match(&text_of(value)) {
                return Ok(());
            }
            Err(Mismatch::new(
                pattern.expected(shown_path),
                format!("{shown_path} = {}", excerpt(value)),
            ))
        }
        JsonCheck::Type(types) => {
            let actual = JsonType::of(value);
            if types.iter().any(|t| t.accepts(actual)) {
                return Ok(());
            }
            let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
            Err(Mismatch::new(
                format!("{shown_path} of type {}", names.join(" or ")),
                format!("{shown_path} is {}: {}", actual.name(), excerpt(value)),
            ))
        }
        JsonCheck::MinLength(min) => match length(value) {
            Some(n) if n >= *min => Ok(()),
            Some(n) => Err(Mismatch::new(
                format!("{shown_path} with at least {min} element(s)"),
                format!("{n} element(s)"),
            )),
            None => Err(not_a_sequence(value, shown_path)),
        },
        JsonCheck::MaxLength(max) => match length(value) {
            Some(n) if n <= *max => Ok(()),
            Some(n) => Err(Mismatch::new(
                format!("{shown_path} with at most {max} element(s)"),
                format!("{n} element(s)"),
            )),
            None => Err(not_a_sequence(value, shown_path)),
        },
        JsonCheck::SortedBy { field, order } => check_sorted(value, field, *order, shown_path),
        JsonCheck::InOrder { values, by } => {
            let wanted: Vec<String> = values
                .iter()
                .map(|w| vars.render(w))
                .collect::<Result<_, _>>()
                .map_err(|e| Mismatch::new("values this check could compute", e))?;
            check_in_order(value, by, &wanted, shown_path)
        }
    }
}

/// The number of elements of an array, or of characters of a string.
fn length(value: &Value) -> Option<usize> {
    match value {
        Value::Array(items) => Some(items.len()),
        Value::String(s) => Some(s.chars().count()),
        _ => None,
    }
}

fn not_a_sequence(value: &Value, shown_path: &str) -> Mismatch {
    Mismatch::new(
        format!("{shown_path} as an array or string"),
        format!("{} ({})", excerpt(value), JsonType::of(value).name()),
    )
}

fn check_in_order(value: &Value, by: &str, wanted: &[String], shown: &str) -> Result<(), Mismatch> {
    let expected = format!("{shown} listing {by} {} in that order", wanted.join(", "));
    let Value::Array(items) = value else {
        return Err(Mismatch::new(
            expected,
            format!("{} ({})", excerpt(value), JsonType::of(value).name()),
        ));
    };
    let found: Vec<String> = items
        .iter()
        .filter_map(|item| item.get(by).map(text_of))
        .filter(|v| wanted.contains(v))
        .collect();
    if found.as_slice() == wanted {
        return Ok(());
    }
    let missing: Vec<&String> = wanted.iter().filter(|w| !found.contains(w)).collect();
    let actual = if missing.is_empty() {
        format!("they appear as {}", found.join(", "))
    } else {
        format!(
            "{} missing; found {}",
            missing
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        )
    };
    Err(Mismatch::new(expected, actual))
}

fn check_sorted(value: &Value, field: &str, order: SortOrder, shown: &str) -> Result<(), Mismatch> {
    let word = match order {
        SortOrder::Asc => "ascending (oldest or smallest first)",
        SortOrder::Desc => "descending (newest or largest first)",
    };
    let Value::Array(items) = value else {
        return Err(Mismatch::new(
            format!("{shown} as an array ordered by {field}"),
            format!("{} ({})", excerpt(value), JsonType::of(value).name()),
        ));
    };
    for (i, pair) in items.windows(2).enumerate() {
        let (a, b) = (pair[0].get(field), pair[1].get(field));
        let (Some(a), Some(b)) = (a, b) else {
            let missing = if pair[0].get(field).is_none() {
                i
            } else {
                i + 1
            };
            return Err(Mismatch::new(
                format!("every item of {shown} to have `{field}`"),
                format!(
                    "item {missing} has no `{field}`: {}",
                    excerpt(&items[missing])
                ),
            ));
        };
        let ord = compare_values(a, b);
        let wrong = match order {
            SortOrder::Asc => ord == Ordering::Greater,
            SortOrder::Desc => ord == Ordering::Less,
        };
        if wrong {
            return Err(Mismatch::new(
                format!("{shown} ordered by `{field}`, {word}"),
                format!(
                    "item {i} has {field} {} but item {} has {}",
                    text_of(a),
                    i + 1,
                    text_of(b)
                ),
            ));
        }
    }
    Ok(())
}

/// Orders two JSON values: as instants when both are timestamps, as numbers when both are
/// numbers, else as text.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    if let (Some(x), Some(y)) = (
        a.as_str().and_then(parse_instant),
        b.as_str().and_then(parse_instant),
    ) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    text_of(a).cmp(&text_of(b))
}

/// Parses an RFC 3339 timestamp, or an ISO one without an offset (read as UTC), with `T` or a
/// space between date and time.
pub fn parse_instant(s: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    let normalized = if s.len() > 10 && s.as_bytes()[10] == b' ' {
        format!("{}T{}", &s[..10], &s[11..])
    } else {
        s.to_string()
    };
    if let Ok(t) = time::OffsetDateTime::parse(&normalized, &Rfc3339) {
        return Some(t);
    }
    let naive = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(&normalized, naive)
        .ok()
        .map(|t| t.assume_utc())
}

/// A JSON value in one line, shortened.
pub fn excerpt(v: &Value) -> String {
    shorten(&v.to_string(), 120)
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn json_diff(expected: &Value, actual: &Value) -> Option<String> {
    if !(expected.is_object() || expected.is_array()) {
        return None;
    }
    let e = serde_json::to_string_pretty(expected).ok()?;
    let a = serde_json::to_string_pretty(actual).ok()?;
    let diff = similar::TextDiff::from_lines(&e, &a);
    Some(diff.unified_diff().header("expected", "actual").to_string())
}

fn check_text(
    c: &TextCheck,
    text: &str,
    lower: &str,
    vars: &Vars,
    exchange: (Option<&Outgoing>, &Received),
) -> Result<(), Mismatch> {
    match c {
        TextCheck::Contains(needle) => {
            let needle = vars
                .render(needle)
                .map_err(|e| Mismatch::new(needle.clone(), e))?;
            if lower.contains(&needle.to_lowercase()) {
                return Ok(());
            }
            Err(Mismatch::new(
                format!("a body that mentions `{needle}`"),
                format!("the body: {}", text_excerpt(text)),
            ))
        }
        TextCheck::NotContains(needle) => {
            let needle = vars
                .render(needle)
                .map_err(|e| Mismatch::new(needle.clone(), e))?;
            if !lower.contains(&needle.to_lowercase()) {
                return Ok(());
            }
            Err(Mismatch::new(
                format!("a body that does not mention `{needle}`"),
                format!("the body: {}", text_excerpt(text)),
            ))
        }
        TextCheck::Matches(pattern) => {
            if pattern.is_match(text) {
                return Ok(());
            }
            Err(Mismatch::new(
                pattern.expected("a body"),
                format!("the body: {}", text_excerpt(text)),
            ))
        }
        TextCheck::NamesField(field) => check_names_field(field, exchange.0, exchange.1),
    }
}

fn text_excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(empty)".into();
    }
    shorten(&one_line, 160)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Received {
        Received {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            truncated: false,
            elapsed: Duration::ZERO,
        }
    }

    fn assertion(toml_text: &str) -> Assertion {
        crate::course::assertion::from_toml(toml_text).unwrap()
    }

    #[test]
    fn status_lists_the_allowed_codes() {
        let m = check(
            &assertion("status = [400, 422]"),
            &reply(500, &[], ""),
            &Vars::default(),
        )
        .unwrap_err();
        assert_eq!(m.expected, "status 400 or 422");
        assert_eq!(m.actual, "status 500");
    }

    #[test]
    fn headers_compare_without_case_and_lists_split_on_commas() {
        let r = reply(405, &[("allow", "HEAD, GET")], "");
        let v = Vars::default();
        assert!(
            check(
                &assertion(
                    r#"header = "Allow"
lists = "get""#
                ),
                &r,
                &v
            )
            .is_ok()
        );
        let m = check(
            &assertion(
                r#"header = "Allow"
lists = "POST""#,
            ),
            &r,
            &v,
        )
        .unwrap_err();
        assert_eq!(m.actual, "Allow: HEAD, GET");
        let r = reply(200, &[("x-frame-options", "deny")], "");
        assert!(
            check(
                &assertion(
                    r#"header = "X-Frame-Options"
equals = "DENY""#
                ),
                &r,
                &v
            )
            .is_ok()
        );
        assert!(
            check(
                &assertion(
                    r#"header = "ETag"
not_in = ["*"]"#
                ),
                &r,
                &v
            )
            .is_ok(),
            "absent passes not_in"
        );
    }

    #[test]
    fn captured_strings_equal_json_numbers() {
        let mut v = Vars::default();
        v.set("id", "7");
        let r = reply(200, &[], r#"{"id": 7}"#);
        assert!(
            check(
                &assertion(
                    r#"json = "id"
equals = "{{id}}""#
                ),
                &r,
                &v
            )
            .is_ok()
        );
    }

    #[test]
    fn ordering_compares_timestamps_as_instants() {
        let body = json!([
            {"created_at": "2026-11-25T10:00:00+02:00"},
            {"created_at": "2026-11-25T07:30:00Z"},
            {"created_at": "2026-11-25 07:00:00.5"},
        ])
        .to_string();
        let r = reply(200, &[], &body);
        let v = Vars::default();
        assert!(
            check(
                &assertion(
                    r#"json = "$list"
sorted_by = "created_at"
order = "desc""#
                ),
                &r,
                &v
            )
            .is_ok()
        );
        let m = check(
            &assertion(
                r#"json = "$list"
sorted_by = "created_at"
order = "asc""#,
            ),
            &r,
            &v,
        )
        .unwrap_err();
        assert!(
            m.actual
                .starts_with("item 0 has created_at 2026-11-25T10:00:00+02:00"),
            "{}",
            m.actual
        );
    }

    #[test]
    fn json_problems_say_why() {
        let v = Vars::default();
        let m = check(
            &assertion(
                r#"json = "id"
exists = true"#,
            ),
            &reply(200, &[], "<html>"),
            &v,
        )
        .unwrap_err();
        assert!(
            m.actual.starts_with("the body is not valid JSON"),
            "{}",
            m.actual
        );
        let mut big = reply(200, &[], "{}");
        big.truncated = true;
        let m = check(
            &assertion(
                r#"json = "id"
exists = true"#,
            ),
            &big,
            &v,
        )
        .unwrap_err();
        assert!(m.actual.contains("larger than 1 MiB"), "{}", m.actual);
    }

    #[test]
    fn object_mismatches_come_with_a_diff() {
        let r = reply(200, &[], r#"{"a": 1, "b": 2}"#);
        let m = check(
            &assertion(
                r#"json = "$"
equals = { a = 1, b = 3 }"#,
            ),
            &r,
            &Vars::default(),
        )
        .unwrap_err();
        let diff = m.diff.unwrap();
        assert!(
            diff.contains("-  \"b\": 3") && diff.contains("+  \"b\": 2"),
            "{diff}"
        );
    }

    #[test]
    fn any_of_holds_when_one_list_holds_and_names_the_nearest_miss() {
        let a = assertion(
            r#"any_of = [[{ status = [401] }], [{ status = [400] }, { json = "error", equals = "invalid_grant" }]]
describe = "401, or 400 invalid_grant"
instead = { 400 = "a 400 must say invalid_grant" }"#,
        );
        let v = Vars::default();
        assert!(check(&a, &reply(401, &[], ""), &v).is_ok());
        assert!(check(&a, &reply(400, &[], r#"{"error":"invalid_grant"}"#), &v).is_ok());
        let m = check(&a, &reply(400, &[], r#"{"detail":"bad"}"#), &v).unwrap_err();
        assert_eq!(m.expected, "401, or 400 invalid_grant");
        assert!(
            m.actual.starts_with("status 400; no `error`"),
            "{}",
            m.actual
        );
        assert_eq!(m.fix.as_deref(), Some("a 400 must say invalid_grant"));
        let m = check(&a, &reply(500, &[], ""), &v).unwrap_err();
        assert_eq!(m.actual, "status 500");
        assert!(
            m.fix.unwrap().starts_with("answer 401"),
            "the status advice stays"
        );
    }

    #[test]
    fn a_status_note_replaces_the_advice_for_its_status_only() {
        let a = assertion(
            r#"status = [422]
instead = { 400 = "400 is a valid style; this contract asks 422" }"#,
        );
        let v = Vars::default();
        let m = check(&a, &reply(400, &[], ""), &v).unwrap_err();
        assert_eq!(
            m.fix.as_deref(),
            Some("400 is a valid style; this contract asks 422")
        );
        let m = check(&a, &reply(500, &[], ""), &v).unwrap_err();
        assert!(m.fix.unwrap().starts_with("answer 422"));
    }

    #[test]
    fn names_field_looks_past_a_copy_of_the_request() {
        let a = assertion(
            r#"body = "text"
names_field = "email""#,
        );
        let mut sent = Outgoing::new(axum::http::Method::POST, "http://h/users".into());
        sent.body = Some(br#"{"email":"not-an-address","name":"Pat"}"#.to_vec());
        let v = Vars::default();
        let echo = reply(
            422,
            &[("content-type", "application/json")],
            r#"{"error":"invalid input","received":{"email":"not-an-address","name":"Pat"}}"#,
        );
        let m = check_reply(&a, Some(&sent), &echo, &v).unwrap_err();
        assert_eq!(m.expected, "a body that names the field email");
        assert!(
            m.actual
                .ends_with("(it mentions email only where it repeats what the request sent)")
        );
        let named = reply(
            422,
            &[("content-type", "application/json")],
            r#"{"detail":[{"loc":["body","email"],"input":"not-an-address"}]}"#,
        );
        assert!(check_reply(&a, Some(&sent), &named, &v).is_ok());
    }

    #[test]
    fn body_text_and_emptiness() {
        let v = Vars::default();
        let r = reply(422, &[], r#"{"detail":[{"loc":["body","email"]}]}"#);
        assert!(
            check(
                &assertion(
                    r#"body = "text"
contains = "EMAIL""#
                ),
                &r,
                &v
            )
            .is_ok()
        );
        let m = check(&assertion(r#"body = "empty""#), &r, &v).unwrap_err();
        assert!(m.actual.starts_with("a body of"));
    }
}
