//! Course content: lessons (and their challenges), loaded from the binary or from disk, and
//! parsed into typed values once, with every problem reported by file and line.
//!
//! - [`lesson`] and [`preset`]: `lesson.toml` and `lesson.md`.
//! - [`challenge`] and [`assertion`]: `challenge.toml`, its checks and their assertions.
//! - [`request`]: the request a preset or a challenge step describes.
//! - [`template`] and [`jsonpath`]: `{{variables}}` and JSON paths inside those files.
//! - [`explain`]: `explain.toml`, what statuses, headers and stages mean and which section
//!   teaches each; [`reference`]: the `lesson#section` pointers it and challenge hints use.
//! - [`source`] and [`error`]: where content comes from, and what is wrong with it.
//!
//! Layout of a content folder:
//! ```text
//! lessons/
//!   01-http-basics/lesson.toml      metadata, sections, presets
//!   01-http-basics/lesson.md        the lesson text
//!   01-http-basics/challenge.toml   the lesson's challenge (its id is the lesson's `challenge`)
//!   challenges/<id>.toml            challenges whose lesson is not written yet
//!   explain.toml                    statuses, headers and stages explained (optional)
//!   README.md                       notes for authors (ignored)
//! ```

pub mod assertion;
pub mod capture;
pub mod challenge;
pub mod error;
pub mod explain;
pub mod jsonpath;
pub mod lesson;
pub mod preset;
pub mod reference;
pub mod request;
pub mod source;
pub mod template;

pub use challenge::Challenge;
pub use error::{ContentError, ContentErrors};
pub use explain::{Explain, Explanation, SetBy, Subject};
pub use lesson::{Lesson, Section};
pub use preset::Preset;
pub use reference::SectionRef;
pub use source::ContentSource;

use source::ContentFiles;
use std::collections::{BTreeMap, HashMap};

/// The folder of challenges that no lesson teaches yet.
const STANDALONE: &str = "challenges";

/// All lessons and challenges, checked against each other.
#[derive(Debug, Clone)]
pub struct Course {
    /// Lessons in course order (by folder number).
    pub lessons: Vec<Lesson>,
    /// Challenges: lessons' ones in course order, then standalone ones by id.
    pub challenges: Vec<Challenge>,
    /// What statuses, headers and stages mean (see [`Course::explain`]).
    explain: Explain,
}

impl Course {
    /// Loads and checks all content from `source`, reporting every problem at once.
    pub fn load(source: &ContentSource) -> Result<Course, ContentErrors> {
        let files = ContentFiles::read(source).map_err(|e| ContentErrors(vec![e]))?;
        let mut errors = Vec::new();

        let mut folders: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for rel in files.files.keys() {
            match rel.split_once('/') {
                Some((folder, name)) => folders.entry(folder).or_default().push(name),
                // A note for authors, and the explanations, may sit beside the lesson folders.
                None if rel == "README.md" || rel == explain::EXPLAIN_FILE => {}
                None => errors.push(ContentError::file(
                    files.display(rel),
                    format!(
                        "files belong in a lesson folder (NN-slug/); only README.md and {} may sit at the top level",
                        explain::EXPLAIN_FILE
                    ),
                )),
            }
        }

        let mut lessons = Vec::new();
        let mut challenges: Vec<(Option<String>, String, Challenge)> = Vec::new();
        for (folder, names) in &folders {
            if *folder == STANDALONE {
                for name in names {
                    let rel = format!("{folder}/{name}");
                    let display = files.display(&rel);
                    let Some(stem) = name.strip_suffix(".toml").filter(|s| !s.contains('/')) else {
                        errors.push(ContentError::file(
                            display,
                            "expected only <challenge-id>.toml files here",
                        ));
                        continue;
                    };
                    match parse_challenge(&display, &files.files[&rel]) {
                        Ok(c) if c.id != stem => errors.push(ContentError::file(
                            display,
                            format!("the file is named {stem}.toml but its id is `{}`; name it after the id", c.id),
                        )),
                        Ok(c) => challenges.push((None, display, c)),
                        Err(errs) => errors.extend(errs),
                    }
                }
                continue;
            }
            let toml_rel = format!("{folder}/lesson.toml");
            let md_rel = format!("{folder}/lesson.md");
            for name in names {
                if !["lesson.toml", "lesson.md", "challenge.toml"].contains(name) {
                    errors.push(ContentError::file(
                        files.display(&format!("{folder}/{name}")),
                        "unexpected file in a lesson folder (expected lesson.toml, lesson.md, challenge.toml)",
                    ));
                }
            }
            let challenge_rel = format!("{folder}/challenge.toml");
            if let Some(text) = files.files.get(&challenge_rel) {
                let display = files.display(&challenge_rel);
                match parse_challenge(&display, text) {
                    Ok(c) => challenges.push((Some(folder.to_string()), display, c)),
                    Err(errs) => errors.extend(errs),
                }
            }
            let (Some(toml_src), Some(md_src)) =
                (files.files.get(&toml_rel), files.files.get(&md_rel))
            else {
                let missing = if files.files.contains_key(&toml_rel) {
                    &md_rel
                } else {
                    &toml_rel
                };
                errors.push(ContentError::file(files.display(missing), "is missing"));
                continue;
            };
            match Lesson::parse(
                folder,
                &files.display(&toml_rel),
                toml_src,
                &files.display(&md_rel),
                md_src,
            ) {
                Ok(lesson) => lessons.push(lesson),
                Err(errs) => errors.extend(errs),
            }
        }

        let mut by_id: HashMap<&str, &Lesson> = HashMap::new();
        let mut by_number: HashMap<u32, &Lesson> = HashMap::new();
        for lesson in &lessons {
            let path = files.display(&format!("{}/lesson.toml", lesson.folder));
            if let Some(other) = by_id.insert(&lesson.id, lesson) {
                errors.push(ContentError::file(
                    path.clone(),
                    format!("lesson id `{}` is also used by {}", lesson.id, other.folder),
                ));
            }
            if let Some(other) = by_number.insert(lesson.number, lesson) {
                errors.push(ContentError::file(
                    path,
                    format!(
                        "lesson number {} is also used by {}; numbers order the course",
                        lesson.number, other.folder
                    ),
                ));
            }
        }

        let mut challenge_ids: HashMap<String, String> = HashMap::new();
        for (_, display, c) in &challenges {
            if let Some(other) = challenge_ids.insert(c.id.clone(), display.clone()) {
                errors.push(ContentError::file(
                    display.clone(),
                    format!("challenge id `{}` is also used by {other}", c.id),
                ));
            }
        }
        // Each lesson's challenge lives in its folder, and says the id the lesson names.
        for lesson in &lessons {
            let path = files.display(&format!("{}/lesson.toml", lesson.folder));
            let own = challenges
                .iter()
                .find(|(folder, _, _)| folder.as_deref() == Some(lesson.folder.as_str()));
            match (&lesson.challenge, own) {
                (Some(id), Some((_, display, c))) if &c.id != id => {
                    errors.push(ContentError::file(
                        display.clone(),
                        format!(
                            "its id is `{}`, but lesson.toml names the challenge `{id}`",
                            c.id
                        ),
                    ))
                }
                (Some(id), None) => errors.push(ContentError::file(
                    path,
                    format!(
                        "names challenge `{id}`, but {}/challenge.toml does not exist",
                        lesson.folder
                    ),
                )),
                (None, Some((_, display, _))) => errors.push(ContentError::file(
                    display.clone(),
                    "lesson.toml does not name this challenge; add `challenge = \"<id>\"` there",
                )),
                _ => {}
            }
        }
        for (folder, display, c) in &challenges {
            let lesson = folder
                .as_ref()
                .and_then(|f| lessons.iter().find(|l| &l.folder == f));
            for check in &c.checks {
                if let Some(problem) = hint_problem(&check.hint, lesson, &lessons) {
                    errors.push(ContentError::file(
                        display.clone(),
                        format!("check `{}`: {problem}", check.name),
                    ));
                }
            }
        }

        // Without the file, statuses and stages are still explained by the code.
        let explain = match files.files.get(explain::EXPLAIN_FILE) {
            Some(text) => {
                let display = files.display(explain::EXPLAIN_FILE);
                Explain::parse(&display, text, &lessons).unwrap_or_else(|errs| {
                    errors.extend(errs);
                    Explain::default()
                })
            }
            None => Explain::default(),
        };

        if !errors.is_empty() {
            return Err(ContentErrors(errors));
        }
        lessons.sort_by_key(|l| l.number);
        let mut ordered = Vec::new();
        for lesson in &lessons {
            if let Some(pos) = challenges
                .iter()
                .position(|(f, _, _)| f.as_deref() == Some(lesson.folder.as_str()))
            {
                let (_, _, mut c) = challenges.remove(pos);
                c.lesson = Some(lesson.id.clone());
                ordered.push(c);
            }
        }
        let mut standalone: Vec<Challenge> = challenges.into_iter().map(|(_, _, c)| c).collect();
        standalone.sort_by(|a, b| a.id.cmp(&b.id));
        ordered.extend(standalone);
        Ok(Course {
            lessons,
            challenges: ordered,
            explain,
        })
    }

    /// The challenge with this id.
    pub fn challenge(&self, id: &str) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.id == id)
    }

    /// The lesson with this id.
    pub fn lesson(&self, id: &str) -> Option<&Lesson> {
        self.lessons.iter().find(|l| l.id == id)
    }

    /// What statuses, headers and stages mean, who sets them in the lab, and where the
    /// course teaches them.
    pub fn explain(&self) -> &Explain {
        &self.explain
    }
}

fn parse_challenge(display: &str, text: &str) -> Result<Challenge, Vec<ContentError>> {
    Challenge::parse(challenge::ChallengeSource {
        path: display,
        text,
    })
}

/// A hint of the form `lesson#section` must point at a real section. A lesson's own challenge
/// must use that form; a standalone challenge may also give a plain sentence, or name a lesson
/// that is not written yet.
fn hint_problem(hint: &str, own: Option<&Lesson>, lessons: &[Lesson]) -> Option<String> {
    match SectionRef::parse(hint) {
        Some(at) if own.is_none() && !lessons.iter().any(|l| l.id == at.lesson) => None,
        Some(at) => at.problem(lessons).map(|problem| format!("hint {problem}")),
        None => own.map(|lesson| {
            format!(
                "hint `{hint}` should point at a section: `{}#<section-id>`",
                lesson.id
            )
        }),
    }
}
