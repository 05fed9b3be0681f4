//! The lab on a real port: the serve contract, concurrency, live traces, `reqlab trace --follow`.

use crate::util::{ChildGuard, Lines, reqlab};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqlab::lab::{LabConfig, start};
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn serve_prints_its_address_answers_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let child = reqlab(data.path())
        .args(["serve", "--port", "0", "--memory"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    let line = out.wait_for("listening on ", DEADLINE);
    let url = line.strip_prefix("listening on ").unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":0"));

    let task: serde_json::Value = reqwest::get(format!("{url}/tasks/1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(task["id"], 1, "demo data is seeded");

    let pid = nix::unistd::Pid::from_raw(guard.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("the lab is running");
    let status = tokio::task::spawn_blocking(move || guard.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

#[tokio::test]
async fn serve_logs_each_request_as_json_and_counts_it_in_metrics() {
    let data = tempfile::tempdir().unwrap();
    let child = reqlab(data.path())
        .args(["serve", "--port", "0", "--memory", "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    let mut err = Lines::new(guard.0.stderr.take().unwrap());
    let line = out.wait_for("listening on ", DEADLINE);
    let url = line.strip_prefix("listening on ").unwrap().to_string();
    let client = reqwest::Client::new();
    for _ in 0..3 {
        client.get(format!("{url}/tasks/1")).send().await.unwrap();
    }
    client
        .get(format!("{url}/no-such-page?token=secret-in-query"))
        .header("x-request-id", "json-log-1")
        .send()
        .await
        .unwrap();
    let logged = err.wait_for("json-log-1", DEADLINE);
    let entry: serde_json::Value = serde_json::from_str(&logged).expect("one JSON object per line");
    assert_eq!(entry["request_id"], "json-log-1");
    assert_eq!(entry["status"], 404);
    assert_eq!(entry["route"], "unmatched");
    assert_eq!(
        entry["path"], "/no-such-page",
        "the query string (a token?) is not logged"
    );
    assert!(entry["duration_ms"].as_f64().is_some());
    assert!(!logged.contains("secret-in-query"));

    let reply = client.get(format!("{url}/metrics")).send().await.unwrap();
    assert!(
        reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = reply.text().await.unwrap();
    assert!(
        text.contains(
            r#"reqlab_http_requests_total{method="GET",route="/tasks/{id}",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"reqlab_http_request_duration_seconds_count{route="/tasks/{id}"} 3"#));
    assert!(
        text.contains("reqlab_http_requests_in_flight 1"),
        "the scrape itself is in flight"
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn serve_reports_a_busy_port_clearly() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let output = reqlab(data.path())
        .args(["serve", "--memory", "--port", &lab.addr.port().to_string()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_contains!(stderr, "cannot listen on 127.0.0.1:");
    assert_contains!(stderr, "--port 0");
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_signups_with_one_email_create_exactly_one_user() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let url = format!("{}/users", lab.url());
    let client = reqwest::Client::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (client, url, barrier) = (client.clone(), url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let email = if i % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            barrier.wait().await;
            client
                .post(&url)
                .json(&json!({"email": email, "name": format!("Racer {i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn traces_stream_live_as_server_sent_events() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let base = lab.url();
    let response = reqwest::get(format!("{base}/_lab/traces/stream"))
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut events = response.bytes_stream().eventsource();
    let client = reqwest::Client::new();
    client
        .get(format!("{base}/tasks/2"))
        .header("x-request-id", "live-1")
        .send()
        .await
        .unwrap();
    let event = tokio::time::timeout(DEADLINE, async {
        loop {
            let e = events
                .next()
                .await
                .expect("stream open")
                .expect("valid event");
            if e.event == "trace" {
                return e;
            }
        }
    })
    .await
    .expect("a trace event arrives");
    assert_eq!(event.id, "live-1");
    let trace: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(trace["route"], "/tasks/{id}");
    // Stopping the lab ends the stream instead of hanging shutdown.
    lab.stop().await.unwrap();
    let end = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream ends when the lab stops");
}

// Multi-threaded: the test thread blocks reading the child's output while the lab serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_follow_prints_a_422_with_validation_failing_before_the_handler() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let base = lab.url();
    let data = tempfile::tempdir().unwrap();
    let child = reqlab(data.path())
        .args(["trace", "--follow", "--url", &base])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut err = Lines::new(guard.0.stderr.take().unwrap());
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    err.wait_for("following", DEADLINE);

    let reply = reqwest::Client::new()
        .post(format!("{base}/users"))
        .json(&json!({"email": "not-an-address", "name": "Bo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 422);
    let id = reply.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    let header = out.wait_for("422 POST /users", DEADLINE);
    assert_contains!(header, &id);
    out.wait_for("parsing", DEADLINE);
    let validation = out.wait_for("validation", DEADLINE);
    assert_contains!(validation, "✗ validation failed: `email`");
    out.wait_for("sent 422", DEADLINE);
    let block = out.seen.join("\n");
    assert_contains!(block, "the handler never ran");
    assert!(
        !block.contains(" logic "),
        "no business-logic stage ran:\n{block}"
    );
    drop(guard);
    lab.stop().await.unwrap();
}
