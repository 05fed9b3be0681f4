//! Closing the loop between lessons and the command line: `reqlab send`, `learn` sections,
//! progress marks, `serve --reset`, trace filters, and the lab's recorded address.

use crate::util::{reqlab, serve};
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn send_fires_a_preset_at_the_running_lab_and_shows_the_trace() {
    let data = tempfile::tempdir().unwrap();
    let (_lab, url) = serve(data.path(), &["--memory"]);
    assert!(
        data.path().join("lab.json").exists(),
        "the lab records its address"
    );

    let out = reqlab(data.path())
        .args(["send", "validation/bad-email"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_contains!(text, "send validation/bad-email");
    assert_contains!(text, &format!("curl -i {url}/users"));
    assert_contains!(text, "response  422 Unprocessable Content");
    assert_contains!(text, "✓ answered 422, as the lesson expects");
    assert_contains!(text, "validation  ✗ validation failed");
    assert!(!stderr(&out).contains("throwaway"), "{}", stderr(&out));

    // `lesson preset` works too; a second delete of the same task is not what the lesson
    // expects from a fresh lab, and says how to get one.
    let first = reqlab(data.path())
        .args(["send", "rest-resources", "delete-task"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    let again = reqlab(data.path())
        .args(["send", "2", "delete-task"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_contains!(
        stdout(&again),
        "✗ answered 404, but the lesson expects 204 from a freshly seeded lab"
    );

    let json = reqlab(data.path())
        .args(["send", "validation/bad-email", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["as_expected"], true);
    assert_eq!(v["response"]["status"], 422);
    assert_eq!(v["trace"]["status"], 422);
    assert_eq!(v["trace"]["route"], "/users");
}

#[test]
fn send_without_a_lab_uses_a_throwaway_one_and_lists_what_it_can_send() {
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["send", "http-basics/health"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_contains!(stderr(&out), "throwaway");
    assert_contains!(stdout(&out), "✓ answered 200");

    let list = reqlab(data.path())
        .args(["send", "validation"])
        .output()
        .unwrap();
    assert!(list.status.success());
    assert_contains!(stdout(&list), "bad-email");
    assert_contains!(stdout(&list), "POST /users → 422");

    let unknown = reqlab(data.path())
        .args(["send", "validation/bad-emial"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert_contains!(stderr(&unknown), "has no request `bad-emial`; it has: ");
}

#[test]
fn learn_opens_one_section_and_names_each_request() {
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["learn", "validation#what-to-validate", "--width", "100"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("What to validate\n"), "{text}");
    assert!(
        !text.contains("Validation is a trust boundary"),
        "one section only"
    );
    assert_contains!(text, "· validation/bad-email");
    assert!(
        !text.contains("validation/duplicate"),
        "only this section's requests"
    );
    let same = reqlab(data.path())
        .args([
            "learn",
            "5",
            "--section",
            "what-to-validate",
            "--width",
            "100",
        ])
        .output()
        .unwrap();
    assert_eq!(same.stdout, out.stdout);

    let unknown = reqlab(data.path())
        .args(["learn", "validation#nope"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert_contains!(stderr(&unknown), "its sections are: ");

    // With a lab running, the curl lines point at it.
    let (_lab, url) = serve(data.path(), &["--memory"]);
    let out = reqlab(data.path())
        .args(["learn", "validation#what-to-validate"])
        .output()
        .unwrap();
    assert_contains!(stdout(&out), &format!("curl -i {url}/users"));
}

#[test]
fn passed_challenges_are_marked_and_name_the_next_lesson() {
    let data = tempfile::tempdir().unwrap();
    {
        let (progress, _) = reqlab::progress::Progress::open(data.path()).unwrap();
        progress
            .record_pass("pagination", 1, "http://127.0.0.1:8000", 3, 0)
            .unwrap();
    }
    let lessons = reqlab(data.path()).args(["lessons"]).output().unwrap();
    let line = stdout(&lessons)
        .lines()
        .find(|l| l.contains(" pagination "))
        .unwrap()
        .to_string();
    assert!(line.ends_with("✓ passed"), "{line}");
    let list = reqlab(data.path())
        .args(["check", "--list"])
        .output()
        .unwrap();
    let line = stdout(&list)
        .lines()
        .find(|l| l.trim_start().starts_with("pagination "))
        .unwrap()
        .to_string();
    assert!(line.ends_with("✓ passed"), "{line}");

    let next = reqlab::view::check::next_step(
        &reqlab::course::Course::load(&reqlab::course::ContentSource::Embedded).unwrap(),
        "pagination",
    );
    assert_contains!(
        reqlab::view::markdown::plain_text(&[next]),
        "read on: `reqlab learn cursor-pagination`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reset_starts_from_the_seeded_tasks() {
    let data = tempfile::tempdir().unwrap();
    let count = async |url: &str| -> usize {
        let page: serde_json::Value = reqwest::get(format!("{url}/tasks?limit=100"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["items"].as_array().unwrap().len()
    };
    {
        let (_lab, url) = serve(data.path(), &[]);
        reqwest::Client::new()
            .post(format!("{url}/tasks"))
            .json(&serde_json::json!({ "title": "left behind" }))
            .send()
            .await
            .unwrap();
        assert_eq!(count(&url).await, 13);
    }
    let (_lab, url) = serve(data.path(), &[]);
    assert_eq!(count(&url).await, 13, "without --reset the data stays");
    drop(_lab);
    let (_lab, url) = serve(data.path(), &["--reset"]);
    assert_eq!(count(&url).await, 12, "--reset starts from the demo data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_filters_by_path_status_and_method() {
    let data = tempfile::tempdir().unwrap();
    let (_lab, url) = serve(data.path(), &["--memory"]);
    let client = reqwest::Client::new();
    client.get(format!("{url}/tasks/1")).send().await.unwrap();
    client.get(format!("{url}/tasks/999")).send().await.unwrap();
    client.delete(format!("{url}/tasks")).send().await.unwrap();
    client.get(format!("{url}/health")).send().await.unwrap();
    let dir = data.path().to_path_buf();
    let run = move |args: &'static [&'static str]| {
        let dir = dir.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                reqlab(&dir).arg("trace").args(args).output().unwrap()
            })
            .await
            .unwrap()
        }
    };
    let heads = |o: &Output| -> Vec<String> {
        stdout(o)
            .lines()
            .filter(|l| l.starts_with("── "))
            .map(|l| l.split("  ·  ").next().unwrap().to_string())
            .collect()
    };
    let all = run(&["--path", "/tasks"]).await;
    assert_eq!(
        heads(&all),
        [
            "── 200 GET /tasks/1",
            "── 404 GET /tasks/999",
            "── 405 DELETE /tasks"
        ]
    );
    let client_errors = run(&["--status", "4xx", "--method", "get"]).await;
    assert_eq!(heads(&client_errors), ["── 404 GET /tasks/999"]);
    let bad = run(&["--status", "4x"]).await;
    assert_eq!(bad.status.code(), Some(2));
    // -n counts the traces that pass the filters, however many others came after them.
    for _ in 0..12 {
        client.get(format!("{url}/health")).send().await.unwrap();
    }
    let newest_two = run(&["--path", "/tasks", "-n", "2"]).await;
    assert_eq!(
        heads(&newest_two),
        ["── 404 GET /tasks/999", "── 405 DELETE /tasks"]
    );
}

#[test]
fn send_prints_the_whole_body_so_a_token_can_be_copied() {
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["send", "auth/login-alice"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"access_token\""))
        .expect("the token is printed");
    let token = line.split('"').nth(3).unwrap();
    assert_eq!(
        token.split('.').count(),
        3,
        "header, claims and signature: {line}"
    );
    assert!(!line.contains('…'), "not cut short: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_one_send_captures_is_sent_by_the_next() {
    let data = tempfile::tempdir().unwrap();
    let (_lab, _url) = serve(data.path(), &["--memory"]);
    let dir = data.path().to_path_buf();
    let send = move |preset: &'static str| {
        let dir = dir.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                reqlab(&dir).args(["send", preset]).output().unwrap()
            })
            .await
            .unwrap()
        }
    };
    let early = send("auth/me-with-token").await;
    assert_eq!(early.status.code(), Some(2));
    assert_contains!(stderr(&early), "run `reqlab send auth/login-alice` first");

    let login = send("auth/login-alice").await;
    assert!(login.status.success(), "{}", stderr(&login));
    let kept = data.path().join("captured.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600,
        "a token is kept for its owner only"
    );
    let me = send("auth/me-with-token").await;
    assert!(me.status.success(), "{}{}", stdout(&me), stderr(&me));
    assert_contains!(stdout(&me), "\"username\": \"alice\"");
    assert_contains!(stdout(&me), "Authorization: Bearer eyJ");
    let forbidden = send("auth/admin-as-alice").await;
    assert!(
        forbidden.status.success(),
        "403 is what this preset expects"
    );
}
