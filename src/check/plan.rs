//! A check session's plan: which challenges, against which server, with what around them —
//! resolved once, before anything starts, so every usage mistake is reported up front.

use super::http::Tls;
use super::server::{Listen, port_in_command};
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
    /// `lab`, or an http(s) base URL with a host; without a scheme (`localhost:3000`),
    /// `http://` is assumed.
    pub fn parse(raw: &str) -> anyhow::Result<Target> {
        if raw == "lab" {
            return Ok(Target::Lab);
        }
        // The URL parser would quietly percent-encode spaces into a path; a target with
        // whitespace is a command or a typo, not a server's address.
        if raw.trim().is_empty() || raw.chars().any(char::is_whitespace) || raw.starts_with('/') {
            bail!(
                "--target `{raw}` is not a URL; use a base URL like http://127.0.0.1:8000, or `lab`"
            );
        }
        let with_scheme;
        let raw = if raw.contains("://") {
            raw
        } else {
            with_scheme = format!("http://{raw}");
            &with_scheme
        };
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
    /// The challenge with this id, or the challenge of the lesson with this id or number.
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
        Selection::One(wanted) => match course
            .challenge(wanted)
            .or_else(|| lesson_challenge(course, wanted))
        {
            Some(c) if c.lesson.is_none() && *target == Target::Lab => bail!(
                "the lab does not serve `{}` yet: it has the endpoints of written lessons only ({}); check your own server with --target URL",
                c.id,
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
                    "there is no challenge `{wanted}`; challenges are: {} (or name a lesson by id or number; see `reqlab check --list`)",
                    ids.join(", ")
                )
            }
        },
    }
}

/// The challenge of the lesson with this id or number.
fn lesson_challenge<'c>(course: &'c Course, wanted: &str) -> Option<&'c Challenge> {
    let number = wanted.parse::<u32>().ok();
    let lesson = course
        .lessons
        .iter()
        .find(|l| l.id == wanted || Some(l.number) == number)?;
    course.challenge(lesson.challenge.as_deref()?)
}

/// The learner's server: the command that starts it, and where it will listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The shell command (`--run`).
    pub command: String,
    /// Where to wait for it.
    pub listen: Listen,
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
    /// The learner's server, started first (`--run`).
    pub(super) server: Option<Server>,
    /// How long each response may take.
    pub(super) timeout: Duration,
    /// Which certificates an https server may present.
    pub(super) tls: Tls,
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
            tls: Tls::default(),
            progress: None,
            watch: None,
        }
    }

    /// Starts the learner's server with this shell command first (not with the lab), and
    /// waits for it where the target says.
    pub fn with_server(mut self, command: Option<String>) -> anyhow::Result<Plan> {
        let Some(command) = command else {
            return Ok(self);
        };
        let Target::Url(url) = &self.target else {
            bail!("--run starts your own server; it cannot be combined with --target lab");
        };
        let port = url.port_or_known_default().unwrap_or(80);
        if let Some(named) = port_in_command(&command).filter(|p| *p != port) {
            bail!(
                "your server listens on {named} (says --run) but --target says {port}; make them agree, or leave out --target"
            );
        }
        let addr = format!("{}:{port}", url.host_str().unwrap_or("127.0.0.1"));
        self.server = Some(Server {
            command,
            listen: Listen::At {
                addr,
                from_target: true,
            },
        });
        Ok(self)
    }

    /// Starts the learner's server with this shell command first, and checks it wherever
    /// it listens: at the port the command names, else where its first "listening on
    /// http://…" line says (for `--run` without `--target`).
    pub fn with_server_anywhere(mut self, command: String) -> Plan {
        let listen = match port_in_command(&command) {
            Some(port) => {
                let url = format!("http://127.0.0.1:{port}");
                self.target = Target::Url(reqwest::Url::parse(&url).expect("a valid URL"));
                Listen::At {
                    addr: format!("127.0.0.1:{port}"),
                    from_target: false,
                }
            }
            None => Listen::Announced,
        };
        self.server = Some(Server { command, listen });
        self
    }

    /// Trusts these certificates (or any, with `insecure`) on an https server.
    pub fn with_tls(mut self, tls: Tls) -> Plan {
        self.tls = tls;
        self
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

    /// The course the challenges come from.
    pub fn course(&self) -> &Arc<Course> {
        &self.course
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

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn a_target_is_a_base_url_a_host_and_port_or_the_lab() {
        assert!(matches!(Target::parse("lab").unwrap(), Target::Lab));
        let Target::Url(url) = Target::parse("localhost:3000").unwrap() else {
            panic!()
        };
        assert_eq!(url.as_str(), "http://localhost:3000/");
        for wrong in [
            "",
            "uvicorn main:app --port 8000",
            "/home/me/app.py",
            "ftp://localhost:8000",
        ] {
            let error = Target::parse(wrong).err().map(|e| e.to_string());
            assert!(
                error.as_deref().is_some_and(|e| e.contains("--target")),
                "{wrong:?}: {error:?}"
            );
        }
    }
}
