//! The lab's OpenAPI document is served, and true: schemathesis (from the fixtures' Python
//! environment) sends generated requests to a real lab and checks every answer against it.

use crate::fixture_apps::fixture_python;
use crate::util::{get, lab, repo};
use reqlab::lab::{LabConfig, start};
use std::time::Duration;

#[tokio::test]
async fn the_document_and_the_docs_page_are_served() {
    let (_lab, router) = lab();
    let doc = get(&router, "/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.header("content-type"), Some("application/json"));
    assert_eq!(doc.header("cache-control"), Some("no-cache"));
    let json = doc.json();
    assert_eq!(json["openapi"], "3.1.0");
    assert_eq!(json["info"]["title"], "reqlab lab");
    assert!(json["paths"]["/tasks/{id}"]["patch"].is_object());

    let page = get(&router, "/docs").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("/docs/docs.js"), "{html}");
    assert!(!html.contains("https://"), "no asset comes from elsewhere");

    let script = get(&router, "/docs/docs.js").await;
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(String::from_utf8_lossy(&script.body).contains("/openapi.json"));
    let style = get(&router, "/docs/docs.css").await;
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

#[tokio::test]
async fn pages_metrics_and_downloads_answer_a_client_that_accepts_no_json() {
    let (_lab, router) = lab();
    for path in ["/metrics", "/docs", "/docs/docs.css", "/cors-demo"] {
        let reply = crate::util::send(&router, "GET", path, &[("accept", "text/*")], "").await;
        assert_eq!(reply.status, 200, "{path}");
    }
    let reply = crate::util::send(&router, "GET", "/tasks/1", &[("accept", "text/*")], "").await;
    assert_eq!(reply.status, 406);
}

/// The schemathesis command installed beside the fixtures' Python.
fn schemathesis() -> std::path::PathBuf {
    let python = std::path::PathBuf::from(fixture_python());
    python.with_file_name("schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_answer_the_document_does_not_describe() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    // As admin, so the operations behind authentication are tried past their 401.
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/login", lab.url()))
        .form(&[("username", "admin"), ("password", "adminpass")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let workdir = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(schemathesis())
        .current_dir(workdir.path())
        .arg("--config-file")
        .arg(repo().join("tests/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", lab.url()))
        .args([
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--no-color",
            "--request-timeout",
            "10",
        ])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("schemathesis finishes within five minutes")
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (bash scripts/test.sh installs it from fixtures/requirements.txt)",
                schemathesis().display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found answers the document does not describe:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Tested: "), "{stdout}");
    lab.stop().await.unwrap();
}
