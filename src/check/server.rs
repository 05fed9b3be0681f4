//! `--run`: start the learner's server, show its output, wait for its port, stop it after.

use crate::term::{paint, styles};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long to wait for the learner's server to accept connections.
pub const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long the server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Why the learner's server did not come up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The shell could not be started at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server exited before listening.
    #[error("your server exited ({status}) before it listened on {addr}; its output is above")]
    ExitedEarly {
        /// Exit status.
        status: std::process::ExitStatus,
        /// host:port waited for.
        addr: String,
    },
    /// The port never opened.
    #[error(
        "your server did not start listening on {addr} within {secs} s; is --target the address it listens on?"
    )]
    NeverListened {
        /// host:port waited for.
        addr: String,
        /// Seconds waited.
        secs: u64,
    },
}

/// A running learner server; stopped (with its whole process group) on [`LearnerServer::stop`]
/// or when dropped.
#[derive(Debug)]
pub struct LearnerServer {
    child: Child,
    pid: Option<u32>,
}

impl LearnerServer {
    /// Runs `command` with `sh -c`, echoes its output prefixed `[your server]`, and waits with
    /// backoff until `host:port` accepts a connection.
    pub async fn start(
        command: &str,
        host: &str,
        port: u16,
        deadline: Duration,
    ) -> Result<LearnerServer, StartError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Python buffers output when piped; learners want to see it as it happens.
            .env("PYTHONUNBUFFERED", "1")
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|source| StartError::Spawn {
            command: command.to_string(),
            source,
        })?;
        let pid = child.id();
        anstream::eprintln!(
            "{} started your server: {command}{}",
            paint(styles::DIM, "[check]"),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        );
        if let Some(out) = child.stdout.take() {
            tokio::spawn(echo_lines(out));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(echo_lines(err));
        }
        let mut server = LearnerServer { child, pid };
        let addr = format!("{host}:{port}");
        let start = Instant::now();
        let mut pause = Duration::from_millis(25);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(StartError::ExitedEarly { status, addr });
            }
            let attempt = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect((host, port)),
            )
            .await;
            if let Ok(Ok(_)) = attempt {
                return Ok(server);
            }
            if start.elapsed() >= deadline {
                server.stop().await;
                return Err(StartError::NeverListened {
                    addr,
                    secs: deadline.as_secs(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Stops the server and everything it started: SIGTERM, then SIGKILL after a grace period.
    pub async fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        signal_group(self.pid, Signal::Term);
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            signal_group(self.pid, Signal::Kill);
            let _ = self.child.wait().await;
        }
        // Children of the shell may outlive it; the group signal reaches them too.
        signal_group(self.pid, Signal::Kill);
    }
}

impl Drop for LearnerServer {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            signal_group(self.pid, Signal::Kill);
        }
    }
}

enum Signal {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_group(pid: Option<u32>, signal: Signal) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let sig = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // SAFETY: kill(2) with a negative pid signals the process group we created for the child.
    unsafe {
        libc::kill(-pid, sig);
    }
}

#[cfg(not(unix))]
fn signal_group(_pid: Option<u32>, _signal: Signal) {}

async fn echo_lines(stream: impl tokio::io::AsyncRead + Unpin) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        anstream::eprintln!("{} {line}", paint(styles::DIM, "[your server]"));
    }
}
