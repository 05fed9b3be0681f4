//! The lab under hostile input: whatever a client sends, memory, answers and files stay
//! bounded.

use crate::util::{ChildGuard, Lines, reqlab};
use std::process::Stdio;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

/// A `reqlab serve` process on a free port; returns its guard and base URL.
fn serve(data: &std::path::Path, extra: &[&str]) -> (ChildGuard, String) {
    let child = reqlab(data)
        .args(["serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    let line = out.wait_for("listening on ", DEADLINE);
    let url = line.strip_prefix("listening on ").unwrap().to_string();
    (guard, url)
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS is reported");
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_unknown_fields_keep_bodies_traces_and_memory_small() {
    let data = tempfile::tempdir().unwrap();
    let (guard, url) = serve(data.path(), &["--memory"]);
    let pid = guard.0.id();
    // About 60 KB of JSON: 6,000 keys the endpoint does not know.
    let body: String = format!(
        "{{{}}}",
        (0..6000)
            .map(|i| format!("\"k{i:04}\":1"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let client = reqwest::Client::new();
    let warm = client
        .post(format!("{url}/tasks"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), 422);
    let before = rss(pid);

    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut largest = 0;
            for _ in 0..75 {
                let reply = client
                    .post(format!("{url}/tasks"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 422);
                largest = largest.max(reply.bytes().await.unwrap().len());
            }
            largest
        }));
    }
    for task in tasks {
        let largest = task.await.unwrap();
        assert!(largest < 8 * 1024, "a 422 body of {largest} bytes");
    }

    let traces = client
        .get(format!("{url}/_lab/traces?limit=1000"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        traces.len() < 8 * 1024 * 1024,
        "/_lab/traces answered {} bytes",
        traces.len()
    );
    let grown = rss(pid).saturating_sub(before);
    assert!(
        grown < 48 * 1024 * 1024,
        "the lab grew by {} MiB over 300 such requests",
        grown / (1024 * 1024)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_a_write_burst_and_is_folded_in_at_shutdown() {
    use crate::util::{lab_with, send_json};
    use reqlab::lab::LabConfig;
    use reqlab::lab::db::DbLocation;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lab.db");
    let wal = dir.path().join("lab.db-wal");
    let mut config = LabConfig::ephemeral();
    config.db = DbLocation::File(db.clone());
    config.memory = false;
    let (lab, app) = lab_with(config);
    let mut largest_wal = 0;
    for i in 0..3000 {
        let reply = send_json(
            &app,
            "POST",
            "/tasks",
            serde_json::json!({ "title": format!("burst {i} with a title long enough to fill pages") }),
        )
        .await;
        assert_eq!(reply.status, 201);
        if i % 100 == 0 {
            largest_wal = largest_wal.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
    }
    // SQLite checkpoints every 1000 pages (4 MiB) once writes commit.
    assert!(
        largest_wal < 8 * 1024 * 1024,
        "the WAL grew to {} KiB",
        largest_wal / 1024
    );
    lab.state.db.close();
    let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(
        left, 0,
        "after shutdown the database file alone holds the data"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM tasks WHERE title LIKE 'burst %'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 3000);
}
