//! `reqlab dev check`: everything a lesson author needs to know before shipping content.
//!
//! Loading already checks formats, ids, headings and references (every problem reported with
//! its file and line). This command then proves the presets: each lesson's presets are sent,
//! in order, to a fresh in-memory lab, and each must get the status it declares.

use crate::course::Course;
use crate::lab::{LabConfig, start};
use crate::term::{paint, styles};
use std::process::ExitCode;
use std::time::Duration;

/// Checks the course; exit 0 when clean, 1 when a preset misbehaves.
pub async fn check(course: &Course) -> anyhow::Result<ExitCode> {
    let presets: usize = course.lessons.iter().map(|l| l.presets.len()).sum();
    anstream::println!(
        "{} {} lessons, {} sections, {presets} presets: formats, ids and references are valid",
        paint(styles::OK, "ok"),
        course.lessons.len(),
        course
            .lessons
            .iter()
            .map(|l| l.sections.len())
            .sum::<usize>(),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut failures = 0;
    for lesson in &course.lessons {
        let lab = start(LabConfig::ephemeral()).await?;
        let base = lab.url();
        for preset in &lesson.presets {
            let outcome = match preset.send(&client, &base).await {
                Ok(response) if response.status().as_u16() == preset.expect_status => None,
                Ok(response) => Some(format!(
                    "answered {} but expect_status is {}",
                    response.status().as_u16(),
                    preset.expect_status
                )),
                Err(e) => Some(format!("could not be sent: {e}")),
            };
            if let Some(problem) = outcome {
                failures += 1;
                anstream::println!(
                    "{} {}/{}: {} {} {problem}",
                    paint(styles::FAIL, "fail"),
                    lesson.id,
                    preset.id,
                    preset.method,
                    preset.path
                );
            }
        }
        lab.stop().await?;
    }
    if failures == 0 {
        anstream::println!(
            "{} every preset got its expected status from a fresh lab",
            paint(styles::OK, "ok")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        anstream::println!(
            "{} {failures} preset(s) did not behave as declared",
            paint(styles::FAIL, "fail")
        );
        Ok(ExitCode::from(1))
    }
}
