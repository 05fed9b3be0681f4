//! `reqlab serve --replicas 3` behind a real nginx: round robin visible in `X-Replica`, one
//! shared database, event streams passed on unbuffered, and nothing left running when the
//! supervisor is killed. Needs nginx; without it the test says so and passes, except in CI,
//! where it must run.

use crate::util::{ChildGuard, Lines, reqlab};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn nginx_installed() -> bool {
    match reqlab::nginx::find() {
        Ok(_) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the replicas test: {why}"
            );
            eprintln!("skipped: {why}");
            false
        }
    }
}

fn answers(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

#[tokio::test]
async fn three_replicas_behind_nginx_share_one_database_and_go_when_killed() {
    if !nginx_installed() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let child = reqlab(data.path())
        .args(["serve", "--replicas", "3", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    let mut err = Lines::new(guard.0.stderr.take().unwrap());
    let url = out
        .wait_for("listening on ", DEADLINE)
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    err.wait_for("try:", DEADLINE);
    let replicas: Vec<SocketAddr> = err
        .seen
        .iter()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            let numbered = name.len() == 2 && name.starts_with('r');
            numbered.then(|| words.next()).flatten()
        })
        .map(|u| u.trim_start_matches("http://").parse().unwrap())
        .collect();
    assert_eq!(replicas.len(), 3, "{}", err.collected());
    let nginx: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    assert!(!replicas.contains(&nginx), "nginx has its own port");

    let client = reqwest::Client::new();
    let mut served = BTreeSet::new();
    for _ in 0..6 {
        let r = client.get(format!("{url}/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        served.insert(r.headers()["x-replica"].to_str().unwrap().to_string());
    }
    assert_eq!(
        served,
        BTreeSet::from(["r1".into(), "r2".into(), "r3".into()])
    );

    // Written through one replica, read through each: one database behind them all.
    let created: Value = client
        .post(format!("{url}/tasks"))
        .json(&json!({"title": "written once"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut readers = BTreeSet::new();
    for _ in 0..3 {
        let r = client
            .get(format!("{url}/tasks/{}", created["id"]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        readers.insert(r.headers()["x-replica"].to_str().unwrap().to_string());
    }
    assert_eq!(readers.len(), 3);

    // Each replica keeps the traces of what it served; `reqlab trace` and `reqlab replay`
    // look in each, through the address the supervisor recorded.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = client.get(format!("{url}/tasks/1")).send().await.unwrap();
        ids.push(r.headers()["x-request-id"].to_str().unwrap().to_string());
    }
    for id in &ids {
        let (data_dir, id2) = (data.path().to_path_buf(), id.clone());
        let out = tokio::task::spawn_blocking(move || {
            reqlab(&data_dir)
                .args(["trace", &id2, "--format", "json"])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "trace {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (data_dir, id) = (data.path().to_path_buf(), ids[0].clone());
    let replayed = tokio::task::spawn_blocking(move || {
        reqlab(&data_dir)
            .args(["replay", &id, "--format", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );

    // An event stream through nginx: each event arrives as it happens, not when a buffer fills.
    let mut events = client
        .get(format!("{url}/job-events"))
        .send()
        .await
        .unwrap()
        .bytes_stream()
        .eventsource();
    let accepted = client
        .post(format!("{url}/documents/ingest"))
        .json(&json!({"tenant_id": "acme", "object_key": "a.pdf", "idempotency_key": "via-nginx", "work_ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let first = tokio::time::timeout(DEADLINE, events.next())
        .await
        .expect("an event through nginx")
        .unwrap()
        .unwrap();
    assert_eq!(first.event, "job.queued");

    // The replica running a job is killed: nginx routes around it, and another replica
    // takes the job once its lease lapses.
    let job: Value = client
        .post(format!("{url}/documents/ingest"))
        .json(&json!({"tenant_id": "acme", "object_key": "b.pdf", "idempotency_key": "outlives-r", "work_ms": 2000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_url = format!("{url}/jobs/{}", job["job_id"].as_str().unwrap());
    let running = crate::util::wait_for("the job to run", DEADLINE, async || {
        let j: Value = client
            .get(&job_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (j["status"] == "running").then_some(j)
    })
    .await;
    let worker = running["history"][0]["worker"]
        .as_str()
        .unwrap()
        .to_string();
    let (replica, pid) = {
        let mut parts = worker.split('-');
        (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().parse::<i32>().unwrap(),
        )
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    err.wait_for(&format!("{replica} stopped"), DEADLINE);
    for _ in 0..6 {
        let r = client.get(format!("{url}/health")).send().await.unwrap();
        assert_eq!(r.status(), 200, "nginx routes around the dead replica");
        assert_ne!(r.headers()["x-replica"].to_str().unwrap(), replica);
    }
    let done = crate::util::wait_for("the job to finish elsewhere", DEADLINE, async || {
        let j: Value = client
            .get(&job_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (j["status"] == "succeeded").then_some(j)
    })
    .await;
    assert_eq!(done["history"][0]["outcome"], "lost", "{done}");
    assert!(
        !done["history"][1]["worker"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{replica}-")),
        "{done}"
    );
    assert!(guard.0.try_wait().unwrap().is_none(), "the others go on");

    // The supervisor killed outright: the kernel stops nginx and the replicas with it.
    guard.0.kill().unwrap();
    guard.0.wait().unwrap();
    let start = Instant::now();
    while answers(nginx) || replicas.iter().any(|r| answers(*r)) {
        assert!(
            start.elapsed() < DEADLINE,
            "nginx or a replica outlived its supervisor"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
