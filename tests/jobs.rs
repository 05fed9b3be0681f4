//! Background jobs on a running lab: a job survives the lab being killed, failures are retried
//! until the job is dead, a dead job can be sent back, a full queue pushes back, and the
//! outbox's events reach a stream (and a reconnecting one).

use crate::util::{serve, wait_for};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqlab::lab::{LabConfig, db::DbLocation, start};
use serde_json::{Value, json};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

async fn ingest(client: &reqwest::Client, url: &str, body: Value) -> reqwest::Response {
    client
        .post(format!("{url}/documents/ingest"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn job(client: &reqwest::Client, url: &str, id: &str) -> Value {
    client
        .get(format!("{url}/jobs/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the job has `status`, and returns it.
async fn until(client: &reqwest::Client, url: &str, id: &str, status: &str) -> Value {
    wait_for(&format!("job {id} to be {status}"), DEADLINE, async || {
        let j = job(client, url, id).await;
        (j["status"] == status).then_some(j)
    })
    .await
}

fn outcomes(job: &Value) -> Vec<String> {
    job["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or("running").to_string())
        .collect()
}

#[tokio::test]
async fn a_job_running_when_the_lab_is_killed_is_done_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (mut lab, url) = serve(data.path(), &[]);
    let accepted = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "uploads/big.pdf", "idempotency_key": "kill-1", "work_ms": 2500}),
    )
    .await;
    assert_eq!(accepted.status(), 202);
    let id = accepted.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A second job, queued behind it or running beside it: it must not be lost either.
    let second = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "uploads/small.pdf", "idempotency_key": "kill-2", "work_ms": 2500}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    until(&client, &url, &id, "running").await;

    // SIGKILL: no handing back, no goodbye. The database keeps the job as running.
    lab.0.kill().unwrap();
    lab.0.wait().unwrap();

    let (_lab, url) = serve(data.path(), &[]);
    let done = until(&client, &url, &id, "succeeded").await;
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(outcomes(&done), ["lost", "succeeded"], "{done}");
    assert!(
        done["history"][0]["error"]
            .as_str()
            .unwrap()
            .contains("lease"),
        "{done}"
    );
    let other = until(&client, &url, &second, "succeeded").await;
    assert!(other["result"]["chunks"].is_u64(), "{other}");
}

#[tokio::test]
async fn failures_back_off_until_the_job_succeeds_or_is_dead_and_a_dead_job_can_be_sent_back() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let url = lab.url();
    let client = reqwest::Client::new();

    let flaky = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "a.pdf", "idempotency_key": "flaky", "work_ms": 0, "fail_times": 2}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let id = flaky["job_id"].as_str().unwrap().to_string();
    let failed = until(&client, &url, &id, "failed").await;
    assert!(failed["next_attempt_at"].is_string(), "{failed}");
    assert_eq!(
        failed["last_error"],
        "the object store answered 503 (simulated)"
    );
    let done = until(&client, &url, &id, "succeeded").await;
    assert_eq!(outcomes(&done), ["failed", "failed", "succeeded"], "{done}");
    // The backoff doubles: the third attempt starts at least 0.25 + 0.5 s after the first.
    let started: Vec<i64> = done["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| reqlab::lab::clock::parse_micros(a["started_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(started[2] - started[0] >= 750_000, "{done}");

    let poison = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "b.pdf", "idempotency_key": "poison", "work_ms": 0, "fail_times": 10}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let poison_id = poison["job_id"].as_str().unwrap().to_string();
    let dead = until(&client, &url, &poison_id, "dead").await;
    assert_eq!(dead["attempts"], 4);
    assert_eq!(outcomes(&dead), ["failed"; 4]);

    let letters: Value = client
        .get(format!("{url}/jobs?status=dead"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = letters["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [poison_id.as_str()]);

    let not_dead = client
        .post(format!("{url}/jobs/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_dead.status(), 409);
    let again = client
        .post(format!("{url}/jobs/{poison_id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(
        again.headers()["location"].to_str().unwrap(),
        format!("/jobs/{poison_id}")
    );
    let requeued: Value = again.json().await.unwrap();
    assert_eq!(requeued["attempts"], 0, "{requeued}");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_metrics_show_its_depth() {
    let lab = start(LabConfig {
        queue_limit: 3,
        ..LabConfig::ephemeral()
    })
    .await
    .unwrap();
    let url = lab.url();
    let client = reqwest::Client::new();
    for i in 0..3 {
        let r = ingest(
            &client,
            &url,
            json!({"tenant_id": "acme", "object_key": "a.pdf", "idempotency_key": format!("fill-{i}"), "work_ms": 20000}),
        )
        .await;
        assert_eq!(r.status(), 202);
    }
    let refused = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "a.pdf", "idempotency_key": "one-too-many", "work_ms": 20000}),
    )
    .await;
    assert_eq!(refused.status(), 503);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 60 s of queued work for two workers: the lab says to come back in 30 s.
    assert_eq!(retry_after, 30);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "/_lab/problems/queue-full");
    // A retry of accepted work is still answered: it asks for nothing new.
    let replay = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "a.pdf", "idempotency_key": "fill-0", "work_ms": 20000}),
    )
    .await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");

    wait_for("the queue depth in /metrics", DEADLINE, async || {
        let text = client
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (text.contains("reqlab_job_queue_depth 3")
            && text.contains(r#"reqlab_jobs{status="running"} 2"#))
        .then_some(())
    })
    .await;
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_stopping_lab_hands_its_running_job_back() {
    let data = tempfile::tempdir().unwrap();
    let db = DbLocation::File(data.path().join("lab.db"));
    let config = LabConfig {
        db: db.clone(),
        memory: false,
        ..LabConfig::ephemeral()
    };
    let lab = start(config.clone()).await.unwrap();
    let url = lab.url();
    let client = reqwest::Client::new();
    let id = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "a.pdf", "idempotency_key": "stop", "work_ms": 30000}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    until(&client, &url, &id, "running").await;
    lab.stop().await.unwrap();

    let lab = start(config).await.unwrap();
    let url = lab.url();
    let back = job(&client, &url, &id).await;
    assert_eq!(outcomes(&back)[0], "interrupted", "{back}");
    // Taken again at once (no lease to wait out), as attempt 1: the interruption did not count.
    let running = until(&client, &url, &id, "running").await;
    assert_eq!(running["attempts"], 1, "{running}");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn the_outbox_events_reach_a_stream_and_a_reconnecting_one_gets_what_it_missed() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let url = lab.url();
    let client = reqwest::Client::new();
    let mut events = client
        .get(format!("{url}/job-events"))
        .send()
        .await
        .unwrap()
        .bytes_stream()
        .eventsource();
    let id = ingest(
        &client,
        &url,
        json!({"tenant_id": "acme", "object_key": "a.pdf", "idempotency_key": "events", "work_ms": 0}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen = Vec::new();
    let mut first_id = String::new();
    tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(event)) = events.next().await {
            let data: Value = serde_json::from_str(&event.data).unwrap();
            assert_eq!(data["job_id"], id.as_str());
            if first_id.is_empty() {
                first_id = event.id.clone();
            }
            seen.push(event.event.clone());
            if event.event == "job.succeeded" {
                break;
            }
        }
    })
    .await
    .expect("the events arrive");
    assert_eq!(seen, ["job.queued", "job.running", "job.succeeded"]);

    // Reconnecting after the first event replays the rest, from the outbox.
    let mut resumed = client
        .get(format!("{url}/job-events"))
        .header("Last-Event-ID", &first_id)
        .send()
        .await
        .unwrap()
        .bytes_stream()
        .eventsource();
    let mut replayed = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(event)) = resumed.next().await {
            replayed.push(event.event.clone());
            if event.event == "job.succeeded" {
                break;
            }
        }
    })
    .await
    .expect("the missed events are replayed");
    assert_eq!(replayed, ["job.running", "job.succeeded"]);
    drop((events, resumed));
    lab.stop().await.unwrap();
}
