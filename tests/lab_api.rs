//! The lab's routes for the concerns around every request: the CORS layer's decisions on
//! `/api`, HTTP caching of the config, the application cache in front of the stats report,
//! the rate-limited route and file uploads.

use crate::util::{assert_problem, lab, lab_with, send};
use axum::body::Body;
use futures_util::future::join_all;
use reqlab::lab::LabConfig;
use reqlab::lab::trace::Outcome;
use reqlab::stage::Stage;
use serde_json::json;

const DEMO: &str = "http://localhost:3000";

fn preflight<'a>(origin: &'a str, method: &'a str, headers: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("origin", origin),
        ("access-control-request-method", method),
        ("access-control-request-headers", headers),
    ]
}

#[tokio::test]
async fn a_listed_origins_preflight_is_answered_before_any_handler() {
    let (lab, app) = lab();
    let reply = send(
        &app,
        "OPTIONS",
        "/api/data",
        &preflight(DEMO, "GET", "Authorization"),
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-origin"), Some(DEMO));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_contains!(
        reply.header("access-control-allow-headers").unwrap(),
        "authorization"
    );
    assert_contains!(
        reply.header("access-control-allow-methods").unwrap(),
        "PATCH"
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
    assert_contains!(reply.header("vary").unwrap(), "Origin");
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    assert!(
        trace.events.iter().all(|e| e.stage != Stage::Logic),
        "no handler ran: {trace:?}"
    );
    let said = trace
        .events
        .iter()
        .find(|e| e.message.starts_with("cors preflight"))
        .unwrap();
    assert_eq!(said.outcome, Outcome::Ok);
    assert_contains!(said.message, "600 s");
}

#[tokio::test]
async fn an_unlisted_origin_or_an_unlisted_header_gets_no_permission() {
    let (lab, app) = lab();
    let reply = send(
        &app,
        "OPTIONS",
        "/api/data",
        &preflight("http://evil.example", "GET", "Authorization"),
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    assert!(trace.events.iter().any(|e| e.stage == Stage::Security
        && e.outcome == Outcome::Fail
        && e.message.contains("not on the allow list")));

    let reply = send(
        &app,
        "OPTIONS",
        "/api/data",
        &preflight(DEMO, "GET", "X-Custom"),
        Body::empty(),
    )
    .await;
    assert!(
        !reply
            .header("access-control-allow-headers")
            .unwrap()
            .contains("x-custom")
    );
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    assert!(trace.events.iter().any(|e| {
        e.message
            .contains("X-Custom, not among the allowed headers")
    }));
}

#[tokio::test]
async fn actual_requests_run_either_way_and_only_a_listed_origin_may_read_them() {
    let (lab, app) = lab();
    let listed = send(&app, "GET", "/api/data", &[("origin", DEMO)], Body::empty()).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("access-control-allow-origin"), Some(DEMO));
    assert_eq!(
        listed.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_contains!(
        listed.header("access-control-expose-headers").unwrap(),
        "X-Request-ID"
    );
    assert_eq!(listed.header("vary"), Some("Origin"));

    let unlisted = send(
        &app,
        "GET",
        "/api/data",
        &[("origin", "http://evil.example")],
        Body::empty(),
    )
    .await;
    assert_eq!(
        unlisted.status, 200,
        "the server answers; the browser hides it"
    );
    assert_eq!(unlisted.header("access-control-allow-origin"), None);
    assert_eq!(unlisted.header("vary"), Some("Origin"));
    let trace = lab.state.traces.get(unlisted.request_id()).unwrap();
    assert!(
        trace.events.iter().any(|e| e.stage == Stage::Logic),
        "the handler ran"
    );
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.message.contains("the browser will hide the answer"))
    );

    // Without an Origin, or from the lab's own origin, there is nothing to add.
    for headers in [vec![], vec![("origin", "http://127.0.0.1:4747")]] {
        let reply = send(&app, "GET", "/api/data", &headers, Body::empty()).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("access-control-allow-origin"), None);
    }

    // --allowed-origin adds to the list.
    let mut config = LabConfig::ephemeral();
    config
        .allowed_origins
        .push("https://app.example.test".into());
    let (_lab, app) = lab_with(config);
    let reply = send(
        &app,
        "GET",
        "/api/data",
        &[("origin", "https://app.example.test")],
        Body::empty(),
    )
    .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example.test")
    );
}

#[tokio::test]
async fn the_config_revalidates_with_its_etag_until_it_changes() {
    let (lab, app) = lab();
    let first = send(&app, "GET", "/api/config", &[], Body::empty()).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("public, max-age=60"));
    let etag = first.header("etag").unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(first.json()["theme"], "light");

    let again = send(&app, "GET", "/api/config", &[], Body::empty()).await;
    assert_eq!(
        again.header("etag"),
        Some(etag.as_str()),
        "the same bytes, the same tag"
    );

    let weak = format!("W/{etag}");
    let listed = format!("\"other\", {etag}");
    for condition in [etag.as_str(), weak.as_str(), listed.as_str(), "*"] {
        let reply = send(
            &app,
            "GET",
            "/api/config",
            &[("if-none-match", condition)],
            Body::empty(),
        )
        .await;
        assert_eq!(reply.status, 304, "{condition}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("etag"), Some(etag.as_str()));
        assert_eq!(reply.header("cache-control"), Some("public, max-age=60"));
    }
    let stale = send(
        &app,
        "GET",
        "/api/config",
        &[("if-none-match", "\"stale\"")],
        Body::empty(),
    )
    .await;
    assert_eq!(stale.status, 200);
    assert!(!stale.body.is_empty());

    let changed = send(
        &app,
        "PATCH",
        "/api/config",
        &[("content-type", "application/json")],
        serde_json::to_vec(&json!({"theme": "dark", "page_size": 50})).unwrap(),
    )
    .await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json()["theme"], "dark");
    let new_etag = changed.header("etag").unwrap().to_string();
    assert_ne!(new_etag, etag);
    let trace = lab.state.traces.get(changed.request_id()).unwrap();
    assert_eq!(
        trace
            .events
            .iter()
            .filter(|e| e.sql.is_some() && e.sql.as_ref().unwrap().statement.starts_with("UPDATE"))
            .count(),
        2
    );
    let old = send(
        &app,
        "GET",
        "/api/config",
        &[("if-none-match", etag.as_str())],
        Body::empty(),
    )
    .await;
    assert_eq!(old.status, 200, "the old tag no longer matches");
    assert_eq!(old.header("etag"), Some(new_etag.as_str()));
}

#[tokio::test]
async fn config_changes_are_validated() {
    let (_lab, app) = lab();
    for (body, field) in [
        (json!({"theme": "blue"}), "theme"),
        (json!({"page_size": 0}), "page_size"),
        (json!({"page_size": "20"}), "page_size"),
        (json!({"motd": ""}), "motd"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let reply = send(
            &app,
            "PATCH",
            "/api/config",
            &[("content-type", "application/json")],
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        let problem = assert_problem(&reply, 422);
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
}

/// The report's traces: how many computed it (ran its SQL), and how many waited.
fn computed_and_waited(lab: &reqlab::lab::Lab, ids: &[String]) -> (usize, usize) {
    let traces: Vec<_> = ids
        .iter()
        .map(|id| lab.state.traces.get(id).unwrap())
        .collect();
    let computed = traces
        .iter()
        .filter(|t| t.events.iter().any(|e| e.stage == Stage::Data))
        .count();
    let waited = traces
        .iter()
        .filter(|t| t.events.iter().any(|e| e.message.contains("single flight")))
        .count();
    (computed, waited)
}

#[tokio::test]
async fn the_stats_report_is_computed_once_then_served_from_the_cache() {
    let (lab, app) = lab();
    let miss = send(&app, "GET", "/api/stats", &[], Body::empty()).await;
    assert_eq!(miss.status, 200);
    assert_eq!(miss.header("x-cache"), Some("miss"));
    let hit = send(&app, "GET", "/api/stats", &[], Body::empty()).await;
    assert_eq!(hit.header("x-cache"), Some("hit"));
    assert_eq!(hit.json()["computed_at"], miss.json()["computed_at"]);
    let trace = lab.state.traces.get(hit.request_id()).unwrap();
    assert!(
        trace.events.iter().all(|e| e.stage != Stage::Data),
        "a hit touches no database"
    );
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.stage == Stage::Caching && e.message.starts_with("cache hit"))
    );
}

/// Five simultaneous requests; their request ids.
async fn burst_on(app: &axum::Router, target: &str) -> Vec<String> {
    join_all((0..5).map(|_| send(app, "GET", target, &[], Body::empty())))
        .await
        .iter()
        .map(|r| r.request_id().to_string())
        .collect()
}

#[tokio::test]
async fn a_burst_of_misses_computes_once_with_single_flight_and_every_time_without() {
    let (lab, app) = lab();
    let ids = burst_on(&app, "/api/stats").await;
    assert_eq!(computed_and_waited(&lab, &ids), (1, 4));

    let (lab, app) = crate::util::lab();
    let ids = burst_on(&app, "/api/stats?single_flight=off").await;
    let (computed, _) = computed_and_waited(&lab, &ids);
    assert_eq!(computed, 5, "a stampede: every miss computes");
    let bad = send(
        &app,
        "GET",
        "/api/stats?single_flight=maybe",
        &[],
        Body::empty(),
    )
    .await;
    assert_problem(&bad, 422);
}

#[tokio::test]
async fn a_client_past_its_token_bucket_gets_429_with_retry_after() {
    let (lab, app) = lab();
    for left in (0..5).rev() {
        let reply = send(&app, "GET", "/limited", &[], Body::empty()).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["remaining"], left);
        assert_eq!(reply.header("ratelimit-policy"), Some("\"burst\";q=5;w=5"));
        assert_contains!(reply.header("ratelimit").unwrap(), format!("r={left}"));
    }
    let refused = send(&app, "GET", "/limited", &[], Body::empty()).await;
    let problem = assert_problem(&refused, 429);
    assert_eq!(problem["type"], "/_lab/problems/rate-limited");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_contains!(refused.header("ratelimit").unwrap(), "r=0");
    let trace = lab.state.traces.get(refused.request_id()).unwrap();
    assert!(trace.events.iter().any(|e| e.stage == Stage::Security
        && e.outcome == Outcome::Fail
        && e.message.contains("token bucket")));
}

#[tokio::test]
async fn each_client_address_has_its_own_bucket() {
    let lab = reqlab::lab::start(LabConfig::ephemeral()).await.unwrap();
    let client_from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let first = client_from([127, 0, 0, 1]);
    for _ in 0..5 {
        let reply = first
            .get(format!("{}/limited", lab.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    let reply = first
        .get(format!("{}/limited", lab.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 429, "127.0.0.1 used up its bucket");
    let second = client_from([127, 0, 0, 2]);
    let reply = second
        .get(format!("{}/limited", lab.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "127.0.0.2 has a bucket of its own");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_405_under_api_keeps_its_cors_headers() {
    let (_lab, app) = lab();
    let reply = send(
        &app,
        "DELETE",
        "/api/data",
        &[("origin", DEMO)],
        Body::empty(),
    )
    .await;
    let _ = assert_problem(&reply, 405);
    assert_eq!(reply.header("access-control-allow-origin"), Some(DEMO));
    assert_eq!(reply.header("vary"), Some("Origin"));
}

/// A multipart/form-data body with one part, and its Content-Type.
fn form(field: &str, filename: &str, kind: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "reqlab-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {kind}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &axum::Router,
    field: &str,
    filename: &str,
    kind: &str,
    bytes: &[u8],
) -> crate::util::Reply {
    let (content_type, body) = form(field, filename, kind, bytes);
    send(
        app,
        "POST",
        "/uploads",
        &[("content-type", content_type.as_str())],
        body,
    )
    .await
}

#[tokio::test]
async fn an_upload_is_stored_under_a_number_and_served_back_as_an_attachment() {
    let (lab, app) = lab();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let stored = upload(&app, "file", "../../etc/cat.png", "image/png", png).await;
    assert_eq!(
        stored.status,
        201,
        "{}",
        String::from_utf8_lossy(&stored.body)
    );
    let body = stored.json();
    assert_eq!(
        body["name"], "cat.png",
        "only the last segment, as display text"
    );
    assert_eq!(body["size"], png.len());
    let location = stored.header("location").unwrap().to_string();
    let trace = lab.state.traces.get(stored.request_id()).unwrap();
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.message.contains("never used as a path"))
    );

    let back = send(&app, "GET", &location, &[], Body::empty()).await;
    assert_eq!(back.status, 200);
    assert_eq!(back.body, png);
    assert_eq!(back.header("content-type"), Some("image/png"));
    assert_eq!(
        back.header("content-disposition"),
        Some("attachment; filename=\"cat.png\"")
    );
    assert_eq!(
        back.header("content-security-policy"),
        Some("sandbox; default-src 'none'")
    );
    assert_eq!(back.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn uploads_are_refused_for_lies_sizes_and_shapes() {
    let (_lab, app) = lab();
    let script = upload(
        &app,
        "file",
        "cat.png",
        "image/png",
        b"<script>alert(1)</script>",
    )
    .await;
    let problem = assert_problem(&script, 415);
    assert_eq!(problem["type"], "/_lab/problems/upload-type");
    let html = upload(&app, "file", "page.html", "text/html", b"<p>hi</p>").await;
    assert_problem(&html, 415);
    let big = upload(
        &app,
        "file",
        "big.txt",
        "text/plain",
        &vec![b'a'; 40 * 1024],
    )
    .await;
    let problem = assert_problem(&big, 413);
    assert_eq!(problem["type"], "/_lab/problems/upload-too-large");
    let wrong_field = upload(&app, "avatar", "a.txt", "text/plain", b"hi").await;
    assert_problem(&wrong_field, 400);
    let not_a_form = send(
        &app,
        "POST",
        "/uploads",
        &[("content-type", "text/plain")],
        "just text",
    )
    .await;
    assert_problem(&not_a_form, 400);
}

#[tokio::test]
async fn only_the_most_recent_uploads_are_kept() {
    let (lab, app) = lab();
    for i in 0..105 {
        let reply = upload(
            &app,
            "file",
            "n.txt",
            "text/plain",
            format!("{i}").as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 201);
    }
    let kept: i64 = lab
        .state
        .db
        .read(|c| c.query_row("SELECT count(*) FROM uploads", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(kept, 100);
    let oldest = send(&app, "GET", "/uploads/1", &[], Body::empty()).await;
    assert_problem(&oldest, 404);
}

#[tokio::test]
async fn metrics_label_a_405_with_its_route_and_an_unknown_path_as_unmatched() {
    let (_lab, app) = lab();
    send(&app, "DELETE", "/health", &[], Body::empty()).await;
    send(&app, "GET", "/no/such/path", &[], Body::empty()).await;
    let text =
        String::from_utf8(send(&app, "GET", "/metrics", &[], Body::empty()).await.body).unwrap();
    assert!(
        text.contains(
            r#"reqlab_http_requests_total{method="DELETE",route="/health",status="405"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"reqlab_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(!text.contains("/no/such/path"));
}

#[tokio::test]
async fn readiness_asks_the_database_and_turns_503_when_the_lab_stops() {
    let (lab, app) = lab();
    let ready = send(&app, "GET", "/ready", &[], Body::empty()).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["checks"]["database"], "ok");
    let trace = lab.state.traces.get(ready.request_id()).unwrap();
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.sql.as_ref().is_some_and(|s| s.statement == "SELECT 1"))
    );
    // Liveness touches nothing.
    let live = send(&app, "GET", "/health", &[], Body::empty()).await;
    let trace = lab.state.traces.get(live.request_id()).unwrap();
    assert!(trace.events.iter().all(|e| e.sql.is_none()));

    lab.state.shutdown.cancel();
    let stopping = send(&app, "GET", "/ready", &[], Body::empty()).await;
    let problem = assert_problem(&stopping, 503);
    assert_eq!(problem["type"], "/_lab/problems/not-ready");
    assert_eq!(stopping.header("retry-after"), Some("5"));
}

// ---------- the data layer: posts and transfers ----------

#[tokio::test]
async fn a_stale_if_match_writes_nothing_and_a_current_one_moves_the_version() {
    let (_lab, app) = lab();
    let created = send(&app, "POST", "/posts?title=First", &[], Body::empty()).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("etag"), Some("\"1-v1\""));
    assert_eq!(created.header("location"), Some("/posts/1"));
    let body = created.json();
    assert_eq!(body["created_at"], body["updated_at"]);
    let patch = |tag: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                "PATCH",
                "/posts/1",
                &[("content-type", "application/json"), ("if-match", tag)],
                r#"{"title":"Second"}"#,
            )
            .await
        }
    };
    let stale = patch("\"1-v7\"").await;
    let problem = assert_problem(&stale, 412);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("If-Match: \"1-v1\"")
    );
    let weak = patch("W/\"1-v1\"").await;
    assert_problem(&weak, 412);
    assert_problem(&patch("\"1-v0\"").await, 412);
    assert_problem(&patch("\"2-v1\"").await, 412);
    let current = patch("\"1-v1\"").await;
    assert_eq!(current.status, 200);
    assert_eq!(current.header("etag"), Some("\"1-v2\""));
    assert_eq!(current.json()["title"], "Second");
    assert_eq!(current.json()["version"], 2);
    assert_problem(&patch("\"1-v1\"").await, 412);
    let sideways = send(&app, "GET", "/posts?sort=sideways", &[], Body::empty()).await;
    assert_problem(&sideways, 422);
}

#[tokio::test]
async fn a_transfer_commits_whole_or_rolls_back_whole() {
    let (lab, app) = lab();
    let transfer = |body: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                "POST",
                "/transfers",
                &[("content-type", "application/json")],
                body,
            )
            .await
        }
    };
    let balances = || {
        let app = app.clone();
        async move {
            let list = send(&app, "GET", "/accounts", &[], Body::empty())
                .await
                .json();
            (
                list["items"][0]["balance"].as_i64().unwrap(),
                list["items"][1]["balance"].as_i64().unwrap(),
            )
        }
    };
    assert_eq!(balances().await, (100, 50));
    let done = transfer(r#"{"from":"alice","to":"bob","amount":30}"#).await;
    assert_eq!(done.status, 201);
    assert_eq!(balances().await, (70, 80));
    let midway = transfer(r#"{"from":"alice","to":"bob","amount":30,"fail_midway":true}"#).await;
    assert_problem(&midway, 409);
    assert_eq!(balances().await, (70, 80), "the debit was rolled back");
    let trace = lab.state.traces.get(midway.request_id()).unwrap();
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.message.starts_with("ROLLBACK: failed on purpose"))
    );
    let overdraft = transfer(r#"{"from":"bob","to":"alice","amount":500}"#).await;
    assert_problem(&overdraft, 409);
    assert_eq!(
        balances().await,
        (70, 80),
        "the CHECK constraint refused the debit"
    );
    let nobody = transfer(r#"{"from":"alice","to":"carol","amount":1}"#).await;
    assert_problem(&nobody, 404);
    assert_eq!(
        balances().await,
        (70, 80),
        "the debit before the missing credit was undone"
    );
    let same = transfer(r#"{"from":"alice","to":"alice","amount":1}"#).await;
    assert_problem(&same, 422);
}
