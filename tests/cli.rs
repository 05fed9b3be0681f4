//! The `reqlab` binary as a user runs it: listings, lessons, traces, errors and exit codes.

use crate::util::{repo, reqlab};
use reqlab::lab::{LabConfig, start};
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
fn lessons_table() {
    let out = run(&["lessons"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn lessons_json_lists_ids_titles_stages_and_challenges() {
    let out = run(&["lessons", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &v["lessons"][0];
    assert_eq!(first["id"], "http-basics");
    assert_eq!(first["challenge"], "http-basics");
    assert!(first["stages"].as_array().unwrap().contains(&"http".into()));
    insta::assert_json_snapshot!(v["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| serde_json::json!({"id": l["id"], "stages": l["stages"], "challenge": l["challenge"]}))
        .collect::<Vec<_>>());
}

#[test]
fn learn_renders_the_first_lesson_for_an_80_column_terminal() {
    let out = run(&["learn", "http-basics", "--width", "80"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "no color codes under NO_COLOR");
    for line in text.lines() {
        let in_code = line.trim_start().starts_with('│') || line.contains("curl ");
        assert!(
            in_code || line.chars().count() <= 80,
            "line wider than 80 columns: {line:?}"
        );
    }
    insta::assert_snapshot!(text);
}

#[test]
fn learn_by_number_matches_learn_by_id() {
    assert_eq!(
        run(&["learn", "1", "--width", "60"]).stdout,
        run(&["learn", "http-basics", "--width", "60"]).stdout
    );
}

#[test]
fn colors_are_used_only_when_asked_or_on_a_terminal() {
    let data = tempfile::tempdir().unwrap();
    let forced = reqlab(data.path())
        .env_remove("NO_COLOR")
        .args(["--color", "always", "lessons"])
        .output()
        .unwrap();
    assert!(stdout(&forced).contains('\x1b'));
    let piped = reqlab(data.path())
        .env_remove("NO_COLOR")
        .args(["lessons"])
        .output()
        .unwrap();
    assert!(
        !stdout(&piped).contains('\x1b'),
        "not a terminal: no colors"
    );
}

#[test]
fn an_unknown_lesson_is_a_clear_error_with_exit_2() {
    let out = run(&["learn", "dns"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn a_mistyped_lesson_suggests_the_one_meant() {
    let out = run(&["learn", "valdation"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(
        stderr(&out),
        "there is no lesson `valdation`; did you mean `validation`?"
    );
}

#[test]
fn conflicting_flags_are_usage_errors() {
    let out = run(&["serve", "--memory", "--db", "x.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "cannot be used with");
}

#[test]
fn malformed_lessons_from_disk_are_reported_with_file_and_line() {
    let dir = repo().join("fixtures/lessons/malformed");
    let out = run(&["lessons", "--lessons", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert_contains!(text, "01-broken-toml/lesson.toml:3:");
    assert_contains!(text, "03-mismatched/lesson.md:7:1:");
}

#[test]
fn dev_check_passes_on_the_built_in_course_and_every_preset_trace_is_valid_otlp() {
    let traces = tempfile::tempdir().unwrap();
    let out = run(&[
        "dev",
        "check",
        "--otlp-dir",
        traces.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("every preset got its expected status"));
    // Every preset's trace, held to the OTLP protobuf schema in one run of the validator.
    let course = reqlab::course::Course::load(&reqlab::course::ContentSource::Embedded).unwrap();
    let presets: usize = course.lessons.iter().map(|l| l.presets.len()).sum();
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(traces.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), presets, "one export per preset");
    let valid = crate::trace_otlp::validate_files(&files);
    assert_eq!(valid, presets);
}

#[test]
fn trace_without_a_lab_says_how_to_start_one() {
    let out = run(&["trace", "--url", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "nothing is listening at http://127.0.0.1:9");
    assert!(stderr(&out).contains("reqlab serve"));
}

#[tokio::test]
async fn trace_prints_readable_blocks() {
    let lab = start(LabConfig::ephemeral()).await.unwrap();
    let base = lab.url();
    let client = reqwest::Client::new();
    client
        .post(format!("{base}/tasks"))
        .header("x-request-id", "snap-create")
        .json(&serde_json::json!({"title": "Snapshot me", "done": false}))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/users"))
        .header("x-request-id", "snap-invalid")
        .json(&serde_json::json!({"email": "nope", "name": ""}))
        .send()
        .await
        .unwrap();
    let base2 = base.clone();
    let data = tempfile::tempdir().unwrap();
    // Wide enough that no line wraps, so the snapshot does not depend on timing digits.
    let out = tokio::task::spawn_blocking(move || {
        reqlab(data.path())
            .env("COLUMNS", "400")
            .args(["trace", "--url", &base2])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::with_settings!({filters => vec![
        (r" *\+\d+\.\d{3} ms", "   +[T]"),
        (r"\d+\.\d{3} ms", "[T]"),
        (r"\d{2}:\d{2}:\d{2} UTC", "[TIME] UTC"),
        (r"'\d{4}-\d{2}-\d{2}T[0-9:.]+Z'", "'[TIMESTAMP]'"),
    ]}, {
        insta::assert_snapshot!(stdout(&out));
    });
    lab.stop().await.unwrap();
}

#[test]
fn a_reader_that_stops_early_never_makes_a_command_panic() {
    let data = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 9] = [
        &["completions", "fish"],
        &["completions", "bash"],
        &["lessons"],
        &["lessons", "--format", "json"],
        &["learn", "5"],
        &["check", "--list"],
        &["progress"],
        &["dev", "check"],
        &["explain", "etag"],
    ];
    for args in commands {
        let mut child = reqlab(data.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before reading anything, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.to_lowercase().contains("broken pipe"),
            "reqlab {}: {err}",
            args.join(" ")
        );
        assert_ne!(out.status.code(), Some(101), "reqlab {}", args.join(" "));
    }
}

#[test]
fn completions_offer_lesson_preset_and_challenge_ids() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success());
    let script = stdout(&out);
    for id in [
        "validation/bad-email",
        "http-basics#",
        "cursor-pagination",
        "rest-crud",
    ] {
        assert_contains!(script, id);
    }
    // Offered, not imposed: the command itself explains an unknown id.
    let help = run(&["learn", "--help"]);
    assert!(
        !stdout(&help).contains("possible values"),
        "{}",
        stdout(&help)
    );
}

#[test]
fn without_a_terminal_reqlab_alone_prints_its_usage_and_exits_2() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert_contains!(err, "only on a terminal");
    assert_contains!(err, "Usage: reqlab");
}

#[test]
fn guide_flags_belong_to_the_guide_not_to_a_command() {
    let o = run(&["--port", "4000", "lessons"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains!(stderr(&o), "--port");
}
