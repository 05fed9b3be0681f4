//! Watching the learner's files: which changes start another run, and which are noise.
//!
//! Only writes, creations, removals and renames count. Opening or reading a file (an editor
//! peeking, `cat main.py`, the server importing its code on start) does not, or every run
//! would start the next. A burst of changes (an editor saving several files, a formatter)
//! becomes one run.

use super::plan::Watch;
use anyhow::Context;
use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long changes must pause before a burst counts as one.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// The longest a burst is collected before it counts anyway.
const MAX_BURST: Duration = Duration::from_secs(3);

/// A running watch on a path.
pub struct Watcher {
    _watcher: RecommendedWatcher,
    changes: mpsc::UnboundedReceiver<PathBuf>,
    ignore: Vec<PathBuf>,
}

/// True for the kinds of events that change a file's content or its place: writes,
/// creations, removals and renames (not opens, reads or metadata such as access times).
pub fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(modify) => matches!(
            modify,
            ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any
        ),
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

impl Watcher {
    /// Starts watching `watch.path` recursively.
    pub fn start(watch: &Watch) -> anyhow::Result<Watcher> {
        let (tx, changes) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res
                && is_change(&event.kind)
            {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
        })
        .context("cannot watch files")?;
        watcher
            .watch(&watch.path, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", watch.path.display()))?;
        let ignore = watch
            .ignore
            .iter()
            .filter_map(|p| std::path::absolute(p).ok())
            .collect();
        Ok(Watcher {
            _watcher: watcher,
            changes,
            ignore,
        })
    }

    /// Waits for a change that should start a run, then lets the burst it belongs to end;
    /// returns the first file changed, or `None` when watching stopped.
    pub async fn next_change(&mut self) -> Option<PathBuf> {
        let first = loop {
            let path = self.changes.recv().await?;
            if self.counts(&path) {
                break path;
            }
        };
        let start = Instant::now();
        while start.elapsed() < MAX_BURST {
            match tokio::time::timeout(DEBOUNCE, self.changes.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        Some(first)
    }

    /// A relevant change that already arrived, if any; forgets everything else that did.
    pub fn take_pending(&mut self) -> Option<PathBuf> {
        let mut pending = None;
        while let Ok(path) = self.changes.try_recv() {
            if pending.is_none() && self.counts(&path) {
                pending = Some(path);
            }
        }
        pending
    }

    fn counts(&self, path: &Path) -> bool {
        !is_noise(path) && !self.ignore.iter().any(|own| path.starts_with(own))
    }
}

/// Files that change without the learner editing code: editor swap files, caches,
/// dependencies, databases and logs.
pub fn is_noise(path: &Path) -> bool {
    const DIRS: [&str; 9] = [
        "__pycache__",
        ".git",
        ".venv",
        "venv",
        "node_modules",
        "target",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
    ];
    const SUFFIXES: [&str; 12] = [
        "~", ".swp", ".swx", ".pyc", ".db", ".sqlite", ".sqlite3", "-journal", "-wal", "-shm",
        ".log", ".tmp",
    ];
    let in_noisy_dir = path
        .components()
        .any(|c| DIRS.iter().any(|d| c.as_os_str() == *d));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    in_noisy_dir || SUFFIXES.iter().any(|s| name.ends_with(s)) || name.starts_with(".#")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_logs_caches_and_editor_files_do_not_trigger_a_rerun() {
        for noise in [
            "app/tasks.db",
            "app/tasks.db-journal",
            "app/lab.sqlite3-wal",
            "app/server.log",
            "app/__pycache__/main.cpython-311.pyc",
            "app/.venv/lib/site.py",
            "app/.git/index",
            "app/.main.py.swp",
            "app/main.py~",
            "app/node_modules/x/index.js",
        ] {
            assert!(is_noise(Path::new(noise)), "{noise}");
        }
        for code in [
            "app/main.py",
            "app/routes/users.py",
            "app/static/index.html",
        ] {
            assert!(!is_noise(Path::new(code)), "{code}");
        }
    }
}

#[cfg(test)]
mod watching {
    use super::*;

    /// Reading a watched file starts no run; writing one does, and names it.
    #[tokio::test]
    async fn reads_do_not_count_and_writes_do() {
        let dir = tempfile::tempdir().unwrap();
        let read = dir.path().join("main.py");
        let written = dir.path().join("routes.py");
        std::fs::write(&read, "app = 1\n").unwrap();
        std::fs::write(&written, "x = 1\n").unwrap();
        let mut watcher = Watcher::start(&Watch {
            path: dir.path().to_path_buf(),
            ignore: Vec::new(),
        })
        .unwrap();
        for _ in 0..5 {
            assert_eq!(std::fs::read_to_string(&read).unwrap(), "app = 1\n");
        }
        std::fs::write(&written, "x = 2\n").unwrap();
        let changed = tokio::time::timeout(Duration::from_secs(10), watcher.next_change())
            .await
            .expect("a write is seen")
            .unwrap();
        assert_eq!(changed.file_name(), written.file_name(), "{changed:?}");
        assert_eq!(watcher.take_pending(), None, "the burst was one change");
    }
}
