//! Running a challenge's checks, in order, against a server.

use super::assert::{self, text_of};
use super::conversation::Conversation;
use super::event::{Event, EventSink};
use super::http::{Client, Cookies, Received, Tls};
use super::output::{ServerLog, ServerOutput};
use super::probes;
use super::result::{ChallengeOutcome, CheckOutcome, Finding, Status};
use crate::course::challenge::{Capture, Challenge, Check, Procedure, Severity, Step};
use crate::course::{Course, SectionRef};
use std::time::{Duration, Instant};

/// How long the learner's server must be quiet before a failed check's output is read (a
/// traceback is printed just after the response it broke).
pub const OUTPUT_QUIET: Duration = Duration::from_millis(200);
/// The longest wait for that quiet.
pub const OUTPUT_WAIT: Duration = Duration::from_secs(2);

/// Settings for a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Which certificates an https server may present.
    pub tls: Tls,
    /// The learner's server output, when the session started the server (`--run`).
    pub server_log: Option<ServerLog>,
    /// Why the server could not be reached, when an earlier challenge of the same run found
    /// out: then nothing is sent, and every check is "not run".
    pub unreachable: Option<String>,
}

impl Default for RunSettings {
    fn default() -> RunSettings {
        RunSettings {
            timeout: Duration::from_secs(5),
            tls: Tls::default(),
            server_log: None,
            unreachable: None,
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
    let client = Client::with_tls(settings.timeout, &settings.tls)?;
    let mut conv = Conversation::new(base, client, &challenge.id, events.clone());
    if let Some(reason) = settings.unreachable.clone() {
        conv.set_unreachable(reason);
    }
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
        let mark = settings.server_log.as_ref().map(ServerLog::mark);
        let mut outcome = run_check(check, index, course, &mut conv).await;
        if let (Some(log), Some(mark)) = (&settings.server_log, mark)
            && outcome.status == Status::Fail
        {
            log.settle(OUTPUT_QUIET, OUTPUT_WAIT).await;
            outcome.server_output = ServerOutput::from_lines(&log.since(mark));
        }
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
        version: challenge.version,
        target: conv.base().to_string(),
        checks,
        duration: start.elapsed(),
        unreachable: conv.unreachable().map(str::to_string),
    };
    events
        .emit(Event::ChallengeFinished(Box::new(outcome.clone())))
        .await;
    Ok(outcome)
}

async fn run_check(
    check: &Check,
    index: usize,
    course: &Course,
    conv: &mut Conversation,
) -> CheckOutcome {
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
        server_output: None,
    };
    let result = if let Some(reason) = conv.unreachable() {
        Err(Finding::not_run(reason))
    } else {
        match &check.procedure {
            Procedure::Probe(probe) => probes::run(probe, conv).await,
            Procedure::Steps(steps) => run_steps(steps, conv).await,
        }
    };
    if let Err(mut finding) = result {
        outcome.status = if finding.is_not_run() {
            Status::Skip
        } else if finding.advice {
            Status::Warn
        } else {
            match check.severity {
                Severity::Must => Status::Fail,
                Severity::Should => Status::Warn,
            }
        };
        // Advice on a contract that held needs no reproduction: its exchange says it all.
        if outcome.status != Status::Skip && !finding.advice {
            finding.reproduction = conv.reproduction(index, finding.exchange.is_some());
        }
        outcome.finding = Some(finding);
    }
    outcome.duration = start.elapsed();
    outcome
}

async fn run_steps(steps: &[Step], conv: &mut Conversation) -> Result<(), Finding> {
    for step in steps {
        let rendered = step
            .request
            .render(&conv.vars)
            .and_then(|real| Ok((real, step.request.render(&conv.shown_vars())?)));
        let (out, shown) = match rendered {
            Ok((real, shown)) => (real.outgoing(conv.base()), shown.outgoing(conv.base())),
            Err(why) => return Err(Finding::not_run(why)),
        };
        let exchange = conv
            .send_shown_with(out, shown, &step.uses, cookies(step))
            .await;
        let response = match &exchange.response {
            Ok(r) => r.clone(),
            Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
        };
        for expectation in &step.expect {
            if let Err(m) =
                assert::check_reply(expectation, Some(&exchange.request), &response, &conv.vars)
            {
                // Capture what can be captured anyway, so one wrong status does not stop
                // the later checks that need an id from this response.
                for (name, source) in &step.capture {
                    if let Ok(value) = capture(source, &response) {
                        conv.provide(name, &value, source.clone(), false);
                    }
                }
                let mut finding = Finding::new(format!("expected {}", m.expected), Some(exchange));
                finding.mismatch = Some(m);
                return Err(finding);
            }
        }
        for (name, source) in &step.capture {
            match capture(source, &response) {
                Ok(value) => conv.provide(name, &value, source.clone(), false),
                Err(why) => {
                    return Err(Finding::new(
                        format!("could not read `{name}` from the response: {why}"),
                        Some(exchange),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Whether a step's request carries the cookies earlier responses set.
fn cookies(step: &Step) -> Cookies {
    if step.cookies {
        Cookies::Jar
    } else {
        Cookies::None
    }
}

/// Keeps the values `preset` captures from its answer in `vars`; the names kept.
pub fn keep_captures(
    preset: &crate::course::preset::Preset,
    response: &Received,
    vars: &mut crate::course::template::Vars,
) -> Vec<String> {
    let mut kept = Vec::new();
    for (name, source) in &preset.captures {
        if let Ok(value) = capture(source, response) {
            vars.set(name, &value);
            kept.push(name.clone());
        }
    }
    kept
}

/// Reads a captured value from a response (a check step's, or a preset's).
pub fn capture(source: &Capture, r: &Received) -> Result<String, String> {
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
    if let Some(at) = SectionRef::parse(hint)
        && let Some((lesson, section)) = at.resolve(&course.lessons)
    {
        return format!("read “{}” in `reqlab learn {}`", section.title, lesson.id);
    }
    hint.to_string()
}
