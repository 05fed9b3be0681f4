//! `reqlab dev check`: everything a lesson author needs to know before shipping content.
//!
//! Loading already checks formats, ids, headings and references (every problem reported with
//! its file and line). This command then proves the content against a live lab:
//! - each lesson's presets are sent, in order, to a fresh in-memory lab, and each must get the
//!   status it declares;
//! - every header the lab sends in answer to those presets is explained in `explain.toml`,
//!   and so is every stage;
//! - each lesson's challenge runs against a fresh lab and must pass (the lab is the reference
//!   solution; a challenge it cannot pass is a bug in one or the other).

use crate::check::event::EventSink;
use crate::check::http::Client;
use crate::check::result::Status;
use crate::check::run::{RunSettings, run_challenge};
use crate::course::{Course, Subject};
use crate::lab::{LabConfig, start};
use crate::term::paint;
use crate::view::style;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Checks the course; exit 0 when clean, 1 when a preset misbehaves. With `otlp_dir`, each
/// preset's trace is also written there as OTLP JSON.
pub async fn check(
    course: &Course,
    otlp_dir: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let mut out = crate::term::stdout();
    if let Some(dir) = otlp_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--otlp-dir {}: {e}", dir.display()))?;
    }
    // Problems that load but must not ship, each with its file and line.
    let authoring: Vec<String> = course
        .challenges
        .iter()
        .flat_map(|c| c.authoring_problems.iter().map(|e| e.to_string()))
        .collect();
    if !authoring.is_empty() {
        for problem in &authoring {
            writeln!(out, "{} {problem}", paint(style::FAIL, "error"))?;
        }
        anyhow::bail!(
            "{} problem(s) in challenge files; every `matches` needs a `describe`",
            authoring.len()
        );
    }
    let presets: usize = course.lessons.iter().map(|l| l.presets.len()).sum();
    writeln!(
        out,
        "{} {} lessons, {} sections, {presets} presets: formats, ids and references are valid",
        paint(style::OK, "ok"),
        course.lessons.len(),
        course
            .lessons
            .iter()
            .map(|l| l.sections.len())
            .sum::<usize>(),
    )?;
    let client = Client::new(Duration::from_secs(10))?;
    let mut failures = 0;
    // Each response header the lab sent, with the first preset that got it.
    let mut sent: BTreeMap<String, String> = BTreeMap::new();
    for lesson in &course.lessons {
        let lab = start(LabConfig::ephemeral()).await?;
        let base = lab.url();
        // Values a preset captures (a token) go into the later presets that send them.
        let mut captured = crate::course::template::Vars::default();
        for preset in &lesson.presets {
            let request = preset
                .render(&captured)
                .unwrap_or_else(|_| preset.request.clone());
            let exchange = client.send(request.outgoing(&base)).await;
            let trace = exchange
                .response
                .as_ref()
                .ok()
                .and_then(|r| r.header("x-request-id"))
                .and_then(|id| lab.state.traces.get(&id));
            let repeats = trace
                .as_ref()
                .and_then(|t| t.repeat_warnings().next().map(|e| e.message.clone()));
            if let (Some(dir), Some(trace)) = (otlp_dir, &trace) {
                let file = dir.join(format!("{}--{}.json", lesson.id, preset.id));
                let export = crate::lab::trace::otlp::export(trace);
                std::fs::write(&file, serde_json::to_vec(&export)?)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            }
            if let Ok(response) = &exchange.response {
                crate::check::run::keep_captures(preset, response, &mut captured);
                for (name, _) in &response.headers {
                    sent.entry(name.to_ascii_lowercase())
                        .or_insert_with(|| format!("{}/{}", lesson.id, preset.id));
                }
            }
            let outcome = match exchange.response {
                Ok(response) if response.status == preset.expect_status => None,
                Ok(response) => Some(format!(
                    "answered {} but expect_status is {}",
                    response.status, preset.expect_status
                )),
                Err(e) => Some(format!("could not be sent: {e}")),
            };
            let outcome =
                outcome.or_else(|| repeats_problem(repeats.as_deref(), preset.shows_n_plus_one));
            if let Some(problem) = outcome {
                failures += 1;
                writeln!(
                    out,
                    "{} {}/{}: {} {} {problem}",
                    paint(style::FAIL, "fail"),
                    lesson.id,
                    preset.id,
                    preset.request.method,
                    preset.request.path
                )?;
            }
        }
        lab.stop().await?;
    }
    if failures == 0 {
        writeln!(
            out,
            "{} every preset got its expected status from a fresh lab",
            paint(style::OK, "ok")
        )?;
    }
    failures += explained(&mut out, course, &sent)?;
    let before = failures;
    for challenge in course.challenges.iter().filter(|c| c.lesson.is_some()) {
        let lab = start(LabConfig::ephemeral()).await?;
        let outcome = run_challenge(
            challenge,
            course,
            &lab.url(),
            RunSettings::default(),
            &EventSink::discard(),
        )
        .await?;
        lab.stop().await?;
        for check in outcome.checks.iter().filter(|c| c.status != Status::Pass) {
            failures += 1;
            writeln!(
                out,
                "{} challenge {}: the lab does not pass `{}`: {}",
                paint(style::FAIL, "fail"),
                challenge.id,
                check.name,
                check.finding.as_ref().map_or("", |f| f.message.as_str())
            )?;
        }
    }
    if failures == before {
        writeln!(
            out,
            "{} the lab passes every lesson's challenge",
            paint(style::OK, "ok")
        )?;
    }
    if failures == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "{} {failures} problem(s) with presets, explanations or challenges",
            paint(style::FAIL, "fail")
        )?;
        Ok(ExitCode::from(1))
    }
}

/// A statement run once per item is a finding, unless showing it is the preset's point:
/// `flagged` is the trace's first warning about repeated statements.
fn repeats_problem(flagged: Option<&str>, shows_n_plus_one: bool) -> Option<String> {
    match (flagged, shows_n_plus_one) {
        (Some(sentence), false) => Some(format!(
            "ran a statement more than once — {sentence} (fix the handler, or mark the preset shows_n_plus_one = true if that is what it demonstrates)"
        )),
        (None, true) => Some(
            "is marked shows_n_plus_one, but its trace flags no statement run more than once"
                .into(),
        ),
        _ => None,
    }
}

/// Reports each header the lab sent (`sent`: name → the preset that first got it) and each
/// stage that `explain.toml` does not explain; returns how many it reported.
fn explained(
    out: &mut impl Write,
    course: &Course,
    sent: &BTreeMap<String, String>,
) -> anyhow::Result<usize> {
    let explain = course.explain();
    let mut problems = 0;
    for (name, preset) in sent {
        if explain.explain(&Subject::Header(name.clone())).is_none() {
            problems += 1;
            writeln!(
                out,
                "{} explain.toml does not explain the header `{name}`, which the lab sends (answering {preset})",
                paint(style::FAIL, "fail")
            )?;
        }
    }
    let described: Vec<_> = explain.described_stages().collect();
    for stage in crate::stage::Stage::ALL {
        if !described.contains(&stage) {
            problems += 1;
            writeln!(
                out,
                "{} explain.toml does not say what happens at the `{stage}` stage",
                paint(style::FAIL, "fail")
            )?;
        }
    }
    if problems == 0 {
        writeln!(
            out,
            "{} explain.toml explains the {} headers the lab sent and every stage",
            paint(style::OK, "ok"),
            sent.len()
        )?;
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_n_plus_one_fails_a_preset_unless_it_is_what_the_preset_shows() {
        let flagged = Some("N+1: `SELECT …` ran 10× with different parameters");
        assert!(
            repeats_problem(flagged, false)
                .unwrap()
                .contains("shows_n_plus_one = true")
        );
        assert_eq!(repeats_problem(flagged, true), None);
        assert_eq!(repeats_problem(None, false), None);
        assert!(
            repeats_problem(None, true)
                .unwrap()
                .contains("flags no statement")
        );
    }
}
