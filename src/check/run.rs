//! Running a challenge's checks, in order, against a server.

use super::assert::{self, text_of};
use super::conversation::Conversation;
use super::event::{Event, EventSink};
use super::http::{Exchange, Received};
use super::probes;
use super::result::{ChallengeOutcome, CheckOutcome, Finding, Status};
use crate::course::Course;
use crate::course::challenge::{Capture, Challenge, Check, Procedure, Severity, Step};
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

/// Runs every check of `challenge` against `base`, reporting each check and each request
/// to `events` as it happens.
pub async fn run_challenge(
    challenge: &Challenge,
    course: &Course,
    base: &str,
    settings: RunSettings,
    events: &EventSink,
) -> anyhow::Result<ChallengeOutcome> {
    let start = Instant::now();
    let mut conv = Conversation::new(base, settings.timeout, &challenge.id, events.clone())?;
    events
        .emit(Event::ChallengeStarted {
            id: challenge.id.clone(),
            title: challenge.title.clone(),
            target: conv.base().to_string(),
            checks: challenge.checks.len(),
        })
        .await;
    let mut checks = Vec::new();
    for (index, check) in challenge.checks.iter().enumerate() {
        events
            .emit(Event::CheckStarted {
                challenge: challenge.id.clone(),
                index,
                name: check.name.clone(),
                stage: check.stage,
            })
            .await;
        conv.begin_check(index);
        let outcome = run_check(check, course, &mut conv).await;
        events
            .emit(Event::CheckFinished {
                challenge: challenge.id.clone(),
                index,
                outcome: Box::new(outcome.clone()),
            })
            .await;
        checks.push(outcome);
    }
    let outcome = ChallengeOutcome {
        id: challenge.id.clone(),
        title: challenge.title.clone(),
        target: conv.base().to_string(),
        checks,
        duration: start.elapsed(),
    };
    events
        .emit(Event::ChallengeFinished(Box::new(outcome.clone())))
        .await;
    Ok(outcome)
}

async fn run_check(check: &Check, course: &Course, conv: &mut Conversation) -> CheckOutcome {
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
    let result = if let Some(reason) = conv.unreachable() {
        outcome.status = Status::Skip;
        Err(Finding {
            message: format!("not run: {reason}"),
            mismatch: None,
            exchange: None,
            earlier: Vec::new(),
        })
    } else {
        match &check.procedure {
            Procedure::Probe(probe) => probes::run(probe, conv).await,
            Procedure::Steps(steps) => run_steps(steps, conv).await,
        }
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

async fn run_steps(steps: &[Step], conv: &mut Conversation) -> Result<(), Finding> {
    let mut earlier: Vec<Exchange> = Vec::new();
    for step in steps {
        let out = match step.request.render(&conv.vars) {
            Ok(request) => request.outgoing(conv.base()),
            Err(why) => {
                return Err(Finding {
                    message: format!("not run: {why}"),
                    mismatch: None,
                    exchange: None,
                    earlier,
                });
            }
        };
        let exchange = conv.send(out).await;
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
            if let Err(m) = assert::check(expectation, &response, &conv.vars) {
                // Capture what can be captured anyway, so one wrong status does not stop
                // the later checks that need an id from this response.
                for (name, source) in &step.capture {
                    if let Ok(value) = capture(source, &response) {
                        conv.vars.set(name, &value);
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
                Ok(value) => conv.vars.set(name, &value),
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

/// Reads a captured value from a response.
fn capture(source: &Capture, r: &Received) -> Result<String, String> {
    match source {
        Capture::Json(path) => {
            let body = r.json()?;
            path.get(&body)
                .map(text_of)
                .ok_or_else(|| format!("the JSON body has no `{path}`: {}", assert::excerpt(&body)))
        }
        Capture::Header(name) => r
            .header(name)
            .ok_or_else(|| format!("there is no {name} header")),
        Capture::Cookie(name) => r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
            .ok_or_else(|| format!("no Set-Cookie header sets `{name}`")),
    }
}

/// `lesson#section` → where to read; anything else is shown as written.
pub fn resolve_hint(hint: &str, course: &Course) -> String {
    if let Some((lesson_id, section_id)) = hint.split_once('#')
        && let Some(lesson) = course.lesson(lesson_id)
        && let Some(section) = lesson.section(section_id)
    {
        return format!("read “{}” in `reqlab learn {}`", section.title, lesson.id);
    }
    hint.to_string()
}
