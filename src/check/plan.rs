//! A check session's plan: which challenges, against which server, with what around them —
//! resolved once, before anything starts, so every usage mistake is reported up front.

use crate::course::{Challenge, Course};
use anyhow::bail;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the checks run against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A URL: the learner's server.
    Url(reqwest::Url),
    /// The embedded lab, started in-process for the run.
    Lab,
}

impl Target {
    /// `lab`, or an http(s) base URL with a host.
    pub fn parse(raw: &str) -> anyhow::Result<Target> {
        if raw == "lab" {
            return Ok(Target::Lab);
        }
        let url = reqwest::Url::parse(raw).map_err(|_| {
            anyhow::anyhow!(
                "--target `{raw}` is not a URL; use a base URL like http://127.0.0.1:8000, or `lab`"
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            bail!("--target `{raw}` must be an http:// or https:// URL with a host, or `lab`");
        }
        Ok(Target::Url(url))
    }
}

/// Which challenges to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection<'a> {
    /// The challenge with this id.
    One(&'a str),
    /// Every challenge (against the lab: every one whose lesson exists).
    All,
}

/// The challenges chosen, and the ids left out because the lab does not serve them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// Ids to run, in course order.
    pub ids: Vec<String>,
    /// Ids `--all` leaves out against the lab (their lessons are not written yet).
    pub left_out: Vec<String>,
}

/// Resolves a selection against the course, or explains what exists.
pub fn choose(
    course: &Course,
    selection: Selection<'_>,
    target: &Target,
) -> anyhow::Result<Chosen> {
    let ids = |cs: &[&Challenge]| cs.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    match selection {
        Selection::All if *target == Target::Lab => {
            let (taught, untaught): (Vec<&Challenge>, Vec<&Challenge>) =
                course.challenges.iter().partition(|c| c.lesson.is_some());
            Ok(Chosen {
                ids: ids(&taught),
                left_out: ids(&untaught),
            })
        }
        Selection::All => Ok(Chosen {
            ids: course.challenges.iter().map(|c| c.id.clone()).collect(),
            left_out: Vec::new(),
        }),
        Selection::One(id) => match course.challenge(id) {
            Some(c) if c.lesson.is_none() && *target == Target::Lab => bail!(
                "the lab does not serve `{id}` yet: it has the endpoints of written lessons only ({}); check your own server with --target URL",
                course
                    .challenges
                    .iter()
                    .filter(|c| c.lesson.is_some())
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(c) => Ok(Chosen {
                ids: vec![c.id.clone()],
                left_out: Vec::new(),
            }),
            None => {
                let ids: Vec<&str> = course.challenges.iter().map(|c| c.id.as_str()).collect();
                bail!(
                    "there is no challenge `{id}`; challenges are: {}",
                    ids.join(", ")
                )
            }
        },
    }
}

/// Re-running on file changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The file or folder watched (recursively).
    pub path: PathBuf,
    /// Paths whose changes never start a run: what a run writes itself (the report, the
    /// progress store).
    pub ignore: Vec<PathBuf>,
}

/// Everything a check session needs, resolved. Build it with [`Plan::new`] and the `with_…`
/// methods, then run it ([`Plan::run`]).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The course the challenges come from (hints point into its lessons).
    pub(super) course: Arc<Course>,
    /// Ids of the challenges to run, in order (all exist in the course).
    pub(super) challenges: Vec<String>,
    /// The server checked.
    pub(super) target: Target,
    /// A shell command that starts the learner's server first (`--run`).
    pub(super) server: Option<String>,
    /// How long each response may take.
    pub(super) timeout: Duration,
    /// The data directory where passes are recorded; `None` records nothing.
    pub(super) progress: Option<PathBuf>,
    /// Re-run on changes under a path.
    pub(super) watch: Option<Watch>,
}

impl Plan {
    /// A plan that runs nothing yet against `target`, waiting `timeout` for each response.
    pub fn new(course: Arc<Course>, target: Target, timeout: Duration) -> Plan {
        Plan {
            course,
            challenges: Vec::new(),
            target,
            server: None,
            timeout,
            progress: None,
            watch: None,
        }
    }

    /// Starts the learner's server with this shell command first (not with the lab).
    pub fn with_server(mut self, command: Option<String>) -> anyhow::Result<Plan> {
        if command.is_some() && self.target == Target::Lab {
            bail!("--run starts your own server; it cannot be combined with --target lab");
        }
        self.server = command;
        Ok(self)
    }

    /// Chooses the challenges; returns the ids `--all` leaves out against the lab.
    pub fn choose(&mut self, selection: Selection<'_>) -> anyhow::Result<Vec<String>> {
        let chosen = choose(&self.course, selection, &self.target)?;
        self.challenges = chosen.ids;
        Ok(chosen.left_out)
    }

    /// Re-runs whenever a file under the watched path changes (the path must exist).
    pub fn with_watch(mut self, watch: Option<Watch>) -> anyhow::Result<Plan> {
        if let Some(w) = &watch
            && !w.path.exists()
        {
            bail!("--watch {}: no such file or folder", w.path.display());
        }
        self.watch = watch;
        Ok(self)
    }

    /// Records passes against the learner's own server in the progress store under `data_dir`.
    pub fn recording_progress_in(mut self, data_dir: PathBuf) -> Plan {
        self.progress = Some(data_dir);
        self
    }

    /// The server checked.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The challenges to run, in order.
    pub fn challenges(&self) -> impl Iterator<Item = &Challenge> {
        self.challenges
            .iter()
            .filter_map(|id| self.course.challenge(id))
    }
}
