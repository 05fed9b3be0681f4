//! Where reqlab keeps its files: one data directory, overridable for tests and classrooms.

use std::path::PathBuf;

/// The data directory: the override (`--data-dir` / `REQLAB_DATA_DIR`) when given, else the
/// platform's data directory for reqlab (`~/.local/share/reqlab` on Linux).
pub fn data_dir(override_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = override_dir {
        return Ok(dir);
    }
    let dirs = directories::ProjectDirs::from("", "", "reqlab").ok_or_else(|| {
        anyhow::anyhow!(
            "cannot find a home directory for reqlab's data; pass --data-dir DIR or set REQLAB_DATA_DIR"
        )
    })?;
    Ok(dirs.data_dir().to_path_buf())
}

/// Creates `dir` (and parents) if needed, with an error that names it.
pub fn ensure_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the folder {}: {e}", dir.display()))
}

/// Writes `bytes` to `path` readable by its owner only (it may hold a credential), creating
/// the directory first.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}
