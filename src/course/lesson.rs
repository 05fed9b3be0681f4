//! The lesson format: `lesson.toml` (metadata, sections, presets) beside `lesson.md` (the text).
//!
//! Parsing checks everything that can be checked inside one lesson folder: the format version,
//! that the Markdown's `##` headings are exactly the declared sections in order, and that every
//! preset is a request that could be sent. Cross-lesson checks live in [`super::Course::load`].

use super::error::ContentError;
use super::preset::{Preset, RawPreset};
use crate::stage::Stage;
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use toml::Spanned;

/// The version of the lesson format this build reads.
pub const LESSON_FORMAT_VERSION: u32 = 1;

/// `lesson.toml`: everything about a lesson except its prose.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonMeta {
    /// Format version; must equal [`LESSON_FORMAT_VERSION`].
    pub format_version: Spanned<u32>,
    /// Stable identifier (`http-basics`): the folder name without its number prefix.
    pub id: Spanned<String>,
    /// Title; the Markdown's `#` heading must say the same.
    pub title: String,
    /// One sentence for the lessons table.
    pub summary: String,
    /// Lifecycle stages the lesson teaches, used to place it on the lifecycle map.
    pub stages: Spanned<Vec<Stage>>,
    /// Curriculum section numbers the lesson covers.
    #[serde(default)]
    pub guide: Vec<String>,
    /// The id of the challenge that proves the learner can build what the lesson teaches.
    pub challenge: Option<Spanned<String>>,
    /// The lesson's sections, in reading order.
    pub sections: Vec<Spanned<Section>>,
    /// Requests a learner can fire at the lab from this lesson.
    #[serde(default)]
    pub presets: Vec<Spanned<RawPreset>>,
}

/// One section: a `##` heading of the lesson text.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Slug, unique within the lesson; challenge hints point at `lesson-id#section-id`.
    pub id: String,
    /// The heading text, exactly as in `lesson.md`.
    pub title: String,
}

/// A parsed, checked lesson.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// Folder name, e.g. `01-http-basics`; its number orders the course.
    pub folder: String,
    /// Position in the course, from the folder's number prefix.
    pub number: u32,
    /// Identifier, e.g. `http-basics`.
    pub id: String,
    /// Title.
    pub title: String,
    /// One-sentence summary.
    pub summary: String,
    /// Stages taught.
    pub stages: Vec<Stage>,
    /// Curriculum sections covered.
    pub guide: Vec<String>,
    /// Id of the lesson's challenge, if it has one.
    pub challenge: Option<String>,
    /// Sections in order.
    pub sections: Vec<Section>,
    /// Presets in order.
    pub presets: Vec<Preset>,
    /// The lesson text (Markdown).
    pub markdown: String,
}

impl Lesson {
    /// Parses one lesson folder's two files, reporting every problem found.
    ///
    /// `toml_path` and `md_path` are the names used in error messages.
    pub fn parse(
        folder: &str,
        toml_path: &str,
        toml_src: &str,
        md_path: &str,
        markdown: &str,
    ) -> Result<Lesson, Vec<ContentError>> {
        let mut errors = Vec::new();
        let Some((number, slug)) = split_folder_name(folder) else {
            return Err(vec![ContentError::file(
                toml_path,
                format!(
                    "lesson folder `{folder}` must be named NN-slug (a number, a dash, the lesson id)"
                ),
            )]);
        };
        let meta: LessonMeta = match toml::from_str(toml_src) {
            Ok(meta) => meta,
            Err(err) => return Err(vec![ContentError::from_toml(toml_path, toml_src, &err)]),
        };
        let at = |span: std::ops::Range<usize>, msg: String| {
            ContentError::at(toml_path, toml_src, span.start, msg)
        };

        if *meta.format_version.get_ref() != LESSON_FORMAT_VERSION {
            errors.push(at(
                meta.format_version.span(),
                format!(
                    "format_version {} is not supported; this reqlab reads version {LESSON_FORMAT_VERSION}",
                    meta.format_version.get_ref()
                ),
            ));
        }
        if meta.id.get_ref() != slug {
            errors.push(at(
                meta.id.span(),
                format!(
                    "id `{}` must match the folder name `{folder}` (expected `{slug}`)",
                    meta.id.get_ref()
                ),
            ));
        }
        if let Some(problem) = slug_problem(meta.id.get_ref()) {
            errors.push(at(meta.id.span(), format!("id {problem}")));
        }
        if meta.stages.get_ref().is_empty() {
            errors.push(at(
                meta.stages.span(),
                "stages must name at least one lifecycle stage".into(),
            ));
        }
        if meta.sections.is_empty() {
            errors.push(ContentError::file(
                toml_path,
                "a lesson needs at least one [[sections]] entry",
            ));
        }

        let mut section_ids = HashSet::new();
        for section in &meta.sections {
            let s = section.get_ref();
            if let Some(problem) = slug_problem(&s.id) {
                errors.push(at(section.span(), format!("section id {problem}")));
            }
            if !section_ids.insert(s.id.as_str()) {
                errors.push(at(
                    section.span(),
                    format!("section id `{}` is used twice", s.id),
                ));
            }
        }

        let mut preset_ids = HashSet::new();
        let mut presets = Vec::new();
        for preset in &meta.presets {
            let p = preset.get_ref();
            if !preset_ids.insert(p.id.as_str()) {
                errors.push(at(
                    preset.span(),
                    format!("preset id `{}` is used twice", p.id),
                ));
            }
            if !section_ids.contains(p.section.as_str()) {
                errors.push(at(
                    preset.span(),
                    format!(
                        "preset `{}` names section `{}`, which this lesson does not have",
                        p.id, p.section
                    ),
                ));
            }
            match p.clone().into_preset() {
                Ok(typed) => {
                    // A `{{name}}` must be captured by an earlier preset of the lesson.
                    for name in typed.needs() {
                        let captured = presets.iter().any(|earlier: &super::preset::Preset| {
                            earlier.captures.iter().any(|(n, _)| *n == name)
                        });
                        if !captured {
                            errors.push(at(
                                preset.span(),
                                format!(
                                    "preset `{}` sends {{{{{name}}}}}, which no earlier preset of this lesson captures (add capture = {{ {name} = \"json:…\" }} to the one whose answer holds it)",
                                    p.id
                                ),
                            ));
                        }
                    }
                    presets.push(typed);
                }
                Err(problems) => {
                    for problem in problems {
                        errors.push(at(preset.span(), format!("preset `{}`: {problem}", p.id)));
                    }
                }
            }
        }

        let headings = markdown_headings(markdown);
        check_headings(md_path, markdown, &meta, &headings, &mut errors);

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Lesson {
            folder: folder.to_string(),
            number,
            id: meta.id.into_inner(),
            title: meta.title,
            summary: meta.summary,
            stages: meta.stages.into_inner(),
            guide: meta.guide,
            challenge: meta.challenge.map(Spanned::into_inner),
            sections: meta.sections.into_iter().map(Spanned::into_inner).collect(),
            presets,
            markdown: markdown.to_string(),
        })
    }

    /// The section with this id.
    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    /// The lesson's Markdown in parts: the opening (title and introduction) with `None`, then
    /// each section with its own text, in order.
    pub fn parts(&self) -> Vec<(Option<&Section>, &str)> {
        let h2: Vec<Heading> = markdown_headings(&self.markdown)
            .into_iter()
            .filter(|h| h.level == HeadingLevel::H2)
            .collect();
        let opening_end = h2.first().map_or(self.markdown.len(), |h| h.offset);
        let mut parts = vec![(None, &self.markdown[..opening_end])];
        for (i, heading) in h2.iter().enumerate() {
            let end = h2.get(i + 1).map_or(self.markdown.len(), |h| h.offset);
            let section = self.sections.iter().find(|s| s.title == heading.text);
            parts.push((section, &self.markdown[heading.offset..end]));
        }
        parts
    }

    /// The Markdown of one section: from its `##` heading to the next one.
    pub fn section_markdown(&self, id: &str) -> Option<String> {
        let section = self.section(id)?;
        let h2: Vec<Heading> = markdown_headings(&self.markdown)
            .into_iter()
            .filter(|h| h.level == HeadingLevel::H2)
            .collect();
        let i = h2.iter().position(|h| h.text == section.title)?;
        let end = h2.get(i + 1).map_or(self.markdown.len(), |h| h.offset);
        Some(self.markdown[h2[i].offset..end].to_string())
    }
}

/// Splits `01-http-basics` into `(1, "http-basics")`.
pub fn split_folder_name(folder: &str) -> Option<(u32, &str)> {
    let (number, slug) = folder.split_once('-')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || slug.is_empty() {
        return None;
    }
    Some((number.parse().ok()?, slug))
}

/// Why `id` is not a slug (lower-case letters, digits and single dashes), if it is not.
pub fn slug_problem(id: &str) -> Option<String> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--");
    (!ok).then(|| format!("`{id}` must be a slug: lower-case letters, digits and single dashes"))
}

/// A heading found in the Markdown, with its byte offset.
struct Heading {
    level: HeadingLevel,
    text: String,
    offset: usize,
}

fn markdown_headings(markdown: &str) -> Vec<Heading> {
    let mut headings = Vec::new();
    let mut current: Option<Heading> = None;
    for (event, range) in Parser::new(markdown).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some(Heading {
                    level,
                    text: String::new(),
                    offset: range.start,
                })
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = current.as_mut() {
                    h.text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => headings.extend(current.take()),
            _ => {}
        }
    }
    headings
}

/// The text must open with `# title` and its `##` headings must be the sections, in order.
fn check_headings(
    md_path: &str,
    markdown: &str,
    meta: &LessonMeta,
    headings: &[Heading],
    errors: &mut Vec<ContentError>,
) {
    match headings.first() {
        Some(h) if h.level == HeadingLevel::H1 && h.text == meta.title => {}
        Some(h) if h.level == HeadingLevel::H1 => errors.push(ContentError::at(
            md_path,
            markdown,
            h.offset,
            format!(
                "the title heading `# {}` must match lesson.toml's title `{}`",
                h.text, meta.title
            ),
        )),
        _ => errors.push(ContentError::file(
            md_path,
            format!("the text must start with the heading `# {}`", meta.title),
        )),
    }
    if let Some(extra) = headings
        .iter()
        .skip(1)
        .find(|h| h.level == HeadingLevel::H1)
    {
        errors.push(ContentError::at(
            md_path,
            markdown,
            extra.offset,
            "only the first heading may be a `#` title; use `##` for sections",
        ));
    }
    let h2: Vec<&Heading> = headings
        .iter()
        .filter(|h| h.level == HeadingLevel::H2)
        .collect();
    for (i, section) in meta.sections.iter().enumerate() {
        let want = &section.get_ref().title;
        match h2.get(i) {
            Some(h) if &h.text == want => {}
            Some(h) => errors.push(ContentError::at(
                md_path,
                markdown,
                h.offset,
                format!(
                    "section {} should be `## {want}` (as in lesson.toml) but the text has `## {}`",
                    i + 1,
                    h.text
                ),
            )),
            None => errors.push(ContentError::file(
                md_path,
                format!(
                    "lesson.toml declares section `## {want}` but the text has no such heading"
                ),
            )),
        }
    }
    for extra in h2.iter().skip(meta.sections.len()) {
        errors.push(ContentError::at(
            md_path,
            markdown,
            extra.offset,
            format!(
                "heading `## {}` is not declared in lesson.toml's [[sections]]",
                extra.text
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
format_version = 1
id = "demo"
title = "Demo"
summary = "A demo."
stages = ["http"]
challenge = "demo-check"

[[sections]]
id = "one"
title = "One"

[[presets]]
id = "get-root"
title = "Get the root"
section = "one"
method = "GET"
path = "/"
expect_status = 200
"#;

    #[test]
    fn a_well_formed_lesson_parses() {
        let lesson = Lesson::parse(
            "07-demo",
            "lesson.toml",
            TOML,
            "lesson.md",
            "# Demo\n\n## One\n\ntext\n",
        )
        .unwrap();
        assert_eq!(lesson.number, 7);
        assert_eq!(lesson.presets[0].request.method, "GET");
        assert_eq!(lesson.challenge.as_deref(), Some("demo-check"));
    }

    #[test]
    fn a_heading_that_differs_from_the_section_is_reported_with_its_line() {
        let errs = Lesson::parse(
            "07-demo",
            "lesson.toml",
            TOML,
            "lesson.md",
            "# Demo\n\n## Two\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            errs[0].to_string(),
            "lesson.md:3:1: section 1 should be `## One` (as in lesson.toml) but the text has `## Two`"
        );
    }

    #[test]
    fn a_typo_in_a_key_names_the_line() {
        let bad = TOML.replace("summary =", "sumary =");
        let errs = Lesson::parse(
            "07-demo",
            "lesson.toml",
            &bad,
            "lesson.md",
            "# Demo\n## One\n",
        )
        .unwrap_err();
        let msg = errs[0].to_string();
        assert!(msg.starts_with("lesson.toml:5:"), "{msg}");
        assert!(msg.contains("sumary"), "{msg}");
    }

    #[test]
    fn a_bad_preset_is_reported() {
        let bad = TOML.replace("method = \"GET\"", "method = \"FETCH\"");
        let errs = Lesson::parse(
            "07-demo",
            "lesson.toml",
            &bad,
            "lesson.md",
            "# Demo\n## One\n",
        )
        .unwrap_err();
        assert!(errs[0].message.contains("method `FETCH`"), "{errs:?}");
        assert_eq!(
            errs[0].position.unwrap().0,
            13,
            "points at the [[presets]] entry"
        );
    }

    #[test]
    fn a_section_is_its_heading_up_to_the_next() {
        let lesson = Lesson::parse(
            "07-demo",
            "lesson.toml",
            &TOML.replace(
                "[[presets]]",
                "[[sections]]\nid = \"two\"\ntitle = \"Two\"\n\n[[presets]]",
            ),
            "lesson.md",
            "# Demo\n\nIntro.\n\n## One\n\nfirst\n\n## Two\n\nsecond\n",
        )
        .unwrap();
        assert_eq!(
            lesson.section_markdown("one").unwrap(),
            "## One\n\nfirst\n\n"
        );
        assert_eq!(
            lesson.section_markdown("two").unwrap(),
            "## Two\n\nsecond\n"
        );
        assert_eq!(lesson.section_markdown("three"), None);
    }

    #[test]
    fn folder_names_carry_a_number() {
        assert_eq!(split_folder_name("03-pagination"), Some((3, "pagination")));
        assert_eq!(split_folder_name("pagination"), None);
        assert_eq!(split_folder_name("x3-pagination"), None);
    }
}
