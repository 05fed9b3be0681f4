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
//! version = 2
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
//!
//! `version` (optional, 1 when left out) goes up whenever a check becomes stricter: a pass of
//! an earlier version is shown as one, to be run again. A step with `cookies = false` is sent
//! without the cookies earlier responses set (to test what a request's own credentials do).
//!
//! A `matches` pattern carries `describe = "…"`: what it accepts, in words a learner reads
//! instead of the pattern (loading accepts one without; `reqlab dev check` does not). Capture
//! names become shell variables in reproductions, so they are lower-case words.

use super::assertion::{Assertion, RawAssertion, SortOrder};
pub use super::capture::Capture;
use super::error::ContentError;
use super::lesson::slug_problem;
use super::request::{Body, Request};
use super::template;
use crate::stage::Stage;
use axum::http::Method;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use toml::Spanned;

/// The version of the challenge format this build reads.
pub const CHALLENGE_FORMAT_VERSION: u32 = 1;

/// A parsed, checked challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// Stable identifier used on the command line (`reqlab check rest-crud`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Goes up whenever a check becomes stricter, so an earlier pass no longer counts as one.
    pub version: u32,
    /// One sentence: what the learner's server must do.
    pub summary: String,
    /// The checks, run in order; later checks may use values captured by earlier ones.
    pub checks: Vec<Check>,
    /// The lesson that teaches it (filled in by the loader; not written in the file).
    pub lesson: Option<String>,
    /// Problems that do not stop the file loading but that `reqlab dev check` refuses (a
    /// `matches` pattern without a `describe` in words), with file and line.
    pub authoring_problems: Vec<ContentError>,
}

/// One check: a claim about the learner's server.
#[derive(Debug, Clone)]
pub struct Check {
    /// What the check proves, phrased as the contract clause.
    pub name: String,
    /// The lifecycle stage it tests; a failure names it.
    pub stage: Stage,
    /// `must` fails the challenge; `should` only warns.
    pub severity: Severity,
    /// Where to read up: `lesson-id#section-id`, or a sentence.
    pub hint: String,
    /// Why it matters (printed with warnings, e.g. "RFC 9110: an ETag is a quoted string").
    pub why: Option<String>,
    /// How the check finds out.
    pub procedure: Procedure,
}

/// How a check finds out whether the server holds to the contract.
#[derive(Debug, Clone)]
pub enum Procedure {
    /// Request steps, run in order.
    Steps(Vec<Step>),
    /// A built-in probe, for behaviour steps cannot express.
    Probe(Probe),
}

/// How much a check counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Failing it fails the challenge.
    #[default]
    Must,
    /// Failing it prints a warning with the reason.
    Should,
}

/// One request and what its response must look like.
#[derive(Debug, Clone)]
pub struct Step {
    /// The request (its strings are templates).
    pub request: Request,
    /// Values to remember from the response, by variable name.
    pub capture: Vec<(String, Capture)>,
    /// Assertions on the response, all of which must hold.
    pub expect: Vec<Assertion>,
    /// The variables the request and its assertions use (captured earlier, or built in).
    pub uses: Vec<String>,
    /// True when the request carries the cookies earlier responses set (the default).
    pub cookies: bool,
}

/// A built-in probe and its settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Probe {
    /// Creates items, reads the whole list in pages of 100, proves every created item is in
    /// it exactly once, then walks `limit`/`offset` pages across the created items and proves
    /// each is the matching slice of the list: disjoint, consecutive, no gaps.
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
    /// item between page fetches (and with `remove`, deleting one it has already seen);
    /// every item that existed must be seen exactly once.
    CursorWalk {
        /// Collection path, e.g. `/tasks`.
        collection: String,
        /// JSON body that creates one item (templates; `{{n}}` is the item's number).
        create: serde_json::Value,
        /// Items to create first.
        count: usize,
        /// Page size.
        limit: usize,
        /// Delete (`DELETE <collection>/<id>`) a created item already seen, mid-walk.
        #[serde(default)]
        remove: bool,
    },
    /// Sends `count` creating requests at the same moment (`{{n}}` numbers them, so only
    /// what must be unique is the same): exactly one may succeed, every other must be
    /// refused — what a UNIQUE constraint guarantees and a check-then-insert does not.
    ConcurrentCreate {
        /// Where to send them, e.g. `/users`.
        path: String,
        /// The JSON body (templates).
        json: serde_json::Value,
        /// How many at once.
        count: usize,
        /// Statuses that mean "created".
        created: Vec<u16>,
        /// Statuses that mean "refused as a duplicate".
        refused: Vec<u16>,
    },
    /// Lists a collection in each of `listings`' orders, reading pages (`next_cursor`, a
    /// `Link: rel="next"` header, or `limit`/`offset`) until every item captured in `ids`
    /// is found: all it read must be ordered by `by`, and those items must appear in
    /// creation order (asc) or its reverse (desc), wherever they fall.
    ListedInOrder {
        /// Collection path, e.g. `/posts`.
        collection: String,
        /// Variables holding ids of items created earlier, oldest first.
        ids: Vec<String>,
        /// The field the list is ordered by.
        by: String,
        /// The listings to read: a query and the order it must give.
        listings: Vec<Listing>,
        /// Fields each of those items must carry as listed.
        #[serde(default)]
        fields: Vec<String>,
    },
    /// Sends `If-None-Match` with the tag captured earlier in the other forms RFC 9110
    /// §13.1.2 allows — in a list with another tag, and in its weak form `W/"…"` — and
    /// expects 304 for each.
    EtagForms {
        /// The path, e.g. `/api/config`.
        path: String,
        /// The variable holding the ETag.
        etag: String,
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
    /// Reads the server's OpenAPI document and expects an operation's JSON request body to
    /// list `required` fields as required and give each `bounded` text field a minLength of
    /// at least 1 and a maxLength.
    OpenapiRequest {
        /// Where the document is served, e.g. `/openapi.json`.
        document: String,
        /// The operation, as `METHOD /path/{template}` (templates match by shape).
        operation: String,
        /// Fields the body schema must list as required.
        #[serde(default)]
        required: Vec<String>,
        /// Text fields whose length the schema must bound.
        #[serde(default)]
        bounded: Vec<String>,
    },
    /// Reads the server's OpenAPI document and expects the operation to document each of
    /// `statuses` (exactly, or by its class such as `4XX`).
    OpenapiResponses {
        /// Where the document is served.
        document: String,
        /// The operation, as `METHOD /path/{template}`.
        operation: String,
        /// Statuses it must document.
        statuses: Vec<u16>,
    },
    /// Asks for a page of `small` and of `large` items (`?limit=`) and reads the query count
    /// each answer reports (`Server-Timing: db;desc="2 queries"`): the larger page may not
    /// take more queries (one per item is the N+1 pattern).
    QueryCount {
        /// The list, e.g. `/books`.
        path: String,
        /// The small page's size.
        small: u32,
        /// The large page's size.
        large: u32,
    },
    /// Sends `count` requests to `path` (each waiting `ms` on the server) at the same moment:
    /// all must succeed, take at least `ms`, and together less than half of `count × ms`.
    OverlappingWaits {
        /// The waiting endpoint with its wait, e.g. `/work/io?ms=300`.
        path: String,
        /// How many requests to send together.
        count: u32,
        /// How long each one waits, in milliseconds.
        ms: u32,
    },
    /// Creates an item in `collection`, reads it back by its `id`, and sends an empty create:
    /// each answer's status must be documented, and its JSON body must fit the schema the
    /// document gives for that operation and status.
    OpenapiConformance {
        /// Where the document is served.
        document: String,
        /// Collection path, e.g. `/tasks`.
        collection: String,
        /// JSON body that creates one item (templates).
        create: serde_json::Value,
    },
}

/// One listing a `listed-in-order` probe reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// The query string, without `?` (may be empty: the default order).
    pub query: String,
    /// The order it must give.
    pub order: SortOrder,
}

impl Probe {
    /// The probe's name as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::OffsetPages { .. } => "offset-pages",
            Probe::CursorWalk { .. } => "cursor-walk",
            Probe::JwtForgery { .. } => "jwt-forgery",
            Probe::JwtClaims { .. } => "jwt-claims",
            Probe::ConcurrentCreate { .. } => "concurrent-create",
            Probe::ListedInOrder { .. } => "listed-in-order",
            Probe::EtagForms { .. } => "etag-forms",
            Probe::OpenapiRequest { .. } => "openapi-request",
            Probe::OpenapiResponses { .. } => "openapi-responses",
            Probe::OpenapiConformance { .. } => "openapi-conformance",
            Probe::QueryCount { .. } => "query-count",
            Probe::OverlappingWaits { .. } => "overlapping-waits",
        }
    }

    /// What is wrong with the probe's settings; `captured` holds the variables captured so far.
    fn problems(&self, captured: &HashSet<String>) -> Vec<String> {
        let mut problems = Vec::new();
        match self {
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
                    problems.push(format!("probe {}: limit must be at least 2", self.kind()));
                }
                if *count <= *limit {
                    problems.push(format!(
                        "probe {}: count must exceed limit so there are several pages",
                        self.kind()
                    ));
                }
                if !collection.starts_with('/') {
                    problems.push(format!(
                        "probe {}: collection must start with /",
                        self.kind()
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
            Probe::ConcurrentCreate {
                path,
                count,
                created,
                refused,
                ..
            } => {
                if !path.starts_with('/') {
                    problems.push("probe concurrent-create: path must start with /".into());
                }
                if !(2..=32).contains(count) {
                    problems.push("probe concurrent-create: count must be 2 to 32".into());
                }
                if created.is_empty() || refused.is_empty() {
                    problems.push(
                        "probe concurrent-create: created and refused each need a status".into(),
                    );
                }
            }
            Probe::ListedInOrder {
                collection,
                ids,
                listings,
                ..
            } => {
                if !collection.starts_with('/') {
                    problems.push("probe listed-in-order: collection must start with /".into());
                }
                if ids.len() < 2 {
                    problems.push("probe listed-in-order: ids needs at least two items".into());
                }
                for id in ids.iter().filter(|id| !captured.contains(*id)) {
                    problems.push(format!(
                        "probe listed-in-order: `{id}` is not captured by an earlier step"
                    ));
                }
                if listings.is_empty() {
                    problems.push("probe listed-in-order: list at least one listing".into());
                }
            }
            Probe::EtagForms { path, etag } => {
                if !path.starts_with('/') {
                    problems.push("probe etag-forms: path must start with /".into());
                }
                if !captured.contains(etag) {
                    problems.push(format!(
                        "probe etag-forms: etag `{etag}` is not captured by an earlier step"
                    ));
                }
            }
            Probe::OpenapiRequest {
                document,
                operation,
                required,
                bounded,
            } => {
                document_problems(self.kind(), document, &mut problems);
                operation_problems(self.kind(), operation, &mut problems);
                if required.is_empty() && bounded.is_empty() {
                    problems.push(
                        "probe openapi-request: list fields under required or bounded".into(),
                    );
                }
            }
            Probe::OpenapiResponses {
                document,
                operation,
                statuses,
            } => {
                document_problems(self.kind(), document, &mut problems);
                operation_problems(self.kind(), operation, &mut problems);
                if statuses.is_empty() || statuses.iter().any(|s| !(100..=599).contains(s)) {
                    problems.push(
                        "probe openapi-responses: statuses needs status codes from 100 to 599"
                            .into(),
                    );
                }
            }
            Probe::QueryCount { path, small, large } => {
                if !path.starts_with('/') {
                    problems.push("probe query-count: path must start with /".into());
                }
                if *small < 1 || large <= small {
                    problems.push(
                        "probe query-count: small must be at least 1 and large bigger than small"
                            .into(),
                    );
                }
            }
            Probe::OverlappingWaits { path, count, ms } => {
                if !path.starts_with('/') {
                    problems.push("probe overlapping-waits: path must start with /".into());
                }
                // With 2, "at least ms" and "under half of 2 × ms" leave no time between them.
                if !(3..=64).contains(count) {
                    problems.push("probe overlapping-waits: count must be from 3 to 64".into());
                }
                if !(10..=2000).contains(ms) {
                    problems.push("probe overlapping-waits: ms must be from 10 to 2000".into());
                }
            }
            Probe::OpenapiConformance {
                document,
                collection,
                create,
            } => {
                document_problems(self.kind(), document, &mut problems);
                if !collection.starts_with('/') {
                    problems.push("probe openapi-conformance: collection must start with /".into());
                }
                if !create.is_object() {
                    problems.push("probe openapi-conformance: create must be a JSON object".into());
                }
            }
        }
        problems
    }
}

/// A probe's `document` must be a path on the server.
fn document_problems(kind: &str, document: &str, problems: &mut Vec<String>) {
    if !document.starts_with('/') {
        problems.push(format!("probe {kind}: document must start with /"));
    }
}

/// A probe's `operation` is `METHOD /path`.
fn operation_problems(kind: &str, operation: &str, problems: &mut Vec<String>) {
    let well_formed = operation.split_once(' ').is_some_and(|(method, path)| {
        !method.is_empty()
            && method.bytes().all(|b| b.is_ascii_uppercase())
            && path.starts_with('/')
    });
    if !well_formed {
        problems.push(format!(
            "probe {kind}: operation must be a method and a path, such as \"POST /tasks\", not {operation:?}"
        ));
    }
}

/// Where a challenge file came from, for error messages.
pub struct ChallengeSource<'a> {
    /// Display path.
    pub path: &'a str,
    /// File text.
    pub text: &'a str,
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChallenge {
    format_version: Spanned<u32>,
    version: Option<Spanned<u32>>,
    id: Spanned<String>,
    title: String,
    summary: String,
    checks: Vec<Spanned<RawCheck>>,
}

/// A `[[checks]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: String,
    stage: Stage,
    #[serde(default)]
    severity: Severity,
    hint: String,
    why: Option<String>,
    #[serde(default)]
    steps: Vec<RawStep>,
    probe: Option<Probe>,
}

/// A `[[checks.steps]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    json: Option<serde_json::Value>,
    form: Option<BTreeMap<String, String>>,
    body: Option<String>,
    #[serde(default)]
    follow_redirects: bool,
    cookies: Option<bool>,
    #[serde(default)]
    capture: BTreeMap<String, String>,
    #[serde(default)]
    expect: Vec<Spanned<RawAssertion>>,
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
        if let Some(v) = &raw.version
            && *v.get_ref() == 0
        {
            errors.push(at(
                v.span().start,
                "version starts at 1 and goes up when a check becomes stricter".into(),
            ));
        }
        if let Some(problem) = slug_problem(raw.id.get_ref()) {
            errors.push(at(raw.id.span().start, format!("id {problem}")));
        }
        if raw.checks.is_empty() {
            errors.push(ContentError::file(
                src.path,
                "a challenge needs at least one [[checks]] entry",
            ));
        }
        let mut names = HashSet::new();
        let mut captured: HashSet<String> = HashSet::new();
        let mut checks = Vec::new();
        let mut authoring_problems = Vec::new();
        for raw_check in raw.checks {
            let offset = raw_check.span().start;
            let raw_check = raw_check.into_inner();
            for step in &raw_check.steps {
                for a in step
                    .expect
                    .iter()
                    .filter(|a| a.get_ref().lacks_description())
                {
                    authoring_problems.push(at(
                        a.span().start,
                        format!(
                            "check `{}`: a `matches` pattern needs `describe = \"…\"`: what it accepts, in words a learner reads instead of the pattern",
                            raw_check.name
                        ),
                    ));
                }
            }
            if !names.insert(raw_check.name.clone()) {
                errors.push(at(
                    offset,
                    format!("check `{}` is named twice", raw_check.name),
                ));
            }
            let name = raw_check.name.clone();
            match parse_check(raw_check, &mut captured) {
                Ok(check) => checks.push(check),
                Err(problems) => {
                    for problem in problems {
                        errors.push(at(offset, format!("check `{name}`: {problem}")));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Challenge {
            id: raw.id.into_inner(),
            title: raw.title,
            version: raw.version.map_or(1, Spanned::into_inner),
            summary: raw.summary,
            checks,
            lesson: None,
            authoring_problems,
        })
    }
}

/// The typed check, or everything wrong with it. `captured` accumulates the variables
/// captured so far, so a step can only use values an earlier step (or check) captures.
fn parse_check(raw: RawCheck, captured: &mut HashSet<String>) -> Result<Check, Vec<String>> {
    let mut problems = Vec::new();
    match (&raw.probe, raw.steps.is_empty()) {
        (None, true) => problems.push("give it [[checks.steps]] or a probe".into()),
        (Some(_), false) => problems.push("use either steps or a probe, not both".into()),
        _ => {}
    }
    let mut steps = Vec::new();
    for (i, raw_step) in raw.steps.into_iter().enumerate() {
        let n = i + 1;
        let capture_names: Vec<String> = raw_step.capture.keys().cloned().collect();
        match parse_step(raw_step, captured) {
            Ok(step) => steps.push(step),
            Err(step_problems) => {
                problems.extend(step_problems.into_iter().map(|p| format!("step {n}: {p}")))
            }
        }
        captured.extend(capture_names);
    }
    if let Some(probe) = &raw.probe {
        problems.extend(probe.problems(captured));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let procedure = match raw.probe {
        Some(probe) => Procedure::Probe(probe),
        None => Procedure::Steps(steps),
    };
    Ok(Check {
        name: raw.name,
        stage: raw.stage,
        severity: raw.severity,
        hint: raw.hint,
        why: raw.why,
        procedure,
    })
}

/// The typed step, or everything wrong with it (captures are reported after the rest).
fn parse_step(raw: RawStep, captured: &HashSet<String>) -> Result<Step, Vec<String>> {
    let mut problems = Vec::new();
    let method = Method::from_bytes(raw.method.as_bytes())
        .ok()
        .filter(|_| raw.method.to_uppercase() == raw.method);
    if method.is_none() {
        problems.push(format!(
            "method `{}` is not an upper-case HTTP method",
            raw.method
        ));
    }
    if !raw.path.starts_with('/') {
        problems.push(format!("path `{}` must start with /", raw.path));
    }
    let bodies = [raw.json.is_some(), raw.form.is_some(), raw.body.is_some()];
    if bodies.iter().filter(|b| **b).count() > 1 {
        problems.push("set at most one of json, form, body".into());
    }
    if raw.expect.is_empty() {
        problems.push("needs at least one expectation in `expect`".into());
    }
    let mut texts: Vec<&str> = vec![&raw.path];
    texts.extend(raw.headers.values().map(String::as_str));
    if let Some(body) = &raw.body {
        texts.push(body);
    }
    if let Some(form) = &raw.form {
        texts.extend(form.values().map(String::as_str));
    }
    let json_strings = raw.json.iter().flat_map(json_strings).collect::<Vec<_>>();
    texts.extend(json_strings.iter().map(String::as_str));
    for a in &raw.expect {
        texts.extend(a.get_ref().templates());
    }
    let mut uses: Vec<String> = Vec::new();
    for text in texts {
        for var in template::variables(text) {
            if !template::BUILT_INS.contains(&var.as_str()) && !captured.contains(&var) {
                problems.push(format!(
                    "uses {{{{{var}}}}}, which no earlier step captures (built-ins: {})",
                    template::BUILT_INS.join(", ")
                ));
            }
            if !uses.contains(&var) {
                uses.push(var);
            }
        }
    }
    let mut expect = Vec::new();
    for (i, a) in raw.expect.into_iter().enumerate() {
        match a.into_inner().parse() {
            Ok(a) => expect.push(a),
            Err(p) => problems.push(format!("expectation {}: {p}", i + 1)),
        }
    }
    let mut capture = Vec::new();
    for (name, source) in raw.capture {
        let is_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !is_name {
            // Reproductions turn captures into shell variables.
            problems.push(format!(
                "capture `{name}`: name it with lower-case letters, digits and _ (it becomes a shell variable)"
            ));
        }
        match Capture::parse(&source) {
            Ok(c) => capture.push((name, c)),
            Err(p) => problems.push(format!("capture `{name}`: {p}")),
        }
    }
    let Some(method) = method.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    let cookies = raw.cookies.unwrap_or(true);
    let body = if let Some(json) = raw.json {
        Body::Json(json)
    } else if let Some(form) = raw.form {
        Body::Form(form.into_iter().collect())
    } else if let Some(text) = raw.body {
        Body::Raw { text, repeat: 1 }
    } else {
        Body::None
    };
    Ok(Step {
        request: Request {
            method,
            path: raw.path,
            headers: raw.headers.into_iter().collect(),
            body,
            follow_redirects: raw.follow_redirects,
        },
        capture,
        expect,
        uses,
        cookies,
    })
}

fn json_strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items.iter().flat_map(json_strings).collect(),
        serde_json::Value::Object(map) => map.values().flat_map(json_strings).collect(),
        _ => Vec::new(),
    }
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
    fn version_defaults_to_1_and_starts_there() {
        assert_eq!(parse(OK).unwrap().version, 1);
        let v3 = OK.replace("id = \"demo\"", "version = 3\nid = \"demo\"");
        assert_eq!(parse(&v3).unwrap().version, 3);
        let v0 = OK.replace("id = \"demo\"", "version = 0\nid = \"demo\"");
        let msg = parse(&v0).unwrap_err()[0].to_string();
        assert!(msg.starts_with("challenge.toml:3:"), "{msg}");
        assert!(msg.contains("version starts at 1"), "{msg}");
    }

    #[test]
    fn a_step_keeps_the_cookie_jar_unless_it_says_cookies_false() {
        let c = parse(OK).unwrap();
        let Procedure::Steps(steps) = &c.checks[1].procedure else {
            panic!("steps")
        };
        assert!(steps[0].cookies);
        let without = OK.replace(
            "path = \"/tasks/{{id}}\"",
            "path = \"/tasks/{{id}}\"\ncookies = false",
        );
        let c = parse(&without).unwrap();
        let Procedure::Steps(steps) = &c.checks[1].procedure else {
            panic!("steps")
        };
        assert!(!steps[0].cookies);
    }

    #[test]
    fn the_new_probes_check_their_settings() {
        let with_probe = |probe: &str| {
            format!(
                "{OK}\n[[checks]]\nname = \"probe\"\nstage = \"data\"\nhint = \"demo#one\"\nprobe = {probe}\n"
            )
        };
        let problems = |probe: &str| {
            parse(&with_probe(probe))
                .unwrap_err()
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let ok = with_probe(
            r#"{ kind = "listed-in-order", collection = "/tasks", ids = ["id", "id"], by = "created_at", listings = [{ query = "sort=asc", order = "asc" }] }"#,
        );
        assert!(parse(&ok).is_ok());
        let msg = problems(
            r#"{ kind = "listed-in-order", collection = "/tasks", ids = ["id", "other"], by = "created_at", listings = [] }"#,
        );
        assert!(msg.contains("`other` is not captured"), "{msg}");
        assert!(msg.contains("list at least one listing"), "{msg}");
        let msg = problems(
            r#"{ kind = "concurrent-create", path = "/users", json = { email = "a" }, count = 1, created = [201], refused = [] }"#,
        );
        assert!(msg.contains("count must be 2 to 32"), "{msg}");
        assert!(
            msg.contains("created and refused each need a status"),
            "{msg}"
        );
        let msg = problems(r#"{ kind = "etag-forms", path = "/x", etag = "tag" }"#);
        assert!(msg.contains("etag `tag` is not captured"), "{msg}");
        let walk = with_probe(
            r#"{ kind = "cursor-walk", collection = "/tasks", create = { title = "t" }, count = 4, limit = 2, remove = true }"#,
        );
        let c = parse(&walk).unwrap();
        assert!(matches!(
            c.checks[2].procedure,
            Procedure::Probe(Probe::CursorWalk { remove: true, .. })
        ));
    }

    #[test]
    fn typos_in_keys_name_the_line() {
        let bad = OK.replace("severity = \"should\"", "severty = \"should\"");
        let msg = parse(&bad).unwrap_err()[0].to_string();
        assert!(msg.contains("severty"), "{msg}");
        assert!(msg.starts_with("challenge.toml:"), "{msg}");
    }
}
