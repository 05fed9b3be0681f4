//! Hostile servers: each misbehaves in one way, and each must give a clear failing check
//! within the timeouts — no panic, no hang, bounded memory.

use reqlab::check::event::EventSink;
use reqlab::check::http::MAX_BODY_BYTES;
use reqlab::check::result::{ChallengeOutcome, Status};
use reqlab::check::run::{RunSettings, run_challenge};
use reqlab::course::challenge::{Challenge, ChallengeSource};
use reqlab::course::{ContentSource, Course};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bounds the whole run: the per-request timeout is 1 s, so anything near this is a hang.
const DEADLINE: Duration = Duration::from_secs(30);

fn challenge(follow_redirects: bool) -> Challenge {
    let text = format!(
        r#"
format_version = 1
id = "hostile"
title = "Hostile"
summary = "One GET."

[[checks]]
name = "GET /thing returns a JSON object with an id"
stage = "response"
hint = "none"

[[checks.steps]]
method = "GET"
path = "/thing"
follow_redirects = {follow_redirects}
expect = [{{ status = [200] }}, {{ json = "id", exists = true }}]
"#
    );
    Challenge::parse(ChallengeSource {
        path: "hostile.toml",
        text: &text,
    })
    .unwrap()
}

/// Serves every connection with `behave` on a free loopback port.
async fn serve<F, Fut>(behave: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(behave(stream));
        }
    });
    url
}

/// Reads the request head so the client sees its request accepted.
async fn read_head(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

async fn run_against(url: &str, follow: bool) -> ChallengeOutcome {
    let course = Course::load(&ContentSource::Embedded).unwrap();
    let settings = RunSettings {
        timeout: Duration::from_secs(1),
        ..RunSettings::default()
    };
    tokio::time::timeout(
        DEADLINE,
        run_challenge(
            &challenge(follow),
            &course,
            url,
            settings,
            &EventSink::discard(),
        ),
    )
    .await
    .expect("the run ends within its timeouts")
    .unwrap()
}

fn failure(outcome: &ChallengeOutcome) -> String {
    let check = &outcome.checks[0];
    assert_eq!(check.status, Status::Fail, "{check:?}");
    let f = check.finding.as_ref().unwrap();
    match &f.mismatch {
        Some(m) => format!(
            "{} | expected {} | actual {}",
            f.message, m.expected, m.actual
        ),
        None => f.message.clone(),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let url = serve(|mut s| async move {
        read_head(&mut s).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let msg = failure(&run_against(&url, false).await);
    assert_contains!(msg, "no complete response within 1 s");
    assert_contains!(msg, "did not answer");
}

#[tokio::test]
async fn a_body_that_drips_forever_times_out() {
    let url = serve(|mut s| async move {
        read_head(&mut s).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        loop {
            if s.write_all(b"1\r\n \r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let msg = failure(&run_against(&url, false).await);
    assert_contains!(msg, "no complete response within 1 s");
    assert!(
        msg.contains("still going") || msg.contains("did not finish"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_hundred_megabyte_body_is_cut_at_the_cap() {
    let url = serve(|mut s| async move {
        read_head(&mut s).await;
        let total = 100 * 1024 * 1024;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n\r\n"
        );
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
            sent += chunk.len();
        }
    })
    .await;
    let outcome = run_against(&url, false).await;
    let msg = failure(&outcome);
    assert_contains!(msg, "larger than 1 MiB");
    let exchange = outcome.checks[0]
        .finding
        .as_ref()
        .unwrap()
        .exchange
        .as_ref()
        .unwrap();
    let received = exchange.response.as_ref().unwrap();
    assert!(received.truncated);
    assert_eq!(received.body.len(), MAX_BODY_BYTES, "memory stays bounded");
}

#[tokio::test]
async fn invalid_utf8_json_is_a_clear_failure() {
    let url = serve(|mut s| async move {
        read_head(&mut s).await;
        let body: &[u8] = b"{\"id\": \"\xff\xfe\"}";
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(body).await;
    })
    .await;
    let msg = failure(&run_against(&url, false).await);
    assert_contains!(msg, "not valid JSON");
}

#[tokio::test]
async fn a_redirect_loop_is_reported_not_followed_forever() {
    let url = serve(|mut s| async move {
        loop {
            read_head(&mut s).await;
            let resp = "HTTP/1.1 302 Found\r\nLocation: /thing\r\nContent-Length: 0\r\n\r\n";
            if s.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let msg = failure(&run_against(&url, false).await);
    assert!(
        msg.contains("expected status 200") && msg.contains("status 302"),
        "{msg}"
    );
    let msg = failure(&run_against(&url, true).await);
    assert_contains!(msg, "too many redirects");
}

#[tokio::test]
async fn a_reset_connection_is_a_clear_failure() {
    let url = serve(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.set_zero_linger();
        drop(s);
    })
    .await;
    let msg = failure(&run_against(&url, false).await);
    assert_contains!(msg, "closed the connection");
}

#[tokio::test]
async fn garbage_instead_of_http_is_a_clear_failure() {
    let url = serve(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\r\n")
            .await;
    })
    .await;
    let msg = failure(&run_against(&url, false).await);
    assert_contains!(msg, "did not answer with HTTP");
}

#[tokio::test]
async fn nothing_listening_names_the_address_and_how_to_start() {
    // Bind and drop to find a port that is (almost certainly) closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let msg = failure(&run_against(&format!("http://127.0.0.1:{port}"), false).await);
    assert_contains!(
        msg,
        &format!("nothing is listening on 127.0.0.1:{port} — is your server running?")
    );
}
