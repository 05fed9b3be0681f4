//! Where a running lab says it is: a small file in the data directory, written by the process
//! that serves the lab (`reqlab serve`) and read by the commands that talk to it (`send`,
//! `trace`, the curl lines of `learn`), so none of them needs `--url` in the usual case.
//!
//! The file names the serving process; a file whose process has gone (a crash, `kill -9`) is
//! ignored, and a lab removes its file when it stops (unless a newer lab replaced it).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file's name in the data directory.
pub const FILE_NAME: &str = "lab.json";

/// A running lab's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabAddress {
    /// Its base URL (`http://127.0.0.1:4747`).
    pub url: String,
    /// The process serving it.
    pub pid: u32,
    /// The token `/_lab/*` needs, when the lab listens beyond loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Behind a proxy (`serve --replicas`): each replica's own address. Each keeps the traces
    /// of the requests it served, so a trace is looked up in each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<String>,
}

/// Removes the address file when dropped, if it still names this process.
#[derive(Debug)]
pub struct Recorded {
    path: PathBuf,
    pid: u32,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        let ours = read(&self.path).is_some_and(|a| a.pid == self.pid);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Records this process's lab at `url` in `data_dir`.
pub fn record(data_dir: &Path, url: &str, token: Option<String>) -> anyhow::Result<Recorded> {
    record_address(
        data_dir,
        LabAddress {
            url: url.to_string(),
            pid: std::process::id(),
            token,
            replicas: Vec::new(),
        },
    )
}

/// Records this process's proxy at `url` in front of `replicas` in `data_dir`.
pub fn record_replicas(
    data_dir: &Path,
    url: &str,
    replicas: Vec<String>,
) -> anyhow::Result<Recorded> {
    record_address(
        data_dir,
        LabAddress {
            url: url.to_string(),
            pid: std::process::id(),
            token: None,
            replicas,
        },
    )
}

fn record_address(data_dir: &Path, address: LabAddress) -> anyhow::Result<Recorded> {
    crate::paths::ensure_dir(data_dir)?;
    let path = data_dir.join(FILE_NAME);
    // Written next to the old file and renamed over it, so a reader never sees half of it.
    let temporary = data_dir.join(format!("{FILE_NAME}.{}.tmp", address.pid));
    std::fs::write(&temporary, serde_json::to_vec_pretty(&address)?)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, &path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(Recorded {
        path,
        pid: address.pid,
    })
}

/// The lab recorded in `data_dir`, if its process is still running.
pub fn find(data_dir: &Path) -> Option<LabAddress> {
    let address = read(&data_dir.join(FILE_NAME))?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(address.pid).ok()?);
    // Signal 0 asks whether the process exists, without disturbing it.
    nix::sys::signal::kill(pid, None).ok()?;
    Some(address)
}

fn read(path: &Path) -> Option<LabAddress> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_lab_is_found_until_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find(dir.path()), None);
        let recorded = record(dir.path(), "http://127.0.0.1:4800", None).unwrap();
        let found = find(dir.path()).unwrap();
        assert_eq!(found.url, "http://127.0.0.1:4800");
        assert_eq!(found.pid, std::process::id());
        drop(recorded);
        assert_eq!(find(dir.path()), None);
        assert!(!dir.path().join(FILE_NAME).exists());
    }

    #[test]
    fn a_file_left_by_a_process_that_is_gone_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let stale = LabAddress {
            url: "http://127.0.0.1:4801".into(),
            // Process ids stop well below this on Linux and macOS.
            pid: 999_999_999,
            token: None,
            replicas: Vec::new(),
        };
        std::fs::write(
            dir.path().join(FILE_NAME),
            serde_json::to_vec(&stale).unwrap(),
        )
        .unwrap();
        assert_eq!(find(dir.path()), None);
    }
}
