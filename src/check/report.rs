//! Reporters: text for people (streamed check by check), JSON, JUnit XML and TAP for CI.

use super::http::{Exchange, Received};
use super::result::{ChallengeOutcome, CheckOutcome, Status, Tally};
use crate::course::challenge::Severity;
use crate::term::{paint, styles};
use std::io::{self, Write};

/// Lines of a response body shown in a failure.
const BODY_LINES: usize = 20;

/// The heading printed before a challenge's checks.
pub fn text_heading(
    out: &mut impl Write,
    id: &str,
    title: &str,
    target: &str,
    checks: usize,
) -> io::Result<()> {
    writeln!(
        out,
        "{} {} — {title}",
        paint(styles::STRONG, "challenge"),
        paint(styles::ID, id)
    )?;
    writeln!(
        out,
        "{}",
        paint(styles::DIM, format!("  target {target} · {checks} checks"))
    )
}

/// One check's line, and for a failure or warning the evidence.
pub fn text_check(out: &mut impl Write, c: &CheckOutcome) -> io::Result<()> {
    let (mark, style) = match c.status {
        Status::Pass => ("✓", styles::OK),
        Status::Fail => ("✗", styles::FAIL),
        Status::Warn => ("!", styles::WARN),
        Status::Skip if c.severity == Severity::Should => ("-", styles::DIM),
        Status::Skip => ("✗", styles::FAIL),
    };
    let stage = format!("[{}]", c.stage.id());
    let advice = match (c.status, c.severity) {
        (Status::Skip, _) => " (not run)",
        (_, Severity::Should) => " (advice)",
        _ => "",
    };
    writeln!(
        out,
        "  {} {} {}{}  {}",
        paint(style, mark),
        paint(styles::ID, format!("{stage:<15}")),
        c.name,
        paint(styles::DIM, advice),
        paint(styles::DIM, format!("{} ms", c.duration.as_millis()))
    )?;
    let Some(f) = &c.finding else { return Ok(()) };
    let pad = "      ";
    let label = |l: &str| paint(styles::DIM, format!("{l:<9}"));
    if c.status == Status::Skip {
        let reason = f.message.trim_start_matches("not run: ");
        // "Nothing is listening" was already said by the check that found it.
        if reason.starts_with("nothing is listening") {
            return Ok(());
        }
        return writeln!(out, "{pad}{} {reason}", label("not run"));
    }
    if f.mismatch.is_none() {
        writeln!(
            out,
            "{pad}{} {}",
            label("problem"),
            paint(styles::FAIL, &f.message)
        )?;
    }
    for earlier in &f.earlier {
        writeln!(
            out,
            "{pad}{} {}",
            label("before"),
            paint(styles::DIM, earlier.request.curl())
        )?;
    }
    if let Some(ex) = &f.exchange {
        write_exchange(out, ex, pad)?;
    }
    if let Some(m) = &f.mismatch {
        writeln!(
            out,
            "{pad}{} {}",
            label("expected"),
            paint(styles::OK, &m.expected)
        )?;
        writeln!(
            out,
            "{pad}{} {}",
            label("actual"),
            paint(styles::FAIL, &m.actual)
        )?;
        if let Some(diff) = &m.diff {
            for line in diff.lines() {
                let style = if line.starts_with('+') {
                    styles::FAIL
                } else if line.starts_with('-') {
                    styles::OK
                } else {
                    styles::DIM
                };
                writeln!(out, "{pad}          {}", paint(style, line))?;
            }
        }
    }
    if let Some(why) = &c.why {
        writeln!(out, "{pad}{} {why}", label("matters"))?;
    }
    writeln!(out, "{pad}{} {}", label("hint"), c.hint)
}

fn write_exchange(out: &mut impl Write, ex: &Exchange, pad: &str) -> io::Result<()> {
    let label = |l: &str| paint(styles::DIM, format!("{l:<9}"));
    writeln!(
        out,
        "{pad}{} {}",
        label("request"),
        paint(styles::ID, ex.request.curl())
    )?;
    let Ok(r) = &ex.response else { return Ok(()) };
    writeln!(
        out,
        "{pad}{} {} · {} bytes{} · {} ms",
        label("response"),
        paint(
            status_style(r.status),
            format!("{} {}", r.status, reason(r.status))
        ),
        r.body.len(),
        if r.truncated { " (cut at 1 MiB)" } else { "" },
        r.elapsed.as_millis()
    )?;
    let body_pad = format!("{pad}          ");
    for (k, v) in &r.headers {
        if ["date", "server", "content-length", "connection"].contains(&k.as_str()) {
            continue;
        }
        writeln!(out, "{body_pad}{}", paint(styles::DIM, format!("{k}: {v}")))?;
    }
    for line in body_excerpt(r) {
        writeln!(out, "{body_pad}{line}")?;
    }
    Ok(())
}

fn status_style(status: u16) -> anstyle::Style {
    match status {
        200..=399 => styles::OK,
        400..=499 => styles::WARN,
        _ => styles::FAIL,
    }
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The first lines of a body: pretty JSON when it is JSON, else text.
pub fn body_excerpt(r: &Received) -> Vec<String> {
    if r.body.is_empty() {
        return vec!["(no body)".into()];
    }
    let text = match r.json() {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| r.text()),
        Err(_) => r.text(),
    };
    let mut lines: Vec<String> = text
        .lines()
        .take(BODY_LINES)
        .map(|l| super::assert::shorten(l, 160))
        .collect();
    let total = text.lines().count();
    if total > BODY_LINES {
        lines.push(format!("… {} more lines", total - BODY_LINES));
    }
    lines
}

/// The last line of a text report.
pub fn text_summary(out: &mut impl Write, tally: Tally) -> io::Result<()> {
    let style = if tally.failed > 0 {
        styles::FAIL
    } else {
        styles::OK
    };
    writeln!(out, "{}", paint(style, tally.to_string()))
}

/// All outcomes as one JSON document.
pub fn json(outcomes: &[ChallengeOutcome]) -> serde_json::Value {
    let mut total = Tally::default();
    let challenges: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            total += o.tally();
            serde_json::json!({
                "id": o.id,
                "title": o.title,
                "target": o.target,
                "passed": o.passed(),
                "tally": o.tally(),
                "duration_ms": o.duration.as_millis() as u64,
                "checks": o.checks.iter().map(check_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "passed": outcomes.iter().all(ChallengeOutcome::passed),
        "tally": total,
        "challenges": challenges,
    })
}

fn check_json(c: &CheckOutcome) -> serde_json::Value {
    let mut v = serde_json::json!({
        "name": c.name,
        "stage": c.stage,
        "severity": c.severity,
        "status": c.status,
        "duration_ms": c.duration.as_millis() as u64,
        "hint": c.hint,
    });
    if let Some(why) = &c.why {
        v["why"] = why.clone().into();
    }
    if let Some(f) = &c.finding {
        v["message"] = f.message.clone().into();
        if let Some(m) = &f.mismatch {
            v["expected"] = m.expected.clone().into();
            v["actual"] = m.actual.clone().into();
        }
        if let Some(ex) = &f.exchange {
            v["request"] = serde_json::json!({
                "method": ex.request.method,
                "url": ex.request.url,
                "curl": ex.request.curl(),
            });
            if let Ok(r) = &ex.response {
                v["response"] = serde_json::json!({
                    "status": r.status,
                    "headers": r.headers,
                    "body": body_excerpt(r).join("\n"),
                });
            }
        }
    }
    v
}

/// All outcomes as a JUnit XML report (one testsuite per challenge, one testcase per check).
pub fn junit(outcomes: &[ChallengeOutcome]) -> anyhow::Result<String> {
    use quick_xml::Writer;
    use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut total = Tally::default();
    let mut time = 0.0;
    let mut count = 0;
    for o in outcomes {
        total += o.tally();
        time += o.duration.as_secs_f64();
        count += o.checks.len();
    }
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", "reqlab"));
    suites.push_attribute(("tests", count.to_string().as_str()));
    suites.push_attribute(("failures", total.failed.to_string().as_str()));
    suites.push_attribute(("errors", "0"));
    suites.push_attribute(("time", format!("{time:.3}").as_str()));
    w.write_event(Event::Start(suites))?;
    for o in outcomes {
        let t = o.tally();
        let skipped = o
            .checks
            .iter()
            .filter(|c| c.status == Status::Skip && c.severity == Severity::Should)
            .count();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", o.id.as_str()));
        suite.push_attribute(("tests", o.checks.len().to_string().as_str()));
        suite.push_attribute(("failures", t.failed.to_string().as_str()));
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
                // The text reporter's evidence, without colors.
                let mut details = Vec::new();
                text_check(&mut details, c)?;
                let details = xml_safe(&strip_ansi(&String::from_utf8_lossy(&details)));
                let failed = c.status == Status::Fail
                    || (c.status == Status::Skip && c.severity == Severity::Must);
                if c.status == Status::Skip && c.severity == Severity::Should {
                    let mut skipped = BytesStart::new("skipped");
                    let message = xml_safe(&f.message);
                    skipped.push_attribute(("message", message.as_str()));
                    w.write_event(Event::Empty(skipped))?;
                } else if failed {
                    let mut failure = BytesStart::new("failure");
                    let message = xml_safe(&f.message);
                    failure.push_attribute(("message", message.as_str()));
                    failure.push_attribute(("type", c.stage.id()));
                    w.write_event(Event::Start(failure))?;
                    w.write_event(Event::Text(BytesText::new(&details)))?;
                    w.write_event(Event::End(BytesEnd::new("failure")))?;
                } else {
                    w.write_event(Event::Start(BytesStart::new("system-out")))?;
                    w.write_event(Event::Text(BytesText::new(&format!("warning: {details}"))))?;
                    w.write_event(Event::End(BytesEnd::new("system-out")))?;
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

/// Removes ANSI escape sequences.
fn strip_ansi(s: &str) -> String {
    let re = regex::Regex::new(r"\x1b\[[0-9;]*m").expect("a valid pattern");
    re.replace_all(s, "").into_owned()
}

/// All outcomes as TAP version 14.
pub fn tap(outcomes: &[ChallengeOutcome]) -> String {
    let total: usize = outcomes.iter().map(|o| o.checks.len()).sum();
    let mut s = format!("TAP version 14\n1..{total}\n");
    let mut n = 0;
    for o in outcomes {
        for c in &o.checks {
            n += 1;
            let ok = c.status == Status::Pass
                || (c.status == Status::Skip && c.severity == Severity::Should);
            let directive = match (c.status, c.severity) {
                (Status::Warn, _) => " # TODO advice not followed",
                (Status::Skip, Severity::Should) => " # SKIP not run",
                _ => "",
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
                s.push_str(&format!(
                    "  severity: {}\n",
                    if c.severity == Severity::Must {
                        "must"
                    } else {
                        "should"
                    }
                ));
                if let Some(m) = &f.mismatch {
                    s.push_str(&format!("  expected: {}\n", yaml_str(&m.expected)));
                    s.push_str(&format!("  actual: {}\n", yaml_str(&m.actual)));
                }
                if let Some(ex) = &f.exchange {
                    s.push_str(&format!("  curl: {}\n", yaml_str(&ex.request.curl())));
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

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}
