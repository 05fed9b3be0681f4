//! `reqlab replay <id>`: send a recorded request again and compare the two traces.
//!
//! The trace keeps the request's method, target, headers and body (up to 4 KiB), but never a
//! credential: those values were replaced when it was recorded. Replay says which, sends the
//! rest as recorded (with what `--header` and `--body` supply), waits for the new trace, and
//! prints `reqlab trace diff` of the old and the new.

use super::trace::{connect, fetch_trace};
use crate::cli::{ReplayArgs, ReplayFormat};
use crate::lab::trace::Trace;
use crate::lab::trace::secrets::REDACTED;
use crate::term::{self, paint};
use crate::view::style;
use anyhow::{Context, bail};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long the new trace may take to appear.
const TRACE_DEADLINE: Duration = Duration::from_secs(10);
/// How long the replayed request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends the request again and prints the comparison.
pub async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let lab = connect(&args.lab)?;
    let base = lab.base.clone();
    let old = fetch_trace(&lab, &args.request_id).await?;
    let plan = plan(&old, &args)?;
    for note in &plan.notes {
        anstream::eprintln!("{} {note}", paint(style::WARN, "note:"));
    }
    let url = format!("{base}{}", old.path);
    let method = reqwest::Method::from_bytes(old.method.as_bytes())
        .with_context(|| format!("the trace's method {} cannot be sent", old.method))?;
    // A client without the lab token: the replay is the learner's request, not the tool's.
    let sender = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut request = sender.request(method, &url).timeout(REQUEST_TIMEOUT);
    for (name, value) in &plan.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = plan.body {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot send {} {url}", old.method))?;
    let status = response.status().as_u16();
    let new_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .context("the answer has no X-Request-ID, so its trace cannot be found")?;
    let new = wait_for_trace(&lab, &new_id).await?;
    let compared = crate::view::trace_diff::diff(&old, &new);
    let mut out = crate::term::stdout();
    match args.format {
        ReplayFormat::Text => {
            anstream::eprintln!(
                "{} {} {} again as {new_id}: {} → {status}",
                paint(style::DIM, "[replay]"),
                old.method,
                old.path,
                old.status
            );
            term::write_lines(
                &mut out,
                &crate::view::trace_diff::lines(&old, &new, &compared),
            )?;
        }
        ReplayFormat::Json => {
            let doc = serde_json::json!({
                "replayed": args.request_id,
                "request_id": new_id,
                "status": status,
                "left_out": plan.left_out,
                "diff": compared,
            });
            writeln!(out, "{doc}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// What will be sent, and what the learner should know about it.
#[derive(Debug, PartialEq)]
struct Plan {
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    notes: Vec<String>,
    /// What the trace did not keep and was not supplied.
    left_out: Vec<String>,
}

/// The request to send: the recorded headers (a redacted one only when `--header` supplies
/// it; `X-Request-ID` never, so the new request gets its own id) and body.
fn plan(old: &Trace, args: &ReplayArgs) -> anyhow::Result<Plan> {
    let Some(copy) = &old.request else {
        bail!(
            "the trace of {} has no copy of its request (it was recorded by an older lab); send it again with reqlab send or curl",
            old.request_id
        );
    };
    let supplied = |name: &str| {
        args.header
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let mut headers = Vec::new();
    let mut left_out = Vec::new();
    for (name, value) in &copy.headers {
        if name.eq_ignore_ascii_case("x-request-id") || supplied(name) {
            continue;
        }
        if value == REDACTED {
            left_out.push(name.to_ascii_lowercase());
            continue;
        }
        headers.push((name.clone(), value.clone()));
    }
    headers.extend(args.header.iter().cloned());
    let mut notes = Vec::new();
    if !left_out.is_empty() {
        notes.push(format!(
            "the trace did not keep {} (credentials never are): sent without, so expect a 401 where one is needed; pass it with --header '{}: …'",
            left_out.join(", "),
            title_case(&left_out[0])
        ));
    }
    if old.path.contains("=…") {
        notes.push(
            "a credential in the query string was not kept (it shows as …): the path is sent as the trace shows it".into(),
        );
    }
    let body = match (&args.body, &copy.body, &copy.body_base64, copy.body_size) {
        (Some(text), ..) => Some(text.clone().into_bytes()),
        (None, Some(text), ..) => {
            let fields: Vec<&str> = copy
                .redacted
                .iter()
                .filter_map(|r| r.strip_prefix("body field "))
                .collect();
            if !fields.is_empty() {
                bail!(
                    "the body's {} {} not kept (credentials never are): give the whole body with --body '…'",
                    fields.join(", "),
                    if fields.len() == 1 { "was" } else { "were" }
                );
            }
            Some(text.clone().into_bytes())
        }
        (None, None, Some(encoded), _) => {
            use base64::Engine;
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .context("the trace's body is not valid base64")?,
            )
        }
        (None, None, None, _) if copy.redacted.iter().any(|r| r.starts_with("body (")) => bail!(
            "the body could not be read as its Content-Type says, so it was not checked for credentials and not kept: give it with --body '…'"
        ),
        (None, None, None, _) if copy.body_unread => bail!(
            "the request had a body{}, but the lab answered before reading it, so the trace has none: give it with --body '…'",
            copy.body_size
                .map_or(String::new(), |n| format!(" of {n} bytes"))
        ),
        (None, None, None, Some(size)) if size > 0 => bail!(
            "the body ({size} bytes) was over the 4 KiB a trace keeps: give it with --body '…'"
        ),
        _ => None,
    };
    Ok(Plan {
        headers,
        body,
        notes,
        left_out,
    })
}

/// `authorization` → `Authorization`, `x-api-key` → `X-Api-Key`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_uppercase().collect::<String>() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The new request's trace, once the lab has stored it.
async fn wait_for_trace(lab: &super::trace::LabClient, id: &str) -> anyhow::Result<Trace> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match fetch_trace(lab, id).await {
            Ok(trace) => return Ok(trace),
            Err(e) if start.elapsed() > TRACE_DEADLINE => {
                return Err(e.context(format!(
                    "the replayed request {id} left no trace within {TRACE_DEADLINE:?} (is tracing off?)"
                )));
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::trace::RequestCopy;
    use clap::Parser;

    fn trace(copy: RequestCopy) -> Trace {
        serde_json::from_value(serde_json::json!({
            "request_id": "a", "started_at": "2026-01-01T00:00:00Z", "method": "POST",
            "path": "/login", "status": 200, "duration_us": 1, "events": [],
            "request": copy,
        }))
        .unwrap()
    }

    fn args(extra: &[&str]) -> ReplayArgs {
        let cli = crate::cli::Cli::parse_from(["reqlab", "replay", "a"].iter().chain(extra));
        match cli.command {
            Some(crate::cli::Command::Replay(args)) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn redacted_headers_are_left_out_unless_supplied_and_the_id_is_never_reused() {
        let old = trace(RequestCopy {
            headers: vec![
                ("accept".into(), "*/*".into()),
                ("authorization".into(), REDACTED.into()),
                ("x-request-id".into(), "mine".into()),
            ],
            body: None,
            body_base64: None,
            body_size: None,
            body_unread: false,
            redacted: vec!["header authorization".into()],
        });
        let p = plan(&old, &args(&[])).unwrap();
        assert_eq!(p.headers, [("accept".to_string(), "*/*".to_string())]);
        assert_eq!(p.left_out, ["authorization"]);
        assert!(
            p.notes[0].contains("--header 'Authorization: …'"),
            "{:?}",
            p.notes
        );
        let p = plan(&old, &args(&["--header", "Authorization: Bearer x"])).unwrap();
        assert!(
            p.headers
                .contains(&("Authorization".into(), "Bearer x".into()))
        );
        assert!(p.left_out.is_empty() && p.notes.is_empty());
    }

    #[test]
    fn a_body_with_a_redacted_field_needs_body_and_a_large_one_too() {
        let mut copy = RequestCopy {
            headers: vec![],
            body: Some(format!(
                "{{\"username\":\"alice\",\"password\":\"{REDACTED}\"}}"
            )),
            body_base64: None,
            body_size: Some(40),
            body_unread: false,
            redacted: vec!["body field password".into()],
        };
        let err = plan(&trace(copy.clone()), &args(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("password was not kept") && err.contains("--body"),
            "{err}"
        );
        let p = plan(&trace(copy.clone()), &args(&["--body", "{}"])).unwrap();
        assert_eq!(p.body.as_deref(), Some(&b"{}"[..]));
        copy.body = None;
        copy.redacted.clear();
        copy.body_size = Some(9000);
        let err = plan(&trace(copy.clone()), &args(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("9000 bytes"), "{err}");
        copy.body_unread = true;
        copy.body_size = Some(12);
        let err = plan(&trace(copy), &args(&[])).unwrap_err().to_string();
        assert!(err.contains("answered before reading it"), "{err}");
    }

    #[test]
    fn header_arguments_are_checked() {
        assert!(
            crate::cli::Cli::try_parse_from(["reqlab", "replay", "a", "--header", "nocolon"])
                .is_err()
        );
        assert_eq!(title_case("x-api-key"), "X-Api-Key");
    }
}
