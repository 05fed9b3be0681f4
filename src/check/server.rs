//! `--run`: start the learner's server, pass its output on as events, wait for its port, stop
//! it (and everything it started) after.

use super::event::{Event, EventSink, Stream};
use super::output::ServerLog;
use nix::sys::signal::Signal;
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long to wait for the learner's server to accept connections.
pub const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long the server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Most bytes of the server's output read as one line.
const MAX_LINE_BYTES: u64 = 64 * 1024;
/// How long a re-run waits for the previous server to let go of its port.
pub const PORT_RELEASE: Duration = Duration::from_secs(10);

/// Where the learner's server is expected to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// At this `host:port` (from `--target`, or a port in the `--run` command).
    At {
        /// `host:port` (IPv6 hosts in brackets).
        addr: String,
        /// True when `--target` said so: a server seen listening elsewhere is then a
        /// configuration error.
        from_target: bool,
    },
    /// Wherever its first "listening on http://…" line says.
    Announced,
}

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
    /// The previous run's server (or something it started) still holds the port.
    #[error(
        "port {addr} is still in use {secs} s after the previous server was stopped (did it start something that keeps running?); stop it, then save again"
    )]
    PortStillBusy {
        /// host:port.
        addr: String,
        /// Seconds waited.
        secs: u64,
    },
    /// The server says it listens somewhere else than `--target`.
    #[error(
        "your server listens on {seen} but --target says {target}; make them agree (without --target, the address is read from --run)"
    )]
    ListensElsewhere {
        /// Where it says it listens (`host:port`).
        seen: String,
        /// What `--target` says (`host:port`).
        target: String,
    },
    /// The server exited before listening.
    #[error("your server exited ({status}) before it listened{where_}; its output is above")]
    ExitedEarly {
        /// Exit status.
        status: std::process::ExitStatus,
        /// " on host:port" when known.
        where_: String,
    },
    /// The port never opened.
    #[error(
        "your server did not start listening on {addr} within {secs} s; is that the address it listens on?"
    )]
    NeverListened {
        /// host:port waited for.
        addr: String,
        /// Seconds waited.
        secs: u64,
    },
    /// No port in the command, and the server never said where it listens.
    #[error(
        "your server did not say where it listens within {secs} s (no \"listening on http://…\" line), and the --run command names no port; give --target http://127.0.0.1:PORT"
    )]
    NeverAnnounced {
        /// Seconds waited.
        secs: u64,
    },
}

impl StartError {
    /// True for a usage or configuration mistake (exit 2) rather than a server that failed.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            StartError::Spawn { .. }
                | StartError::PortBusy { .. }
                | StartError::ListensElsewhere { .. }
        )
    }
}

/// The port a `--run` command line names: `--port N`, `--port=N`, `-p N`, `PORT=N`, or `:N`
/// at the end of a `host:port` argument.
pub fn port_in_command(command: &str) -> Option<u16> {
    let words = shlex::split(command)
        .unwrap_or_else(|| command.split_whitespace().map(str::to_string).collect());
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        let value = match word.as_str() {
            "--port" | "-p" | "--http-port" => words.peek().map(|w| w.as_str()),
            w => w
                .strip_prefix("--port=")
                .or_else(|| w.strip_prefix("PORT="))
                .or_else(|| {
                    w.strip_prefix("-p")
                        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
                })
                .or_else(|| {
                    let (host, port) = w.rsplit_once(':')?;
                    let host = host.rsplit('/').next().unwrap_or(host);
                    let looks_like_host = host.is_empty()
                        || host == "localhost"
                        || host.starts_with('[')
                        || host.chars().all(|c| c.is_ascii_digit() || c == '.');
                    looks_like_host.then_some(port)
                }),
        };
        if let Some(port) = value.and_then(|v| v.parse::<u16>().ok()).filter(|p| *p > 0) {
            return Some(port);
        }
    }
    None
}

/// Where a line of server output says the server listens: `http://host:port` after
/// "listening/running/serving on", or "listening on port N".
pub fn announced(line: &str) -> Option<(String, u16)> {
    static URL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)\b(?:listening|running|serving|started|available|ready)\b.*?\b(?:on|at)\s+(https?)://(\[[^\]]+\]|[^\s:/'\x22]+):(\d{1,5})",
        )
        .expect("a valid pattern")
    });
    static PORT: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\blistening on (?:port\s+|:)(\d{1,5})\b").expect("a valid pattern")
    });
    if let Some(c) = URL.captures(line) {
        let host = match &c[2] {
            "0.0.0.0" | "localhost" | "[::]" | "::" => "127.0.0.1".to_string(),
            h => h.to_string(),
        };
        return Some((format!("{}://{host}", &c[1]), c[3].parse().ok()?));
    }
    let c = PORT.captures(line)?;
    Some(("http://127.0.0.1".into(), c[1].parse().ok()?))
}

/// A running learner server; stopped (with its whole process group) on [`LearnerServer::stop`]
/// or when dropped.
#[derive(Debug)]
pub struct LearnerServer {
    child: Child,
    pid: Option<u32>,
    base: String,
    log: ServerLog,
    /// The tasks passing its output on; they end when its pipes close.
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// How long, after the server stops, its last output may take to arrive.
const LAST_OUTPUT: Duration = Duration::from_secs(1);

impl LearnerServer {
    /// Runs `command` with `sh -c`, reports each line it prints as an event (and keeps it in
    /// the server's log), and waits with backoff until it accepts connections where `listen`
    /// says. With `wait_free`, a port still held (by the previous run's server) is waited on
    /// that long first.
    pub async fn start(
        command: &str,
        listen: &Listen,
        deadline: Duration,
        wait_free: Option<Duration>,
        events: &EventSink,
    ) -> Result<LearnerServer, StartError> {
        // A server already there would be checked instead of the one about to start.
        if let Listen::At { addr, .. } = listen
            && accepts(addr).await
        {
            let Some(wait) = wait_free else {
                return Err(StartError::PortBusy { addr: addr.clone() });
            };
            let start = Instant::now();
            while accepts(addr).await {
                if start.elapsed() >= wait {
                    return Err(StartError::PortStillBusy {
                        addr: addr.clone(),
                        secs: wait.as_secs(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
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
        let log = ServerLog::default();
        let (said, mut announcements) = mpsc::unbounded_channel();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            let to = Reader::new(Stream::Stdout, events, &log, &said);
            readers.push(tokio::spawn(pass_lines_on(out, to)));
        }
        if let Some(err) = child.stderr.take() {
            let to = Reader::new(Stream::Stderr, events, &log, &said);
            readers.push(tokio::spawn(pass_lines_on(err, to)));
        }
        drop(said);
        let mut server = LearnerServer {
            child,
            pid,
            base: String::new(),
            log,
            readers,
        };
        let (mut addr, mut scheme) = match listen {
            Listen::At { addr, .. } => (Some(addr.clone()), "http".to_string()),
            Listen::Announced => (None, "http".to_string()),
        };
        let start = Instant::now();
        let mut pause = Duration::from_millis(25);
        let mut heard = Vec::new();
        loop {
            while let Ok(said) = announcements.try_recv() {
                heard.push(said);
            }
            for (base, port) in heard.drain(..) {
                let (said_scheme, host) = base.split_once("://").unwrap_or(("http", &base));
                let seen = format!("{host}:{port}");
                match listen {
                    Listen::At {
                        addr: target,
                        from_target: true,
                    } if !target.ends_with(&format!(":{port}")) => {
                        server.stop().await;
                        return Err(StartError::ListensElsewhere {
                            seen,
                            target: target.clone(),
                        });
                    }
                    Listen::Announced if addr.is_none() => {
                        addr = Some(seen);
                        scheme = said_scheme.to_string();
                    }
                    _ => {}
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                server.stop().await;
                let where_ = addr
                    .as_ref()
                    .map(|a| format!(" on {a}"))
                    .unwrap_or_default();
                return Err(StartError::ExitedEarly { status, where_ });
            }
            if let Some(addr) = &addr
                && accepts(addr).await
            {
                // The port is open; make sure it is this server that opened it.
                if let Ok(Some(status)) = server.child.try_wait() {
                    server.stop().await;
                    let where_ = format!(" on {addr}");
                    return Err(StartError::ExitedEarly { status, where_ });
                }
                server.base = format!("{scheme}://{addr}");
                return Ok(server);
            }
            if start.elapsed() >= deadline {
                server.stop().await;
                let secs = deadline.as_secs();
                return Err(match addr {
                    Some(addr) => StartError::NeverListened { addr, secs },
                    None => StartError::NeverAnnounced { secs },
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                Some(said) = announcements.recv() => heard.push(said),
            }
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The base URL the server listens on (`http://127.0.0.1:8000`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// What the server has printed.
    pub fn log(&self) -> &ServerLog {
        &self.log
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
        // Everything it printed is reported before the session says it stopped.
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(LAST_OUTPUT, reader).await;
        }
    }
}

impl Drop for LearnerServer {
    fn drop(&mut self) {
        signal_group(self.pid, Signal::SIGKILL);
    }
}

/// True when something accepts a connection at `addr` within half a second.
async fn accepts(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Sends `signal` to the process group led by `pid` (the group the server was started in).
fn signal_group(pid: Option<u32>, signal: Signal) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    // The group may be gone already; there is nothing to do about a failure here.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
}

/// Where one of the server's output streams goes: events, the log, and announcements of
/// where it listens.
struct Reader {
    stream: Stream,
    events: EventSink,
    log: ServerLog,
    said: mpsc::UnboundedSender<(String, u16)>,
}

impl Reader {
    fn new(
        stream: Stream,
        events: &EventSink,
        log: &ServerLog,
        said: &mpsc::UnboundedSender<(String, u16)>,
    ) -> Reader {
        Reader {
            stream,
            events: events.clone(),
            log: log.clone(),
            said: said.clone(),
        }
    }
}

/// Passes the server's output on line by line; bytes that are not UTF-8 are replaced, and
/// reading continues even when nobody listens (a server whose pipe closed would fail on its
/// next log line).
async fn pass_lines_on(reader: impl tokio::io::AsyncRead + Unpin, to: Reader) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        // A line without an end is passed on in pieces, so memory stays bounded.
        let mut bounded = (&mut reader).take(MAX_LINE_BYTES);
        match bounded.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let line = text.trim_end_matches(['\n', '\r']).to_string();
                if let Some(at) = announced(&line) {
                    let _ = to.said.send(at);
                }
                to.log.push(line.clone());
                to.events
                    .emit(Event::ServerOutput {
                        stream: to.stream,
                        line,
                    })
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_the_command_line() {
        for (command, port) in [
            ("uvicorn tasks:app --port 8001", Some(8001)),
            ("uvicorn main:app --port=8002 --reload", Some(8002)),
            ("flask run -p 5001", Some(5001)),
            ("PORT=3001 node server.js", Some(3001)),
            ("gunicorn -b 0.0.0.0:8003 app:app", Some(8003)),
            ("python -m http.server --bind localhost:8004", Some(8004)),
            ("uvicorn main:app", None),
            ("python app.py", None),
        ] {
            assert_eq!(port_in_command(command), port, "{command}");
        }
    }

    /// A re-run waits for the previous server to let go of its port, up to a deadline.
    #[tokio::test]
    async fn a_rerun_waits_for_the_port_to_be_released() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap().to_string();
        let port = held.local_addr().unwrap().port();
        let listen = Listen::At {
            addr: addr.clone(),
            from_target: true,
        };
        let command = format!("exec python3 -m http.server {port} --bind 127.0.0.1");
        let events = EventSink::discard();
        let short = Some(Duration::from_millis(300));
        let err = LearnerServer::start(&command, &listen, START_DEADLINE, short, &events)
            .await
            .unwrap_err();
        assert!(matches!(err, StartError::PortStillBusy { .. }), "{err}");
        assert!(err.to_string().contains("still in use"), "{err}");
        let release = tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        let wait = Some(Duration::from_secs(10));
        let mut server = LearnerServer::start(&command, &listen, START_DEADLINE, wait, &events)
            .await
            .expect("starts once the port is free");
        assert_eq!(server.base(), format!("http://{addr}"));
        server.stop().await;
        release.await.unwrap();
    }

    #[test]
    fn a_listening_line_says_where() {
        assert_eq!(
            announced("INFO:     Uvicorn running on http://127.0.0.1:8001 (Press CTRL+C to quit)"),
            Some(("http://127.0.0.1".into(), 8001))
        );
        assert_eq!(
            announced("Server listening on http://0.0.0.0:3000"),
            Some(("http://127.0.0.1".into(), 3000))
        );
        assert_eq!(
            announced("app listening on port 4000"),
            Some(("http://127.0.0.1".into(), 4000))
        );
        assert_eq!(announced("INFO: Started server process [42]"), None);
    }
}
