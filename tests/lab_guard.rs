//! The lab's guards before routing: Host names (DNS rebinding), Origin on state changes (CSRF),
//! the lab token beyond loopback, transfer codings.

use crate::util::{assert_problem, lab, lab_with, send};
use axum::body::Body;
use http_body_util::BodyExt;
use reqlab::lab::LabConfig;
use reqlab::stage::Stage;
use tower::ServiceExt;

#[tokio::test]
async fn a_request_must_name_one_host_this_lab_answers_to() {
    let (lab, app) = lab();
    // No Host at all (HTTP/1.1 requires one).
    let request = axum::http::Request::builder()
        .uri("/health")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 400);
    // HTTP/1.0 may leave it out.
    let request = axum::http::Request::builder()
        .uri("/health")
        .version(axum::http::Version::HTTP_10)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.clone().oneshot(request).await.unwrap().status(), 200);
    // Two of them.
    let request = axum::http::Request::builder()
        .uri("/health")
        .header("host", "127.0.0.1")
        .header("host", "localhost")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_contains!(String::from_utf8_lossy(&body), "exactly one Host");

    // A name a rebinding attacker would use, for the traces or for data.
    for path in ["/_lab/traces", "/tasks"] {
        let reply = send(
            &app,
            "GET",
            path,
            &[("host", "rebind.evil.example")],
            Body::empty(),
        )
        .await;
        let body = assert_problem(&reply, 421);
        assert_contains!(body["detail"].as_str().unwrap(), "--allowed-host");
    }
    let trace = &lab.state.traces.recent(1)[0];
    assert_eq!(trace.status, 421);
    // After the request's arrival and the outermost layer's entry, the guard refuses it.
    assert_eq!(trace.events[2].stage, Stage::Security);
    assert_contains!(trace.events[2].message, "DNS rebinding");
    for fine in ["localhost:4747", "127.0.0.1", "[::1]:80"] {
        let reply = send(&app, "GET", "/health", &[("host", fine)], Body::empty()).await;
        assert_eq!(reply.status, 200, "{fine}");
    }

    let mut config = LabConfig::ephemeral();
    config.allowed_hosts.push("lab.classroom.test".into());
    let (_lab, app) = lab_with(config);
    let reply = send(
        &app,
        "GET",
        "/health",
        &[("host", "lab.classroom.test:4747")],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_page_on_another_site_cannot_change_data() {
    let (lab, app) = lab();
    let evil = [
        ("origin", "http://evil.example"),
        ("content-type", "text/plain"),
    ];
    let reply = send(&app, "POST", "/tasks/7/complete", &evil, Body::from("{}")).await;
    let body = assert_problem(&reply, 403);
    assert_eq!(body["type"], "/_lab/problems/cross-site-request");
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    let refused = trace
        .events
        .iter()
        .find(|e| e.message.contains("CSRF"))
        .expect("the trace names CSRF");
    assert_eq!(refused.stage, reqlab::stage::Stage::Security);
    let task = send(&app, "GET", "/tasks/7", &[], Body::empty())
        .await
        .json();
    assert_eq!(task["done"], false, "the task was not changed");

    // Reading is fine from anywhere; changing is fine from the lab's own pages.
    let reply = send(
        &app,
        "GET",
        "/tasks/7",
        &[("origin", "http://evil.example")],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let own = [("origin", "http://127.0.0.1:4747")];
    let reply = send(&app, "POST", "/tasks/7/complete", &own, Body::empty()).await;
    assert_eq!(reply.status, 200);

    let mut config = LabConfig::ephemeral();
    config.allowed_origins.push("http://localhost:3000".into());
    let (_lab, app) = lab_with(config);
    let front_end = [("origin", "http://localhost:3000")];
    let reply = send(&app, "POST", "/tasks/7/complete", &front_end, Body::empty()).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn beyond_loopback_the_labs_own_endpoints_need_the_token() {
    let mut config = LabConfig::ephemeral();
    config.lab_token = Some("s3cret-token".into());
    let (_lab, app) = lab_with(config);
    let reply = send(&app, "GET", "/_lab/traces", &[], Body::empty()).await;
    assert_problem(&reply, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"reqlab lab\"")
    );
    let bearer = [("authorization", "Bearer s3cret-token")];
    assert_eq!(
        send(&app, "GET", "/_lab/traces", &bearer, Body::empty())
            .await
            .status,
        200
    );
    let reply = send(
        &app,
        "GET",
        "/_lab/traces?token=s3cret-token",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, 200);
    // The lesson endpoints stay open.
    assert_eq!(
        send(&app, "GET", "/health", &[], Body::empty())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_unknown_transfer_coding_is_not_guessed_at() {
    let (_lab, app) = lab();
    let headers = [
        ("transfer-encoding", "gzip, chunked"),
        ("content-type", "application/json"),
    ];
    let reply = send(&app, "POST", "/tasks", &headers, Body::from("{}")).await;
    let body = assert_problem(&reply, 501);
    assert_eq!(body["type"], "/_lab/problems/unsupported-transfer-coding");
}
