//! "Explain in place": what a status code, a header or a lifecycle stage means, who set it in
//! the lab, and which lesson section teaches it.
//!
//! Statuses are explained by [`crate::status`] and stages by [`Stage::summary`]; the course's
//! `explain.toml` adds what only content can say: header meanings, who decides each status in
//! the lab, what each stage does there, and the `teaches = "lesson#section"` pointers. Those
//! pointers are checked against the lessons when the course loads.
//!
//! ```toml
//! format_version = 1
//!
//! [[headers]]
//! name = "ETag"                       # as it is usually written; looked up in any case
//! meaning = "The version of this representation."
//! detail = "A few sentences."
//! reference = "RFC 9110 §8.8.3"
//! set_by = "handler"                  # a response header: who sets it in the lab
//! teaches = "rest-resources#conditional"
//!
//! [[headers]]
//! name = "If-Match"
//! sent_by = "client"                  # a request header instead
//! # …
//!
//! [[statuses]]
//! code = 412
//! decided_by = "handler"
//! reference = "RFC 9110 §15.5.13"
//! detail = "What the lab does with it (optional)."
//! teaches = "rest-resources#conditional"
//!
//! [[stages]]
//! stage = "validation"
//! detail = "What happens at this stage in the lab, and what its trace events say."
//! teaches = "validation#trust-boundary"
//! ```

use super::error::ContentError;
use super::lesson::Lesson;
use super::reference::SectionRef;
use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// The version of the `explain.toml` format this build reads.
pub const EXPLAIN_FORMAT_VERSION: u32 = 1;

/// The file's name, at the top of the content folder.
pub const EXPLAIN_FILE: &str = "explain.toml";

/// Something a learner can point at and ask about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A status code.
    Status(u16),
    /// A header, by name (any letter case).
    Header(String),
    /// A lifecycle stage.
    Stage(Stage),
}

impl Subject {
    /// Reads what a learner typed: up to three digits are a status code, a stage id is a
    /// stage, anything else is a header name (a trailing `:` is dropped, as in `ETag:`).
    pub fn parse(text: &str) -> Subject {
        let text = text.trim().trim_end_matches(':').trim();
        if (1..=3).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_digit())
            && let Ok(code) = text.parse()
        {
            return Subject::Status(code);
        }
        let lower = text.to_ascii_lowercase();
        match lower.parse::<Stage>() {
            Ok(stage) => Subject::Stage(stage),
            Err(_) => Subject::Header(lower),
        }
    }

    /// `status`, `header` or `stage`.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Status(_) => "status",
            Subject::Header(_) => "header",
            Subject::Stage(_) => "stage",
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Status(code) => write!(f, "{code}"),
            Subject::Header(name) => f.write_str(name),
            Subject::Stage(stage) => write!(f, "{stage}"),
        }
    }
}

/// Who puts a header on a message, or decides a status, in the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SetBy {
    /// The client: a request header.
    Client,
    /// The HTTP server (hyper), below the lab's own code.
    Server,
    /// The lab's guard, which checks every request before routing (Host, Origin, limits).
    Guard,
    /// The lab's middleware, which wraps every request (request id, timing, cache policy).
    Middleware,
    /// The router, which matches method and path.
    Router,
    /// The code that reads the body and query, before the handler.
    Parsing,
    /// The input checks, before the handler.
    Validation,
    /// The route's handler.
    Handler,
}

impl SetBy {
    /// The identifier used in `explain.toml` and JSON.
    pub fn id(self) -> &'static str {
        match self {
            SetBy::Client => "client",
            SetBy::Server => "server",
            SetBy::Guard => "guard",
            SetBy::Middleware => "middleware",
            SetBy::Router => "router",
            SetBy::Parsing => "parsing",
            SetBy::Validation => "validation",
            SetBy::Handler => "handler",
        }
    }
}

impl fmt::Display for SetBy {
    /// In plain words, for a learner.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetBy::Client => "the client, on the request",
            SetBy::Server => "the HTTP server itself (hyper), not the lab's code",
            SetBy::Guard => "the lab's guard, which checks every request before routing",
            SetBy::Middleware => "the lab's middleware, which wraps every request",
            SetBy::Router => "the router, which matches method and path before any handler",
            SetBy::Parsing => "the code that reads the body and query, before the handler",
            SetBy::Validation => "validation, before the handler runs",
            SetBy::Handler => "the route's handler",
        })
    }
}

/// Everything reqlab can say about one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// What was asked about (a header's name in lower case).
    pub subject: Subject,
    /// `412 Precondition Failed`, `ETag`, `The validation stage`.
    pub title: String,
    /// One line, in plain words.
    pub meaning: String,
    /// A few sentences more (may be empty).
    pub detail: String,
    /// Where the standard defines it (`RFC 9110 §8.8.3`).
    pub reference: Option<String>,
    /// Who sets the header or decides the status in the lab.
    pub set_by: Option<SetBy>,
    /// The lesson section that teaches it.
    pub teaches: Option<SectionRef>,
}

/// The explanations of a course: `explain.toml`, checked against the lessons.
#[derive(Debug, Clone, Default)]
pub struct Explain {
    /// By lower-case name.
    headers: BTreeMap<String, HeaderEntry>,
    statuses: BTreeMap<u16, StatusEntry>,
    stages: BTreeMap<Stage, StageEntry>,
}

#[derive(Debug, Clone)]
struct HeaderEntry {
    name: String,
    meaning: String,
    detail: String,
    reference: Option<String>,
    set_by: SetBy,
    teaches: Option<SectionRef>,
}

#[derive(Debug, Clone)]
struct StatusEntry {
    decided_by: Option<SetBy>,
    reference: Option<String>,
    detail: Option<String>,
    teaches: Option<SectionRef>,
}

#[derive(Debug, Clone)]
struct StageEntry {
    detail: String,
    reference: Option<String>,
    teaches: Option<SectionRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format_version: Spanned<u32>,
    #[serde(default)]
    headers: Vec<Spanned<RawHeader>>,
    #[serde(default)]
    statuses: Vec<Spanned<RawStatus>>,
    #[serde(default)]
    stages: Vec<Spanned<RawStage>>,
}

/// `sent_by` names the client only: any other sender sets a response header (`set_by`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Sender {
    Client,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    meaning: String,
    detail: String,
    reference: Option<String>,
    set_by: Option<SetBy>,
    sent_by: Option<Sender>,
    teaches: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    code: u16,
    decided_by: Option<SetBy>,
    reference: Option<String>,
    detail: Option<String>,
    teaches: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    stage: Stage,
    detail: String,
    reference: Option<String>,
    teaches: Option<Spanned<String>>,
}

/// Checks one `explain.toml`, collecting every problem with its position.
struct Checker<'a> {
    path: &'a str,
    text: &'a str,
    lessons: &'a [Lesson],
    errors: Vec<ContentError>,
}

impl Checker<'_> {
    fn error(&mut self, offset: usize, message: String) {
        self.errors
            .push(ContentError::at(self.path, self.text, offset, message));
    }

    /// The section a `teaches` value points at, when it exists.
    fn teaches(&mut self, value: Option<Spanned<String>>) -> Option<SectionRef> {
        let value = value?;
        let start = value.span().start;
        let problem = match SectionRef::parse(value.get_ref()) {
            None => format!(
                "teaches `{}` should point at a section: `lesson-id#section-id`",
                value.get_ref()
            ),
            Some(reference) => match reference.problem(self.lessons) {
                None => return Some(reference),
                Some(problem) => format!("teaches {problem}"),
            },
        };
        self.error(start, problem);
        None
    }

    fn header(&mut self, entry: Spanned<RawHeader>, into: &mut BTreeMap<String, HeaderEntry>) {
        let start = entry.span().start;
        let h = entry.into_inner();
        if let Some(problem) = header_name_problem(&h.name) {
            self.error(start, format!("header `{}`: {problem}", h.name));
        }
        if h.meaning.trim().is_empty() || h.meaning.contains('\n') {
            self.error(
                start,
                format!("header `{}`: meaning must be one line of text", h.name),
            );
        }
        let set_by = match (h.set_by, h.sent_by) {
            (Some(SetBy::Client), None) | (None, Some(Sender::Client)) => Some(SetBy::Client),
            (Some(set_by), None) => Some(set_by),
            _ => {
                self.error(
                    start,
                    format!(
                        "header `{}` needs exactly one of set_by (who sets it on the lab's responses) or sent_by = \"client\" (a request header)",
                        h.name
                    ),
                );
                None
            }
        };
        let teaches = self.teaches(h.teaches);
        let key = h.name.to_ascii_lowercase();
        if into.contains_key(&key) {
            self.error(start, format!("header `{}` is explained twice", h.name));
            return;
        }
        if let Some(set_by) = set_by {
            let entry = HeaderEntry {
                meaning: h.meaning.trim().to_string(),
                detail: h.detail.trim().to_string(),
                name: h.name,
                reference: h.reference,
                set_by,
                teaches,
            };
            into.insert(key, entry);
        }
    }

    fn status(&mut self, entry: Spanned<RawStatus>, into: &mut BTreeMap<u16, StatusEntry>) {
        let start = entry.span().start;
        let s = entry.into_inner();
        if !(100..=599).contains(&s.code) {
            self.error(
                start,
                format!(
                    "status {} is not a status code (they run from 100 to 599)",
                    s.code
                ),
            );
        }
        let status = StatusEntry {
            decided_by: s.decided_by,
            reference: s.reference,
            detail: s.detail.map(|d| d.trim().to_string()),
            teaches: self.teaches(s.teaches),
        };
        if into.insert(s.code, status).is_some() {
            self.error(start, format!("status {} is explained twice", s.code));
        }
    }

    fn stage(&mut self, entry: Spanned<RawStage>, into: &mut BTreeMap<Stage, StageEntry>) {
        let start = entry.span().start;
        let s = entry.into_inner();
        let stage = StageEntry {
            detail: s.detail.trim().to_string(),
            reference: s.reference,
            teaches: self.teaches(s.teaches),
        };
        if into.insert(s.stage, stage).is_some() {
            self.error(start, format!("stage {} is explained twice", s.stage));
        }
    }
}

impl Explain {
    /// Parses `explain.toml` and checks it against `lessons`: each entry said once, each
    /// header name written as HTTP allows, each status a real code, each `teaches` a section
    /// that exists. `path` is the name used in error messages.
    pub fn parse(path: &str, text: &str, lessons: &[Lesson]) -> Result<Explain, Vec<ContentError>> {
        let raw: RawFile =
            toml::from_str(text).map_err(|err| vec![ContentError::from_toml(path, text, &err)])?;
        let mut check = Checker {
            path,
            text,
            lessons,
            errors: Vec::new(),
        };
        if *raw.format_version.get_ref() != EXPLAIN_FORMAT_VERSION {
            check.error(
                raw.format_version.span().start,
                format!(
                    "format_version {} is not supported; this reqlab reads version {EXPLAIN_FORMAT_VERSION}",
                    raw.format_version.get_ref()
                ),
            );
        }
        let mut explain = Explain::default();
        for entry in raw.headers {
            check.header(entry, &mut explain.headers);
        }
        for entry in raw.statuses {
            check.status(entry, &mut explain.statuses);
        }
        for entry in raw.stages {
            check.stage(entry, &mut explain.stages);
        }
        if check.errors.is_empty() {
            Ok(explain)
        } else {
            Err(check.errors)
        }
    }

    /// What reqlab can say about `subject`: any status code from 100 to 599 (one the file
    /// does not list is explained by its class), any stage, and the headers the file lists.
    /// `None` for a header it does not know, or a number that is not a status code.
    pub fn explain(&self, subject: &Subject) -> Option<Explanation> {
        match subject {
            Subject::Status(code) => self.status(*code),
            Subject::Header(name) => self.header(name),
            Subject::Stage(stage) => Some(self.stage(*stage)),
        }
    }

    /// The header names it explains, in lower case and alphabetical order.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.keys().map(String::as_str)
    }

    /// The status codes the file lists, in order.
    pub fn status_codes(&self) -> impl Iterator<Item = u16> + '_ {
        self.statuses.keys().copied()
    }

    /// The stages the file describes (every stage has an explanation; these also say what
    /// happens in the lab).
    pub fn described_stages(&self) -> impl Iterator<Item = Stage> + '_ {
        self.stages.keys().copied()
    }

    /// Up to three known subjects that look like `text`, for "did you mean" (header names,
    /// stage ids and the listed status codes).
    pub fn suggest(&self, text: &str) -> Vec<String> {
        let codes: Vec<String> = self.status_codes().map(|c| c.to_string()).collect();
        let candidates = self
            .header_names()
            .chain(Stage::ALL.iter().map(|s| s.id()))
            .chain(codes.iter().map(String::as_str));
        crate::suggest::close_matches(text.trim().trim_end_matches(':'), candidates)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    fn header(&self, name: &str) -> Option<Explanation> {
        let key = name.trim().to_ascii_lowercase();
        let entry = self.headers.get(&key)?;
        Some(Explanation {
            subject: Subject::Header(key),
            title: entry.name.clone(),
            meaning: entry.meaning.clone(),
            detail: entry.detail.clone(),
            reference: entry.reference.clone(),
            set_by: Some(entry.set_by),
            teaches: entry.teaches.clone(),
        })
    }

    fn status(&self, code: u16) -> Option<Explanation> {
        if !(100..=599).contains(&code) {
            return None;
        }
        let entry = self.statuses.get(&code);
        let class = sentence(crate::status::class_text(code));
        let (meaning, mut detail) = match crate::status::explanation(code) {
            Some(meaning) => (meaning.to_string(), vec![class]),
            None => (class, vec![crate::status::SEE_RFC.to_string()]),
        };
        if let Some(extra) = entry.and_then(|e| e.detail.as_ref()) {
            detail.push(extra.clone());
        }
        if let Some(former) = crate::status::former_name(code) {
            detail.push(format!(
                "RFC 9110 renamed it; older libraries and documents still call it {former}."
            ));
        }
        let title = match crate::status::reason(code) {
            "" => code.to_string(),
            reason => format!("{code} {reason}"),
        };
        Some(Explanation {
            subject: Subject::Status(code),
            title,
            meaning,
            detail: detail.join(" "),
            reference: entry.and_then(|e| e.reference.clone()),
            set_by: entry.and_then(|e| e.decided_by),
            teaches: entry.and_then(|e| e.teaches.clone()),
        })
    }

    fn stage(&self, stage: Stage) -> Explanation {
        let entry = self.stages.get(&stage);
        Explanation {
            subject: Subject::Stage(stage),
            title: format!("The {} stage", stage.label()),
            meaning: stage.summary().to_string(),
            detail: entry.map(|e| e.detail.clone()).unwrap_or_default(),
            reference: entry.and_then(|e| e.reference.clone()),
            set_by: None,
            teaches: entry.and_then(|e| e.teaches.clone()),
        }
    }
}

/// A class phrase as a sentence: capitalised, with a full stop.
fn sentence(phrase: &str) -> String {
    let mut chars = phrase.chars();
    let first = chars.next().map(|c| c.to_uppercase().to_string());
    format!("{}{}.", first.unwrap_or_default(), chars.as_str())
}

/// Why `name` is not a header name HTTP allows (a token: letters, digits and ``!#$%&'*+-.^_`|~``).
fn header_name_problem(name: &str) -> Option<&'static str> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        Some("a header name is letters, digits and dashes, without spaces or a colon")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::{ContentSource, Course};

    fn built_in() -> Course {
        Course::load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"))
    }

    fn lessons() -> Vec<Lesson> {
        built_in().lessons
    }

    const FILE: &str = r#"
format_version = 1

[[headers]]
name = "ETag"
meaning = "The version of this representation."
detail = "Opaque, quoted."
reference = "RFC 9110 §8.8.3"
set_by = "handler"
teaches = "rest-resources#conditional"

[[headers]]
name = "If-Match"
meaning = "Go ahead only if the version is still this one."
detail = "On writes."
sent_by = "client"

[[statuses]]
code = 412
decided_by = "handler"
reference = "RFC 9110 §15.5.13"
teaches = "rest-resources#conditional"

[[stages]]
stage = "validation"
detail = "The lab checks the fields."
"#;

    #[test]
    fn headers_are_found_in_any_letter_case() {
        let explain = Explain::parse("explain.toml", FILE, &lessons()).unwrap();
        for asked in ["etag", "ETag", "ETAG", " etag "] {
            let e = explain
                .explain(&Subject::Header(asked.into()))
                .unwrap_or_else(|| panic!("{asked}"));
            assert_eq!(e.title, "ETag");
            assert_eq!(e.subject, Subject::Header("etag".into()));
            assert_eq!(e.set_by, Some(SetBy::Handler));
            assert_eq!(
                e.teaches.map(|t| t.to_string()).as_deref(),
                Some("rest-resources#conditional")
            );
        }
        let request = explain.explain(&Subject::parse("if-match")).unwrap();
        assert_eq!(request.set_by, Some(SetBy::Client));
        assert_eq!(explain.explain(&Subject::Header("x-nope".into())), None);
    }

    #[test]
    fn a_status_reuses_the_status_texts_and_adds_the_file() {
        let explain = Explain::parse("explain.toml", FILE, &lessons()).unwrap();
        let e = explain.explain(&Subject::Status(412)).unwrap();
        assert_eq!(e.title, "412 Precondition Failed");
        assert_eq!(e.meaning, crate::status::explanation(412).unwrap());
        assert!(e.detail.starts_with("4xx client error"), "{}", e.detail);
        assert_eq!(e.set_by, Some(SetBy::Handler));
        assert_eq!(e.reference.as_deref(), Some("RFC 9110 §15.5.13"));
    }

    #[test]
    fn a_status_missing_from_the_file_falls_back_to_its_class() {
        let explain = Explain::default();
        let teapot = explain.explain(&Subject::Status(418)).unwrap();
        assert_eq!(teapot.title, "418 I'm a teapot");
        assert!(
            teapot.meaning.starts_with("4xx client error"),
            "{}",
            teapot.meaning
        );
        assert_eq!(teapot.set_by, None);
        let renamed = explain.explain(&Subject::Status(413)).unwrap();
        assert_eq!(renamed.title, "413 Content Too Large");
        assert!(
            renamed.detail.contains("Payload Too Large"),
            "{}",
            renamed.detail
        );
        let unnamed = explain.explain(&Subject::Status(299)).unwrap();
        assert_eq!(unnamed.title, "299");
        assert_eq!(explain.explain(&Subject::Status(99)), None);
        assert_eq!(explain.explain(&Subject::Status(600)), None);
    }

    #[test]
    fn what_a_learner_types_becomes_a_subject() {
        assert_eq!(Subject::parse("412"), Subject::Status(412));
        assert_eq!(Subject::parse("ETag:"), Subject::Header("etag".into()));
        assert_eq!(
            Subject::parse("Validation"),
            Subject::Stage(Stage::Validation)
        );
        assert_eq!(Subject::parse("4120"), Subject::Header("4120".into()));
    }

    #[test]
    fn every_stage_of_the_built_in_course_is_explained_and_taught_where_a_lesson_does() {
        let course = built_in();
        for stage in Stage::ALL {
            let e = course.explain().explain(&Subject::Stage(stage)).unwrap();
            assert_eq!(e.meaning, stage.summary());
            assert!(
                !e.detail.is_empty(),
                "{stage} has no detail in explain.toml"
            );
        }
        let taught = course
            .explain()
            .explain(&Subject::Stage(Stage::Caching))
            .unwrap();
        assert_eq!(
            taught.teaches.map(|t| t.to_string()).as_deref(),
            Some("rest-resources#conditional")
        );
    }

    #[test]
    fn the_built_in_course_explains_the_headers_the_lab_sends_and_reads() {
        let course = built_in();
        for name in [
            "content-type",
            "content-length",
            "date",
            "cache-control",
            "etag",
            "if-none-match",
            "if-match",
            "location",
            "allow",
            "link",
            "retry-after",
            "vary",
            "www-authenticate",
            "x-request-id",
            "x-response-time-ms",
            "idempotency-key",
            "idempotent-replayed",
            "accept",
            "accept-post",
            "accept-patch",
            "content-location",
            "authorization",
            "host",
            "origin",
            "access-control-allow-origin",
            "transfer-encoding",
            "expect",
            "connection",
            "x-content-type-options",
            "x-frame-options",
            "content-security-policy",
            "referrer-policy",
            "strict-transport-security",
        ] {
            let e = course
                .explain()
                .explain(&Subject::Header(name.into()))
                .unwrap_or_else(|| panic!("explain.toml does not explain {name}"));
            assert!(e.reference.is_some(), "{name} has no reference");
            assert!(e.set_by.is_some(), "{name} says nobody sets it");
        }
        let by = |name: &str| {
            course
                .explain()
                .explain(&Subject::Header(name.into()))
                .and_then(|e| e.set_by)
        };
        assert_eq!(by("date"), Some(SetBy::Server));
        assert_eq!(by("x-request-id"), Some(SetBy::Middleware));
        assert_eq!(by("etag"), Some(SetBy::Handler));
        assert_eq!(by("if-none-match"), Some(SetBy::Client));
    }

    #[test]
    fn suggestions_cover_headers_stages_and_codes() {
        let explain = Explain::parse("explain.toml", FILE, &lessons()).unwrap();
        assert_eq!(explain.suggest("etga"), ["etag"]);
        assert_eq!(explain.suggest("valdation"), ["validation"]);
        assert_eq!(explain.suggest("413"), ["412"]);
        assert!(explain.suggest("zzzzzz").is_empty());
    }

    #[test]
    fn a_broken_reference_is_reported_at_its_line() {
        // The header's `teaches`, on line 10.
        let bad = FILE.replacen(
            "rest-resources#conditional\"",
            "rest-resources#conditionals\"",
            1,
        );
        let errs = Explain::parse("explain.toml", &bad, &lessons()).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let text = errs[0].to_string();
        assert!(text.starts_with("explain.toml:10:"), "{text}");
        assert!(text.contains("has no section `conditionals`"), "{text}");
    }

    #[test]
    fn a_header_needs_one_sender_and_one_entry() {
        let twice = format!(
            "{FILE}\n[[headers]]\nname = \"etag\"\nmeaning = \"x\"\ndetail = \"\"\nset_by = \"server\"\nsent_by = \"client\"\n"
        );
        let errs = Explain::parse("explain.toml", &twice, &lessons()).unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].contains("exactly one of set_by"), "{text:?}");
        assert!(text[1].contains("explained twice"), "{text:?}");
    }

    #[test]
    fn an_unknown_setter_names_the_line() {
        let bad = FILE.replace("decided_by = \"handler\"", "decided_by = \"database\"");
        let errs = Explain::parse("explain.toml", &bad, &lessons()).unwrap_err();
        let text = errs[0].to_string();
        assert!(text.starts_with("explain.toml:20:"), "{text}");
        assert!(text.contains("database"), "{text}");
    }
}
