//! CORS in a real browser: headless Chromium opens the lab's demo page, whose script calls the
//! lab's API under its other loopback name (another origin, another site). The browser reads
//! the allowed answer and refuses the blocked one; the lab's traces show why.
//! The API docs page renders every operation of /openapi.json, its script within its policy.
//! Needs Chromium (Debian: `apt-get install chromium`; `.ci/run` installs it).

use reqlab::lab::{LabConfig, start};
use reqlab::stage::Stage;
use std::time::Duration;

/// The browser to drive: the first of the usual names on PATH.
fn chromium() -> std::path::PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(path) = which(name) {
            return path;
        }
    }
    panic!(
        "no Chromium on PATH: Debian/Ubuntu `apt-get install chromium`, macOS `brew install --cask chromium`"
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or(())
}

/// The page's DOM once its scripts have run (Chromium's `--dump-dom`), and what Chromium
/// logged (CSP violations among it).
async fn rendered(page: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut browser = tokio::process::Command::new(chromium());
    browser
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--virtual-time-budget=10000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(page)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(Duration::from_secs(60), browser.output())
        .await
        .expect("Chromium finishes within a minute")
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_every_operation_offline_within_its_policy() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let doc: serde_json::Value = reqwest::get(format!("{}/openapi.json", lab.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum::<usize>();
    let (dom, log) = rendered(&format!("{}/docs", lab.url())).await;
    assert!(
        dom.contains("data-state=\"ready\""),
        "the page read the document:\n{dom}\n{log}"
    );
    assert_eq!(
        dom.matches("data-operation=\"").count(),
        operations,
        "one entry per operation"
    );
    assert_contains!(dom, "data-operation=\"PATCH /tasks/{id}\"");
    assert!(
        !log.contains("Content Security Policy") && !log.contains("Refused to"),
        "the page stays within its own policy:\n{log}"
    );
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_reads_the_allowed_answer_and_refuses_the_blocked_one() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let port = lab.url().rsplit(':').next().unwrap().to_string();
    let page = format!("http://localhost:{port}/cors-demo");
    let (dom, log) = rendered(&page).await;
    assert!(
        dom.contains("data-done=\"yes\""),
        "the page's script ran to the end:\n{dom}\n{log}"
    );
    assert_contains!(dom, "allowed: 200 · read X-Request-ID cors-demo-");
    assert_contains!(dom, "blocked: the browser refused: TypeError");
    // Across sites, a SameSite=Lax session cookie is neither kept nor sent.
    assert_contains!(dom, "session: 201 · logged in as alice");
    assert_contains!(dom, "me: 401 · the browser sent no session cookie");

    // The lab saw two preflights and one actual request: the blocked one never came.
    let traces = lab.state.traces.recent(20);
    let preflights: Vec<_> = traces
        .iter()
        .filter(|t| t.method == "OPTIONS" && t.path == "/api/data")
        .collect();
    assert_eq!(preflights.len(), 2, "{traces:#?}");
    assert!(
        preflights
            .iter()
            .any(|t| t.events.iter().any(|e| e.stage == Stage::Security
                && e.message.contains("x-demo, not among the allowed headers")))
    );
    let gets: Vec<_> = traces
        .iter()
        .filter(|t| t.method == "GET" && t.path == "/api/data")
        .collect();
    assert_eq!(gets.len(), 1, "only the allowed request was sent");
    assert!(gets[0].request_id.starts_with("cors-demo-"));
    let me = traces
        .iter()
        .find(|t| t.path == "/me")
        .expect("the page asked who it is");
    assert_eq!(me.status, 401);
    assert!(
        me.events
            .iter()
            .any(|e| e.message.starts_with("no credentials"))
    );
    lab.stop().await.unwrap();
}
