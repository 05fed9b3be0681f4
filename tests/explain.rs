//! `reqlab explain`: statuses, headers and stages explained from the command line, and
//! `reqlab dev check` holding explain.toml to the headers the lab really sends.

use crate::util::reqlab;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    reqlab(data.path()).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn a_status_says_what_it_means_who_decides_it_and_where_to_read() {
    let out = run(&["explain", "412"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn a_header_in_json_names_who_sets_it_and_the_section() {
    for name in ["etag", "ETag", "ETAG:"] {
        let out = run(&["explain", name, "--format", "json"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["kind"], "header");
        assert_eq!(v["subject"], "etag");
        assert_eq!(v["title"], "ETag");
        assert_eq!(v["set_by"], "handler");
        assert_eq!(v["reference"], "RFC 9110 §8.8.3");
        assert_eq!(v["teaches"], "rest-resources#conditional");
        assert_eq!(v["read"], "reqlab learn rest-resources#conditional");
    }
}

#[test]
fn a_stage_and_a_request_header_are_explained_too() {
    let out = run(&["explain", "validation"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_contains!(text, "The validation stage");
    assert_contains!(text, "read:       reqlab learn validation#trust-boundary");
    let out = run(&["explain", "if-none-match"]);
    assert_contains!(stdout(&out), "sent by:    the client, on the request");
    let out = run(&["explain", "date"]);
    assert_contains!(stdout(&out), "set by:     the HTTP server itself (hyper)");
}

#[test]
fn the_section_it_points_at_opens_with_learn() {
    let out = run(&["explain", "412", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let section = v["teaches"].as_str().unwrap();
    let learn = run(&["learn", section, "--no-pager"]);
    assert!(learn.status.success(), "{}", stderr(&learn));
    assert_contains!(stdout(&learn), "Conditional requests");
}

#[test]
fn an_unknown_thing_is_exit_2_with_what_was_meant() {
    let out = run(&["explain", "etga"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: reqlab cannot explain `etga`; did you mean `etag`?\n"
    );
    let out = run(&["explain", "x-nothing-like-it"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "these headers: accept,");
    let out = run(&["explain", "999"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "999 is not a status code");
}

#[test]
fn completions_offer_header_names_and_stages() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success());
    let script = stdout(&out);
    for id in ["x-request-id", "idempotency-key", "observability"] {
        assert_contains!(script, id);
    }
}

#[test]
fn dev_check_names_a_header_the_lab_sends_that_nothing_explains() {
    let lessons = crate::util::copy_of_lessons();
    let file = lessons.path().join("explain.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let start = text.find("[[headers]]\nname = \"Date\"").unwrap();
    let end = start + 1 + text[start + 1..].find("[[headers]]").unwrap();
    std::fs::write(&file, format!("{}{}", &text[..start], &text[end..])).unwrap();

    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["dev", "check", "--lessons"])
        .arg(lessons.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_contains!(
        stdout(&out),
        "fail explain.toml does not explain the header `date`, which the lab sends (answering http-basics/echo-get)"
    );
}
