//! `reqlab learn <lesson>`: a lesson rendered for the terminal, followed by its presets.

use crate::cli::LearnArgs;
use crate::course::{Course, Lesson};
use crate::term::{self, paint};
use crate::view::markdown;
use crate::view::style;
use std::io::Write;
use std::process::ExitCode;

/// Prints the lesson text, wrapped to the terminal, then the requests to try.
pub fn run(course: &Course, args: LearnArgs) -> anyhow::Result<ExitCode> {
    let lesson = find(course, &args.lesson)?;
    let width = term::output_width(args.width);
    let mut out = crate::term::stdout();
    let look = if term::colors_on_stdout() {
        markdown::Look::Styled
    } else {
        markdown::Look::Plain
    };
    let lines = markdown::render(&lesson.markdown, width, look);
    term::write_lines(&mut out, &lines)?;
    if !lesson.presets.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            paint(
                style::STRONG,
                "Requests to try (start the lab first: reqlab serve)"
            )
        )?;
        for preset in &lesson.presets {
            writeln!(out, "\n  {}", paint(style::STRONG, &preset.title))?;
            writeln!(out, "  {}", paint(style::ID, preset.curl(LAB_URL)))?;
            if let Some(note) = &preset.note {
                let wrapped = textwrap::wrap(note, usize::from(width).saturating_sub(4).max(20));
                for line in wrapped {
                    writeln!(out, "  {}", paint(style::DIM, line))?;
                }
            }
        }
    }
    if let Some(challenge) = &lesson.challenge {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            paint(style::STRONG, "Prove it on your own server:")
        )?;
        writeln!(
            out,
            "  {}",
            paint(
                style::ID,
                format!("reqlab check {challenge} --target http://127.0.0.1:8000")
            )
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `reqlab serve` listens by default.
const LAB_URL: &str = "http://127.0.0.1:4747";

/// The lesson named by id or number, or an error listing what exists.
pub fn find<'c>(course: &'c Course, wanted: &str) -> anyhow::Result<&'c Lesson> {
    let by_number = wanted.parse::<u32>().ok();
    course
        .lessons
        .iter()
        .find(|l| l.id == wanted || Some(l.number) == by_number)
        .ok_or_else(|| {
            let ids: Vec<&str> = course.lessons.iter().map(|l| l.id.as_str()).collect();
            anyhow::anyhow!(
                "there is no lesson `{wanted}`; lessons are: {} (see `reqlab lessons`)",
                ids.join(", ")
            )
        })
}
