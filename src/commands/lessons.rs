//! `reqlab lessons`: the course at a glance, as a table or JSON.

use crate::cli::{LessonsArgs, ListFormat};
use crate::course::Course;
use crate::progress::{Progress, Standing};
use crate::term::paint;
use crate::view::style;
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;

/// Prints every lesson in course order.
pub fn run(course: &Course, args: LessonsArgs) -> anyhow::Result<ExitCode> {
    let mut out = crate::term::stdout();
    let passed = crate::paths::data_dir(args.data_dir.clone())
        .map(|dir| Progress::passed_versions(&dir))
        .unwrap_or_default();
    // Passed means the challenge as it is now: a pass of an earlier, less strict version is
    // not marked (`reqlab progress` says to run it again).
    let has_passed = |l: &crate::course::Lesson| {
        l.challenge
            .as_ref()
            .and_then(|id| course.challenge(id))
            .is_some_and(|c| {
                let version = passed.iter().find(|(id, _)| *id == c.id).map(|(_, v)| *v);
                Standing::of(version, c.version) == Standing::Passed
            })
    };
    match args.format {
        ListFormat::Json => {
            let lessons: Vec<_> = course
                .lessons
                .iter()
                .map(|l| {
                    json!({
                        "id": l.id,
                        "number": l.number,
                        "title": l.title,
                        "summary": l.summary,
                        "stages": l.stages,
                        "challenge": l.challenge,
                        "sections": l.sections.iter().map(|s| &s.id).collect::<Vec<_>>(),
                        "guide": l.guide,
                        "passed": has_passed(l),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &json!({ "lessons": lessons }))?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            let id_w = course
                .lessons
                .iter()
                .map(|l| l.id.len())
                .max()
                .unwrap_or(2)
                .max(2);
            writeln!(
                out,
                "{}",
                paint(style::STRONG, format!("  #  {:<id_w$}  TITLE", "ID"))
            )?;
            for l in &course.lessons {
                let stages: Vec<&str> = l.stages.iter().map(|s| s.id()).collect();
                let mut details = format!("stages: {}", stages.join(", "));
                if let Some(challenge) = &l.challenge {
                    details.push_str(&format!(" · challenge: {challenge}"));
                }
                let mark = if has_passed(l) {
                    format!("  {}", paint(style::OK, "✓ passed"))
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "{:>3}  {}  {}{mark}",
                    l.number,
                    paint(style::ID, format!("{:<id_w$}", l.id)),
                    l.title,
                )?;
                writeln!(out, "     {:<id_w$}  {}", "", paint(style::DIM, details))?;
            }
            writeln!(
                out,
                "\n{}",
                paint(style::DIM, "Read one with: reqlab learn <id>")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
