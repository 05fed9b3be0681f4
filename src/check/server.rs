//! `--run`: start the learner's server, pass its output on as events, wait for its port, stop
//! it (and everything it started) after.

use super::event::{Event, EventSink, Stream};
use nix::sys::signal::Signal;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long to wait for the learner's server to accept connections.
pub const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long the server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for the last lines a stopped server printed.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

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
    /// Something already listens where the server should.
    #[error(
        "something is already listening on {addr}; stop it first, or leave out --run to check it as it is"
    )]
    PortBusy {
        /// host:port.
        addr: String,
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
    /// The tasks passing the server's output on; they end when its pipes close.
    output: Vec<tokio::task::JoinHandle<()>>,
}

impl LearnerServer {
    /// Runs `command` with `sh -c`, reports each line it prints as an event, and waits with
    /// backoff until `addr` (`host:port`, IPv6 hosts in brackets) accepts a connection.
    pub async fn start(
        command: &str,
        addr: &str,
        deadline: Duration,
        events: &EventSink,
    ) -> Result<LearnerServer, StartError> {
        let addr = addr.to_string();
        // A server already there would be checked instead of the one about to start.
        if let Ok(Ok(_)) = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr.as_str()),
        )
        .await
        {
            return Err(StartError::PortBusy { addr });
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Python buffers output when piped; learners want to see it as it happens.
            .env("PYTHONUNBUFFERED", "1")
            .kill_on_drop(true);
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|source| StartError::Spawn {
            command: command.to_string(),
            source,
        })?;
        let pid = child.id();
        events
            .emit(Event::ServerStarted {
                command: command.to_string(),
                pid,
            })
            .await;
        let mut output = Vec::new();
        if let Some(out) = child.stdout.take() {
            output.push(tokio::spawn(pass_lines_on(
                out,
                Stream::Stdout,
                events.clone(),
            )));
        }
        if let Some(err) = child.stderr.take() {
            output.push(tokio::spawn(pass_lines_on(
                err,
                Stream::Stderr,
                events.clone(),
            )));
        }
        let mut server = LearnerServer { child, pid, output };
        let start = Instant::now();
        let mut pause = Duration::from_millis(25);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                server.finish_output().await;
                return Err(StartError::ExitedEarly { status, addr });
            }
            let attempt = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(addr.as_str()),
            )
            .await;
            if let Ok(Ok(_)) = attempt {
                // The port is open; make sure it is this server that opened it.
                if let Ok(Some(status)) = server.child.try_wait() {
                    server.finish_output().await;
                    return Err(StartError::ExitedEarly { status, addr });
                }
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

    /// The server's exit status, if it has stopped by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the server and everything it started: SIGTERM to the process group, then
    /// SIGKILL after a grace period. The group is signalled even when the shell itself has
    /// exited, because what it started in the background may still run.
    pub async fn stop(&mut self) {
        signal_group(self.pid, Signal::SIGTERM);
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            signal_group(self.pid, Signal::SIGKILL);
            let _ = self.child.wait().await;
        }
        signal_group(self.pid, Signal::SIGKILL);
        self.pid = None;
        self.finish_output().await;
    }

    /// Waits (briefly) until everything the stopped server printed has been passed on; a
    /// process it started in the background may hold its pipes open, so the wait is bounded.
    async fn finish_output(&mut self) {
        for task in self.output.drain(..) {
            let _ = tokio::time::timeout(OUTPUT_GRACE, task).await;
        }
    }
}

impl Drop for LearnerServer {
    fn drop(&mut self) {
        signal_group(self.pid, Signal::SIGKILL);
    }
}

/// Sends `signal` to the process group led by `pid` (the group the server was started in).
fn signal_group(pid: Option<u32>, signal: Signal) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    // The group may be gone already; there is nothing to do about a failure here.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
}

/// Passes the server's output on line by line; bytes that are not UTF-8 are replaced, and
/// reading continues even when nobody listens (a server whose pipe closed would fail on its
/// next log line).
async fn pass_lines_on(
    reader: impl tokio::io::AsyncRead + Unpin,
    stream: Stream,
    events: EventSink,
) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let line = text.trim_end_matches(['\n', '\r']).to_string();
                events.emit(Event::ServerOutput { stream, line }).await;
            }
        }
    }
}
