//! Presets: ready-made requests a lesson offers, sendable to the lab and printable as curl.

use super::capture::Capture;
use super::request::{Body, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A ready-made request a learner can send to the lab server.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// Slug, unique within the lesson.
    pub id: String,
    /// What the request demonstrates, in a few words.
    pub title: String,
    /// The section it belongs to.
    pub section: String,
    /// The request itself.
    pub request: Request,
    /// The status the lab answers with on a fresh database; `reqlab dev check` verifies it.
    pub expect_status: u16,
    /// What to look for in the response and the trace.
    pub note: Option<String>,
    /// Values to keep from its answer, by name, for later presets' `{{name}}` (a token).
    pub captures: Vec<(String, Capture)>,
    /// It demonstrates a statement run once per item (N+1): its trace must flag one, and no
    /// other preset's may.
    pub shows_n_plus_one: bool,
}

/// A `[[presets]]` entry as written in `lesson.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreset {
    /// Slug, unique within the lesson.
    pub id: String,
    /// What the request demonstrates, in a few words.
    pub title: String,
    /// The section it belongs to.
    pub section: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sent with `Content-Type: application/json`).
    pub json: Option<serde_json::Value>,
    /// A raw body, for demonstrating bad input; set its content type in `headers`.
    pub body: Option<String>,
    /// Repeat the raw body this many times (to demonstrate size limits without a huge file).
    pub body_repeat: Option<usize>,
    /// The status the lab answers with on a fresh database.
    pub expect_status: u16,
    /// What to look for in the response and the trace.
    pub note: Option<String>,
    /// Values to keep from the answer for later presets: `{ token = "json:access_token" }`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// True for a request that demonstrates the N+1 pattern on purpose.
    #[serde(default)]
    pub shows_n_plus_one: bool,
}

/// The methods a preset may use.
const STANDARD_METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

impl RawPreset {
    /// The typed preset, or every problem with it as an HTTP request.
    pub fn into_preset(self) -> Result<Preset, Vec<String>> {
        let mut problems = Vec::new();
        let method = match Method::from_bytes(self.method.as_bytes()) {
            Ok(m) if STANDARD_METHODS.contains(&self.method.as_str()) => Some(m),
            _ => {
                problems.push(format!(
                    "method `{}` is not one of {}",
                    self.method,
                    STANDARD_METHODS.join(", ")
                ));
                None
            }
        };
        if !self.path.starts_with('/') {
            problems.push(format!("path `{}` must start with `/`", self.path));
        } else if self.path.parse::<axum::http::Uri>().is_err() {
            problems.push(format!(
                "path `{}` is not a valid request target",
                self.path
            ));
        }
        for (name, value) in &self.headers {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                problems.push(format!("header name `{name}` is not valid"));
            }
            if HeaderValue::from_str(value).is_err() {
                problems.push(format!("header `{name}` has a value that cannot be sent"));
            }
        }
        let body = match (self.json, self.body) {
            (Some(_), Some(_)) => {
                problems.push("set either `json` or `body`, not both".into());
                Body::None
            }
            (Some(json), None) => Body::Json(json),
            (None, Some(text)) => Body::Raw {
                text,
                repeat: self.body_repeat.unwrap_or(1),
            },
            (None, None) => Body::None,
        };
        let mut captures = Vec::new();
        for (name, source) in &self.capture {
            let plain =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            match Capture::parse(source) {
                Ok(capture) if plain => captures.push((name.clone(), capture)),
                Ok(_) => problems.push(format!(
                    "capture name `{name}` must be letters, digits and _"
                )),
                Err(e) => problems.push(format!("capture `{name}`: {e}")),
            }
        }
        let Some(method) = method.filter(|_| problems.is_empty()) else {
            return Err(problems);
        };
        Ok(Preset {
            id: self.id,
            title: self.title,
            section: self.section,
            request: Request {
                method,
                path: self.path,
                headers: self.headers.into_iter().collect(),
                body,
                follow_redirects: false,
            },
            expect_status: self.expect_status,
            note: self.note,
            captures,
            shows_n_plus_one: self.shows_n_plus_one,
        })
    }
}

impl Preset {
    /// The request with the captured values it sends filled in; an error names the first
    /// one missing.
    pub fn render(&self, vars: &super::template::Vars) -> Result<Request, String> {
        if let Some(missing) = self.needs().into_iter().find(|n| vars.get(n).is_none()) {
            return Err(missing);
        }
        self.request.render(vars)
    }

    /// The `{{name}}` values it sends, captured by earlier presets.
    pub fn needs(&self) -> Vec<String> {
        let r = &self.request;
        let mut names = super::template::variables(&r.path);
        for (_, value) in &r.headers {
            names.extend(super::template::variables(value));
        }
        match &r.body {
            Body::Raw { text, .. } => names.extend(super::template::variables(text)),
            Body::Json(json) => names.extend(super::template::variables(&json.to_string())),
            Body::Form(fields) => {
                for (_, v) in fields {
                    names.extend(super::template::variables(v));
                }
            }
            Body::None => {}
        }
        names.dedup();
        names
    }

    /// The preset as a curl command against the lab at `base`.
    pub fn curl(&self, base: &str) -> String {
        self.request.curl(base)
    }
}
