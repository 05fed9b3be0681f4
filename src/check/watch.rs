//! Watching the learner's files: which changes start another run, and which are noise.

use super::plan::Watch;
use anyhow::Context;
use notify_debouncer_mini::{DebouncedEvent, Debouncer, new_debouncer};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long changes settle before they count as one.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watch on a path.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
    changes: mpsc::UnboundedReceiver<Vec<DebouncedEvent>>,
    ignore: Vec<PathBuf>,
}

impl Watcher {
    /// Starts watching `watch.path` recursively.
    pub fn start(watch: &Watch) -> anyhow::Result<Watcher> {
        let (tx, changes) = mpsc::unbounded_channel();
        let mut debouncer = new_debouncer(DEBOUNCE, move |res| {
            if let Ok(events) = res {
                let _ = tx.send(events);
            }
        })
        .context("cannot watch files")?;
        debouncer
            .watcher()
            .watch(&watch.path, notify::RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", watch.path.display()))?;
        let ignore = watch
            .ignore
            .iter()
            .filter_map(|p| std::path::absolute(p).ok())
            .collect();
        Ok(Watcher {
            _debouncer: debouncer,
            changes,
            ignore,
        })
    }

    /// Waits for a change that should start a run; `None` when watching stopped.
    pub async fn next_change(&mut self) -> Option<PathBuf> {
        loop {
            let events = self.changes.recv().await?;
            if let Some(path) = self.relevant(&events) {
                return Some(path);
            }
        }
    }

    /// A relevant change that already arrived, if any; forgets everything else that did.
    pub fn take_pending(&mut self) -> Option<PathBuf> {
        let mut pending = None;
        while let Ok(events) = self.changes.try_recv() {
            pending = pending.or_else(|| self.relevant(&events));
        }
        pending
    }

    fn relevant(&self, events: &[DebouncedEvent]) -> Option<PathBuf> {
        events
            .iter()
            .map(|e| &e.path)
            .find(|p| !is_noise(p) && !self.ignore.iter().any(|own| p.starts_with(own)))
            .cloned()
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
    use super::is_noise;
    use std::path::Path;

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
