//! `reqlab check` and `reqlab progress` as a learner runs them.

use crate::fixture_apps::{fixture_python, start_app};
use crate::util::{ChildGuard, Lines, free_port, repo, reqlab};
use std::process::{Output, Stdio};
use std::time::Duration;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command line that starts a fixture app with uvicorn on `port`.
fn uvicorn(challenge: &str, module: &str, port: u16) -> String {
    format!(
        "{} -m uvicorn {module}:app --app-dir {} --host 127.0.0.1 --port {port}",
        fixture_python(),
        repo()
            .join("fixtures/learner-apps")
            .join(challenge)
            .display()
    )
}

fn port_is_closed(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn the_lab_passes_every_challenge_whose_lesson_exists() {
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "--all", "--target", "lab"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let course = reqlab::course::Course::load(&reqlab::course::ContentSource::Embedded).unwrap();
    for id in course.lessons.iter().filter_map(|l| l.challenge.as_deref()) {
        assert!(
            text.contains(&format!("passed  {id}")),
            "{id} missing:\n{text}"
        );
    }
    assert_contains!(text, " 0 failed");
    assert!(
        !stderr(&out).contains("not running"),
        "every challenge has a lesson, so the lab runs them all:\n{}",
        stderr(&out)
    );
    // Passing against the lab shows what passing looks like; it is not the learner's pass.
    let progress = reqlab(data.path()).args(["progress"]).output().unwrap();
    assert_contains!(stdout(&progress), "0 of 18 challenges passed");
}

#[test]
fn junit_output_is_well_formed_with_one_suite_per_challenge() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("report.xml");
    let out = reqlab(data.path())
        .args([
            "check", "--all", "--target", "lab", "--format", "junit", "--output",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let xml = std::fs::read_to_string(&file).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases, mut depth) = (0, 0, 0i32);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) => {
                depth += 1;
                match e.name().as_ref() {
                    "testsuite" => suites += 1,
                    "testcase" => cases += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element closes");
    let course = reqlab::course::Course::load(&reqlab::course::ContentSource::Embedded).unwrap();
    let served = course
        .lessons
        .iter()
        .filter(|l| l.challenge.is_some())
        .count();
    assert_eq!(suites, served, "one suite per challenge the lab serves");
    assert!(cases >= 20, "{cases}");
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"reqlab\"")
    );
}

#[test]
fn junit_records_failures_with_their_evidence() {
    let (_app, url) = start_app("rest-crud", "broken_patch_not_persisted");
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "rest-crud", "--target", &url, "--format", "junit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let xml = stdout(&out);
    assert_contains!(xml, r#"failures="1""#);
    assert_contains!(
        xml,
        r#"<failure message="expected `done` = true" type="data">"#
    );
    assert_contains!(xml, "curl -i");
    assert!(!xml.contains('\x1b'), "no color codes in XML");
}

#[test]
fn json_and_tap_formats() {
    let (_app, url) = start_app("http-basics", "broken_405_without_allow");
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "http-basics", "--target", &url, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["tally"]["failed"], 1);
    let failed = &v["challenges"][0]["checks"][1];
    assert_eq!(failed["status"], "fail");
    assert_eq!(failed["stage"], "routing");
    assert_eq!(failed["expected"], "Allow listing GET");
    assert!(
        failed["request"]["curl"]
            .as_str()
            .unwrap()
            .starts_with("curl -i -X DELETE")
    );

    let out = reqlab(data.path())
        .args(["check", "http-basics", "--target", &url, "--format", "tap"])
        .output()
        .unwrap();
    let tap = stdout(&out);
    assert!(tap.starts_with("TAP version 14\n1..4\n"), "{tap}");
    assert_contains!(
        tap,
        "not ok 2 - [routing] http-basics: DELETE /health returns 405 with Allow listing GET\n  ---\n"
    );
    assert_contains!(tap, "ok 1 - [response]");
}

#[test]
fn a_failure_prints_a_curl_command_that_reproduces_it() {
    let (_app, url) = start_app("rest-crud", "broken_create_returns_200");
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "rest-crud", "--target", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("create returns 201 with an id"))
        .unwrap();
    assert!(line.starts_with("  ✗ [logic] "), "{line}");
    assert_contains!(text, "expected  status 201");
    assert_contains!(text, "actual    status 200");
    let curl = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("request   "))
        .expect("a request line")
        .to_string();
    assert!(curl.starts_with("curl -i "), "{curl}");
    let replay = std::process::Command::new("sh")
        .arg("-c")
        .arg(&curl)
        .output()
        .unwrap();
    let replayed = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replayed.starts_with("HTTP/1.1 200 OK"),
        "replaying `{curl}` gave:\n{replayed}"
    );
}

#[test]
fn run_starts_the_server_waits_for_it_and_stops_it() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args([
            "check",
            "rest-crud",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--run",
        ])
        .arg(uvicorn("rest-crud", "good", port))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert_contains!(err, "[check] started your server");
    assert!(
        err.contains("[your server] INFO:"),
        "the server's output is shown, prefixed:\n{err}"
    );
    assert!(port_is_closed(port), "the server was stopped");
    assert_contains!(err, "progress recorded: rest-crud passed");
    let progress = reqlab(data.path()).args(["progress"]).output().unwrap();
    assert_contains!(stdout(&progress), "✓ rest-crud");
    assert_contains!(stdout(&progress), "1 of 18 challenges passed");
}

#[test]
fn run_says_when_the_server_exits_early() {
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args([
            "check",
            "rest-crud",
            "--target",
            &format!("http://127.0.0.1:{}", free_port()),
        ])
        .args(["--run", "echo starting; echo oops >&2; exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_contains!(err, "[your server] oops");
    assert_contains!(
        err,
        "your server exited (exit status: 3) before it listened on 127.0.0.1:"
    );
}

#[test]
fn usage_mistakes_exit_2() {
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "rest-crdu"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("there is no challenge `rest-crdu`; challenges are: http-basics, rest-crud"),
        "{}",
        stderr(&out)
    );
    // A target without a scheme is taken as http:// (see the next test); another scheme is
    // a mistake.
    let out = reqlab(data.path())
        .args(["check", "rest-crud", "--target", "ftp://localhost:8000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "must be an http:// or https:// URL");
    let out = reqlab(data.path()).args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = reqlab(data.path())
        .args(["check", "rest-crud", "--timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "between 0.1 and 600 seconds");
}

#[test]
fn a_challenge_the_lab_does_not_serve_is_a_usage_error_against_the_lab() {
    let data = tempfile::tempdir().unwrap();
    // A challenge written ahead of its lesson, as an author adds one.
    let lessons = crate::util::copy_of_lessons();
    let ahead = lessons.path().join("challenges");
    std::fs::create_dir_all(&ahead).unwrap();
    std::fs::write(
        ahead.join("written-ahead.toml"),
        "format_version = 1\nid = \"written-ahead\"\ntitle = \"Ahead of its lesson\"\nsummary = \"GET /health answers.\"\n\n[[checks]]\nname = \"health answers\"\nstage = \"http\"\nhint = \"Answer GET /health.\"\n\n[[checks.steps]]\nmethod = \"GET\"\npath = \"/health\"\nexpect = [{ status = [200] }]\n",
    )
    .unwrap();
    let out = reqlab(data.path())
        .args(["check", "written-ahead", "--target", "lab", "--lessons"])
        .arg(lessons.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_contains!(stderr(&out), "the lab does not serve `written-ahead` yet");
    let list = reqlab(data.path())
        .args(["check", "--list", "--lessons"])
        .arg(lessons.path())
        .output()
        .unwrap();
    let text = stdout(&list);
    assert!(
        text.contains("written-ahead") && text.contains("no lesson yet"),
        "{text}"
    );
    assert_contains!(text, "lesson rest-resources");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_a_port_that_is_already_taken() {
    let lab = reqlab::lab::start(reqlab::lab::LabConfig::ephemeral())
        .await
        .unwrap();
    let url = lab.url();
    let data = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        reqlab(data.path())
            .args([
                "check",
                "http-basics",
                "--target",
                &url,
                "--run",
                "sleep 30",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "something is already listening on 127.0.0.1:");
    assert!(
        !stderr(&out).contains("started your server"),
        "nothing was started"
    );
    lab.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_against_a_running_lab_are_not_recorded_as_the_learners() {
    let lab = reqlab::lab::start(reqlab::lab::LabConfig::ephemeral())
        .await
        .unwrap();
    let url = lab.url();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        reqlab(&dir)
            .args(["check", "http-basics", "--target", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains!(stderr(&out), "is a reqlab lab server");
    let progress = reqlab(data.path()).args(["progress"]).output().unwrap();
    assert_contains!(stdout(&progress), "0 of 18");
    lab.stop().await.unwrap();
}

#[test]
fn progress_reset_asks_first_and_a_broken_store_is_moved_aside() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("progress.db"), b"not a database").unwrap();
    let out = reqlab(data.path()).args(["progress"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains!(stderr(&out), "could not be read; it was moved to");
    let aside: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("progress.db.unreadable-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), b"not a database");

    let out = reqlab(data.path())
        .args(["progress", "reset"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no terminal to confirm on");
    assert_contains!(stderr(&out), "pass --yes");
    let out = reqlab(data.path())
        .args(["progress", "reset", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn watch_reruns_when_a_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("main.py");
    let fixtures = repo().join("fixtures/learner-apps/rest-crud");
    std::fs::copy(fixtures.join("broken_create_returns_200.py"), &app).unwrap();
    let port = free_port();
    let command = format!(
        "{} -m uvicorn main:app --app-dir {} --host 127.0.0.1 --port {port}",
        fixture_python(),
        dir.path().display()
    );
    let data = tempfile::tempdir().unwrap();
    let mut child = reqlab(data.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "check",
            "rest-crud",
            "--target",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(["--run", &command, "--watch"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Lines::new(child.stdout.take().unwrap());
    let mut err = Lines::new(child.stderr.take().unwrap());
    let guard = ChildGuard(child);
    let deadline = Duration::from_secs(60);
    let first = out.wait_for(" failed, ", deadline);
    assert!(
        first.starts_with("4 passed, 1 failed, 1 warning"),
        "{first}"
    );
    err.wait_for("watching", deadline);

    // The learner fixes the bug and saves.
    std::fs::copy(fixtures.join("good.py"), &app).unwrap();
    err.wait_for("changed — running again", deadline);
    let second = out.wait_for(" failed, ", deadline);
    assert!(second.starts_with("6 passed, 0 failed"), "{second}");
    err.wait_for("watching", deadline);
    drop(guard);
    assert!(port_is_closed(port), "no server is left running");
}

/// The command line that starts a fixture app with uvicorn on `port` without naming the port
/// (uvicorn reads it from its environment), so only its "running on" line says where.
fn uvicorn_unnamed_port(challenge: &str, module: &str, port: u16) -> String {
    format!(
        "UVICORN_PORT={port} {} -m uvicorn {module}:app --app-dir {} --host 127.0.0.1",
        fixture_python(),
        repo()
            .join("fixtures/learner-apps")
            .join(challenge)
            .display()
    )
}

#[test]
fn a_crash_shows_the_exception_and_the_learners_own_frame() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let command = uvicorn("validation", "broken_duplicate_crashes_500", port);
    let out = reqlab(data.path())
        .args(["check", "validation", "--run", &command])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert_contains!(
        text,
        "crashed   sqlite3.IntegrityError: UNIQUE constraint failed: users.email"
    );
    assert_contains!(text, "broken_duplicate_crashes_500.py\", line ");
    assert_contains!(text, ", in create_user");
    assert_contains!(text, "change    answer 409 Conflict");
    assert!(port_is_closed(port), "the server was stopped");

    let out = reqlab(data.path())
        .args(["check", "validation", "--format", "json", "--run", &command])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let crashed = v["challenges"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "duplicate email in any case returns 409")
        .unwrap();
    assert_eq!(
        crashed["server_output"]["exception"],
        "sqlite3.IntegrityError: UNIQUE constraint failed: users.email"
    );
    assert!(
        crashed["server_output"]["own_frame"][0]
            .as_str()
            .unwrap()
            .contains("broken_duplicate_crashes_500.py"),
        "{crashed:#}"
    );
}

#[test]
fn run_without_target_checks_the_port_the_command_names() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "http-basics", "--run"])
        .arg(uvicorn("http-basics", "good", port))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_contains!(stdout(&out), &format!("target http://127.0.0.1:{port}"));
    assert!(port_is_closed(port));
}

#[test]
fn run_without_target_or_port_checks_where_the_server_says_it_listens() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "http-basics", "--run"])
        .arg(uvicorn_unnamed_port("http-basics", "good", port))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_contains!(stdout(&out), &format!("target http://127.0.0.1:{port}"));
    assert!(port_is_closed(port));
}

#[test]
fn a_server_listening_elsewhere_than_target_is_a_configuration_error() {
    let (target, listens) = (free_port(), free_port());
    let data = tempfile::tempdir().unwrap();
    // The command names the port: caught before anything starts.
    let out = reqlab(data.path())
        .args(["check", "http-basics"])
        .args(["--target", &format!("http://127.0.0.1:{target}"), "--run"])
        .arg(uvicorn("http-basics", "good", listens))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(
        stderr(&out),
        &format!("your server listens on {listens} (says --run) but --target says {target}")
    );
    assert!(!stderr(&out).contains("started your server"));
    // The server says so itself: caught as soon as it does, not after a long wait.
    let start = std::time::Instant::now();
    let out = reqlab(data.path())
        .args(["check", "http-basics"])
        .args(["--target", &format!("http://127.0.0.1:{target}"), "--run"])
        .arg(uvicorn_unnamed_port("http-basics", "good", listens))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_contains!(
        stderr(&out),
        &format!("your server listens on 127.0.0.1:{listens} but --target says 127.0.0.1:{target}")
    );
    assert!(start.elapsed() < Duration::from_secs(25), "named at once");
    assert!(port_is_closed(listens), "the server was stopped");
}

#[test]
fn nothing_listening_is_one_failure_and_the_rest_not_run() {
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}");
    let course = reqlab::course::Course::load(&reqlab::course::ContentSource::Embedded).unwrap();
    let total: usize = course.challenges.iter().map(|c| c.checks.len()).sum();
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "--all", "--target", &target])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the server is not there: exit 1"
    );
    let text = stdout(&out);
    assert_contains!(
        text,
        &format!("0 passed, 1 failed, 0 warnings, {} not run", total - 1)
    );
    assert_eq!(text.matches('✗').count(), 1, "one ✗:\n{text}");
    assert_eq!(
        text.matches(&format!("nothing is listening on 127.0.0.1:{port}"))
            .count(),
        1,
        "said once:\n{text}"
    );

    let out = reqlab(data.path())
        .args(["check", "--all", "--target", &target, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tally"]["failed"], 1);
    assert_eq!(v["tally"]["not_run"], total - 1);
    let out = reqlab(data.path())
        .args(["check", "--all", "--target", &target, "--format", "tap"])
        .output()
        .unwrap();
    let tap = stdout(&out);
    assert_eq!(tap.matches("\nnot ok ").count(), 1, "{tap}");
    assert_eq!(tap.matches("# SKIP not run").count(), total - 1, "{tap}");
    let out = reqlab(data.path())
        .args(["check", "--all", "--target", &target, "--format", "junit"])
        .output()
        .unwrap();
    let xml = stdout(&out);
    assert_contains!(xml, &format!(r#"tests="{total}" failures="1""#));
}

#[test]
fn a_wrong_status_says_what_to_answer_and_a_pattern_says_what_it_wants_in_words() {
    let (_app, url) = start_app("rest-crud", "broken_create_returns_200");
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "rest-crud", "--target", &url])
        .output()
        .unwrap();
    assert_contains!(
        stdout(&out),
        "change    answer 201 Created (a new resource was created; say where with Location); 200 OK means it worked, and the body is the result"
    );
    let (_app, url) = start_app("validation", "broken_422_without_field");
    let out = reqlab(data.path())
        .args(["check", "validation", "--target", &url])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_contains!(text, "expected  a body that names the field email");
    assert!(!text.contains(r"(?i)\bemail"), "no raw pattern:\n{text}");
}

#[test]
fn dev_check_wants_every_pattern_described_in_words() {
    let lessons = crate::util::copy_of_lessons();
    let file = lessons.path().join("08-caching/challenge.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let (before, after) = text.split_once(", describe = ").unwrap();
    let rest = after.split_once(" }]").unwrap().1;
    std::fs::write(&file, format!("{before} }}]{rest}")).unwrap();
    let data = tempfile::tempdir().unwrap();
    // The file still loads: checks run as before.
    let list = reqlab(data.path())
        .args(["check", "--list", "--lessons"])
        .arg(lessons.path())
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", stderr(&list));
    let out = reqlab(data.path())
        .args(["dev", "check", "--lessons"])
        .arg(lessons.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_contains!(said, "08-caching/challenge.toml:33:");
    assert_contains!(said, "needs `describe");
}

#[test]
fn check_without_a_challenge_points_at_list_and_list_speaks_json() {
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path()).args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_contains!(stderr(&out), "reqlab check --list");
    let out = reqlab(data.path())
        .args(["check", "--list", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let crud = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "rest-crud")
        .unwrap();
    assert_eq!(crud["lesson"], "rest-resources");
    assert_eq!(crud["checks"], 6);
}

#[test]
fn a_lesson_id_or_number_runs_its_challenge() {
    let data = tempfile::tempdir().unwrap();
    for name in ["rest-resources", "2"] {
        let out = reqlab(data.path())
            .args(["check", name, "--target", "lab"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_contains!(stdout(&out), "challenge rest-crud");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_without_a_scheme_is_http() {
    let lab = reqlab::lab::start(reqlab::lab::LabConfig::ephemeral())
        .await
        .unwrap();
    let port = lab.url().rsplit(':').next().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        reqlab(data.path())
            .args([
                "check",
                "http-basics",
                "--target",
                &format!("localhost:{port}"),
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains!(stdout(&out), "target http://localhost:");
    lab.stop().await.unwrap();
}

#[test]
fn a_400_for_a_schema_failure_is_named_a_valid_style_that_this_contract_does_not_use() {
    let (_app, url) = start_app("validation", "broken_400_for_bad_input");
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "validation", "--target", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_contains!(text, "expected  status 422");
    assert_contains!(text, "actual    status 400");
    assert_contains!(
        text,
        "change    400 is a valid style (Spring, express-validator and Go's validators answer a schema failure with 400 by default); this contract asks 422 because"
    );
    // The note replaces the bare "answer 422" advice for a 400, not for other statuses.
    assert!(!text.contains("400 Bad Request means"), "{text}");
}

#[test]
fn a_race_is_shown_with_every_status_and_reproduced_by_requests_sent_together() {
    let (_app, url) = start_app("validation", "broken_duplicate_race");
    let data = tempfile::tempdir().unwrap();
    let out = reqlab(data.path())
        .args(["check", "validation", "--target", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let check = "simultaneous sign-ups with one email: one 201, the rest 409";
    let failed = text
        .lines()
        .find(|l| l.contains(check))
        .expect("the check is listed");
    assert!(failed.starts_with("  ✗ [data] "), "{failed}");
    assert_contains!(text, "requests sent at the same moment to POST /users");
    assert_contains!(text, "let a UNIQUE index (or constraint) decide");
    // The reproduction sends them together again, and a fresh server shows the same race.
    let lines: Vec<String> = text
        .lines()
        .skip_while(|l| !l.contains(check))
        .skip(1)
        .take_while(|l| !l.starts_with("  ✓") && !l.starts_with("  ✗"))
        .filter_map(|l| l.trim_start().strip_prefix("before    "))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 7, "six requests and a wait: {lines:?}");
    assert!(lines[..6].iter().all(|l| l.ends_with(" &")), "{lines:?}");
    assert_eq!(lines[6], "wait");
    let (_fresh, fresh_url) = start_app("validation", "broken_duplicate_race");
    let script = lines.join("\n").replace(&url, &fresh_url);
    let replay = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let codes = String::from_utf8_lossy(&replay.stdout);
    assert!(
        codes.lines().filter(|l| l.trim() == "201").count() >= 2,
        "replaying `{script}` gave:\n{codes}"
    );
}

/// A progress file as reqlab wrote it before passes had versions.
fn write_unversioned_progress(data: &std::path::Path, passed: &[&str]) {
    let conn = rusqlite::Connection::open(data.join("progress.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE challenge_passes (challenge TEXT NOT NULL, target TEXT NOT NULL, passed_at TEXT NOT NULL, checks INTEGER NOT NULL, warnings INTEGER NOT NULL);
         CREATE INDEX challenge_passes_by_id ON challenge_passes (challenge, passed_at);",
    )
    .unwrap();
    for id in passed {
        conn.execute(
            "INSERT INTO challenge_passes VALUES (?1, 'http://127.0.0.1:8000', '2026-01-02T03:04:05Z', 5, 0)",
            [id],
        )
        .unwrap();
    }
}

#[test]
fn a_pass_of_an_earlier_version_is_shown_as_one_and_not_marked_passed() {
    let course = reqlab::course::Course::load(&reqlab::course::ContentSource::Embedded).unwrap();
    let version = |id: &str| course.challenge(id).unwrap().version;
    // Stricter since those passes: validation and etag; rest-crud is as it was.
    assert!(version("validation") > 1 && version("etag") > 1);
    assert_eq!(version("rest-crud"), 1);
    let data = tempfile::tempdir().unwrap();
    write_unversioned_progress(data.path(), &["validation", "etag", "rest-crud"]);

    let out = reqlab(data.path()).args(["progress"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{text}"))
            .to_string()
    };
    assert!(line("rest-crud").starts_with("  ✓ rest-crud"), "{text}");
    for id in ["validation", "etag"] {
        let l = line(id);
        assert!(l.starts_with(&format!("  ! {id}")), "{l}");
        assert_contains!(l, "passed an earlier version — run again");
    }
    assert_contains!(
        text,
        "1 of 18 challenges passed (2 passed in an earlier version)"
    );

    let out = reqlab(data.path())
        .args(["progress", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |id: &str| {
        v["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["challenge"] == id)
            .unwrap()
            .clone()
    };
    let etag = row("etag");
    assert_eq!(etag["passed"], false);
    assert_eq!(etag["standing"], "earlier-version");
    assert_eq!(etag["passed_version"], 1);
    assert_eq!(etag["version"], version("etag"));
    assert_eq!(row("rest-crud")["standing"], "passed");
    assert_eq!(row("cors")["standing"], "not-passed");

    // Neither the lesson list nor the challenge list marks the old pass as passed.
    let lessons = stdout(&reqlab(data.path()).args(["lessons"]).output().unwrap());
    let lesson_line = |id: &str| {
        lessons
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap()
            .to_string()
    };
    assert!(!lesson_line("validation").contains("passed"), "{lessons}");
    assert!(
        lesson_line("rest-resources").ends_with("✓ passed"),
        "{lessons}"
    );
    let list = stdout(
        &reqlab(data.path())
            .args(["check", "--list"])
            .output()
            .unwrap(),
    );
    let listed = |id: &str| {
        list.lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap()
            .to_string()
    };
    assert!(
        listed("validation").ends_with("passed an earlier version — run again"),
        "{list}"
    );
    assert!(!listed("validation").contains('✓'), "{list}");
    assert!(listed("rest-crud").ends_with("✓ passed"), "{list}");
    let out = reqlab(data.path())
        .args(["check", "--list", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let etag = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "etag")
        .unwrap();
    assert_eq!(etag["passed"], false);
    assert_eq!(etag["standing"], "earlier-version");

    // Passing the current version again counts.
    let (_app, url) = start_app("etag", "good");
    let out = reqlab(data.path())
        .args(["check", "etag", "--target", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&reqlab(data.path()).args(["progress"]).output().unwrap());
    assert_contains!(text, "  ✓ etag");
    assert_contains!(
        text,
        "2 of 18 challenges passed (1 passed in an earlier version)"
    );
}
