//! `reqlab learn <lesson>[#section]`: a lesson (or one of its sections) rendered for the
//! terminal, followed by its requests to try — through `$PAGER` when it is longer than the
//! screen, as git does.

use crate::cli::LearnArgs;
use crate::course::{Course, Lesson, Section};
use crate::lab::address;
use crate::term::{self, paint};
use crate::view::markdown;
use crate::view::style;
use std::io::{IsTerminal, Write};
use std::process::{ExitCode, Stdio};

/// Where `reqlab serve` listens unless told otherwise.
const LAB_URL: &str = "http://127.0.0.1:4747";

/// Prints the lesson text, wrapped to the terminal, then the requests to try.
pub fn run(course: &Course, args: LearnArgs) -> anyhow::Result<ExitCode> {
    let (lesson_ref, section_ref) = match args.lesson.split_once('#') {
        Some((lesson, section)) => (lesson, Some(section)),
        None => (args.lesson.as_str(), args.section.as_deref()),
    };
    let lesson = find(course, lesson_ref)?;
    let section = section_ref.map(|id| find_section(lesson, id)).transpose()?;
    let lab_url = match &args.url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => crate::paths::data_dir(args.data_dir.clone())
            .ok()
            .and_then(|dir| address::find(&dir))
            .map_or_else(|| LAB_URL.to_string(), |lab| lab.url),
    };

    let width = term::output_width(args.width);
    let look = if term::colors_on_stdout() {
        markdown::Look::Styled
    } else {
        markdown::Look::Plain
    };
    let text = match section {
        Some(s) => lesson.section_markdown(&s.id).unwrap_or_default(),
        None => lesson.markdown.clone(),
    };
    // Written with styles; the terminal stream (or the pager's input) drops them when colors
    // are off.
    let mut page = Vec::new();
    term::write_lines(&mut page, &markdown::render(&text, width, look))?;
    write_presets(&mut page, lesson, section, &lab_url, width)?;

    let rows = crossterm::terminal::size().map_or(u16::MAX, |(_, rows)| rows);
    let long = page.iter().filter(|b| **b == b'\n').count() >= usize::from(rows);
    if long && !args.no_pager && std::io::stdout().is_terminal() && page_through(&page) {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = term::stdout();
    out.write_all(&page)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The requests to try (those of one section, when one was asked for) and the challenge.
fn write_presets(
    out: &mut impl Write,
    lesson: &Lesson,
    section: Option<&Section>,
    lab_url: &str,
    width: u16,
) -> anyhow::Result<()> {
    let presets: Vec<_> = lesson
        .presets
        .iter()
        .filter(|p| section.is_none_or(|s| p.section == s.id))
        .collect();
    if !presets.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            paint(
                style::STRONG,
                "Requests to try (start the lab first: reqlab serve)"
            )
        )?;
        writeln!(
            out,
            "{}",
            paint(
                style::DIM,
                format!("Send one and see its trace: reqlab send {}/<id>", lesson.id)
            )
        )?;
        for preset in presets {
            let id = format!("· {}/{}", lesson.id, preset.id);
            // The id beside the title, or under it when both do not fit.
            let beside =
                preset.title.chars().count() + id.chars().count() + 4 <= usize::from(width);
            let gap = if beside { "  " } else { "\n  " };
            writeln!(
                out,
                "\n  {}{gap}{}",
                paint(style::STRONG, &preset.title),
                paint(style::DIM, id)
            )?;
            writeln!(out, "  {}", paint(style::ID, preset.curl(lab_url)))?;
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
    Ok(())
}

/// Shows `page` through `$PAGER` (or `less -R`); false when no pager could be started.
fn page_through(page: &[u8]) -> bool {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -R".to_string());
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(&pager).stdin(Stdio::piped());
    // Like git: quit at once if it fits, keep colors, leave the text on the screen.
    if std::env::var_os("LESS").is_none() {
        command.env("LESS", "FRX");
    }
    let Ok(mut child) = command.spawn() else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // The reader may quit before reading everything: that is fine.
        let _ = if term::colors_on_stdout() {
            stdin.write_all(page)
        } else {
            stdin.write_all(&anstream::adapter::strip_bytes(page).into_vec())
        };
    }
    child.wait().is_ok()
}

/// The lesson named by id or number, or an error listing what exists.
pub fn find<'c>(course: &'c Course, wanted: &str) -> anyhow::Result<&'c Lesson> {
    let by_number = wanted.parse::<u32>().ok();
    course
        .lessons
        .iter()
        .find(|l| l.id == wanted || Some(l.number) == by_number)
        .ok_or_else(|| {
            let ids: Vec<&str> = course.lessons.iter().map(|l| l.id.as_str()).collect();
            match crate::suggest::close_matches(wanted, ids.iter().copied()).first() {
                Some(close) => anyhow::anyhow!(
                    "there is no lesson `{wanted}`; did you mean `{close}`? (see `reqlab lessons`)"
                ),
                None => anyhow::anyhow!(
                    "there is no lesson `{wanted}`; lessons are: {} (see `reqlab lessons`)",
                    ids.join(", ")
                ),
            }
        })
}

/// The section named by id, or an error listing the lesson's sections.
fn find_section<'l>(lesson: &'l Lesson, wanted: &str) -> anyhow::Result<&'l Section> {
    lesson.section(wanted).ok_or_else(|| {
        let ids: Vec<&str> = lesson.sections.iter().map(|s| s.id.as_str()).collect();
        anyhow::anyhow!(
            "lesson {} has no section `{wanted}`; its sections are: {}",
            lesson.id,
            ids.join(", ")
        )
    })
}
