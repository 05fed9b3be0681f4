//! The lab app without sockets: every endpoint of the first lessons, its errors and its traces.

use crate::util::{assert_problem, get, lab, lab_with, send, send_json};
use axum::body::Body;
use reqlab::lab::LabConfig;
use reqlab::lab::trace::Outcome;
use reqlab::stage::Stage;
use serde_json::{Value, json};

// ---------- HTTP basics ----------

#[tokio::test]
async fn echo_shows_the_request_as_parsed() {
    let (_lab, app) = lab();
    let reply = send(
        &app,
        "POST",
        "/echo/deep/path?greeting=hello&tag=a&tag=b",
        &[("content-type", "application/json"), ("x-demo", "yes")],
        r#"{"n": 1}"#,
    )
    .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/echo/deep/path");
    assert_eq!(body["query"]["greeting"], json!(["hello"]));
    assert_eq!(body["query"]["tag"], json!(["a", "b"]));
    assert_eq!(body["body"]["bytes"], 8);
    assert_eq!(body["body"]["json"], json!({"n": 1}));
    let headers = body["headers"].as_array().unwrap();
    assert!(headers.contains(&json!(["x-demo", "yes"])), "{headers:?}");
}

#[tokio::test]
async fn status_demos_answer_with_the_code_asked_for() {
    let (_lab, app) = lab();
    let created = get(&app, "/status/201").await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json()["class"],
        "2xx success: the request did what it asked"
    );

    let no_content = get(&app, "/status/204").await;
    assert_eq!(no_content.status, 204);
    assert!(no_content.body.is_empty());

    let redirect = get(&app, "/status/308").await;
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), Some("/"));

    let teapot = get(&app, "/status/418").await;
    let body = assert_problem(&teapot, 418);
    assert!(body["detail"].as_str().unwrap().contains("418"));

    for bad in ["/status/99", "/status/600", "/status/abc"] {
        let body = assert_problem(&get(&app, bad).await, 422);
        assert_eq!(body["errors"][0]["field"], "code", "{bad}");
    }
}

#[tokio::test]
async fn a_wrong_method_gets_405_with_allow() {
    let (_lab, app) = lab();
    let reply = send(&app, "DELETE", "/tasks", &[], Body::empty()).await;
    let body = assert_problem(&reply, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST"));
    assert!(body["detail"].as_str().unwrap().contains("GET, HEAD, POST"));

    let reply = send(&app, "POST", "/methods", &[], Body::empty()).await;
    assert_problem(&reply, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn unknown_routes_get_404_problems() {
    let (_lab, app) = lab();
    let body = assert_problem(&get(&app, "/no/such/thing").await, 404);
    assert_eq!(body["type"], "/_lab/problems/not-found");
    // The type URI is served by the lab itself.
    let doc = get(&app, "/_lab/problems/not-found").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["status"], 404);
}

#[tokio::test]
async fn statuses_that_need_a_header_or_no_body_get_them() {
    let (_lab, app) = lab();
    let r = get(&app, "/status/405").await;
    assert_problem(&r, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = get(&app, "/status/401").await;
    assert_problem(&r, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = get(&app, "/status/205").await;
    assert_eq!(r.status, 205);
    assert!(r.body.is_empty());
    let body = assert_problem(&get(&app, "/status/503").await, 503);
    assert_eq!(body["type"], "/_lab/problems/http-status");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("5xx server error")
    );
    assert_eq!(get(&app, "/_lab/problems/http-status").await.status, 200);
}

#[tokio::test]
async fn errors_from_the_http_layer_are_problems_too() {
    let (lab, app) = lab();
    let reply = get(&app, "/tasks/%FF").await;
    let body = assert_problem(&reply, 400);
    assert_eq!(body["type"], "/_lab/problems/bad-request");
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.stage == Stage::Parsing && e.outcome == Outcome::Fail),
        "{trace:?}"
    );
}

#[tokio::test]
async fn head_works_wherever_get_does() {
    let (_lab, app) = lab();
    let reply = send(&app, "HEAD", "/tasks/1", &[], Body::empty()).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
}

// ---------- request ids ----------

#[tokio::test]
async fn request_ids_are_echoed_or_generated_and_always_returned() {
    let (_lab, app) = lab();
    let mine = send(
        &app,
        "GET",
        "/tasks/1",
        &[("x-request-id", "my-id-42")],
        Body::empty(),
    )
    .await;
    assert_eq!(mine.request_id(), "my-id-42");
    let a = get(&app, "/nope").await;
    let b = get(&app, "/nope").await;
    assert!(!a.request_id().is_empty());
    assert_ne!(a.request_id(), b.request_id());
    assert_eq!(a.json()["request_id"], a.request_id());
    let unusable = send(&app, "GET", "/", &[("x-request-id", "")], Body::empty()).await;
    assert!(!unusable.request_id().is_empty());
    let timing: f64 = a.header("x-response-time-ms").unwrap().parse().unwrap();
    assert!(timing >= 0.0);
}

#[tokio::test]
async fn server_timing_names_the_stages_the_trace_timed_and_the_total() {
    let (_lab, app) = lab();
    let reply = get(&app, "/tasks/1").await;
    let timing = reply.header("server-timing").unwrap();
    // Lifecycle order, milliseconds with three decimals, the total last.
    let names: Vec<&str> = timing
        .split(", ")
        .map(|m| m.split(';').next().unwrap())
        .collect();
    assert!(names.contains(&"data"), "{timing}");
    assert_eq!(names[names.len() - 2..], ["db", "total"], "{timing}");
    assert!(
        timing.contains(r#"db;dur="#) && timing.contains(r#";desc="1 query""#),
        "{timing}"
    );
    for metric in timing.split(", ") {
        let (_, dur) = metric.split_once(";dur=").unwrap();
        let dur = dur.split(';').next().unwrap();
        assert!(dur.parse::<f64>().unwrap() >= 0.0, "{metric}");
        assert_eq!(dur.split('.').nth(1).map(str::len), Some(3), "{metric}");
    }
    // The lab's own endpoints are not traced, so they carry none.
    let internal = get(&app, "/_lab/info").await;
    assert_eq!(internal.header("server-timing"), None);
}

// ---------- tasks: CRUD ----------

#[tokio::test]
async fn tasks_crud_round_trip() {
    let (_lab, app) = lab();
    let created = send_json(
        &app,
        "POST",
        "/tasks",
        json!({"title": "Water the plants", "done": false}),
    )
    .await;
    assert_eq!(created.status, 201);
    let task = created.json();
    let id = task["id"].as_i64().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/tasks/{id}").as_str())
    );
    assert_eq!(task["title"], "Water the plants");
    assert_eq!(task["done"], false);
    assert_eq!(task["created_at"], task["updated_at"]);

    let fetched = get(&app, &format!("/tasks/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), task);

    let patched = send_json(
        &app,
        "PATCH",
        &format!("/tasks/{id}"),
        json!({"done": true}),
    )
    .await;
    assert_eq!(patched.status, 200);
    let patched = patched.json();
    assert_eq!(patched["done"], true);
    assert_eq!(patched["title"], "Water the plants");
    assert_eq!(patched["created_at"], task["created_at"]);
    assert!(patched["updated_at"].as_str() > task["updated_at"].as_str());
    assert_eq!(
        get(&app, &format!("/tasks/{id}")).await.json()["done"],
        true
    );

    let deleted = send(&app, "DELETE", &format!("/tasks/{id}"), &[], Body::empty()).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    assert_problem(&get(&app, &format!("/tasks/{id}")).await, 404);
    assert_problem(
        &send(&app, "DELETE", &format!("/tasks/{id}"), &[], Body::empty()).await,
        404,
    );
}

#[tokio::test]
async fn put_replaces_and_repeating_it_changes_nothing() {
    let (_lab, app) = lab();
    let first = send_json(
        &app,
        "PUT",
        "/tasks/3",
        json!({"title": "Renamed", "done": true}),
    )
    .await;
    assert_eq!(first.status, 200);
    let second = send_json(
        &app,
        "PUT",
        "/tasks/3",
        json!({"title": "Renamed", "done": true}),
    )
    .await;
    assert_eq!(
        second.json(),
        first.json(),
        "a repeated PUT leaves the same state"
    );

    let partial = send_json(&app, "PUT", "/tasks/3", json!({"title": "Only a title"})).await;
    let body = assert_problem(&partial, 422);
    assert_eq!(body["errors"][0]["field"], "done");
    assert_problem(
        &send_json(
            &app,
            "PUT",
            "/tasks/999",
            json!({"title": "x", "done": false}),
        )
        .await,
        404,
    );
}

#[tokio::test]
async fn complete_is_an_action_modelled_as_a_state_change() {
    let (_lab, app) = lab();
    let once = send(&app, "POST", "/tasks/4/complete", &[], Body::empty()).await;
    assert_eq!(once.status, 200);
    assert_eq!(once.json()["done"], true);
    let twice = send(&app, "POST", "/tasks/4/complete", &[], Body::empty()).await;
    assert_eq!(twice.json(), once.json());
}

#[tokio::test]
async fn task_input_is_validated() {
    let (_lab, app) = lab();
    let missing = send_json(&app, "POST", "/tasks", json!({"done": false})).await;
    assert_eq!(assert_problem(&missing, 422)["errors"][0]["field"], "title");
    let blank = send_json(&app, "POST", "/tasks", json!({"title": "  "})).await;
    assert_eq!(assert_problem(&blank, 422)["errors"][0]["field"], "title");
    let wrong_type = send_json(&app, "POST", "/tasks", json!({"title": "x", "done": "yes"})).await;
    assert_eq!(
        assert_problem(&wrong_type, 422)["errors"][0]["field"],
        "done"
    );
    let empty_patch = send_json(&app, "PATCH", "/tasks/1", json!({})).await;
    assert_eq!(
        assert_problem(&empty_patch, 422)["errors"][0]["field"],
        "body"
    );
    assert_problem(&get(&app, "/tasks/abc").await, 404);
    assert_problem(&get(&app, "/tasks/0").await, 404);
}

// ---------- tasks: pagination ----------

async fn page(app: &axum::Router, query: &str) -> Value {
    let reply = get(app, &format!("/tasks?{query}")).await;
    assert_eq!(
        reply.status,
        200,
        "{query}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn offset_pages_are_disjoint_and_consecutive() {
    let (_lab, app) = lab();
    let all = ids(&page(&app, "limit=100").await);
    assert_eq!(all.len(), 12, "the seeded tasks");
    let mut walked = Vec::new();
    for offset in (0..12).step_by(5) {
        let p = page(&app, &format!("limit=5&offset={offset}")).await;
        assert_eq!(p["offset"], offset);
        assert_eq!(p["limit"], 5);
        walked.extend(ids(&p));
    }
    assert_eq!(walked, all);
}

#[tokio::test]
async fn limits_are_bounded() {
    let (_lab, app) = lab();
    for bad in ["limit=0", "limit=101", "limit=abc", "limit=-1", "offset=-5"] {
        let body = assert_problem(&get(&app, &format!("/tasks?{bad}")).await, 422);
        let field = bad.split('=').next().unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{bad}");
    }
    assert_eq!(ids(&page(&app, "limit=1").await).len(), 1);
    assert_eq!(ids(&page(&app, "limit=100").await).len(), 12);
    assert_eq!(
        ids(&page(&app, "").await).len(),
        12,
        "the default limit is 20"
    );
}

#[tokio::test]
async fn sorting_and_filtering() {
    let (_lab, app) = lab();
    let newest = ids(&page(&app, "limit=100").await);
    let oldest = ids(&page(&app, "limit=100&sort=created_at").await);
    let mut reversed = newest.clone();
    reversed.reverse();
    assert_eq!(oldest, reversed);

    let done = page(&app, "limit=100&done=true").await;
    assert!(
        done["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["done"] == true)
    );
    assert_eq!(ids(&done), vec![2, 1]);

    let titles = page(&app, "limit=100&sort=title").await;
    let names: Vec<String> = titles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let body = assert_problem(&get(&app, "/tasks?sort=sideways").await, 422);
    assert_eq!(body["errors"][0]["field"], "sort");
    let body = assert_problem(&get(&app, "/tasks?done=maybe").await, 422);
    assert_eq!(body["errors"][0]["field"], "done");
}

#[tokio::test]
async fn a_cursor_walk_sees_every_task_once_even_while_tasks_are_added() {
    let (_lab, app) = lab();
    let before = ids(&page(&app, "limit=100").await);
    let mut seen = Vec::new();
    let mut p = page(&app, "limit=5").await;
    let mut added = Vec::new();
    loop {
        seen.extend(ids(&p));
        // Insert between page fetches: offset pages would shift, cursor pages must not.
        let created = send_json(&app, "POST", "/tasks", json!({"title": "added mid-walk"})).await;
        added.push(created.json()["id"].as_i64().unwrap());
        match p["next_cursor"].as_str() {
            Some(cursor) => p = page(&app, &format!("limit=5&cursor={cursor}")).await,
            None => break,
        }
    }
    assert_eq!(
        seen, before,
        "every task exactly once, in order, none of the new ones"
    );
    assert!(p["next_cursor"].is_null());
    assert!(p.get("offset").is_none(), "cursor pages have no offset");
    // The new tasks are at the head of a fresh walk.
    let fresh = ids(&page(&app, &format!("limit={}", added.len())).await);
    let mut newest_first = added.clone();
    newest_first.reverse();
    assert_eq!(fresh, newest_first);
}

#[tokio::test]
async fn bad_cursors_are_refused_with_400() {
    let (_lab, app) = lab();
    let first = page(&app, "limit=3").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let mut tampered = cursor.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        "cursor=garbage".to_string(),
        format!("cursor={tampered}"),
        format!("cursor={cursor}&offset=3"),
        format!("cursor={cursor}&done=true"),
        format!("cursor={cursor}&sort=title"),
    ] {
        let body = assert_problem(&get(&app, &format!("/tasks?limit=3&{bad}")).await, 400);
        assert_eq!(body["type"], "/_lab/problems/bad-cursor", "{bad}");
    }
    // The untouched cursor still works.
    let ok = page(&app, &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&ok).len(), 3);
}

// ---------- users: three layers of validation ----------

#[tokio::test]
async fn users_are_created_with_201_and_location() {
    let (_lab, app) = lab();
    let reply = send_json(
        &app,
        "POST",
        "/users",
        json!({"email": "Linus@Example.com", "name": "Linus"}),
    )
    .await;
    assert_eq!(reply.status, 201);
    let user = reply.json();
    assert_eq!(user["email"], "linus@example.com", "stored lower-cased");
    let location = reply.header("location").unwrap().to_string();
    assert_eq!(get(&app, &location).await.json(), user);
    let list = get(&app, "/users").await.json();
    assert_eq!(list["items"][0]["id"], user["id"]);
}

#[tokio::test]
async fn duplicate_emails_conflict_in_any_letter_case() {
    let (_lab, app) = lab();
    let reply = send_json(
        &app,
        "POST",
        "/users",
        json!({"email": "ADA@example.com", "name": "Ada again"}),
    )
    .await;
    let body = assert_problem(&reply, 409);
    assert_eq!(body["type"], "/_lab/problems/conflict");
}

#[tokio::test]
async fn schema_errors_name_each_field() {
    let (_lab, app) = lab();
    let cases = [
        (json!({"email": "not-an-email", "name": "X"}), vec!["email"]),
        (json!({"email": "x@example.com", "name": ""}), vec!["name"]),
        (
            json!({"email": "x@example.com", "name": "n".repeat(61)}),
            vec!["name"],
        ),
        (json!({"email": "x@example.com"}), vec!["name"]),
        (
            json!({"email": 5, "name": "X", "role": "admin"}),
            vec!["role", "email"],
        ),
        // A body that is not an object gets that one error, not a list of every missing field.
        (json!(["not", "an", "object"]), vec!["body"]),
    ];
    for (input, fields) in cases {
        let reply = send_json(&app, "POST", "/users", input.clone()).await;
        let body = assert_problem(&reply, 422);
        let got: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(got, fields, "{input}");
    }
    let ok = send_json(
        &app,
        "POST",
        "/users",
        json!({"email": "x@example.com", "name": "n".repeat(60)}),
    )
    .await;
    assert_eq!(ok.status, 201);
}

#[tokio::test]
async fn malformed_json_wrong_media_type_and_big_bodies() {
    let mut config = LabConfig::ephemeral();
    config.body_limit = 1024;
    let (_lab, app) = lab_with(config);
    let malformed = send(
        &app,
        "POST",
        "/users",
        &[("content-type", "application/json")],
        r#"{"email": "#,
    )
    .await;
    let body = assert_problem(&malformed, 400);
    assert_eq!(body["type"], "/_lab/problems/malformed-json");
    assert!(body["detail"].as_str().unwrap().contains("line 1"));

    let form = send(
        &app,
        "POST",
        "/users",
        &[("content-type", "application/x-www-form-urlencoded")],
        "email=a",
    )
    .await;
    assert_problem(&form, 415);
    let none = send(
        &app,
        "POST",
        "/users",
        &[],
        r#"{"email":"a@b.co","name":"A"}"#,
    )
    .await;
    assert_problem(&none, 415);

    let big = format!(r#"{{"email":"a@b.co","name":"{}"}}"#, "x".repeat(2000));
    let reply = send(
        &app,
        "POST",
        "/users",
        &[("content-type", "application/json")],
        big,
    )
    .await;
    let body = assert_problem(&reply, 413);
    assert!(body["detail"].as_str().unwrap().contains("1024 bytes"));
}

// ---------- traces ----------

#[tokio::test]
async fn a_rejected_request_shows_validation_failing_before_the_handler() {
    let (lab, app) = lab();
    let reply = send_json(
        &app,
        "POST",
        "/users",
        json!({"email": "nope", "name": "Bo"}),
    )
    .await;
    assert_eq!(reply.status, 422);
    let trace = lab
        .state
        .traces
        .get(reply.request_id())
        .expect("the request was traced");
    assert_eq!(trace.status, 422);
    assert_eq!(trace.route.as_deref(), Some("/users"));
    let stages: Vec<Stage> = trace.events.iter().map(|e| e.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::Http,
            Stage::Middleware,
            Stage::Middleware,
            Stage::Routing,
            Stage::Parsing,
            Stage::Validation,
            Stage::Security,
            Stage::Middleware,
            Stage::Response
        ]
    );
    let validation = trace
        .events
        .iter()
        .find(|e| e.stage == Stage::Validation)
        .unwrap();
    assert_eq!(validation.outcome, Outcome::Fail);
    assert!(
        validation.message.contains("email"),
        "{}",
        validation.message
    );
    assert!(validation.message.contains("the handler never ran"));
    assert!(!stages.contains(&Stage::Logic) && !stages.contains(&Stage::Data));
}

#[tokio::test]
async fn a_trace_lists_every_sql_statement_with_rows() {
    let (lab, app) = lab();
    let reply = send_json(
        &app,
        "POST",
        "/users",
        json!({"email": "new@example.com", "name": "New"}),
    )
    .await;
    assert_eq!(reply.status, 201);
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    let sql: Vec<_> = trace.events.iter().filter_map(|e| e.sql.as_ref()).collect();
    assert_eq!(sql.len(), 2, "the service check, then the insert");
    assert!(
        sql[0]
            .statement
            .starts_with("SELECT id FROM users WHERE email")
    );
    assert_eq!(sql[0].rows, 0);
    assert_eq!(sql[0].params, ["'new@example.com'"]);
    assert!(sql[1].statement.starts_with("INSERT INTO users"));
    assert_eq!(sql[1].rows, 1);
    // Events are in time order and start from the beginning of the request.
    let times: Vec<u64> = trace.events.iter().map(|e| e.at_us).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[tokio::test]
async fn the_trace_api_serves_recent_traces_and_one_by_id() {
    let (_lab, app) = lab();
    let a = send(
        &app,
        "GET",
        "/tasks/1",
        &[("x-request-id", "trace-me")],
        Body::empty(),
    )
    .await;
    assert_eq!(a.status, 200);
    get(&app, "/nope").await;
    let recent = get(&app, "/_lab/traces?limit=10").await.json();
    let traces = recent["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 2, "lab endpoints are not traced themselves");
    assert_eq!(traces[0]["path"], "/nope", "newest first");
    let one = get(&app, "/_lab/traces/trace-me").await.json();
    assert_eq!(one["route"], "/tasks/{id}");
    assert_eq!(one["status"], 200);
    assert_problem(&get(&app, "/_lab/traces/never-sent").await, 404);
}

#[tokio::test]
async fn the_trace_store_is_bounded() {
    let mut config = LabConfig::ephemeral();
    config.trace_capacity = 5;
    let (lab, app) = lab_with(config);
    for _ in 0..40 {
        get(&app, "/tasks/1").await;
    }
    assert_eq!(lab.state.traces.len(), 5);
    // Asking for more than the lab keeps returns what it keeps.
    assert_eq!(
        get(&app, "/_lab/traces?limit=1000").await.json()["traces"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn with_tracing_off_nothing_is_recorded_but_ids_still_flow() {
    let mut config = LabConfig::ephemeral();
    config.tracing = false;
    let (lab, app) = lab_with(config);
    let reply = get(&app, "/nope").await;
    assert_problem(&reply, 404);
    assert!(lab.state.traces.is_empty());
    assert_eq!(
        reply.header("server-timing"),
        None,
        "no trace, no stage times"
    );
    assert!(reply.header("x-response-time-ms").is_some());
}

#[tokio::test]
async fn every_response_says_whether_a_cache_may_keep_it() {
    let (_lab, app) = lab();
    let cases = [
        ("GET", "/", "no-cache"),
        ("GET", "/health", "no-store"),
        ("GET", "/echo", "no-store"),
        ("GET", "/methods", "public, max-age=86400"),
        ("GET", "/status/200", "no-store"),
        ("GET", "/tasks", "private, no-cache"),
        ("GET", "/tasks/1", "private, no-cache"),
        ("GET", "/users/1", "private, no-cache"),
        ("GET", "/tasks/999", "no-store"),
        ("DELETE", "/tasks", "no-store"),
        ("GET", "/nowhere", "no-store"),
        ("GET", "/_lab/traces", "no-store"),
        ("GET", "/_lab/problems/validation", "public, max-age=86400"),
    ];
    for (method, path, policy) in cases {
        let reply = send(&app, method, path, &[], Body::empty()).await;
        assert_eq!(
            reply.header("cache-control"),
            Some(policy),
            "{method} {path} answered {}",
            reply.status
        );
    }
    let created = get(&app, "/status/201").await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), Some("/"));
}

#[tokio::test]
async fn small_edges_of_the_protocol() {
    let (lab, app) = lab();
    // One spelling per id.
    assert_eq!(get(&app, "/tasks/2").await.status, 200);
    for other in ["/tasks/02", "/tasks/+2", "/tasks/2.0", "/tasks/%202"] {
        assert_problem(&get(&app, other).await, 404);
    }

    // JSON nested past the parser's depth says so.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let reply = send(
        &app,
        "POST",
        "/tasks",
        &[("content-type", "application/json")],
        deep,
    )
    .await;
    let body = assert_problem(&reply, 400);
    assert_contains!(
        body["detail"].as_str().unwrap(),
        "nested more than 128 levels"
    );

    // TRACE never hands credentials back.
    let reply = send(
        &app,
        "TRACE",
        "/echo",
        &[
            ("cookie", "session=s3cret"),
            ("authorization", "Bearer t0ken"),
            ("x-kept", "yes"),
        ],
        Body::empty(),
    )
    .await;
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    assert!(
        !text.contains("s3cret") && !text.contains("t0ken"),
        "{text}"
    );
    assert_contains!(text, "x-kept");

    // OPTIONS is answered with what the path supports.
    let reply = send(&app, "OPTIONS", "/tasks", &[], Body::empty()).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST, OPTIONS"));

    // A 405's trace says the path matched and the method did not.
    let reply = send(&app, "DELETE", "/tasks", &[], Body::empty()).await;
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    let routing: Vec<(Outcome, &str)> = trace
        .events
        .iter()
        .filter(|e| e.stage == Stage::Routing)
        .map(|e| (e.outcome, e.message.as_str()))
        .collect();
    assert_eq!(
        routing,
        [
            (
                Outcome::Ok,
                "the path matches route /tasks; its methods decide next"
            ),
            (
                Outcome::Fail,
                "/tasks exists but does not accept DELETE; Allow: GET, HEAD, POST → 405"
            ),
        ]
    );

    // A query string is parsed, and the trace says so.
    let reply = get(&app, "/tasks?limit=3&done=false").await;
    let trace = lab.state.traces.get(reply.request_id()).unwrap();
    assert!(
        trace.events.iter().any(|e| e.stage == Stage::Parsing
            && e.message == "parsed the query string: 2 parameters (limit, done)"),
        "{:#?}",
        trace.events
    );
}

#[tokio::test]
async fn task_reads_carry_etags_and_writes_honour_if_match() {
    let (lab, app) = lab();
    let first = get(&app, "/tasks/4").await;
    let tag = first
        .header("etag")
        .expect("a task has an ETag")
        .to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");

    for same in [
        tag.clone(),
        format!("W/{tag}"),
        "*".to_string(),
        format!("\"x\", {tag}"),
    ] {
        let reply = send(
            &app,
            "GET",
            "/tasks/4",
            &[("if-none-match", &same)],
            Body::empty(),
        )
        .await;
        assert_eq!(reply.status, 304, "{same}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("etag"), Some(tag.as_str()));
    }
    let other = send(
        &app,
        "GET",
        "/tasks/4",
        &[("if-none-match", "\"other\"")],
        Body::empty(),
    )
    .await;
    assert_eq!(other.status, 200);

    // A write against a stale version is refused, and nothing changes.
    let put = |if_match: String, title: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                "PUT",
                "/tasks/4",
                &[
                    ("content-type", "application/json"),
                    ("if-match", &if_match),
                ],
                serde_json::to_vec(&json!({"title": title, "done": false})).unwrap(),
            )
            .await
        }
    };
    let stale = put("\"4-20000101000000000000\"".into(), "Lost update").await;
    let body = assert_problem(&stale, 412);
    assert_contains!(body["detail"].as_str().unwrap(), "If-Match: ");
    let trace = lab.state.traces.get(stale.request_id()).unwrap();
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.message.contains("nothing was written"))
    );
    assert_eq!(
        get(&app, "/tasks/4").await.json()["title"],
        first.json()["title"]
    );

    let fresh = put(tag.clone(), "Repot the basil").await;
    assert_eq!(fresh.status, 200);
    let new_tag = fresh.header("etag").unwrap().to_string();
    assert_ne!(new_tag, tag, "a changed task has a new tag");
    // The old tag is now stale; `*` matches any existing task; a weak tag never matches If-Match.
    assert_problem(&put(tag.clone(), "again").await, 412);
    assert_problem(&put(format!("W/{new_tag}"), "weak").await, 412);
    // An unquoted value is no entity tag: the answer says how a tag is written.
    let unquoted = put(new_tag.trim_matches('"').to_string(), "unquoted").await;
    let refused = assert_problem(&unquoted, 412);
    assert_contains!(refused["detail"].as_str().unwrap(), "no valid entity tag");
    assert_contains!(refused["detail"].as_str().unwrap(), &new_tag);
    assert_eq!(put("*".into(), "Any version").await.status, 200);
    let delete = send(
        &app,
        "DELETE",
        "/tasks/4",
        &[("if-match", "\"nope\"")],
        Body::empty(),
    )
    .await;
    assert_problem(&delete, 412);
    // A task that is not there is a 404 whatever the precondition says.
    let missing = send(
        &app,
        "DELETE",
        "/tasks/999",
        &[("if-match", "*")],
        Body::empty(),
    )
    .await;
    assert_problem(&missing, 404);
}

#[tokio::test]
async fn a_merge_patch_can_remove_a_field_and_plain_json_cannot() {
    let (lab, app) = lab();
    let merge = |body: Value| {
        let app = app.clone();
        async move {
            send(
                &app,
                "PATCH",
                "/tasks/5",
                &[("content-type", "application/merge-patch+json")],
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };
    assert_eq!(merge(json!({"done": true})).await.json()["done"], true);
    let reset = merge(json!({"done": null})).await;
    assert_eq!(reset.status, 200);
    assert_eq!(
        reset.json()["done"],
        false,
        "a removed field returns to its default"
    );
    let trace = lab.state.traces.get(reset.request_id()).unwrap();
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.message.contains("JSON Merge Patch") && e.message.contains("default")),
        "{:#?}",
        trace.events
    );
    let untitled = assert_problem(&merge(json!({"title": null})).await, 422);
    assert_eq!(untitled["errors"][0]["field"], "title");

    let array = send(
        &app,
        "PATCH",
        "/tasks/5",
        &[("content-type", "application/merge-patch+json")],
        b"[1, 2]".to_vec(),
    )
    .await;
    let errors = assert_problem(&array, 422)["errors"].clone();
    assert_eq!(
        errors.as_array().unwrap().len(),
        1,
        "one error for a body that is not an object: {errors}"
    );
    assert_eq!(errors[0]["field"], "body");

    let plain = send_json(&app, "PATCH", "/tasks/5", json!({"title": null})).await;
    let body = assert_problem(&plain, 422);
    assert_contains!(
        body["errors"][0]["message"].as_str().unwrap(),
        "application/merge-patch+json"
    );
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_create_safe() {
    let (lab, app) = lab();
    let post = |key: &'static str, title: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                "POST",
                "/tasks",
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                ],
                serde_json::to_vec(&json!({ "title": title })).unwrap(),
            )
            .await
        }
    };
    let count = || async {
        get(&app, "/tasks?limit=100").await.json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;
    let first = post("order-7f3a", "Buy soil").await;
    assert_eq!(first.status, 201);
    let again = post("order-7f3a", "Buy soil").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json(), "the first response, replayed");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(count().await, before + 1, "one task, however many retries");

    let reused = post("order-7f3a", "Buy seeds").await;
    assert_eq!(
        assert_problem(&reused, 422)["type"],
        "/_lab/problems/idempotency-key-reused"
    );
    let trace = lab.state.traces.get(reused.request_id()).unwrap();
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.message.contains("first used with another body"))
    );

    // A key whose first request, with this same body, has not finished yet.
    use base64::Engine;
    use sha2::Digest;
    let body = serde_json::to_vec(&json!({ "title": "Buy soil" })).unwrap();
    let fingerprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(&body)[..16]);
    lab.state
        .db
        .write(move |c| {
            c.execute(
                "INSERT INTO idempotency_keys (key, fingerprint, state, created_at) VALUES ('busy', ?1, 'running', ?2)",
                rusqlite::params![fingerprint, reqlab::lab::clock::wall_micros()],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let busy = post("busy", "Buy soil").await;
    assert_eq!(
        assert_problem(&busy, 409)["type"],
        "/_lab/problems/idempotency-key-in-flight"
    );

    // A claim whose request never finished lapses, so a later retry is not refused for a day.
    let fingerprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(&body)[..16]);
    lab.state
        .db
        .write(move |c| {
            c.execute(
                "INSERT INTO idempotency_keys (key, fingerprint, state, created_at) VALUES ('abandoned', ?1, 'running', ?2)",
                rusqlite::params![fingerprint, reqlab::lab::clock::wall_micros() - 31_000_000],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let retried = post("abandoned", "Buy soil").await;
    assert_eq!(retried.status, 201, "a lapsed claim is claimed afresh");
    assert_eq!(retried.header("idempotent-replayed"), None);

    // The store keeps at most 10,000 keys: the oldest go first.
    lab.state
        .db
        .write(|c| {
            let tx = c.transaction()?;
            for i in 0..10_050 {
                tx.execute(
                    "INSERT INTO idempotency_keys (key, fingerprint, state, status, body, location, created_at) VALUES (?1, 'f', 'done', 201, '{}', '/tasks/1', ?2)",
                    rusqlite::params![format!("old-{i}"), reqlab::lab::clock::wall_micros() - 1_000_000 + i],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(post("one-more", "Buy pots").await.status, 201);
    let (kept, oldest_kept) = lab
        .state
        .db
        .write(|c| {
            Ok(c.query_row(
                "SELECT count(*), (SELECT count(*) FROM idempotency_keys WHERE key = 'old-0') FROM idempotency_keys",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )?)
        })
        .await
        .unwrap();
    assert!(kept <= 10_001, "{kept} keys kept");
    assert_eq!(oldest_kept, 0, "the oldest key went first");

    let unusable = post("has space", "Buy soil").await;
    assert_problem(&unusable, 400);

    let two_keys = send(
        &app,
        "POST",
        "/tasks",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "first"),
            ("idempotency-key", "second"),
        ],
        serde_json::to_vec(&json!({ "title": "Buy soil" })).unwrap(),
    )
    .await;
    let refused = assert_problem(&two_keys, 400);
    assert_contains!(refused["detail"].as_str().unwrap(), "one Idempotency-Key");
    // Three tasks: the first key's, the lapsed claim's retry and the one after the prune.
    assert_eq!(
        count().await,
        before + 3,
        "a refused request creates nothing"
    );
}

#[tokio::test]
async fn content_negotiation_says_what_the_lab_produces_and_reads() {
    let (_lab, app) = lab();
    let csv = send(
        &app,
        "GET",
        "/tasks",
        &[("accept", "text/csv")],
        Body::empty(),
    )
    .await;
    assert_eq!(
        assert_problem(&csv, 406)["type"],
        "/_lab/problems/not-acceptable"
    );
    let browser = send(
        &app,
        "GET",
        "/tasks",
        &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        Body::empty(),
    )
    .await;
    assert_eq!(browser.status, 200);

    let text = [("content-type", "text/plain")];
    let post = send(&app, "POST", "/tasks", &text, "title").await;
    assert_problem(&post, 415);
    assert_eq!(post.header("accept-post"), Some("application/json"));
    let patch = send(&app, "PATCH", "/tasks/1", &text, "title").await;
    assert_problem(&patch, 415);
    assert_eq!(
        patch.header("accept-patch"),
        Some("application/json, application/merge-patch+json")
    );
}

#[tokio::test]
async fn cursor_pages_link_to_the_next_one() {
    let (_lab, app) = lab();
    let first = get(&app, "/tasks?limit=5&done=false").await;
    let link = first
        .header("link")
        .expect("a next page has a Link")
        .to_string();
    let target = link
        .strip_prefix('<')
        .and_then(|l| l.split_once(">; rel=\"next\""))
        .map(|(t, _)| t.to_string())
        .unwrap_or_else(|| panic!("{link}"));
    assert!(
        target.starts_with("/tasks?limit=5&done=false&cursor="),
        "{target}"
    );
    let next = get(&app, &target).await;
    assert_eq!(next.status, 200);
    assert_eq!(
        next.json()["items"][0]["id"],
        first.json()["items"][4]["id"]
            .as_i64()
            .map(|id| id - 1)
            .unwrap(),
        "the link continues where the page ended"
    );
}

#[tokio::test]
async fn status_and_method_explanations_are_exact() {
    let (_lab, app) = lab();
    let accepted = get(&app, "/status/202").await;
    assert_eq!(accepted.header("location"), Some("/"));
    let timeout = get(&app, "/status/408").await.json();
    assert_contains!(timeout["detail"].as_str().unwrap(), "retryable");
    let not_modified = get(&app, "/status/304").await;
    assert_eq!(not_modified.status, 304);
    let methods = get(&app, "/methods").await.json();
    let post = methods["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == "POST")
        .unwrap();
    assert_contains!(post["cacheable"].as_str().unwrap(), "explicit freshness");
}

#[tokio::test]
async fn a_traced_requests_statements_are_explained_in_words() {
    let (_lab, app) = lab();
    let books = get(&app, "/books?limit=3&authors=batched").await;
    assert_eq!(books.status, 200);
    let plans = get(&app, &format!("/_lab/traces/{}/plans", books.request_id())).await;
    assert_eq!(plans.status, 200);
    let json = plans.json();
    let statements = json["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{json}");
    assert!(
        statements[1]["statement"]
            .as_str()
            .unwrap()
            .contains("IN (?1, ?2, ?3)")
    );
    let said = statements[1]["plan"][0]["said"].as_str().unwrap();
    assert!(
        said.starts_with("looks authors rows up by primary key"),
        "{said}"
    );
    let missing = get(&app, "/_lab/traces/no-such-request/plans").await;
    assert_problem(&missing, 404);
}

#[tokio::test]
async fn a_valid_traceparent_joins_the_callers_trace_and_a_malformed_one_is_ignored() {
    let (lab, app) = lab();
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let joined = send(
        &app,
        "GET",
        "/tasks/1",
        &[("traceparent", parent)],
        Body::empty(),
    )
    .await;
    assert_eq!(joined.status, 200);
    let trace = lab.state.traces.get(joined.request_id()).unwrap();
    let caller = trace.caller.as_ref().unwrap();
    assert_eq!(caller.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(caller.parent_id, "00f067aa0ba902b7");
    assert!(trace.events.iter().any(|e| {
        e.stage == reqlab::stage::Stage::Observability
            && e.message
                .starts_with("joined the caller's trace 4bf92f3577b34da6a3ce929d0e0e4736")
    }));

    let malformed = send(
        &app,
        "GET",
        "/tasks/1",
        &[("traceparent", "00-nope")],
        Body::empty(),
    )
    .await;
    assert_eq!(malformed.status, 200, "never refused for it");
    let trace = lab.state.traces.get(malformed.request_id()).unwrap();
    assert_eq!(trace.caller, None);
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.message.starts_with("ignored a traceparent"))
    );
}
