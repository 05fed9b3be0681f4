//! Step mode on a real port: requests sent with a session's token are held at each stage
//! boundary, show what they carry, and go on only when released — or when the session ends,
//! a hold times out, or the lab shuts down.

use reqlab::lab::listen::Timeouts;
use reqlab::lab::step::{BlockKind, Carries, Go, Held, STEP_HEADER, StepSession};
use reqlab::lab::{LabConfig, RunningLab, start};
use reqlab::stage::Stage;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(20);

/// The next hold, within the deadline.
async fn next(session: &mut StepSession) -> Held {
    tokio::time::timeout(DEADLINE, session.next())
        .await
        .expect("a hold arrives in time")
        .expect("the lab is running")
}

/// Sends a request in the background.
fn spawn(request: reqwest::RequestBuilder) -> JoinHandle<reqwest::Response> {
    tokio::spawn(async move { request.send().await.expect("the lab answers") })
}

/// The answer of a request sent with [`spawn`], within the deadline.
async fn answer(reply: JoinHandle<reqwest::Response>) -> (u16, Value) {
    let response = tokio::time::timeout(DEADLINE, reply)
        .await
        .expect("the request completes in time")
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Sends `request` with the session's token and releases every hold one stage on until it is
/// answered; returns what each hold carried, in order, and the answer.
async fn step_through(
    session: &mut StepSession,
    request: reqwest::RequestBuilder,
) -> (Vec<(Stage, Carries)>, u16, Value) {
    let mut reply = spawn(request.header(STEP_HEADER, session.token()));
    let mut seen = Vec::new();
    let deadline = tokio::time::sleep(DEADLINE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            done = &mut reply => {
                let response = done.unwrap();
                let status = response.status().as_u16();
                let body = response.json().await.unwrap_or(Value::Null);
                return (seen, status, body);
            }
            held = session.next() => {
                let held = held.expect("the lab is running");
                seen.push((held.stage, held.carries.clone()));
                held.release(Go::Step);
            }
            _ = &mut deadline => panic!("still stepping after {DEADLINE:?}; held so far: {seen:#?}"),
        }
    }
}

fn stages(seen: &[(Stage, Carries)]) -> Vec<Stage> {
    seen.iter().map(|(stage, _)| *stage).collect()
}

/// A row's value (panics with every row when it is missing).
fn field<'a>(carries: &'a Carries, name: &str) -> &'a str {
    carries
        .fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no row {name:?} in {carries:#?}"))
}

fn tasks(lab: &RunningLab) -> i64 {
    lab.state
        .db
        .read(|c| c.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0)))
        .unwrap()
}

/// Every sentence of a request's trace, one per line.
fn trace_text(lab: &RunningLab, request_id: &str) -> String {
    let trace = lab
        .state
        .traces
        .get(request_id)
        .unwrap_or_else(|| panic!("a trace for {request_id}"));
    trace
        .events
        .iter()
        .map(|e| format!("{} {}", e.stage, e.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_stepped_post_is_held_at_every_stage_in_order_and_shows_what_it_carries() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let before = tasks(&lab);
    let reply = spawn(
        reqwest::Client::new()
            .post(format!("{}/tasks", lab.url()))
            .header(STEP_HEADER, session.token())
            .header("x-request-id", "step-post")
            .json(&json!({"title": "Step through me"})),
    );

    let http = next(&mut session).await;
    assert_eq!(http.stage, Stage::Http);
    assert_eq!(http.request_id, "step-post");
    assert_eq!(field(&http.carries, "method"), "POST");
    assert_eq!(field(&http.carries, "target"), "/tasks");
    assert_eq!(field(&http.carries, "content-type"), "application/json");
    assert!(
        !format!("{:?}", http.carries).contains(STEP_HEADER),
        "the step header is gone before anything reads the request: {:#?}",
        http.carries
    );
    http.release(Go::Step);

    let routing = next(&mut session).await;
    assert_eq!(routing.stage, Stage::Routing);
    assert_eq!(field(&routing.carries, "route"), "POST /tasks");
    assert_contains!(routing.carries.summary, "matched POST /tasks");
    routing.release(Go::Step);

    let parsing = next(&mut session).await;
    assert_eq!(parsing.stage, Stage::Parsing);
    assert_eq!(field(&parsing.carries, "Content-Type"), "application/json");
    let body = parsing.carries.block.clone().expect("the parsed body");
    assert_eq!(body.kind, BlockKind::Json);
    assert_contains!(body.text, "\"title\": \"Step through me\"");
    parsing.release(Go::Step);

    let validation = next(&mut session).await;
    assert_eq!(validation.stage, Stage::Validation);
    assert_contains!(validation.carries.summary, "validation passed");
    assert_eq!(
        field(&validation.carries, "title"),
        "accepted: \"Step through me\""
    );
    validation.release(Go::Step);

    let auth = next(&mut session).await;
    assert_eq!(auth.stage, Stage::Auth);
    assert_contains!(auth.carries.summary, "public");
    assert_eq!(field(&auth.carries, "Authorization"), "absent");
    auth.release(Go::Step);

    let logic = next(&mut session).await;
    assert_eq!(logic.stage, Stage::Logic);
    assert_contains!(logic.carries.summary, "the server assigns the id");
    assert_eq!(
        field(&logic.carries, "done"),
        "false (absent, so the default)"
    );
    assert_contains!(field(&logic.carries, "Idempotency-Key"), "none");
    logic.release(Go::Step);

    let data = next(&mut session).await;
    assert_eq!(data.stage, Stage::Data);
    let sql = data.carries.block.clone().expect("the statement");
    assert_eq!(sql.kind, BlockKind::Sql);
    assert_contains!(
        sql.text,
        "INSERT INTO tasks (title, done, created_at, updated_at)"
    );
    assert_eq!(field(&data.carries, "?1"), "'Step through me'");
    assert_eq!(field(&data.carries, "?2"), "0");
    assert!(field(&data.carries, "?3").starts_with("'20"), "a timestamp");
    assert_eq!(tasks(&lab), before, "nothing is written while held at data");
    data.release(Go::Step);

    let response = next(&mut session).await;
    assert_eq!(response.stage, Stage::Response);
    assert_eq!(field(&response.carries, "status"), "201 Created");
    assert_eq!(
        field(&response.carries, "location"),
        format!("/tasks/{}", before + 1)
    );
    assert_contains!(
        response.carries.block.clone().unwrap().text,
        "\"title\": \"Step through me\""
    );
    response.release(Go::Step);

    let (status, task) = answer(reply).await;
    assert_eq!(status, 201);
    assert_eq!(task["title"], "Step through me");
    assert_eq!(tasks(&lab), before + 1);
    assert!(session.try_next().is_none(), "nothing else is held");

    let trace = trace_text(&lab, "step-post");
    for stage in [
        "http",
        "routing",
        "parsing",
        "validation",
        "auth",
        "data",
        "response",
    ] {
        assert_contains!(trace, format!("{stage} held at {stage} for "));
    }
    assert_contains!(trace, "by step mode; released to the next stage");
    assert!(!trace.contains(session.token()), "{trace}");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn finish_runs_the_request_to_the_end_without_another_hold() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let reply = spawn(
        reqwest::Client::new()
            .get(format!("{}/tasks/1", lab.url()))
            .header(STEP_HEADER, session.token())
            .header("x-request-id", "step-finish"),
    );
    let http = next(&mut session).await;
    assert_eq!(http.stage, Stage::Http);
    http.release(Go::Finish);
    let (status, task) = answer(reply).await;
    assert_eq!((status, task["id"].as_i64()), (200, Some(1)));
    assert!(session.try_next().is_none());
    let trace = trace_text(&lab, "step-finish");
    assert_contains!(trace, "held at http for");
    assert_contains!(trace, "released to run to the end");
    assert_eq!(trace.matches("held at").count(), 1, "{trace}");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_list_shows_its_query_its_verdicts_and_its_select() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let (seen, status, page) = step_through(
        &mut session,
        reqwest::Client::new().get(format!("{}/tasks?limit=2", lab.url())),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        stages(&seen),
        [
            Stage::Http,
            Stage::Routing,
            Stage::Parsing,
            Stage::Validation,
            Stage::Auth,
            Stage::Data,
            Stage::Response
        ]
    );
    let (_, parsing) = &seen[2];
    assert_eq!(field(parsing, "limit"), "2");
    let (_, validation) = &seen[3];
    assert_eq!(field(validation, "limit"), "accepted: 2");
    assert_eq!(field(validation, "offset"), "accepted: 0 (default)");
    let (_, data) = &seen[5];
    assert_contains!(data.block.as_ref().unwrap().text, "FROM tasks ORDER BY");
    assert_eq!(
        field(data, "?1"),
        "3",
        "one row more than the page tells if more exist"
    );
    assert_contains!(data.summary, "inline");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_keyed_create_shows_its_claim_and_its_insert_in_one_data_hold() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let client = reqwest::Client::new();
    let request = || {
        client
            .post(format!("{}/tasks", lab.url()))
            .header("idempotency-key", "step-key-1")
            .json(&json!({"title": "once"}))
    };
    let reply = spawn(request().header(STEP_HEADER, session.token()));
    let data = loop {
        let held = next(&mut session).await;
        if held.stage == Stage::Data {
            break held;
        }
        held.release(Go::Step);
    };
    let keys: i64 = lab
        .state
        .db
        .read(|c| c.query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(keys, 0, "the key is not claimed while held at data");
    let sql = &data.carries.block.as_ref().unwrap().text;
    assert_contains!(sql, "SELECT fingerprint, state");
    assert_contains!(
        sql,
        "-- #4, only if the key is new\nINSERT INTO idempotency_keys"
    );
    assert_contains!(sql, "INSERT INTO tasks");
    assert_eq!(field(&data.carries, "#2 ?1"), "'step-key-1'");
    assert_eq!(field(&data.carries, "#5 ?1"), "'once'");
    assert_contains!(data.carries.summary, "up to 6 statements");
    data.release(Go::Finish);
    let (status, first) = answer(reply).await;
    assert_eq!(status, 201);

    let again = request().send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        again["id"], first["id"],
        "the retry replays the stepped create"
    );
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_forged_token_is_never_held_and_no_token_is_ever_shown() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let client = reqwest::Client::new();
    let echo = format!("{}/echo", lab.url());

    let forged = "00000000000000000000000000000000";
    let response = tokio::time::timeout(
        DEADLINE,
        client
            .get(&echo)
            .header(STEP_HEADER, forged)
            .header("x-request-id", "forged")
            .send(),
    )
    .await
    .expect("a forged token holds nothing")
    .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        !body.contains(STEP_HEADER) && !body.contains(forged),
        "{body}"
    );
    assert!(session.try_next().is_none());
    let trace = trace_text(&lab, "forged");
    assert!(
        !trace.contains(forged) && !trace.contains("held"),
        "{trace}"
    );

    // The session's own token is removed before the echo reads the request too, and before
    // the TRACE method reflects it.
    for method in [reqwest::Method::POST, reqwest::Method::TRACE] {
        let reply = spawn(
            client
                .request(method.clone(), &echo)
                .header(STEP_HEADER, session.token())
                .header("x-request-id", format!("real-{method}")),
        );
        next(&mut session).await.release(Go::Finish);
        let (status, body) = answer(reply).await;
        assert_eq!(status, 200, "{method}");
        let body = body.to_string();
        assert!(
            !body.contains(STEP_HEADER) && !body.contains(session.token()),
            "{body}"
        );
        let trace = trace_text(&lab, &format!("real-{method}"));
        assert!(!trace.contains(session.token()), "{trace}");
    }
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_held_at_data_blocks_no_other_request() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let client = reqwest::Client::new();
    let base = lab.url();
    let reply = spawn(
        client
            .post(format!("{base}/tasks"))
            .header(STEP_HEADER, session.token())
            .json(&json!({"title": "held at data"})),
    );
    let data = loop {
        let held = next(&mut session).await;
        if held.stage == Stage::Data {
            break held;
        }
        held.release(Go::Step);
    };

    // Reads and writes, through the same tables, all complete while it waits.
    let others = async {
        let read = client.get(format!("{base}/tasks/1")).send().await.unwrap();
        assert_eq!(read.status(), 200);
        let page = client
            .get(format!("{base}/tasks?limit=3&done=false"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let created = client
            .post(format!("{base}/tasks"))
            .json(&json!({"title": "not held"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let patched = client
            .patch(format!("{base}/tasks/2"))
            .json(&json!({"done": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 200);
        let user = client
            .post(format!("{base}/users"))
            .json(&json!({"email": "free@example.com", "name": "Free"}))
            .send()
            .await
            .unwrap();
        assert_eq!(user.status(), 201);
    };
    tokio::time::timeout(DEADLINE, others)
        .await
        .expect("other requests complete while one is held at data");

    data.release(Go::Finish);
    let (status, task) = answer(reply).await;
    assert_eq!(
        (status, task["title"].as_str()),
        (201, Some("held at data"))
    );
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn dropping_the_session_lets_its_held_request_run_to_the_end() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let reply = spawn(
        reqwest::Client::new()
            .post(format!("{}/tasks", lab.url()))
            .header(STEP_HEADER, session.token())
            .header("x-request-id", "step-left")
            .json(&json!({"title": "left behind"})),
    );
    let held = loop {
        let held = next(&mut session).await;
        if held.stage == Stage::Validation {
            break held;
        }
        held.release(Go::Step);
    };
    drop(session);
    let (status, _) = answer(reply).await;
    assert_eq!(status, 201);
    drop(held);
    assert_eq!(lab.state.steps.sessions(), 0);
    let trace = trace_text(&lab, "step-left");
    assert_contains!(
        trace,
        "by step mode; the step session ended, so the request runs to the end"
    );
    assert!(!trace.contains("held at auth"), "no hold after it: {trace}");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_hold_nobody_releases_times_out_and_the_request_completes() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab
        .state
        .steps
        .session_with_timeout(Duration::from_millis(300));
    let reply = spawn(
        reqwest::Client::new()
            .post(format!("{}/tasks", lab.url()))
            .header(STEP_HEADER, session.token())
            .header("x-request-id", "step-timeout")
            .json(&json!({"title": "forgotten"})),
    );
    // Kept, not released: only the timeout moves the request on.
    let held = next(&mut session).await;
    assert_eq!(held.stage, Stage::Http);
    let (status, _) = answer(reply).await;
    assert_eq!(status, 201);
    assert!(!held.waiting(), "the hold is over");
    assert!(session.try_next().is_none(), "it ran to the end unheld");
    let trace = trace_text(&lab, "step-timeout");
    assert_contains!(
        trace,
        "nobody released it within the session's 300 ms timeout, so the request runs to the end"
    );
    drop(held);
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn shutting_down_releases_a_held_request_and_ends_the_session() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let state = std::sync::Arc::clone(&lab.state);
    let mut session = state.steps.session();
    let reply = spawn(
        reqwest::Client::new()
            .post(format!("{}/tasks", lab.url()))
            .header(STEP_HEADER, session.token())
            .header("x-request-id", "step-shutdown")
            .json(&json!({"title": "at shutdown"})),
    );
    let held = loop {
        let held = next(&mut session).await;
        if held.stage == Stage::Data {
            break held;
        }
        held.release(Go::Step);
    };
    tokio::time::timeout(DEADLINE, lab.stop())
        .await
        .expect("a held request does not hold up shutdown")
        .unwrap();
    let (status, _) = answer(reply).await;
    assert_eq!(status, 201, "released by shutdown, it ran to the end");
    let trace = state.traces.get("step-shutdown").unwrap();
    assert!(
        trace.events.iter().any(|e| e
            .message
            .contains("the lab is shutting down, so the request runs to the end")),
        "{trace:#?}"
    );
    assert!(session.next().await.is_none(), "the session's stream ends");
    drop(held);
}

#[tokio::test]
async fn a_422_is_held_at_validation_with_its_errors_and_never_reaches_auth_or_data() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let (seen, status, problem) = step_through(
        &mut session,
        reqwest::Client::new()
            .post(format!("{}/users", lab.url()))
            .json(&json!({"email": "not-an-address", "name": ""})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        stages(&seen),
        [
            Stage::Http,
            Stage::Routing,
            Stage::Parsing,
            Stage::Validation,
            Stage::Response
        ]
    );
    let (_, validation) = &seen[3];
    assert_contains!(validation.summary, "validation failed: 2 problems → 422");
    assert_contains!(field(validation, "email"), "is not an email address");
    assert_contains!(field(validation, "name"), "must not be blank");
    let (_, response) = &seen[4];
    assert_eq!(field(response, "status"), "422 Unprocessable Content");
    assert_eq!(field(response, "content-type"), "application/problem+json");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_404_and_a_405_stop_after_routing() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let client = reqwest::Client::new();
    let (seen, status, _) =
        step_through(&mut session, client.get(format!("{}/nowhere", lab.url()))).await;
    assert_eq!(status, 404);
    assert_eq!(
        stages(&seen),
        [Stage::Http, Stage::Routing, Stage::Response]
    );
    assert_contains!(seen[1].1.summary, "no route matches /nowhere → 404");

    let (seen, status, _) =
        step_through(&mut session, client.delete(format!("{}/tasks", lab.url()))).await;
    assert_eq!(status, 405);
    assert_eq!(
        stages(&seen),
        [Stage::Http, Stage::Routing, Stage::Response]
    );
    assert_contains!(
        seen[1].1.summary,
        "/tasks exists but does not accept DELETE"
    );
    assert_eq!(field(&seen[1].1, "Allow"), "GET, HEAD, POST");
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn a_session_steps_one_request_at_a_time_and_refuses_a_second_with_409() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let mut session = lab.state.steps.session();
    let client = reqwest::Client::new();
    let url = format!("{}/tasks/1", lab.url());
    let first = spawn(client.get(&url).header(STEP_HEADER, session.token()));
    let held = next(&mut session).await;
    assert!(held.waiting());

    let second = tokio::time::timeout(
        DEADLINE,
        client.get(&url).header(STEP_HEADER, session.token()).send(),
    )
    .await
    .expect("a second request is refused at once, not queued")
    .unwrap();
    assert_eq!(second.status(), 409);
    assert_eq!(second.headers()["content-type"], "application/problem+json");
    let problem: Value = second.json().await.unwrap();
    assert_eq!(problem["type"], "/_lab/problems/step-session-busy");
    assert_contains!(problem["detail"].as_str().unwrap(), "already stepping");
    assert!(
        session.try_next().is_none(),
        "the refused one was never held"
    );

    held.release(Go::Finish);
    assert_eq!(answer(first).await.0, 200);
    // Once the first runs to the end, the session steps the next one.
    let third = spawn(client.get(&url).header(STEP_HEADER, session.token()));
    next(&mut session).await.release(Go::Finish);
    assert_eq!(answer(third).await.0, 200);
    lab.stop().await.unwrap();
}

#[tokio::test]
async fn holding_longer_than_the_lab_timeouts_trips_none_of_them() {
    let mut config = LabConfig::ephemeral();
    let limit = Duration::from_millis(100);
    config.timeouts = Timeouts {
        head: limit,
        body_gap: limit,
        body_total: limit * 2,
        write: limit,
    };
    let lab = start(config).await.unwrap();
    let mut session = lab.state.steps.session();
    let reply = spawn(
        reqwest::Client::new()
            .post(format!("{}/tasks", lab.url()))
            .header(STEP_HEADER, session.token())
            .header("x-request-id", "step-slow")
            .json(&json!({"title": "held past every timeout"})),
    );
    // Each hold lasts longer than any of the lab's timeouts: these pauses are the scenario
    // itself, not a wait for something to happen.
    let mut held_stages = Vec::new();
    loop {
        let held = next(&mut session).await;
        held_stages.push(held.stage);
        let last = held.stage == Stage::Response;
        tokio::time::sleep(limit * 3).await;
        held.release(Go::Step);
        if last {
            break;
        }
    }
    let (status, task) = answer(reply).await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(held_stages.len(), 8, "{held_stages:?}");

    // The parsing stage's own duration is the reading, not the holds around it.
    let trace = lab.state.traces.get("step-slow").unwrap();
    let parsed = trace
        .events
        .iter()
        .find(|e| e.stage == Stage::Parsing && e.message.starts_with("parsed"))
        .expect("a parsing event");
    assert!(
        parsed.duration_us < (limit * 2).as_micros() as u64,
        "{parsed:?}"
    );
    assert!(trace.duration_us >= (limit * 3 * 8).as_micros() as u64);
    lab.stop().await.unwrap();
}
