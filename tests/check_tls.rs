//! `reqlab check` against an https server with a self-signed certificate made at test time:
//! refused by default, trusted with `--cacert`, accepted unverified with `--insecure`.

use crate::util::reqlab;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

/// Answers the http-basics contract, one request per connection.
fn answer(head: &str) -> String {
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, extra, body) = match (method, path) {
        ("GET" | "HEAD", "/health") => ("200 OK", "", r#"{"status":"ok"}"#),
        (_, "/health") => ("405 Method Not Allowed", "Allow: GET, HEAD\r\n", ""),
        _ => ("404 Not Found", "", r#"{"detail":"Not Found"}"#),
    };
    let shown = if method == "HEAD" { "" } else { body };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{shown}",
        body.len()
    )
}

/// Serves https on a free loopback port with a fresh self-signed certificate for
/// `localhost`; returns the port and the certificate as PEM.
async fn serve_https() -> (u16, String, tokio::task::JoinHandle<()>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let key = PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = answer(&String::from_utf8_lossy(&seen));
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_https_server_needs_cacert_or_insecure() {
    let (port, pem, server) = serve_https().await;
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, pem).unwrap();
    let target = format!("https://localhost:{port}");
    let run = move |extra: Vec<String>| {
        let data = tempfile::tempdir().unwrap();
        reqlab(data.path())
            .args(["check", "http-basics", "--target", &target])
            .args(extra)
            .output()
            .unwrap()
    };
    let (plain, trusted, insecure) = tokio::task::spawn_blocking(move || {
        (
            run(Vec::new()),
            run(vec!["--cacert".into(), cert.display().to_string()]),
            run(vec!["--insecure".into()]),
        )
    })
    .await
    .unwrap();
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        plain.status.code(),
        Some(1),
        "an unknown certificate is refused"
    );
    assert_contains!(text(&plain).to_lowercase(), "certificate");
    assert!(trusted.status.success(), "{}", text(&trusted));
    assert_contains!(text(&trusted), "4 passed, 0 failed");
    assert!(insecure.status.success(), "{}", text(&insecure));
    server.abort();
}

#[test]
fn a_cacert_that_is_not_a_certificate_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    let out = reqlab(dir.path())
        .args(["check", "http-basics", "--cacert"])
        .arg(&bogus)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(String::from_utf8_lossy(&out.stderr), "--cacert");
}
