//! Ids of the built-in course offered to shell completion: lessons, presets, challenges, and
//! the header names and stages `reqlab explain` knows.
//!
//! The parsers accept any text (an author's `--lessons DIR` has ids of its own, and the command
//! says what exists when an id is unknown); they only *offer* the built-in ids, so completion
//! scripts can suggest them.

use crate::course::{ContentSource, Course};
use crate::stage::Stage;
use clap::builder::{PossibleValue, TypedValueParser};
use std::sync::OnceLock;

/// The built-in course, loaded once (only when completion scripts or errors ask for ids).
fn course() -> Option<&'static Course> {
    static COURSE: OnceLock<Option<Course>> = OnceLock::new();
    COURSE
        .get_or_init(|| Course::load(&ContentSource::Embedded).ok())
        .as_ref()
}

/// Which ids a parser offers.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Lessons { sections: bool },
    Presets,
    Challenges,
    Explainable,
}

/// A parser that takes any text and offers ids of one kind.
#[derive(Debug, Clone, Copy)]
pub struct Ids(Kind);

/// Lesson ids (with `lesson#section` ones when `sections`).
pub fn lessons(sections: bool) -> Ids {
    Ids(Kind::Lessons { sections })
}

/// Lesson ids, and `lesson/preset` ids.
pub fn presets() -> Ids {
    Ids(Kind::Presets)
}

/// Challenge ids.
pub fn challenges() -> Ids {
    Ids(Kind::Challenges)
}

/// Header names and stage ids (any status code works too, but listing them helps nobody).
pub fn explainable() -> Ids {
    Ids(Kind::Explainable)
}

impl TypedValueParser for Ids {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let course = course()?;
        let ids: Vec<String> = match self.0 {
            Kind::Lessons { sections } => course
                .lessons
                .iter()
                .flat_map(|l| {
                    let own = std::iter::once(l.id.clone());
                    let parts: Vec<String> = if sections {
                        l.sections
                            .iter()
                            .map(|s| format!("{}#{}", l.id, s.id))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    own.chain(parts)
                })
                .collect(),
            Kind::Presets => course
                .lessons
                .iter()
                .flat_map(|l| {
                    std::iter::once(l.id.clone())
                        .chain(l.presets.iter().map(|p| format!("{}/{}", l.id, p.id)))
                })
                .collect(),
            Kind::Challenges => course.challenges.iter().map(|c| c.id.clone()).collect(),
            Kind::Explainable => course
                .explain()
                .header_names()
                .map(str::to_string)
                .chain(Stage::ALL.iter().map(|s| s.id().to_string()))
                .collect(),
        };
        Some(Box::new(
            ids.into_iter().map(|id| PossibleValue::new(id).hide(false)),
        ))
    }
}
