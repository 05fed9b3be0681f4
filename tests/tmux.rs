//! The real binary in a real terminal: tmux runs `reqlab`, the test types keys with
//! `send-keys` and reads the screen with `capture-pane`, the way a learner would use it.
//! Needs tmux (Debian: `apt-get install tmux`; `.ci/run` installs it).

use crate::util::{reqlab, reqlab_bin};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A private tmux server (its socket in a temporary directory) with one session running a
/// command; killed on drop with everything it started.
struct Tmux {
    socket: std::path::PathBuf,
    /// Holds the server's socket and configuration.
    _dir: TempDir,
}

impl Tmux {
    /// Starts `script` (run by sh) in a `width`×`height` session. The script should end by
    /// waiting (`exec sleep …`) so its last words stay readable: a dead pane's screen is
    /// redrawn by tmux.
    fn start(width: u16, height: u16, script: &str) -> Tmux {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("tmux.conf");
        std::fs::write(&conf, "set -g history-limit 0\n").unwrap();
        let tmux = Tmux {
            socket: dir.path().join("socket"),
            _dir: dir,
        };
        let out = tmux
            .command()
            .arg("-f")
            .arg(&conf)
            .args(["new-session", "-d", "-s", "e2e", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .args(["sh", "-c", script])
            .output()
            .expect("tmux runs (Debian: apt-get install tmux)");
        assert!(out.status.success(), "tmux: {}", text(&out.stderr));
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(&self.socket)
            .env("TERM", "xterm-256color");
        cmd
    }

    /// Types keys: tmux key names (`Enter`, `Escape`, `C-c`) or single characters.
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let out = self
                .command()
                .args(["send-keys", "-t", "e2e", key])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "send-keys {key}: {}",
                text(&out.stderr)
            );
        }
    }

    fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", "e2e"])
            .output()
            .unwrap();
        text(&out.stdout)
    }

    /// A pane property (`#{alternate_on}`, `#{cursor_flag}`…).
    fn show(&self, format: &str) -> String {
        let out = self
            .command()
            .args(["display-message", "-p", "-t", "e2e", format])
            .output()
            .unwrap();
        text(&out.stdout).trim().to_string()
    }

    /// Waits until `needle` is on screen (30 s at most) and returns the screen.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn a_learner_reads_sends_steps_checks_and_quits_with_the_terminal_restored() {
    let data = tempfile::tempdir().unwrap();
    // The script keeps the terminal's settings from before, runs the guide, and says how it
    // ended and whether the settings came back.
    let script = format!(
        "stty -g > before; REQLAB_DATA_DIR={data} NO_COLOR=1 {bin}; echo \"guide exited $?\"; \
         stty -g > after; cmp -s before after && echo 'terminal settings restored'; exec sleep 600",
        data = sh_quote(data.path()),
        bin = sh_quote(&reqlab_bin()),
    );
    let work = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(
        150,
        45,
        &format!("cd {} && {script}", sh_quote(work.path())),
    );

    // The map, then lesson 1 with its console.
    tmux.wait_for("the life of a request");
    assert_eq!(
        tmux.show("#{alternate_on}"),
        "1",
        "the guide uses the alternate screen"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for("HTTP: one request, one response");

    // Send the first preset: the answer and its trace.
    tmux.keys(&["s"]);
    let screen = tmux.wait_for("as the lesson expects");
    assert!(screen.contains("200 OK"), "{screen}");
    tmux.wait_for("route /echo");

    // The guide recorded its lab's address: `reqlab send` from another terminal uses it,
    // and the request shows up in the guide.
    let sent = reqlab(data.path())
        .args(["send", "http-basics/echo-get"])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    assert!(
        !text(&sent.stderr).contains("throwaway"),
        "{}",
        text(&sent.stderr)
    );
    tmux.wait_for("2 requests");

    // The challenge, run against the embedded lab, passes.
    tmux.keys(&["c"]);
    tmux.wait_for("challenge http-basics");
    tmux.keys(&["L"]);
    tmux.wait_for("the lab passes every check");

    // Back to the map, into lesson 2, and its create-task request stepped through every stage.
    tmux.keys(&["q", "q"]);
    tmux.wait_for("the life of a request");
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for("REST: resources");
    tmux.keys(&["n"]);
    tmux.wait_for("create-task");
    tmux.keys(&["S", "z"]);
    tmux.wait_for("held at HTTP: received POST /tasks");
    for stage in [
        "held at routing",
        "held at parsing",
        "held at validation",
        "held at auth",
        "held at business logic",
        "held at data layer: about to run",
        "held at response: built 201 Created",
    ] {
        tmux.keys(&["."]);
        tmux.wait_for(stage);
    }
    let screen = tmux.screen();
    for passed in [
        "✓HTTP",
        "✓routing",
        "✓parsing",
        "✓validation",
        "✓auth",
        "✓logic",
        "✓data",
    ] {
        assert!(screen.contains(passed), "{passed}:\n{screen}");
    }
    tmux.keys(&["."]);
    tmux.wait_for("by step mode");

    // Ctrl-C quits from anywhere, and the terminal is as it was.
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("guide exited");
    assert!(screen.contains("guide exited 0"), "{screen}");
    tmux.wait_for("terminal settings restored");
    assert_eq!(tmux.show("#{alternate_on}"), "0", "back on the main screen");
    assert_eq!(
        tmux.show("#{cursor_flag}"),
        "1",
        "the cursor is visible again"
    );
    // The lab went with the guide: its address is no longer recorded.
    assert!(!data.path().join("lab.json").exists());
}
