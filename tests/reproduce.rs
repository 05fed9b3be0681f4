//! Reproductions reproduce: each failing check's printed `sh` lines, run in order against a
//! *fresh* instance of the same fixture server, give the same verdict the check saw.

use crate::fixture_apps::start_app;
use crate::util::reqlab;
use reqlab::check::assert::text_of;
use serde_json::Value;
use std::collections::HashMap;

/// What the replay of a reproduction printed: the last response, and the shell variables
/// its earlier commands filled.
struct Replay {
    status: u16,
    body: Option<Value>,
    vars: HashMap<String, String>,
    output: String,
}

/// Runs `lines` with `sh` (after pointing them at `fresh`) and reads the last response.
fn replay(lines: &[String], original: &str, fresh: &str) -> Replay {
    let mut script = lines.join("\n").replace(original, fresh);
    let names: Vec<String> = lines
        .iter()
        .filter_map(|l| l.split_once("=$(").map(|(name, _)| name.to_string()))
        .filter(|n| n != "response")
        .collect();
    // The last body may not end its line.
    script.push_str("\necho");
    for name in &names {
        script.push_str(&format!("\nprintf 'reqlab-var {name}=%s\\n' \"${name}\""));
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "`{script}` failed:\n{output}");
    let lines: Vec<&str> = output.lines().collect();
    let last = lines
        .iter()
        .rposition(|l| l.starts_with("HTTP/"))
        .unwrap_or_else(|| panic!("no response in:\n{output}\nfrom:\n{script}"));
    let status = lines[last]
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let rest = &lines[last..];
    let blank = rest
        .iter()
        .position(|l| l.trim().is_empty())
        .unwrap_or(rest.len());
    let body_text: Vec<&str> = rest[blank..]
        .iter()
        .copied()
        .filter(|l| !l.starts_with("reqlab-var "))
        .collect();
    let vars = lines
        .iter()
        .filter_map(|l| l.strip_prefix("reqlab-var "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Replay {
        status,
        body: serde_json::from_str(body_text.join("\n").trim()).ok(),
        vars,
        output,
    }
}

/// The `before` and `request` lines printed under the failed check named `check`, and the
/// status its response had.
fn printed_reproduction(text: &str, check: &str) -> Option<(Vec<String>, u16)> {
    let mut lines = text
        .lines()
        .skip_while(|l| !(l.contains('✗') && l.contains(check)));
    lines.next()?;
    let mut script = Vec::new();
    let mut status = None;
    for line in lines.take_while(|l| !l.starts_with("  ✓") && !l.starts_with("  ✗")) {
        let line = line.trim_start();
        if let Some(cmd) = line
            .strip_prefix("before    ")
            .or_else(|| line.strip_prefix("request   "))
        {
            script.push(cmd.to_string());
        }
        if let Some(rest) = line.strip_prefix("response  ") {
            status = rest.split_whitespace().next()?.parse().ok();
        }
    }
    Some((script, status?))
}

/// How a replay shows the same verdict beyond its status.
type SameVerdict = fn(&Replay) -> bool;

fn any(_: &Replay) -> bool {
    true
}

#[test]
fn each_failures_reproduction_gives_the_same_verdict_on_a_fresh_server() {
    let cases: [(&str, &str, &str, SameVerdict); 6] = [
        // Depends on an earlier sign-up in the same check (a state, not a value).
        (
            "validation",
            "broken_duplicate_case_sensitive",
            "duplicate email in any case returns 409",
            any,
        ),
        // Depends on the task an earlier check created (its id).
        (
            "rest-crud",
            "broken_patch_not_persisted",
            "PATCH persists",
            |r| r.body.as_ref().is_some_and(|b| b["done"] == false),
        ),
        (
            "rest-crud",
            "broken_delete_keeps_task",
            "DELETE then GET returns 404",
            any,
        ),
        // The new key's job is the old job: the id an earlier check captured.
        (
            "background-jobs",
            "broken_keyed_by_tenant",
            "new idempotency key returns a new job_id",
            |r| {
                r.body
                    .as_ref()
                    .is_some_and(|b| Some(&text_of(&b["job_id"])) == r.vars.get("job_id"))
            },
        ),
        // The ETag an earlier check captured comes back through a shell variable.
        (
            "etag",
            "broken_if_none_match_ignored",
            "If-None-Match returns 304",
            any,
        ),
        // Three posts an earlier check created, listed in the wrong order.
        (
            "timestamps",
            "broken_sort_ignored",
            "posts ordered as asked",
            |r| {
                let listed: Option<Vec<String>> = r
                    .body
                    .as_ref()
                    .and_then(Value::as_array)
                    .map(|items| items.iter().map(|i| text_of(&i["id"])).collect());
                let newest_first: Option<Vec<String>> = ["third", "second", "first"]
                    .iter()
                    .map(|n| r.vars.get(*n).cloned())
                    .collect();
                listed.is_some() && listed == newest_first
            },
        ),
    ];
    for (challenge, module, check, same) in cases {
        let (app, url) = start_app(challenge, module);
        let data = tempfile::tempdir().unwrap();
        let out = reqlab(data.path())
            .args(["check", challenge, "--target", &url])
            .output()
            .unwrap();
        drop(app);
        assert_eq!(out.status.code(), Some(1), "{challenge}/{module} fails");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (lines, seen) = printed_reproduction(&text, check).unwrap_or_else(|| {
            panic!("{challenge}/{module}: no reproduction for `{check}`:\n{text}")
        });
        let (_fresh, fresh_url) = start_app(challenge, module);
        let r = replay(&lines, &url, &fresh_url);
        assert_eq!(
            r.status,
            seen,
            "{challenge}/{module} `{check}`: the check saw {seen}; the reproduction gave:\n{}\n{}",
            r.output,
            lines.join("\n")
        );
        assert!(
            same(&r),
            "{challenge}/{module} `{check}`: the reproduction does not show the same verdict:\n{}\n{}",
            r.output,
            lines.join("\n")
        );
    }
}
