//! The challenge format: `challenge.toml`, the checks that prove a learner's server meets a
//! lesson's contract.
//!
//! A challenge is an ordered list of checks. Each check tests one lifecycle stage, is a `must`
//! (fails the challenge) or a `should` (advice, printed as a warning with its reason), points
//! at the lesson section that teaches it, and is either a list of request steps with
//! assertions or one named built-in probe for behaviour that steps cannot express.
//!
//! ```toml
//! format_version = 1
//! id = "rest-crud"
//! title = "CRUD on /tasks"
//! summary = "Create, read, update and delete a task."
//!
//! [[checks]]
//! name = "create returns 201 with an id"
//! stage = "logic"
//! hint = "rest-resources#crud"
//!
//! [[checks.steps]]
//! method = "POST"
//! path = "/tasks"
//! json = { title = "reqlab {{run}}", done = false }
//! capture = { task_id = "json:id" }
//! expect = [ { status = [201] }, { json = "id", exists = true } ]
//! ```

use super::error::ContentError;
use super::lesson::slug_problem;
use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use toml::Spanned;

/// The version of the challenge format this build reads.
pub const CHALLENGE_FORMAT_VERSION: u32 = 1;

/// A parsed, checked challenge.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// Format version; must equal [`CHALLENGE_FORMAT_VERSION`].
    pub format_version: u32,
    /// Stable identifier used on the command line (`reqlab check rest-crud`).
    pub id: String,
    /// Title.
    pub title: String,
    /// One sentence: what the learner's server must do.
    pub summary: String,
    /// The checks, run in order; later checks may use values captured by earlier ones.
    pub checks: Vec<Check>,
    /// The lesson that teaches it (filled in by the loader; not written in the file).
    #[serde(skip_deserializing, default)]
    pub lesson: Option<String>,
}

/// One check: a claim about the learner's server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// What the check proves, phrased as the contract clause.
    pub name: String,
    /// The lifecycle stage it tests; a failure names it.
    pub stage: Stage,
    /// `must` fails the challenge; `should` only warns.
    #[serde(default)]
    pub severity: Severity,
    /// Where to read up: `lesson-id#section-id`, or a sentence.
    pub hint: String,
    /// Why it matters (printed with warnings, e.g. "RFC 9110: an ETag is a quoted string").
    pub why: Option<String>,
    /// Request steps, run in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// A built-in probe, for behaviour steps cannot express.
    pub probe: Option<Probe>,
}

/// How much a check counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Failing it fails the challenge.
    #[default]
    Must,
    /// Failing it prints a warning with the reason.
    Should,
}

/// One request and what its response must look like.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// HTTP method.
    pub method: String,
    /// Path and query; `{{name}}` inserts a variable.
    pub path: String,
    /// Request headers (values are templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (strings inside are templates).
    pub json: Option<serde_json::Value>,
    /// A form body (`application/x-www-form-urlencoded`; values are templates).
    pub form: Option<BTreeMap<String, String>>,
    /// A raw body (a template).
    pub body: Option<String>,
    /// Follow redirects for this step (off by default, so a redirect can be checked).
    #[serde(default)]
    pub follow_redirects: bool,
    /// Values to remember: `name = "json:path" | "header:Name" | "cookie:name"`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Assertions on the response, all of which must hold.
    #[serde(default)]
    pub expect: Vec<Assertion>,
}

/// One assertion. Exactly one subject (`status`, `header`, `json` or `body`) and the
/// predicates that suit it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// The status is one of these.
    pub status: Option<Vec<u16>>,
    /// Subject: a response header (name, case-insensitive).
    pub header: Option<String>,
    /// Subject: a JSON path into the body (`id`, `items[0].id`, `$list` for "the list").
    pub json: Option<String>,
    /// Subject: the body as text.
    pub body: Option<BodySubject>,

    /// The subject exists (true) or does not (false).
    pub exists: Option<bool>,
    /// The subject equals this (templates allowed in strings; header comparison ignores case).
    pub equals: Option<serde_json::Value>,
    /// The subject equals none of these (an absent header passes).
    pub not_in: Option<Vec<serde_json::Value>>,
    /// The subject (as text) matches this regular expression.
    pub matches: Option<String>,
    /// Header only: the comma-separated list contains this token (case-insensitive).
    pub lists: Option<String>,
    /// JSON only: the value's type is one of these (`string`, `number`, `integer`, `boolean`,
    /// `array`, `object`, `null`).
    #[serde(rename = "type")]
    pub json_type: Option<Vec<String>>,
    /// JSON only: the array or string has at least this many elements.
    pub min_length: Option<usize>,
    /// JSON only: the array or string has at most this many elements.
    pub max_length: Option<usize>,
    /// JSON only: the array of objects is ordered by this field (timestamps compare as times).
    pub sorted_by: Option<String>,
    /// With `sorted_by`: `asc` or `desc`.
    pub order: Option<SortOrder>,
    /// JSON only: in the array of objects, the items whose `by` field has one of these values
    /// appear in this relative order (other items may sit between them).
    pub in_order: Option<Vec<String>>,
    /// With `in_order`: the field that identifies an item (e.g. `id`).
    pub by: Option<String>,
    /// Body only: the text contains this (case-insensitive).
    pub contains: Option<String>,
    /// Body only: the text does not contain this (case-insensitive).
    pub not_contains: Option<String>,
}

/// `body = "text"` or `body = "empty"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodySubject {
    /// The body decoded as text.
    Text,
    /// The body must have no bytes.
    Empty,
}

/// Sort direction for `sorted_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// A built-in probe and its settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Probe {
    /// Creates items, then walks `limit`/`offset` pages and proves they are disjoint and
    /// consecutive, with no gaps, against the full list.
    OffsetPages {
        /// Collection path, e.g. `/tasks`.
        collection: String,
        /// JSON body that creates one item (templates; `{{n}}` is the item's number).
        create: serde_json::Value,
        /// Items to create first.
        count: usize,
        /// Page size.
        limit: usize,
    },
    /// Creates items, then follows `next_cursor` from the first page to the end, creating a new
    /// item between page fetches; every item that existed must be seen exactly once.
    CursorWalk {
        /// Collection path, e.g. `/tasks`.
        collection: String,
        /// JSON body that creates one item (templates; `{{n}}` is the item's number).
        create: serde_json::Value,
        /// Items to create first.
        count: usize,
        /// Page size.
        limit: usize,
    },
    /// Takes a token captured earlier, forges it twice (payload altered with the signature
    /// kept; an unsigned `alg: none` token with the same claims), and expects each forgery
    /// to be refused.
    JwtForgery {
        /// The variable holding the real token.
        token: String,
        /// A path that requires the token.
        path: String,
        /// Statuses a refusal may use.
        refused: Vec<u16>,
    },
    /// Decodes a token captured earlier (without verifying it) and expects these claims in
    /// its payload.
    JwtClaims {
        /// The variable holding the token.
        token: String,
        /// Claim names that must be present.
        claims: Vec<String>,
    },
}

impl Probe {
    /// The probe's name as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::OffsetPages { .. } => "offset-pages",
            Probe::CursorWalk { .. } => "cursor-walk",
            Probe::JwtForgery { .. } => "jwt-forgery",
            Probe::JwtClaims { .. } => "jwt-claims",
        }
    }
}

/// Where a challenge file came from, for error messages.
pub struct ChallengeSource<'a> {
    /// Display path.
    pub path: &'a str,
    /// File text.
    pub text: &'a str,
}

/// The file as written, with spans for error positions (other keys are read by [`Challenge`]).
#[derive(Deserialize)]
struct RawChallenge {
    format_version: Spanned<u32>,
    id: Spanned<String>,
    #[serde(default)]
    checks: Vec<Spanned<toml::Value>>,
}

impl Challenge {
    /// Parses and checks a challenge file, reporting every problem with its line.
    pub fn parse(src: ChallengeSource<'_>) -> Result<Challenge, Vec<ContentError>> {
        let at = |offset: usize, msg: String| ContentError::at(src.path, src.text, offset, msg);
        let raw: RawChallenge = toml::from_str(src.text)
            .map_err(|e| vec![ContentError::from_toml(src.path, src.text, &e)])?;
        let mut errors = Vec::new();
        if *raw.format_version.get_ref() != CHALLENGE_FORMAT_VERSION {
            errors.push(at(
                raw.format_version.span().start,
                format!(
                    "format_version {} is not supported; this reqlab reads version {CHALLENGE_FORMAT_VERSION}",
                    raw.format_version.get_ref()
                ),
            ));
        }
        if let Some(problem) = slug_problem(raw.id.get_ref()) {
            errors.push(at(raw.id.span().start, format!("id {problem}")));
        }
        let challenge: Challenge = match toml::from_str(src.text) {
            Ok(c) => c,
            Err(e) => {
                errors.push(ContentError::from_toml(src.path, src.text, &e));
                return Err(errors);
            }
        };
        if challenge.checks.is_empty() {
            errors.push(ContentError::file(
                src.path,
                "a challenge needs at least one [[checks]] entry",
            ));
        }
        let mut names = HashSet::new();
        let mut captured: HashSet<String> = HashSet::new();
        for (check, raw_check) in challenge.checks.iter().zip(&raw.checks) {
            let offset = raw_check.span().start;
            if !names.insert(check.name.as_str()) {
                errors.push(at(offset, format!("check `{}` is named twice", check.name)));
            }
            for problem in check_problems(check, &mut captured) {
                errors.push(at(offset, format!("check `{}`: {problem}", check.name)));
            }
        }
        if errors.is_empty() {
            Ok(challenge)
        } else {
            Err(errors)
        }
    }
}

/// Everything wrong with one check. `captured` accumulates variables captured so far, so a
/// step can only use values an earlier step (or check) captures.
fn check_problems(check: &Check, captured: &mut HashSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    match (&check.probe, check.steps.is_empty()) {
        (None, true) => problems.push("give it [[checks.steps]] or a probe".into()),
        (Some(_), false) => problems.push("use either steps or a probe, not both".into()),
        _ => {}
    }
    for (i, step) in check.steps.iter().enumerate() {
        let n = i + 1;
        for p in step_problems(step, captured) {
            problems.push(format!("step {n}: {p}"));
        }
        for (name, source) in &step.capture {
            if let Some(p) = capture_problem(source) {
                problems.push(format!("step {n}: capture `{name}`: {p}"));
            }
            captured.insert(name.clone());
        }
    }
    if let Some(probe) = &check.probe {
        match probe {
            Probe::OffsetPages {
                limit,
                count,
                collection,
                ..
            }
            | Probe::CursorWalk {
                limit,
                count,
                collection,
                ..
            } => {
                if *limit < 2 {
                    problems.push(format!("probe {}: limit must be at least 2", probe.kind()));
                }
                if *count <= *limit {
                    problems.push(format!(
                        "probe {}: count must exceed limit so there are several pages",
                        probe.kind()
                    ));
                }
                if !collection.starts_with('/') {
                    problems.push(format!(
                        "probe {}: collection must start with /",
                        probe.kind()
                    ));
                }
            }
            Probe::JwtForgery {
                token,
                path,
                refused,
            } => {
                if !captured.contains(token) {
                    problems.push(format!(
                        "probe jwt-forgery: token `{token}` is not captured by an earlier step"
                    ));
                }
                if !path.starts_with('/') {
                    problems.push("probe jwt-forgery: path must start with /".into());
                }
                if refused.is_empty() {
                    problems.push("probe jwt-forgery: refused needs at least one status".into());
                }
            }
            Probe::JwtClaims { token, claims } => {
                if !captured.contains(token) {
                    problems.push(format!(
                        "probe jwt-claims: token `{token}` is not captured by an earlier step"
                    ));
                }
                if claims.is_empty() {
                    problems.push("probe jwt-claims: list at least one claim".into());
                }
            }
        }
    }
    problems
}

fn step_problems(step: &Step, captured: &HashSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    if axum::http::Method::from_bytes(step.method.as_bytes()).is_err()
        || step.method.to_uppercase() != step.method
    {
        problems.push(format!(
            "method `{}` is not an upper-case HTTP method",
            step.method
        ));
    }
    if !step.path.starts_with('/') {
        problems.push(format!("path `{}` must start with /", step.path));
    }
    let bodies = [
        step.json.is_some(),
        step.form.is_some(),
        step.body.is_some(),
    ];
    if bodies.iter().filter(|b| **b).count() > 1 {
        problems.push("set at most one of json, form, body".into());
    }
    if step.expect.is_empty() {
        problems.push("needs at least one expectation in `expect`".into());
    }
    let mut texts: Vec<&str> = vec![&step.path];
    texts.extend(step.headers.values().map(String::as_str));
    if let Some(body) = &step.body {
        texts.push(body);
    }
    if let Some(form) = &step.form {
        texts.extend(form.values().map(String::as_str));
    }
    let json_strings = step.json.iter().flat_map(json_strings).collect::<Vec<_>>();
    texts.extend(json_strings.iter().map(String::as_str));
    for a in &step.expect {
        if let Some(serde_json::Value::String(s)) = &a.equals {
            texts.push(s);
        }
    }
    let mut expect_strings: Vec<String> = step
        .expect
        .iter()
        .flat_map(|a| a.not_in.iter().flatten())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    expect_strings.extend(
        step.expect
            .iter()
            .flat_map(|a| a.in_order.iter().flatten())
            .cloned(),
    );
    texts.extend(expect_strings.iter().map(String::as_str));
    for text in texts {
        for var in crate::check::template::variables(text) {
            if !crate::check::template::BUILT_INS.contains(&var.as_str())
                && !captured.contains(&var)
            {
                problems.push(format!(
                    "uses {{{{{var}}}}}, which no earlier step captures (built-ins: {})",
                    crate::check::template::BUILT_INS.join(", ")
                ));
            }
        }
    }
    for (i, a) in step.expect.iter().enumerate() {
        if let Some(p) = assertion_problem(a) {
            problems.push(format!("expectation {}: {p}", i + 1));
        }
    }
    problems
}

fn json_strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items.iter().flat_map(json_strings).collect(),
        serde_json::Value::Object(map) => map.values().flat_map(json_strings).collect(),
        _ => Vec::new(),
    }
}

fn capture_problem(source: &str) -> Option<String> {
    match source.split_once(':') {
        Some(("json", path)) => crate::check::jsonpath::parse(path).err(),
        Some(("header", name)) if axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok() => {
            None
        }
        Some(("cookie", name)) if !name.is_empty() => None,
        _ => Some(format!(
            "`{source}` must be json:<path>, header:<Name> or cookie:<name>"
        )),
    }
}

/// Why an assertion is malformed, if it is.
fn assertion_problem(a: &Assertion) -> Option<String> {
    let subjects = [
        a.status.is_some(),
        a.header.is_some(),
        a.json.is_some(),
        a.body.is_some(),
    ];
    if subjects.iter().filter(|s| **s).count() != 1 {
        return Some("name exactly one subject: status, header, json or body".into());
    }
    let predicates: Vec<&str> = [
        ("exists", a.exists.is_some()),
        ("equals", a.equals.is_some()),
        ("not_in", a.not_in.is_some()),
        ("matches", a.matches.is_some()),
        ("lists", a.lists.is_some()),
        ("type", a.json_type.is_some()),
        ("min_length", a.min_length.is_some()),
        ("max_length", a.max_length.is_some()),
        ("sorted_by", a.sorted_by.is_some()),
        ("in_order", a.in_order.is_some()),
        ("contains", a.contains.is_some()),
        ("not_contains", a.not_contains.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name)
    .collect();
    let allowed: &[&str] = if a.status.is_some() {
        &[]
    } else if a.header.is_some() {
        &["exists", "equals", "not_in", "matches", "lists"]
    } else if a.json.is_some() {
        &[
            "exists",
            "equals",
            "not_in",
            "matches",
            "type",
            "min_length",
            "max_length",
            "sorted_by",
            "in_order",
        ]
    } else if a.body == Some(BodySubject::Empty) {
        &[]
    } else {
        &["contains", "not_contains", "matches"]
    };
    if let Some(bad) = predicates.iter().find(|p| !allowed.contains(p)) {
        return Some(format!("`{bad}` does not apply to this subject"));
    }
    if predicates.is_empty() && a.status.is_none() && a.body != Some(BodySubject::Empty) {
        return Some("say what must hold (exists, equals, matches, …)".into());
    }
    if let Some(status) = &a.status {
        if status.is_empty() || status.iter().any(|s| !(100..=599).contains(s)) {
            return Some("status must list codes between 100 and 599".into());
        }
    }
    if let Some(pattern) = &a.matches {
        if let Err(e) = regex::Regex::new(pattern) {
            return Some(format!("`matches` is not a valid regular expression: {e}"));
        }
    }
    if let Some(path) = &a.json {
        if let Err(e) = crate::check::jsonpath::parse(path) {
            return Some(e);
        }
    }
    if let Some(types) = &a.json_type {
        let known = [
            "string", "number", "integer", "boolean", "array", "object", "null",
        ];
        if let Some(t) = types.iter().find(|t| !known.contains(&t.as_str())) {
            return Some(format!("type `{t}` is not one of {}", known.join(", ")));
        }
    }
    if a.sorted_by.is_some() != a.order.is_some() {
        return Some("`sorted_by` and `order` go together".into());
    }
    if a.in_order.is_some() != a.by.is_some() {
        return Some("`in_order` and `by` go together".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Challenge, Vec<ContentError>> {
        Challenge::parse(ChallengeSource {
            path: "challenge.toml",
            text,
        })
    }

    const OK: &str = r#"
format_version = 1
id = "demo"
title = "Demo"
summary = "A demo."

[[checks]]
name = "create"
stage = "logic"
hint = "demo#one"

[[checks.steps]]
method = "POST"
path = "/tasks"
json = { title = "t {{run}}" }
capture = { id = "json:id" }
expect = [{ status = [201] }, { json = "id", exists = true }]

[[checks]]
name = "read"
stage = "data"
severity = "should"
hint = "demo#one"

[[checks.steps]]
method = "GET"
path = "/tasks/{{id}}"
expect = [{ status = [200] }, { header = "Content-Type", matches = "json" }]
"#;

    #[test]
    fn a_well_formed_challenge_parses() {
        let c = parse(OK).unwrap();
        assert_eq!(c.checks.len(), 2);
        assert_eq!(c.checks[1].severity, Severity::Should);
    }

    #[test]
    fn an_unknown_variable_is_reported_at_its_check() {
        let bad = OK.replace("/tasks/{{id}}", "/tasks/{{task}}");
        let errs = parse(&bad).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let msg = errs[0].to_string();
        assert!(
            msg.starts_with("challenge.toml:19:1: check `read`: step 1: uses {{task}}"),
            "{msg}"
        );
    }

    #[test]
    fn assertions_need_one_subject_and_fitting_predicates() {
        let bad = OK.replace(
            r#"{ header = "Content-Type", matches = "json" }"#,
            r#"{ header = "Content-Type", sorted_by = "x", order = "asc" }"#,
        );
        let msg = parse(&bad).unwrap_err()[0].to_string();
        assert!(msg.contains("`sorted_by` does not apply"), "{msg}");
        let bad = OK.replace(
            r#"{ status = [201] }"#,
            r#"{ status = [201], json = "id" }"#,
        );
        let msg = parse(&bad).unwrap_err()[0].to_string();
        assert!(msg.contains("exactly one subject"), "{msg}");
    }

    #[test]
    fn typos_in_keys_name_the_line() {
        let bad = OK.replace("severity = \"should\"", "severty = \"should\"");
        let msg = parse(&bad).unwrap_err()[0].to_string();
        assert!(msg.contains("severty"), "{msg}");
        assert!(msg.starts_with("challenge.toml:"), "{msg}");
    }
}
