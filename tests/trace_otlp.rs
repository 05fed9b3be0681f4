//! `reqlab trace <id> --format otlp` against a lab: the file it writes parses into the OTLP
//! protobuf schema (`opentelemetry-proto`, through tests/otlp_validate.py), with one span per
//! request, stage and SQL statement. Also the trace's depth from the command line: `--plan`
//! explains a request's statements, and `serve --strict-queries` fails the run after an N+1.
//!
//! Needs `REQLAB_FIXTURE_PYTHON` pointing at a Python with the pinned fixture packages
//! (fixtures/requirements.txt).

use crate::fixture_apps::fixture_python;
use crate::util::{repo, reqlab, wait_for};
use reqlab::lab::trace::Trace;
use reqlab::lab::{LabConfig, RunningLab, start};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `reqlab trace` with `args` (blocking, off the runtime the lab serves on).
async fn trace_command(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let data = tempfile::tempdir().unwrap();
        reqlab(data.path())
            .arg("trace")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Sends a request; returns the request id the lab answered with.
async fn send(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.unwrap();
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The lab's own trace of a request, once it has kept it.
async fn kept(lab: &RunningLab, id: &str) -> Trace {
    wait_for("the trace", Duration::from_secs(5), async || {
        lab.state.traces.get(id)
    })
    .await
}

/// Runs tests/otlp_validate.py on `json`; returns the span count it printed.
fn validate(json: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.json");
    std::fs::write(&file, json).unwrap();
    let out = std::process::Command::new(fixture_python())
        .arg(repo().join("tests/otlp_validate.py"))
        .arg(&file)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the OTLP schema refused the export:\n{}\n{}",
        text(&out.stderr),
        text(json)
    );
    let printed = text(&out.stdout);
    printed
        .trim()
        .strip_prefix("spans: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no span count in {printed:?}"))
}

/// Runs tests/otlp_validate.py on every file at once; returns how many it accepted.
pub fn validate_files(files: &[std::path::PathBuf]) -> usize {
    let out = std::process::Command::new(fixture_python())
        .arg(repo().join("tests/otlp_validate.py"))
        .args(files)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the OTLP schema refused an export:\n{}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains(": spans: "))
        .count()
}

fn spans(export: &Value) -> &Vec<Value> {
    export["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .expect("spans")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_trace_parses_into_the_otlp_schema() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let client = reqwest::Client::new();
    let read = send(client.get(format!("{}/tasks/1", lab.url()))).await;
    // A taken email: the lab looks it up (SQL), then refuses with 409.
    let taken = send(
        client
            .post(format!("{}/users", lab.url()))
            .json(&serde_json::json!({ "email": "ada@example.com", "name": "Ada" })),
    )
    .await;
    for (id, request, statement) in [
        (&read, "GET /tasks/{id}", "SELECT tasks"),
        (&taken, "POST /users", "SELECT users"),
    ] {
        let trace = kept(&lab, id).await;
        let args: Vec<String> = vec![
            id.clone(),
            "--format".into(),
            "otlp".into(),
            "--url".into(),
            lab.url(),
        ];
        let out = trace_command(args.clone()).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let export: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)));

        // One span for the request, one per stage, one per statement.
        let stages: BTreeSet<_> = trace.events.iter().map(|e| e.stage).collect();
        let statements = trace.events.iter().filter(|e| e.sql.is_some()).count();
        assert!(statements >= 1, "the request ran SQL: {trace:?}");
        let expected = 1 + stages.len() + statements;
        assert_eq!(spans(&export).len(), expected);
        assert_eq!(validate(&out.stdout), expected);

        // The statement's span hangs under the data stage's span, under the request's.
        let named = |name: &str| {
            spans(&export)
                .iter()
                .find(|s| s["name"] == name)
                .unwrap_or_else(|| panic!("no span {name}: {export}"))
        };
        let server = &spans(&export)[0];
        assert_eq!(server["name"], request);
        assert_eq!(server["kind"], 2);
        assert_eq!(named("data")["parentSpanId"], server["spanId"]);
        assert_eq!(named(statement)["parentSpanId"], named("data")["spanId"]);

        // The same trace exports the same file.
        let again = trace_command(args).await;
        assert_eq!(again.stdout, out.stdout);
    }
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_needs_one_request_id() {
    // Refused before any lab is asked: none runs here.
    for (args, names) in [
        (&["--format", "otlp"][..], "give its id"),
        (&["--format", "otlp", "--follow"][..], "cannot --follow"),
    ] {
        let out = trace_command(args.iter().map(|s| s.to_string()).collect()).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("--format otlp") && err.contains(names),
            "{err}"
        );
        assert!(err.contains("REQUEST_ID"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_explains_each_statement_of_a_request_in_words() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let client = reqwest::Client::new();
    let id = send(client.get(format!("{}/books?limit=3&authors=batched", lab.url()))).await;
    let out = trace_command(vec![id, "--plan".into(), "--url".into(), lab.url()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("query plans"), "{stdout}");
    assert!(
        stdout.contains("[2] SELECT id, name FROM authors WHERE id IN (?1, ?2, ?3)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("looks authors rows up by primary key"),
        "{stdout}"
    );
    let out = trace_command(vec!["--plan".into(), "--url".into(), lab.url()]).await;
    assert_eq!(out.status.code(), Some(2), "--plan needs a request id");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_strict_lab_fails_its_run_after_an_n_plus_one_and_still_answers_it() {
    let data = tempfile::tempdir().unwrap();
    let mut child = reqlab(data.path())
        .args(["serve", "--port", "0", "--memory", "--strict-queries"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut guard = crate::util::ChildGuard(child);
    let url = tokio::task::spawn_blocking(move || {
        let mut out = crate::util::Lines::new(stdout);
        let line = out.wait_for("listening on ", Duration::from_secs(20));
        line.strip_prefix("listening on ").unwrap().to_string()
    })
    .await
    .unwrap();
    let status = reqwest::get(format!("{url}/books?authors=lazy"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "the client's answer is unchanged");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(guard.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut stderr = guard.0.stderr.take().unwrap();
    let (code, stderr) = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        (guard.0.wait().unwrap().code(), text)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("N+1: `SELECT id, name FROM authors WHERE id = ?1`"),
        "{stderr}"
    );
    assert!(stderr.contains("strict queries: 1 request(s)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_compares_two_requests_by_stage_time_and_statements() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let client = reqwest::Client::new();
    let joined = send(client.get(format!("{}/books?limit=5&authors=joined", lab.url()))).await;
    let lazy = send(client.get(format!("{}/books?limit=5&authors=lazy", lab.url()))).await;
    let args = |format: &str| {
        vec![
            "diff".to_string(),
            joined.clone(),
            lazy.clone(),
            "--format".into(),
            format.into(),
            "--url".into(),
            lab.url(),
        ]
    };
    let out = trace_command(args("text")).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("it ran 6 SQL statements where A ran 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0× →   5×  SELECT id, name FROM authors WHERE id = ?1"),
        "{stdout}"
    );
    assert!(stdout.contains("0 in A, 1 in B"), "{stdout}");
    let out = trace_command(args("json")).await;
    let compared: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(compared["warnings"], serde_json::json!([0, 1]));
    let out = trace_command(vec![
        "diff".into(),
        joined.clone(),
        "--url".into(),
        lab.url(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "diff needs two ids");
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_trace_is_kept_while_newer_ones_push_the_rest_out() {
    let mut config = LabConfig::ephemeral();
    config.trace_capacity = 3;
    let lab = start(config).await.unwrap();
    let client = reqwest::Client::new();
    let kept = send(client.get(format!("{}/books?authors=lazy", lab.url()))).await;
    let url = lab.url();
    let run = |extra: &[&str]| {
        let mut args = vec![kept.clone(), "--url".to_string(), url.clone()];
        args.extend(extra.iter().map(|s| s.to_string()));
        trace_command(args)
    };
    let pinned = run(&["--pin"]).await;
    assert!(pinned.status.success(), "{}", text(&pinned.stderr));
    assert!(text(&pinned.stderr).contains("1 of 50 pinned"));
    for _ in 0..4 {
        send(client.get(format!("{}/health", lab.url()))).await;
    }
    let found = run(&[]).await;
    assert!(
        found.status.success(),
        "the pin kept it: {}",
        text(&found.stderr)
    );
    assert!(text(&found.stdout).contains("/books?authors=lazy"));
    assert!(run(&["--unpin"]).await.status.success());
    assert_eq!(
        run(&[]).await.status.code(),
        Some(2),
        "let go, and long evicted"
    );
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_the_slow_dependency_times_out_and_carries_the_trace_along() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let client = reqwest::Client::new();
    let in_time = client
        .get(format!("{}/quotes?delay_ms=10&timeout_ms=400", lab.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(in_time.status(), 200);
    let caller_id = in_time.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let late = client
        .get(format!("{}/quotes?delay_ms=300&timeout_ms=20", lab.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 504);
    // The dependency's trace joined the caller's: the trace id the caller's export has, and
    // the caller's own span as the parent.
    let caller = lab.state.traces.get(&caller_id).unwrap();
    let exported = reqlab::lab::trace::otlp::export(&caller);
    let spans = &exported["resourceSpans"][0]["scopeSpans"][0]["spans"];
    let (trace_id, server_span) = (spans[0]["traceId"].clone(), spans[0]["spanId"].clone());
    let callee = wait_for(
        "the dependency's trace",
        Duration::from_secs(10),
        async || {
            lab.state
                .traces
                .recent(20)
                .into_iter()
                .find(|t| t.path.starts_with("/upstream/quote?delay_ms=10"))
        },
    )
    .await;
    let joined = callee.caller.expect("the call carried a traceparent");
    assert_eq!(Value::from(joined.trace_id), trace_id);
    assert_eq!(Value::from(joined.parent_id), server_span);
    lab.stop().await.unwrap();
}
