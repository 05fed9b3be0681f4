//! Running a challenge's checks, in order, against a server.

use super::assert::{self, text_of};
use super::http::{Client, Exchange, Outgoing, Received, TransportError};
use super::probes;
use super::result::{ChallengeOutcome, CheckOutcome, Finding, Status};
use super::template::Vars;
use crate::course::Course;
use crate::course::challenge::{Challenge, Check, Severity, Step};
use std::time::{Duration, Instant};

/// Settings for a run.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for RunSettings {
    fn default() -> RunSettings {
        RunSettings {
            timeout: Duration::from_secs(5),
        }
    }
}

/// State shared by the checks of one run: where to send, the client (and its cookie jar),
/// captured variables, and whether the server turned out to be unreachable.
pub struct Session {
    base: String,
    client: Client,
    /// Variables: built-ins and captures.
    pub vars: Vars,
    unreachable: Option<String>,
}

impl Session {
    /// A fresh session against `base` (`http://127.0.0.1:8000`).
    pub fn new(base: &str, settings: RunSettings) -> anyhow::Result<Session> {
        Ok(Session {
            base: base.trim_end_matches('/').to_string(),
            client: Client::new(settings.timeout)?,
            vars: Vars::for_run(),
            unreachable: None,
        })
    }

    /// The full URL for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; a refused connection marks the server unreachable for later checks.
    pub async fn send(&mut self, out: Outgoing) -> Exchange {
        let exchange = self.client.send(out).await;
        if let Err(e @ TransportError::Refused { .. }) = &exchange.response {
            self.unreachable = Some(e.to_string());
        }
        exchange
    }

    /// Sends a JSON request to `path`.
    pub async fn send_json(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Exchange {
        let mut headers = Vec::new();
        let body = json.map(|v| {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
            serde_json::to_vec(v).expect("JSON values serialize")
        });
        let out = Outgoing {
            method: method.into(),
            url: self.url(path),
            headers,
            body,
            follow_redirects: false,
        };
        self.send(out).await
    }
}

/// Runs every check of `challenge` against `base`, calling `on_check` as each one finishes.
pub async fn run_challenge(
    challenge: &Challenge,
    course: &Course,
    base: &str,
    settings: RunSettings,
    on_check: &mut dyn FnMut(&CheckOutcome),
) -> anyhow::Result<ChallengeOutcome> {
    let start = Instant::now();
    let mut session = Session::new(base, settings)?;
    let mut checks = Vec::new();
    for check in &challenge.checks {
        let outcome = run_check(check, course, &mut session).await;
        on_check(&outcome);
        checks.push(outcome);
    }
    Ok(ChallengeOutcome {
        id: challenge.id.clone(),
        title: challenge.title.clone(),
        target: session.base.clone(),
        checks,
        duration: start.elapsed(),
    })
}

async fn run_check(check: &Check, course: &Course, session: &mut Session) -> CheckOutcome {
    let start = Instant::now();
    let mut outcome = CheckOutcome {
        name: check.name.clone(),
        stage: check.stage,
        severity: check.severity,
        status: Status::Pass,
        duration: Duration::ZERO,
        hint: resolve_hint(&check.hint, course),
        why: check.why.clone(),
        finding: None,
    };
    let result = if let Some(reason) = &session.unreachable {
        outcome.status = Status::Skip;
        Err(Finding {
            message: format!("not run: {reason}"),
            mismatch: None,
            exchange: None,
            earlier: Vec::new(),
        })
    } else if let Some(probe) = &check.probe {
        probes::run(probe, session).await
    } else {
        run_steps(&check.steps, session).await
    };
    if let Err(finding) = result {
        if outcome.status != Status::Skip {
            outcome.status = match check.severity {
                Severity::Must => Status::Fail,
                Severity::Should => Status::Warn,
            };
        }
        outcome.finding = Some(finding);
    }
    outcome.duration = start.elapsed();
    outcome
}

async fn run_steps(steps: &[Step], session: &mut Session) -> Result<(), Finding> {
    let mut earlier: Vec<Exchange> = Vec::new();
    for step in steps {
        let out = match build(step, session) {
            Ok(out) => out,
            Err(why) => {
                return Err(Finding {
                    message: format!("not run: {why}"),
                    mismatch: None,
                    exchange: None,
                    earlier,
                });
            }
        };
        let exchange = session.send(out).await;
        let response = match &exchange.response {
            Ok(r) => r.clone(),
            Err(e) => {
                return Err(Finding {
                    message: e.to_string(),
                    mismatch: None,
                    exchange: Some(exchange),
                    earlier,
                });
            }
        };
        for expectation in &step.expect {
            if let Err(m) = assert::check(expectation, &response, &session.vars) {
                // Capture what can be captured anyway, so one wrong status does not stop
                // the later checks that need an id from this response.
                for (name, source) in &step.capture {
                    if let Ok(value) = capture(source, &response) {
                        session.vars.set(name, &value);
                    }
                }
                return Err(Finding {
                    message: format!("expected {}", m.expected),
                    mismatch: Some(m),
                    exchange: Some(exchange),
                    earlier,
                });
            }
        }
        for (name, source) in &step.capture {
            match capture(source, &response) {
                Ok(value) => session.vars.set(name, &value),
                Err(why) => {
                    return Err(Finding {
                        message: format!("could not read `{name}` from the response: {why}"),
                        mismatch: None,
                        exchange: Some(exchange),
                        earlier,
                    });
                }
            }
        }
        earlier.push(exchange);
    }
    Ok(())
}

/// Turns a step into a request, filling in variables.
fn build(step: &Step, session: &Session) -> Result<Outgoing, String> {
    let vars = &session.vars;
    let path = vars.render(&step.path)?;
    let mut headers = Vec::new();
    for (name, value) in &step.headers {
        headers.push((name.clone(), vars.render(value)?));
    }
    let has_content_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let body = if let Some(json) = &step.json {
        if !has_content_type {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        Some(serde_json::to_vec(&vars.render_json(json)?).expect("JSON values serialize"))
    } else if let Some(form) = &step.form {
        if !has_content_type {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let mut encoder = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            encoder.append_pair(k, &vars.render(v)?);
        }
        Some(encoder.finish().into_bytes())
    } else if let Some(body) = &step.body {
        Some(vars.render(body)?.into_bytes())
    } else {
        None
    };
    Ok(Outgoing {
        method: step.method.clone(),
        url: session.url(&path),
        headers,
        body,
        follow_redirects: step.follow_redirects,
    })
}

/// Reads a captured value: `json:<path>`, `header:<Name>` or `cookie:<name>`.
fn capture(source: &str, r: &Received) -> Result<String, String> {
    match source.split_once(':') {
        Some(("json", path)) => {
            let body = r.json()?;
            super::jsonpath::get(&body, path)
                .map(text_of)
                .ok_or_else(|| format!("the JSON body has no `{path}`: {}", assert::excerpt(&body)))
        }
        Some(("header", name)) => r
            .header(name)
            .ok_or_else(|| format!("there is no {name} header")),
        Some(("cookie", name)) => r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
            .ok_or_else(|| format!("no Set-Cookie header sets `{name}`")),
        _ => Err(format!("`{source}` is not a capture source")),
    }
}

/// `lesson#section` → where to read; anything else is shown as written.
pub fn resolve_hint(hint: &str, course: &Course) -> String {
    if let Some((lesson_id, section_id)) = hint.split_once('#') {
        if let Some(lesson) = course.lesson(lesson_id) {
            if let Some(section) = lesson.section(section_id) {
                return format!("read “{}” in `reqlab learn {}`", section.title, lesson.id);
            }
        }
    }
    hint.to_string()
}
