//! Where course content comes from: the copy embedded in the binary, or a folder on disk.

use super::error::ContentError;
use include_dir::{Dir, include_dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `lessons/` folder as it was when this binary was built.
static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/lessons");

/// The origin of the content a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentSource {
    /// Built into the binary, so an installed `reqlab` works anywhere.
    Embedded,
    /// Read from a folder at run time (`--lessons DIR`), for authors.
    Dir(PathBuf),
}

/// Every text file of a content tree, keyed by its path relative to the root (`/`-separated).
#[derive(Debug, Default)]
pub struct ContentFiles {
    /// Relative path → file text.
    pub files: BTreeMap<String, String>,
    /// How to show a relative path to the author.
    display_root: String,
}

impl ContentFiles {
    /// Reads every file of the source.
    pub fn read(source: &ContentSource) -> Result<ContentFiles, ContentError> {
        match source {
            ContentSource::Embedded => {
                let mut files = BTreeMap::new();
                collect_embedded(&EMBEDDED, &mut files);
                Ok(ContentFiles {
                    files,
                    display_root: "lessons".into(),
                })
            }
            ContentSource::Dir(root) => {
                let display_root = root.display().to_string();
                if !root.is_dir() {
                    return Err(ContentError::file(
                        display_root,
                        "is not a folder (--lessons expects the folder that holds the lesson folders)",
                    ));
                }
                let mut files = BTreeMap::new();
                collect_dir(root, root, &mut files)?;
                Ok(ContentFiles {
                    files,
                    display_root,
                })
            }
        }
    }

    /// The path an author should look at for a relative path.
    pub fn display(&self, relative: &str) -> String {
        format!("{}/{relative}", self.display_root.trim_end_matches('/'))
    }
}

fn collect_embedded(dir: &Dir<'static>, files: &mut BTreeMap<String, String>) {
    for file in dir.files() {
        let rel = file.path().to_string_lossy().replace('\\', "/");
        files.insert(rel, String::from_utf8_lossy(file.contents()).into_owned());
    }
    for sub in dir.dirs() {
        collect_embedded(sub, files);
    }
}

fn collect_dir(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, String>,
) -> Result<(), ContentError> {
    let read_err = |path: &Path, err: std::io::Error| {
        ContentError::file(path.display().to_string(), format!("cannot read: {err}"))
    };
    let entries = std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| read_err(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_dir(root, &path, files)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| read_err(&path, e))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                ContentError::file(path.display().to_string(), "is not valid UTF-8 text")
            })?;
            let rel = path
                .strip_prefix(root)
                .expect("walked paths are under the root")
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(rel, text);
        }
    }
    Ok(())
}
