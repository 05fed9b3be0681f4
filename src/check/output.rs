//! What the learner's server printed, kept per check: a failed check shows the lines its
//! server printed while it ran, with a crash's exception and the learner's own frame first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines kept in memory; older ones are dropped (a check shows only its last few anyway).
const KEPT: usize = 2_000;
/// Lines of plain output shown under a failed check.
const SHOWN: usize = 12;
/// Characters kept of one line (a server may print a whole response body on one line).
const LINE_CHARS: usize = 2_000;

/// The learner server's output so far, shared between the reader of its pipes and the
/// runner (which marks where each check starts).
#[derive(Debug, Clone, Default)]
pub struct ServerLog(Arc<Mutex<LogState>>);

#[derive(Debug, Default)]
struct LogState {
    lines: VecDeque<String>,
    /// How many lines were dropped from the front.
    dropped: usize,
    last_line_at: Option<Instant>,
}

impl ServerLog {
    /// Adds a line the server printed (a very long one is cut).
    pub fn push(&self, line: String) {
        let line = if line.len() > LINE_CHARS {
            crate::check::assert::shorten(&line, LINE_CHARS)
        } else {
            line
        };
        let mut s = self.0.lock().expect("the log lock is never poisoned");
        if s.lines.len() == KEPT {
            s.lines.pop_front();
            s.dropped += 1;
        }
        s.lines.push_back(line);
        s.last_line_at = Some(Instant::now());
    }

    /// A position in the output: lines printed from now on come after it.
    pub fn mark(&self) -> usize {
        let s = self.0.lock().expect("the log lock is never poisoned");
        s.dropped + s.lines.len()
    }

    /// The lines printed since `mark` (those still kept).
    pub fn since(&self, mark: usize) -> Vec<String> {
        let s = self.0.lock().expect("the log lock is never poisoned");
        let skip = mark.saturating_sub(s.dropped);
        s.lines.iter().skip(skip).cloned().collect()
    }

    /// Waits until the server has printed nothing for `quiet` (a traceback arrives just
    /// after the response it broke), but never longer than `max`.
    pub async fn settle(&self, quiet: Duration, max: Duration) {
        let start = Instant::now();
        loop {
            let last = self
                .0
                .lock()
                .expect("the log lock is never poisoned")
                .last_line_at;
            let since = last.map_or(start, |l| l.max(start));
            let quiet_until = since + quiet;
            let now = Instant::now();
            if now >= quiet_until || now >= start + max {
                return;
            }
            tokio::time::sleep(quiet_until.min(start + max) - now).await;
        }
    }
}

/// What the learner's server printed while one check ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerOutput {
    /// A crash's exception line (`sqlite3.IntegrityError: UNIQUE constraint failed: …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// The crash's frame in the learner's own code (the last one not in a library), with
    /// its source line: `File "main.py", line 28, in create_user` / `cur = db.execute(…)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub own_frame: Vec<String>,
    /// The last lines it printed.
    pub last_lines: Vec<String>,
    /// How many earlier lines of the check are not shown.
    pub omitted: usize,
}

impl ServerOutput {
    /// Reads the lines a server printed during a check; `None` when it printed nothing.
    pub fn from_lines(lines: &[String]) -> Option<ServerOutput> {
        if lines.iter().all(|l| l.trim().is_empty()) {
            return None;
        }
        let from = lines.len().saturating_sub(SHOWN);
        let (exception, own_frame) = read_traceback(lines);
        Some(ServerOutput {
            exception,
            own_frame,
            last_lines: lines[from..].to_vec(),
            omitted: from,
        })
    }
}

/// A Python traceback's exception line and the learner's own frame, if the lines hold one.
fn read_traceback(lines: &[String]) -> (Option<String>, Vec<String>) {
    let Some(start) = lines
        .iter()
        .position(|l| clean(l).starts_with("Traceback (most recent call last)"))
    else {
        return (None, Vec::new());
    };
    let lines: Vec<&str> = lines[start..].iter().map(|l| clean(l)).collect();
    let exceptions: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| is_exception_line(l))
        .collect();
    // Groups wrap the real exception (anyio's task groups); prefer what they wrap.
    let exception = exceptions
        .iter()
        .rev()
        .find(|l| !l.contains("ExceptionGroup"))
        .or(exceptions.last())
        .map(|l| l.to_string());
    let own = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("File \""))
        .rfind(|(_, l)| !is_library(l))
        .map(|(i, l)| {
            let mut frame = vec![l.to_string()];
            if let Some(code) = lines
                .get(i + 1)
                .filter(|c| !c.starts_with("File \"") && !c.is_empty() && !is_exception_line(c))
            {
                frame.push(code.to_string());
            }
            frame
        })
        .unwrap_or_default();
    (exception, own)
}

/// A traceback line without its indentation and the `|` borders of exception groups.
fn clean(line: &str) -> &str {
    line.trim_start_matches([' ', '\t', '|', '+']).trim_end()
}

fn is_library(frame: &str) -> bool {
    let path = frame
        .strip_prefix("File \"")
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("");
    path.starts_with('<')
        || ["site-packages", "dist-packages", "/lib/python", "\\lib\\"]
            .iter()
            .any(|lib| path.contains(lib))
}

/// `module.Name: message` or `Name` where the name ends like an exception's.
fn is_exception_line(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or("");
    !name.is_empty()
        && !name.contains(' ')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && [
            "Error",
            "Exception",
            "ExceptionGroup",
            "Exit",
            "Interrupt",
            "Warning",
        ]
        .iter()
        .any(|end| name.ends_with(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceback_gives_the_exception_and_the_learners_own_frame() {
        let text = r#"INFO:     127.0.0.1:50000 - "POST /users HTTP/1.1" 500 Internal Server Error
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/venv/lib/python3.12/site-packages/uvicorn/protocols/http/h11_impl.py", line 403, in run_asgi
    result = await app(  # type: ignore[func-returns-value]
  File "/home/pat/app/main.py", line 28, in create_user
    cur = db.execute(
  File "/venv/lib/python3.12/site-packages/starlette/routing.py", line 74, in app
    response = await f(request)
sqlite3.IntegrityError: UNIQUE constraint failed: users.email"#;
        let lines: Vec<String> = text.lines().map(String::from).collect();
        let out = ServerOutput::from_lines(&lines).unwrap();
        assert_eq!(
            out.exception.as_deref(),
            Some("sqlite3.IntegrityError: UNIQUE constraint failed: users.email")
        );
        assert_eq!(
            out.own_frame,
            [
                r#"File "/home/pat/app/main.py", line 28, in create_user"#,
                "cur = db.execute("
            ]
        );
        assert_eq!(out.last_lines.len(), 10);
        assert!(ServerOutput::from_lines(&[String::new()]).is_none());
    }

    #[tokio::test]
    async fn settling_waits_for_quiet_but_not_forever() {
        let log = ServerLog::default();
        let mark = log.mark();
        let chatty = log.clone();
        let writer = tokio::spawn(async move {
            for i in 0..5 {
                chatty.push(format!("line {i}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        log.settle(Duration::from_millis(150), Duration::from_secs(5))
            .await;
        assert_eq!(log.since(mark).len(), 5, "waited for the burst to end");
        writer.await.unwrap();
        let start = Instant::now();
        let endless = log.clone();
        let flood = tokio::spawn(async move {
            loop {
                endless.push("again".into());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        log.settle(Duration::from_millis(150), Duration::from_millis(300))
            .await;
        assert!(start.elapsed() < Duration::from_secs(2), "bounded");
        flood.abort();
    }
}
