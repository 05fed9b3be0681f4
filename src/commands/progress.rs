//! `reqlab progress`: which challenges you have passed; `reqlab progress reset` forgets them.

use crate::cli::{ListFormat, ProgressAction, ProgressArgs};
use crate::course::{Challenge, Course};
use crate::paths;
use crate::progress::{OpenNote, Pass, Progress, Standing};
use crate::term::paint;
use crate::view::style;
use anyhow::bail;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// Runs the command.
pub fn run(course: &Course, args: ProgressArgs) -> anyhow::Result<ExitCode> {
    let data_dir = paths::data_dir(args.data_dir)?;
    let (progress, note) = Progress::open(&data_dir)?;
    if let OpenNote::MovedAside(aside) = &note {
        anstream::eprintln!(
            "{} your progress file could not be read; it was moved to {} and a new one started",
            paint(style::WARN, "warning:"),
            aside.display()
        );
    }
    match args.action {
        Some(ProgressAction::Reset { yes }) => reset(&progress, yes),
        None => show(course, &progress, args.format),
    }
}

fn show(course: &Course, progress: &Progress, format: ListFormat) -> anyhow::Result<ExitCode> {
    let passes = progress.best_passes()?;
    let pass_of = |c: &Challenge| passes.iter().find(|p| p.challenge == c.id);
    let standing = |c: &Challenge| Standing::of(pass_of(c).map(|p| p.version), c.version);
    let mut out = crate::term::stdout();
    if format == ListFormat::Json {
        let rows: Vec<_> = course
            .challenges
            .iter()
            .map(|c| {
                let pass = pass_of(c);
                serde_json::json!({
                    "challenge": c.id,
                    "lesson": c.lesson,
                    "version": c.version,
                    "passed": standing(c) == Standing::Passed,
                    "standing": standing(c),
                    "passed_version": pass.map(|p| p.version),
                    "passed_at": pass.map(|p| &p.passed_at),
                    "target": pass.map(|p| &p.target),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "challenges": rows }))?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = course
        .challenges
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(9);
    let when = |p: &Pass| {
        p.passed_at
            .get(..16)
            .unwrap_or(&p.passed_at)
            .replace('T', " ")
    };
    for c in &course.challenges {
        match (standing(c), pass_of(c)) {
            (Standing::Passed, Some(p)) => writeln!(
                out,
                "  {} {:<width$}  {}",
                paint(style::OK, "✓"),
                c.id,
                paint(
                    style::DIM,
                    format!("passed {} against {}", when(p), p.target)
                )
            )?,
            (Standing::EarlierVersion, Some(p)) => writeln!(
                out,
                "  {} {:<width$}  {} {}",
                paint(style::WARN, "!"),
                c.id,
                paint(style::WARN, "passed an earlier version — run again"),
                paint(
                    style::DIM,
                    format!(
                        "(version {} on {}; the checks are stricter in version {})",
                        p.version,
                        when(p),
                        c.version
                    )
                )
            )?,
            _ => writeln!(
                out,
                "  {} {:<width$}  {}",
                paint(style::DIM, "·"),
                c.id,
                paint(style::DIM, "not passed yet")
            )?,
        }
    }
    let done = course
        .challenges
        .iter()
        .filter(|c| standing(c) == Standing::Passed)
        .count();
    let earlier = course
        .challenges
        .iter()
        .filter(|c| standing(c) == Standing::EarlierVersion)
        .count();
    let again = if earlier > 0 {
        format!(" ({earlier} passed in an earlier version)")
    } else {
        String::new()
    };
    writeln!(
        out,
        "\n{done} of {} challenges passed{again} · stored in {}",
        course.challenges.len(),
        progress.path().display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn reset(progress: &Progress, yes: bool) -> anyhow::Result<ExitCode> {
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "`reqlab progress reset` needs confirmation; run it in a terminal, or pass --yes"
            );
        }
        anstream::eprint!(
            "Forget every challenge you have passed and every section you have read (stored in {})? Type `yes` to confirm: ",
            progress.path().display()
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            anstream::eprintln!("nothing changed");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let removed = progress.reset()?;
    anstream::eprintln!(
        "{} forgot {removed} recorded pass(es)",
        paint(style::OK, "progress reset:")
    );
    Ok(ExitCode::SUCCESS)
}
