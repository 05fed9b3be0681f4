//! Challenge checks against real FastAPI learner apps (fixtures/learner-apps): every correct
//! app passes, every broken one fails on exactly the check its bug breaks.
//!
//! Needs `REQLAB_FIXTURE_PYTHON` (set by scripts/test.sh) pointing at a Python with the pinned
//! fixture packages.

use crate::util::{ChildGuard, Lines, repo};
use reqlab::check::event::EventSink;
use reqlab::check::result::{Status, Verdict};
use reqlab::check::run::{RunSettings, run_challenge};
use reqlab::course::{ContentSource, Course};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct Manifest {
    app: Vec<App>,
}

#[derive(Debug, Deserialize)]
struct App {
    challenge: String,
    module: String,
    expect: String,
    fails_on: Option<String>,
    #[serde(default)]
    also_fails: Vec<String>,
    warns_on: Option<String>,
}

/// The Python that runs the fixtures; a clear failure when the environment is missing.
pub fn fixture_python() -> String {
    std::env::var("REQLAB_FIXTURE_PYTHON").unwrap_or_else(|_| {
        panic!(
            "REQLAB_FIXTURE_PYTHON is not set: run the tests with `bash scripts/test.sh`, which creates the Python environment for the FastAPI fixtures"
        )
    })
}

/// Starts a fixture app with uvicorn on a free port; returns the guard and its base URL.
pub fn start_app(challenge: &str, module: &str) -> (ChildGuard, String) {
    let dir = repo().join("fixtures/learner-apps").join(challenge);
    let mut child = Command::new(fixture_python())
        .args([
            "-m",
            "uvicorn",
            &format!("{module}:app"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .arg("--app-dir")
        .arg(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut err = Lines::new(child.stderr.take().unwrap());
    let guard = ChildGuard(child);
    let line = err.wait_for("Uvicorn running on ", Duration::from_secs(30));
    let url = line
        .split("Uvicorn running on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("uvicorn prints its URL")
        .to_string();
    (guard, url)
}

async fn check_challenge(challenge: &str) {
    let manifest: Manifest = toml::from_str(
        &std::fs::read_to_string(repo().join("fixtures/learner-apps/manifest.toml")).unwrap(),
    )
    .unwrap();
    let course = Course::load(&ContentSource::Embedded).unwrap();
    let def = course.challenge(challenge).expect("the challenge exists");
    let apps: Vec<&App> = manifest
        .app
        .iter()
        .filter(|a| a.challenge == challenge)
        .collect();
    assert!(
        apps.iter().any(|a| a.module == "good"),
        "{challenge} has a correct app"
    );
    assert!(apps.len() >= 3, "{challenge} has broken variants");
    for app in apps {
        for name in app
            .fails_on
            .iter()
            .chain(&app.also_fails)
            .chain(&app.warns_on)
        {
            assert!(
                def.checks.iter().any(|c| &c.name == name),
                "manifest names check {name:?}, which {challenge} does not have"
            );
        }
        let (guard, url) = start_app(challenge, &app.module);
        let settings = RunSettings {
            timeout: Duration::from_secs(5),
            ..RunSettings::default()
        };
        let outcome = run_challenge(def, &course, &url, settings, &EventSink::discard())
            .await
            .unwrap();
        drop(guard);
        let failed: BTreeSet<&str> = outcome
            .checks
            .iter()
            .filter(|c| c.verdict() == Verdict::Failed)
            .map(|c| c.name.as_str())
            .collect();
        let warned: BTreeSet<&str> = outcome
            .checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .map(|c| c.name.as_str())
            .collect();
        let describe = || {
            outcome
                .checks
                .iter()
                .map(|c| {
                    format!(
                        "  {:?} {} — {}",
                        c.status,
                        c.name,
                        c.finding.as_ref().map_or("", |f| f.message.as_str())
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        match app.expect.as_str() {
            "pass" => {
                assert!(
                    outcome.passed(),
                    "{challenge}/{} should pass:\n{}",
                    app.module,
                    describe()
                );
                let want: BTreeSet<&str> = app.warns_on.iter().map(String::as_str).collect();
                assert_eq!(
                    warned,
                    want,
                    "{challenge}/{} warnings:\n{}",
                    app.module,
                    describe()
                );
            }
            _ => {
                let want: BTreeSet<&str> = app
                    .fails_on
                    .iter()
                    .chain(&app.also_fails)
                    .map(String::as_str)
                    .collect();
                assert_eq!(
                    failed,
                    want,
                    "{challenge}/{} should fail exactly on its bug:\n{}",
                    app.module,
                    describe()
                );
            }
        }
    }
}

macro_rules! fixture_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                check_challenge($id).await;
            }
        )*
    };
}

fixture_tests! {
    http_basics => "http-basics",
    rest_crud => "rest-crud",
    pagination => "pagination",
    cursor_pagination => "cursor-pagination",
    validation => "validation",
    auth_jwt => "auth-jwt",
    request_id => "request-id",
    cors => "cors",
    etag => "etag",
    security_headers => "security-headers",
    observability => "observability",
    api_contract => "api-contract",
    query_count => "query-count",
    timestamps => "timestamps",
    background_jobs => "background-jobs",
    concurrency => "concurrency",
    error_contract => "error-contract",
    rate_limit => "rate-limit",
}

#[test]
fn every_challenge_has_fixture_apps() {
    let manifest: Manifest = toml::from_str(
        &std::fs::read_to_string(repo().join("fixtures/learner-apps/manifest.toml")).unwrap(),
    )
    .unwrap();
    let course = Course::load(&ContentSource::Embedded).unwrap();
    for c in &course.challenges {
        assert!(
            manifest
                .app
                .iter()
                .any(|a| a.challenge == c.id && a.module == "good"),
            "no correct fixture app for {}",
            c.id
        );
        assert!(
            manifest
                .app
                .iter()
                .any(|a| a.challenge == c.id && a.expect == "fail"),
            "no broken fixture app for {}",
            c.id
        );
        for a in manifest.app.iter().filter(|a| a.challenge == c.id) {
            let file = repo().join(format!(
                "fixtures/learner-apps/{}/{}.py",
                a.challenge, a.module
            ));
            assert!(file.exists(), "{} is missing", file.display());
        }
    }
}

/// A server that keeps its posts and lists pages of 20 puts the newest posts on a later page
/// of the oldest-first list after a few runs: the challenge must pass on every run alike.
#[tokio::test]
async fn timestamps_passes_run_after_run_against_a_store_that_keeps_its_posts() {
    let course = Course::load(&ContentSource::Embedded).unwrap();
    let def = course.challenge("timestamps").unwrap();
    let (_guard, url) = start_app("timestamps", "good_paged");
    for run in 1..=30 {
        let outcome = run_challenge(
            def,
            &course,
            &url,
            RunSettings::default(),
            &EventSink::discard(),
        )
        .await
        .unwrap();
        let failed: Vec<String> = outcome
            .checks
            .iter()
            .filter(|c| c.status != Status::Pass)
            .map(|c| {
                format!(
                    "{} — {}",
                    c.name,
                    c.finding.as_ref().map_or("", |f| f.message.as_str())
                )
            })
            .collect();
        assert!(failed.is_empty(), "run {run} of 30:\n{}", failed.join("\n"));
    }
}
