//! Helpers shared by the integration tests.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use reqlab::lab::{Lab, LabConfig};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// A fresh in-memory lab and its router.
pub fn lab() -> (Lab, Router) {
    lab_with(LabConfig::ephemeral())
}

/// A lab with a custom configuration.
pub fn lab_with(config: LabConfig) -> (Lab, Router) {
    let lab = Lab::new(config).expect("the lab opens");
    let router = lab.router();
    (lab, router)
}

/// A response, with its body read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics with the body text if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request id the lab answered with.
    pub fn request_id(&self) -> &str {
        self.header("x-request-id")
            .expect("every response carries X-Request-ID")
    }
}

/// Sends one request through the router, without a socket.
pub async fn send(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Reply {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    // Every HTTP/1.1 client names the host it means; the lab refuses requests that do not.
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request = request.header("host", "127.0.0.1:4747");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router
        .clone()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// GET without a body.
pub async fn get(router: &Router, path: &str) -> Reply {
    send(router, "GET", path, &[], Body::empty()).await
}

/// A request with a JSON body.
pub async fn send_json(router: &Router, method: &str, path: &str, json: Value) -> Reply {
    send(
        router,
        method,
        path,
        &[("content-type", "application/json")],
        serde_json::to_vec(&json).unwrap(),
    )
    .await
}

/// Asserts a problem+json response with this status, and that it carries the request id.
pub fn assert_problem(reply: &Reply, status: u16) -> Value {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "body: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let body = reply.json();
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"], reply.request_id());
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("/_lab/problems/")
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// Polls `check` until it returns `Some`, or panics after `deadline`.
pub async fn wait_for<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "gave up waiting for {what} after {deadline:?}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built `reqlab` binary.
pub fn reqlab_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reqlab"))
}

/// A `reqlab` command with a clean, color-free environment and a private data directory.
pub fn reqlab(data_dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(reqlab_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("REQLAB_DATA_DIR", data_dir)
        .env("COLUMNS", "80")
        // Fixture apps started through reqlab must not leave bytecode in the repository.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// Stops a child process on drop, so a failing test never leaves one running: SIGINT first
/// (so it can stop what it started), SIGKILL if it is still there after a few seconds.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `reqlab serve --port 0` with its data in `data` (plus `extra` flags); returns the guard and
/// the URL it printed once it listens.
pub fn serve(data: &std::path::Path, extra: &[&str]) -> (ChildGuard, String) {
    let child = reqlab(data)
        .args(["serve", "--port", "0"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    let line = out.wait_for("listening on ", Duration::from_secs(20));
    let url = line.strip_prefix("listening on ").unwrap().to_string();
    (guard, url)
}

/// A loopback port that was free a moment ago (for servers that cannot report their port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Lines from a child's output, read on a thread so tests can wait with a deadline.
pub struct Lines {
    rx: std::sync::mpsc::Receiver<String>,
    /// Everything received so far, for failure messages.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `stream` line by line.
    pub fn new(stream: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// Every line read so far, joined.
    pub fn collected(&self) -> String {
        self.seen.join("\n")
    }

    /// Waits for a line containing `needle`; panics with what was seen after `deadline`.
    pub fn wait_for(&mut self, needle: &str, deadline: Duration) -> String {
        let start = Instant::now();
        loop {
            let left = deadline.saturating_sub(start.elapsed());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} within {deadline:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

/// Asserts that `text` contains `needle`, showing the whole text when it does not.
macro_rules! assert_contains {
    ($text:expr, $needle:expr $(,)?) => {{
        let text: &str = &$text;
        let needle: &str = &$needle;
        assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
    }};
}

/// A copy of the repository's lessons in a temporary folder, to break on purpose.
pub fn copy_of_lessons() -> tempfile::TempDir {
    let lessons = tempfile::tempdir().unwrap();
    let copy = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo().join("lessons/."))
        .arg(lessons.path())
        .status()
        .unwrap();
    assert!(copy.success());
    lessons
}
