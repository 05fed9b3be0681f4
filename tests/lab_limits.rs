//! The lab under hostile input: whatever a client sends, memory, answers and files stay
//! bounded.

use crate::util::{ChildGuard, Lines, serve};
use std::process::Stdio;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

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

/// A lab on a free port whose clients may stall for `limit` at each point.
async fn impatient_lab(limit: Duration) -> reqlab::lab::RunningLab {
    let mut config = reqlab::lab::LabConfig::ephemeral();
    config.timeouts = reqlab::lab::listen::Timeouts {
        head: limit,
        body_gap: limit,
        body_total: limit * 3,
        write: limit,
    };
    reqlab::lab::start(config).await.unwrap()
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let result = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut seen)).await;
    assert!(
        result.is_ok(),
        "the lab kept the connection open; it sent {seen:?}"
    );
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn clients_that_stall_are_disconnected() {
    use tokio::io::AsyncWriteExt;
    let lab = impatient_lab(Duration::from_millis(300)).await;
    let addr = lab.addr;

    // Half a request head, then nothing.
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    read_to_close(&mut half).await;

    // A connection that never says anything.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    read_to_close(&mut silent).await;

    // A keep-alive connection left idle after one answer.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A body that stops arriving: a 408 problem, then the connection closes.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"title\":",
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_contains!(answer, "/_lab/problems/request-timeout");
    assert_contains!(answer, "the body paused for longer than 0.3 s");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_continue() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let lab = reqlab::lab::start(reqlab::lab::LabConfig::ephemeral())
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(lab.addr).await.unwrap();
    stream
        .write_all(
            b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = vec![0u8; 64];
    let n = tokio::time::timeout(DEADLINE, stream.read(&mut head))
        .await
        .expect("an answer without sending the body")
        .unwrap();
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn the_live_trace_stream_outlives_the_timeouts() {
    use futures_util::StreamExt;
    let lab = impatient_lab(Duration::from_millis(200)).await;
    let url = lab.url();
    let client = reqwest::Client::new();
    let stream = client
        .get(format!("{url}/_lab/traces/stream"))
        .send()
        .await
        .unwrap();
    let mut events = eventsource_stream::Eventsource::eventsource(stream.bytes_stream());
    // Longer than every timeout the lab has.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.get(format!("{url}/health")).send().await.unwrap();
    let event = tokio::time::timeout(DEADLINE, events.next())
        .await
        .expect("the stream is still open")
        .expect("an event")
        .unwrap();
    assert_eq!(event.event, "trace");
    assert_contains!(event.data, "/health");
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_cannot_use_up_the_labs_files() {
    use tokio::io::AsyncWriteExt;
    let data = tempfile::tempdir().unwrap();
    // A lab allowed 128 open files, attacked by 200 clients that send half a request head.
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 128 && exec {} serve --port 0 --memory --header-timeout 1",
            crate::util::reqlab_bin().display()
        ))
        .env("REQLAB_DATA_DIR", data.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut out = Lines::new(guard.0.stdout.take().unwrap());
    let line = out.wait_for("listening on ", DEADLINE);
    let url = line.strip_prefix("listening on ").unwrap().to_string();
    let addr = url.trim_start_matches("http://").to_string();
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        stalled.push(s);
    }
    let reply = tokio::time::timeout(DEADLINE, reqwest::get(format!("{url}/health")))
        .await
        .expect("an honest client is served once the stalled ones time out")
        .unwrap();
    assert_eq!(reply.status(), 200);
    drop(stalled);
}

#[tokio::test]
async fn text_that_looks_empty_or_holds_control_characters_gets_a_field_level_422() {
    use crate::util::{assert_problem, lab, send_json};
    let (_lab, app) = lab();
    for title in ["\u{0}", "\u{200b}", "\u{feff}", "ok\u{7}"] {
        let reply = send_json(
            &app,
            "POST",
            "/tasks",
            serde_json::json!({ "title": title }),
        )
        .await;
        let body = assert_problem(&reply, 422);
        assert_eq!(body["errors"][0]["field"], "title", "{title:?}: {body}");
    }
    let reply = send_json(
        &app,
        "POST",
        "/users",
        serde_json::json!({ "email": "nul@example.com", "name": "\u{0}" }),
    )
    .await;
    assert_eq!(assert_problem(&reply, 422)["errors"][0]["field"], "name");
    // Visible text glued with a zero-width joiner is still text.
    let reply = send_json(
        &app,
        "POST",
        "/tasks",
        serde_json::json!({ "title": "👩\u{200d}💻 ship it" }),
    )
    .await;
    assert_eq!(reply.status, 201);
}

/// Sends raw bytes to the lab and reads its answer until it closes the connection or goes
/// quiet: the status line and the parsed problem body.
async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> (String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => 0,
        };
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|n| n.trim().parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&seen).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    assert_contains!(
        head.to_ascii_lowercase(),
        "content-type: application/problem+json"
    );
    let status_line = head.lines().next().unwrap_or("").to_string();
    (
        status_line,
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{text}")),
    )
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_the_one_problem_shape_and_a_trace() {
    let lab = reqlab::lab::start(reqlab::lab::LabConfig::ephemeral())
        .await
        .unwrap();
    let long_target = format!(
        "GET /{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "a".repeat(70_000)
    );
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), "HTTP/1.1 400 Bad Request", "a character HTTP does not allow"),
        (b"GET /x HTTP/9.9\r\n\r\n".to_vec(), "HTTP/1.1 400 Bad Request", "HTTP/1.0 or HTTP/1.1"),
        (long_target.into_bytes(), "HTTP/1.1 414 URI Too Long", "too long"),
        (
            b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello".to_vec(),
            "HTTP/1.1 400 Bad Request",
            "request-smuggling",
        ),
        (
            format!("GET /{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "b".repeat(9000)).into_bytes(),
            "HTTP/1.1 414 URI Too Long",
            "reads up to 8192",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n", "c".repeat(20_000)).into_bytes(),
            "HTTP/1.1 431 Request Header Fields Too Large",
            "reads up to 16384",
        ),
    ];
    for (bytes, status_line, detail) in cases {
        let (line, problem) = raw_exchange(lab.addr, &bytes).await;
        assert_eq!(line, status_line);
        assert_contains!(problem["detail"].as_str().unwrap(), detail);
        let id = problem["request_id"].as_str().unwrap();
        let trace = lab
            .state
            .traces
            .get(id)
            .unwrap_or_else(|| panic!("no trace for {status_line}: {problem}"));
        assert_eq!(trace.status, problem["status"]);
    }
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn the_status_line_uses_the_rfc_9110_names() {
    let lab = reqlab::lab::start(reqlab::lab::LabConfig::ephemeral())
        .await
        .unwrap();
    let (line, _) = raw_exchange(
        lab.addr,
        b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await;
    assert_eq!(line, "HTTP/1.1 422 Unprocessable Content");
    let (line, _) = raw_exchange(
        lab.addr,
        b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 999999\r\n\r\n",
    )
    .await;
    assert_eq!(line, "HTTP/1.1 413 Content Too Large");
    lab.stop().await.unwrap();
}
