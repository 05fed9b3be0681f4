//! `reqlab replay`: a recorded request sent again, its credentials left out and named.

use crate::util::reqlab;
use reqlab::lab::{LabConfig, start};
use serde_json::Value;

#[tokio::test]
async fn replay_sends_the_request_again_and_compares_the_traces() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let url = lab.url();
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{url}/tasks"))
        .header("authorization", "Bearer not-kept-anywhere")
        .json(&serde_json::json!({"title": "sent twice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    let stored: Value = client
        .get(format!("{url}/_lab/traces/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !stored.to_string().contains("not-kept-anywhere"),
        "{stored}"
    );
    assert_eq!(stored["request"]["redacted"][0], "header authorization");

    let url2 = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        reqlab(data.path())
            .args(["replay", &id, "--url", &url2, "--format", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not keep authorization"), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], 201, "{doc}");
    assert_eq!(doc["left_out"][0], "authorization");
    assert_ne!(doc["request_id"], doc["replayed"]);
    let inserts = doc["diff"]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[0].as_str().unwrap().starts_with("INSERT INTO tasks"))
        .count();
    assert_eq!(inserts, 1, "{doc}");
    // The same title twice: the replay really created a second task.
    let page: Value = client
        .get(format!("{url}/tasks?limit=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["sent twice", "sent twice"]);
    lab.stop().await.unwrap();
}
