//! `lesson-id#section-id`: how content points at the lesson section that teaches something
//! (a challenge's `hint`, `teaches` in `explain.toml`), and what `reqlab learn` opens.

use super::lesson::{Lesson, Section};
use serde::{Serialize, Serializer};
use std::fmt;

/// A pointer at one section of one lesson, written `lesson-id#section-id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SectionRef {
    /// The lesson's id (`rest-resources`).
    pub lesson: String,
    /// The section's id within that lesson (`conditional`).
    pub section: String,
}

impl SectionRef {
    /// Reads `lesson#section`; `None` when the text does not have that shape (a hint may be a
    /// sentence instead, and a sentence has spaces before any `#`).
    pub fn parse(text: &str) -> Option<SectionRef> {
        let (lesson, section) = text.split_once('#')?;
        let word = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
        (word(lesson) && !section.contains(char::is_whitespace)).then(|| SectionRef {
            lesson: lesson.to_string(),
            section: section.to_string(),
        })
    }

    /// The lesson and section it points at, when both exist.
    pub fn resolve<'l>(&self, lessons: &'l [Lesson]) -> Option<(&'l Lesson, &'l Section)> {
        let lesson = lessons.iter().find(|l| l.id == self.lesson)?;
        Some((lesson, lesson.section(&self.section)?))
    }

    /// Why it points at nothing in `lessons`, in words an author can act on (`None` when it
    /// resolves).
    pub fn problem(&self, lessons: &[Lesson]) -> Option<String> {
        match lessons.iter().find(|l| l.id == self.lesson) {
            None => Some(format!(
                "`{self}` names lesson `{}`, which does not exist",
                self.lesson
            )),
            Some(lesson) => lesson.section(&self.section).is_none().then(|| {
                format!(
                    "`{self}`: lesson `{}` has no section `{}` (it has: {})",
                    self.lesson,
                    self.section,
                    lesson
                        .sections
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        }
    }

    /// The command that opens the section: `reqlab learn lesson#section`.
    pub fn learn_command(&self) -> String {
        format!("reqlab learn {self}")
    }
}

impl fmt::Display for SectionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.lesson, self.section)
    }
}

impl Serialize for SectionRef {
    /// As it is written: `"lesson#section"`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_lesson_hash_section_shape_is_a_reference() {
        let r = SectionRef::parse("validation#layers").unwrap();
        assert_eq!(
            (r.lesson.as_str(), r.section.as_str()),
            ("validation", "layers")
        );
        assert_eq!(r.to_string(), "validation#layers");
        assert_eq!(r.learn_command(), "reqlab learn validation#layers");
        assert_eq!(SectionRef::parse("validation"), None);
        assert_eq!(SectionRef::parse("Caching: see # of tags"), None);
        assert_eq!(SectionRef::parse("#layers"), None);
    }
}
