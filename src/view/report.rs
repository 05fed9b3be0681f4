//! Check results for programs and CI: one JSON document, JUnit XML, or TAP version 14.
//!
//! JSON is built from `Serialize` types; JUnit and TAP carry the same evidence a learner reads
//! ([`super::check::check_lines`]) as plain text.

use super::check::{body_excerpt, check_lines};
use super::markdown::plain_text;
use crate::check::output::ServerOutput;
use crate::check::result::{ChallengeOutcome, CheckOutcome, Status, Tally, Verdict, total};
use crate::course::challenge::Severity;
use crate::stage::Stage;
use serde::Serialize;

/// The JSON report.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// True when every challenge passed.
    passed: bool,
    /// Counts over all challenges.
    tally: Tally,
    /// One entry per challenge.
    challenges: Vec<JsonChallenge<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonChallenge<'a> {
    id: &'a str,
    title: &'a str,
    version: u32,
    target: &'a str,
    passed: bool,
    tally: Tally,
    duration_ms: u64,
    checks: Vec<JsonCheck<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonCheck<'a> {
    name: &'a str,
    stage: Stage,
    severity: Severity,
    status: Status,
    duration_ms: u64,
    hint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<&'a str>,
    /// What to change (a wrong status: which one to answer, and why).
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<JsonRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<JsonResponse<'a>>,
    /// `sh` lines that reproduce the failure on a fresh server, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reproduce: Vec<String>,
    /// What the learner's server printed while the check ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_output: Option<&'a ServerOutput>,
}

#[derive(Debug, Serialize)]
struct JsonRequest<'a> {
    method: &'a str,
    url: &'a str,
    curl: String,
}

#[derive(Debug, Serialize)]
struct JsonResponse<'a> {
    status: u16,
    headers: &'a [(String, String)],
    body: String,
}

/// All outcomes as one JSON document.
pub fn json(outcomes: &[ChallengeOutcome]) -> JsonReport<'_> {
    JsonReport {
        passed: outcomes.iter().all(ChallengeOutcome::passed),
        tally: total(outcomes),
        challenges: outcomes
            .iter()
            .map(|o| JsonChallenge {
                id: &o.id,
                title: &o.title,
                version: o.version,
                target: &o.target,
                passed: o.passed(),
                tally: o.tally(),
                duration_ms: o.duration.as_millis() as u64,
                checks: o.checks.iter().map(json_check).collect(),
            })
            .collect(),
    }
}

fn json_check(c: &CheckOutcome) -> JsonCheck<'_> {
    let finding = c.finding.as_ref();
    let mismatch = finding.and_then(|f| f.mismatch.as_ref());
    let exchange = finding.and_then(|f| f.exchange.as_ref());
    JsonCheck {
        name: &c.name,
        stage: c.stage,
        severity: c.severity,
        status: c.status,
        duration_ms: c.duration.as_millis() as u64,
        hint: &c.hint,
        why: c.why.as_deref(),
        message: finding.map(|f| f.message.as_str()),
        expected: mismatch.map(|m| m.expected.as_str()),
        actual: mismatch.map(|m| m.actual.as_str()),
        fix: mismatch.and_then(|m| m.fix.as_deref()),
        request: exchange.map(|ex| JsonRequest {
            method: ex.request.method.as_str(),
            url: &ex.request.url,
            curl: finding
                .and_then(|f| f.reproduction.request_line())
                .unwrap_or_else(|| ex.request.curl()),
        }),
        response: exchange
            .and_then(|ex| ex.response.as_ref().ok())
            .map(|r| JsonResponse {
                status: r.status,
                headers: &r.headers,
                body: body_excerpt(r).join("\n"),
            }),
        reproduce: finding.map(|f| f.reproduction.lines()).unwrap_or_default(),
        server_output: c.server_output.as_ref(),
    }
}

/// All outcomes as a JUnit XML report (one testsuite per challenge, one testcase per check).
pub fn junit(outcomes: &[ChallengeOutcome]) -> anyhow::Result<String> {
    use quick_xml::Writer;
    use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let all = total(outcomes);
    let time: f64 = outcomes.iter().map(|o| o.duration.as_secs_f64()).sum();
    let count: usize = outcomes.iter().map(|o| o.checks.len()).sum();
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", "reqlab"));
    suites.push_attribute(("tests", count.to_string().as_str()));
    suites.push_attribute(("failures", all.failed.to_string().as_str()));
    suites.push_attribute(("errors", "0"));
    suites.push_attribute(("time", format!("{time:.3}").as_str()));
    w.write_event(Event::Start(suites))?;
    for o in outcomes {
        let skipped = o.checks.iter().filter(|c| c.verdict().not_run()).count();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", o.id.as_str()));
        suite.push_attribute(("tests", o.checks.len().to_string().as_str()));
        suite.push_attribute(("failures", o.tally().failed.to_string().as_str()));
        suite.push_attribute(("errors", "0"));
        suite.push_attribute(("skipped", skipped.to_string().as_str()));
        suite.push_attribute(("time", format!("{:.3}", o.duration.as_secs_f64()).as_str()));
        w.write_event(Event::Start(suite))?;
        for c in &o.checks {
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("classname", format!("{}.{}", o.id, c.stage.id()).as_str()));
            case.push_attribute(("name", c.name.as_str()));
            case.push_attribute(("time", format!("{:.3}", c.duration.as_secs_f64()).as_str()));
            w.write_event(Event::Start(case))?;
            if let Some(f) = &c.finding {
                let message = xml_safe(&f.message);
                // The evidence a learner reads, as plain text.
                let details = xml_safe(&plain_text(&check_lines(c)));
                match c.verdict() {
                    Verdict::Skipped | Verdict::NotRun => {
                        let mut skipped = BytesStart::new("skipped");
                        skipped.push_attribute(("message", message.as_str()));
                        w.write_event(Event::Empty(skipped))?;
                    }
                    Verdict::Failed => {
                        let mut failure = BytesStart::new("failure");
                        failure.push_attribute(("message", message.as_str()));
                        failure.push_attribute(("type", c.stage.id()));
                        w.write_event(Event::Start(failure))?;
                        w.write_event(Event::Text(BytesText::new(&details)))?;
                        w.write_event(Event::End(BytesEnd::new("failure")))?;
                    }
                    Verdict::Warned | Verdict::Passed => {
                        w.write_event(Event::Start(BytesStart::new("system-out")))?;
                        w.write_event(Event::Text(BytesText::new(&format!("warning: {details}"))))?;
                        w.write_event(Event::End(BytesEnd::new("system-out")))?;
                    }
                }
            }
            w.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut xml = String::from_utf8(w.into_inner())?;
    xml.push('\n');
    Ok(xml)
}

/// Drops characters XML 1.0 cannot carry (control bytes a server may have sent).
fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || !c.is_control())
        .collect()
}

/// All outcomes as TAP version 14.
pub fn tap(outcomes: &[ChallengeOutcome]) -> String {
    let count: usize = outcomes.iter().map(|o| o.checks.len()).sum();
    let mut s = format!("TAP version 14\n1..{count}\n");
    let mut n = 0;
    for o in outcomes {
        for c in &o.checks {
            n += 1;
            let (ok, directive) = match c.verdict() {
                Verdict::Passed => (true, ""),
                Verdict::Skipped | Verdict::NotRun => (true, " # SKIP not run"),
                Verdict::Warned => (false, " # TODO advice not followed"),
                Verdict::Failed => (false, ""),
            };
            s.push_str(&format!(
                "{} {n} - [{}] {}: {}{directive}\n",
                if ok { "ok" } else { "not ok" },
                c.stage.id(),
                o.id,
                tap_escape(&c.name)
            ));
            if let Some(f) = &c.finding {
                s.push_str("  ---\n");
                s.push_str(&format!("  message: {}\n", yaml_str(&f.message)));
                let severity = match c.severity {
                    Severity::Must => "must",
                    Severity::Should => "should",
                };
                s.push_str(&format!("  severity: {severity}\n"));
                if let Some(m) = &f.mismatch {
                    s.push_str(&format!("  expected: {}\n", yaml_str(&m.expected)));
                    s.push_str(&format!("  actual: {}\n", yaml_str(&m.actual)));
                }
                if let Some(fix) = f.mismatch.as_ref().and_then(|m| m.fix.as_ref()) {
                    s.push_str(&format!("  change: {}\n", yaml_str(fix)));
                }
                if let Some(ex) = &f.exchange {
                    let curl = f
                        .reproduction
                        .request_line()
                        .unwrap_or_else(|| ex.request.curl());
                    s.push_str(&format!("  curl: {}\n", yaml_str(&curl)));
                }
                let repro = f.reproduction.lines();
                if !repro.is_empty() {
                    s.push_str("  reproduce:\n");
                    for line in repro {
                        s.push_str(&format!("    - {}\n", yaml_str(&line)));
                    }
                }
                if let Some(out) = &c.server_output {
                    if let Some(e) = &out.exception {
                        s.push_str(&format!("  crashed: {}\n", yaml_str(e)));
                    }
                    s.push_str("  server_output:\n");
                    for line in &out.last_lines {
                        s.push_str(&format!("    - {}\n", yaml_str(line)));
                    }
                }
                s.push_str(&format!("  hint: {}\n", yaml_str(&c.hint)));
                s.push_str("  ...\n");
            }
        }
    }
    s
}

fn tap_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('#', "\\#")
}

/// A YAML scalar for any text: a JSON string is valid YAML.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}
