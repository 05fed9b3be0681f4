//! Course content: lessons (and their challenges), loaded from the binary or from disk, checked.
//!
//! Layout of a content folder:
//! ```text
//! lessons/
//!   01-http-basics/lesson.toml   metadata, sections, presets
//!   01-http-basics/lesson.md     the lesson text
//! ```

pub mod error;
pub mod lesson;
pub mod markdown;
pub mod preset;
pub mod source;

pub use error::{ContentError, ContentErrors};
pub use lesson::{Lesson, Section};
pub use preset::Preset;
pub use source::ContentSource;

use source::ContentFiles;
use std::collections::{BTreeMap, HashMap};

/// All lessons, checked against each other.
#[derive(Debug, Clone)]
pub struct Course {
    /// Lessons in course order (by folder number).
    pub lessons: Vec<Lesson>,
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
                // A note for authors may sit beside the lesson folders.
                None if rel == "README.md" => {}
                None => errors.push(ContentError::file(
                    files.display(rel),
                    "files belong in a lesson folder (NN-slug/); only README.md may sit at the top level",
                )),
            }
        }

        let mut lessons = Vec::new();
        for (folder, names) in &folders {
            let toml_rel = format!("{folder}/lesson.toml");
            let md_rel = format!("{folder}/lesson.md");
            for name in names {
                if !["lesson.toml", "lesson.md"].contains(name) {
                    errors.push(ContentError::file(
                        files.display(&format!("{folder}/{name}")),
                        "unexpected file in a lesson folder (expected lesson.toml and lesson.md)",
                    ));
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

        if !errors.is_empty() {
            return Err(ContentErrors(errors));
        }
        lessons.sort_by_key(|l| l.number);
        Ok(Course { lessons })
    }

    /// The lesson with this id.
    pub fn lesson(&self, id: &str) -> Option<&Lesson> {
        self.lessons.iter().find(|l| l.id == id)
    }
}
