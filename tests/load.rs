//! `reqlab load` as a user runs it, against a lab on loopback: counts, percentiles, the rate
//! schedule, lessons' requests, and refusals (other machines, no server).

use crate::util::{free_port, reqlab};
use reqlab::lab::{LabConfig, RunningLab, start};
use serde_json::Value;

/// Runs `reqlab load` with `args` (blocking, off the runtime the lab serves on).
async fn load(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let data = tempfile::tempdir().unwrap();
        reqlab(data.path()).arg("load").args(args).output().unwrap()
    })
    .await
    .unwrap()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn lab() -> RunningLab {
    start(LabConfig::ephemeral()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_counted_and_percentiles_are_ordered() {
    let lab = lab().await;
    let url = format!("{}/tasks/1", lab.url());
    let out = load(args(&[&url, "-n", "300", "-c", "4", "--format", "json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["requests"], 300);
    assert_eq!(report["status_counts"]["200"], 300);
    assert_eq!(report["errors"], serde_json::json!({}));
    assert_eq!(report["connections"], 4);
    assert_eq!(report["coordinated_omission_corrected"], false);
    let latency = &report["latency_ms"];
    let points: Vec<f64> = ["p50", "p90", "p99", "p99_9", "max"]
        .iter()
        .map(|k| latency[k].as_f64().unwrap())
        .collect();
    assert!(points.windows(2).all(|w| w[0] <= w[1]), "{latency}");
    assert!(report["requests_per_second"].as_f64().unwrap() > 0.0);
    // The lab saw them: traced, each one.
    assert!(lab.state.traces.len() >= 300);
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_sends_exactly_what_its_schedule_holds_and_says_latencies_are_corrected() {
    let lab = lab().await;
    let url = format!("{}/health", lab.url());
    // 50 a second for one second: requests 0 to 49 are due before the end, the 51st is not.
    let out = load(args(&[
        &url, "-d", "1s", "--rate", "50", "-c", "2", "--format", "json",
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["requests"], 50);
    assert_eq!(report["rate"], 50.0);
    assert_eq!(report["coordinated_omission_corrected"], true);
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lessons_request_and_a_url_with_a_body_are_sent_as_given() {
    let lab = lab().await;
    let out = load(args(&[
        "caching/config",
        "--url",
        &lab.url(),
        "-n",
        "20",
        "--format",
        "json",
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["status_counts"]["200"], 20);
    assert!(
        json(&out)["target"]
            .as_str()
            .unwrap()
            .ends_with("/api/config")
    );

    let tasks = format!("{}/tasks", lab.url());
    let out = load(args(&[
        &tasks,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--body",
        r#"{"title":"Made under load"}"#,
        "-n",
        "5",
        "-c",
        "1",
        "--format",
        "json",
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["status_counts"]["201"], 5);
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn another_machine_is_refused_before_any_traffic_and_a_missing_server_fails() {
    // 192.0.2.0/24 is reserved for documentation: the address is only read, never sent to.
    let out = load(args(&["http://192.0.2.1/", "-n", "1"])).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote"), "{stderr}");

    let out = load(args(&["https://127.0.0.1:8443/", "-n", "1"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain HTTP"));

    let url = format!("http://127.0.0.1:{}/", free_port());
    let out = load(args(&[&url, "-n", "3", "-c", "1", "--format", "json"])).await;
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["requests"], 0);
    assert_eq!(report["errors"]["connect"], 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request got an answer"));
}

#[tokio::test]
async fn a_lessons_request_needs_a_running_lab() {
    let out = load(args(&["caching/config", "-n", "1"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reqlab serve"));
}
