//! `reqlab send`: fire a lesson's ready-made request at the lab, show what came back and the
//! request's trace — what the lessons mean by "fire `bad-email`", from any terminal.

use crate::check::http::{Client, Exchange};
use crate::cli::{SendArgs, SendFormat};
use crate::course::{Course, Lesson};
use crate::lab::address;
use crate::lab::trace::Trace;
use crate::lab::{LabConfig, RunningLab};
use crate::term::{self, paint};
use crate::view::{self, style};
use anyhow::{Context, bail};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// How long one request (and the trace lookup after it) may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the command.
pub async fn run(course: &Course, args: SendArgs) -> anyhow::Result<ExitCode> {
    let (lesson_ref, preset_ref) = match (args.target.split_once('/'), &args.preset) {
        (Some((lesson, preset)), None) => (lesson, Some(preset)),
        (Some(_), Some(_)) => bail!(
            "give the request as `lesson/preset` or as `lesson preset`, not both ({} {})",
            args.target,
            args.preset.as_deref().unwrap_or_default()
        ),
        (None, preset) => (args.target.as_str(), preset.as_deref()),
    };
    let lesson = super::learn::find(course, lesson_ref)?;
    let Some(preset_id) = preset_ref else {
        return list(lesson);
    };
    let preset = lesson
        .presets
        .iter()
        .find(|p| p.id == preset_id)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "lesson {} has no request `{preset_id}`; it has: {} (see `reqlab send {}`)",
                lesson.id,
                lesson
                    .presets
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                lesson.id
            )
        })?;

    let data_dir = crate::paths::data_dir(args.data_dir.clone())?;
    let recorded = address::find(&data_dir);
    let mut throwaway: Option<RunningLab> = None;
    let (base, token) = match (&args.url, recorded) {
        (Some(url), _) => (url.trim_end_matches('/').to_string(), args.token.clone()),
        (None, Some(lab)) => (lab.url, args.token.clone().or(lab.token)),
        (None, None) => {
            let lab = crate::lab::start(LabConfig::ephemeral()).await?;
            let url = lab.url();
            anstream::eprintln!(
                "{} no lab is running, so this request went to a throwaway one at {url}; start one with `reqlab serve` to keep its data and traces",
                paint(style::DIM, "[send]")
            );
            throwaway = Some(lab);
            (url, None)
        }
    };
    // Values earlier presets captured (a token) fill this one's `{{name}}`s.
    let captured_file = data_dir.join(CAPTURED);
    let mut captured = read_captured(&captured_file);
    let request = match preset.render(&captured) {
        Ok(request) => request,
        Err(missing) => {
            if let Some(lab) = throwaway.take() {
                lab.stop().await?;
            }
            let from = lesson
                .presets
                .iter()
                .find(|p| p.captures.iter().any(|(n, _)| *n == missing))
                .map_or_else(
                    || "the request that captures it".to_string(),
                    |p| format!("`reqlab send {}/{}`", lesson.id, p.id),
                );
            bail!(
                "{}/{} sends {{{{{missing}}}}}, a value an earlier request captures: run {from} first, against a running lab (`reqlab serve`, or the guide)",
                lesson.id,
                preset.id
            );
        }
    };
    let result = exchange(&request, &base, token.as_deref()).await;
    if let Ok((exchange, _)) = &result
        && let Ok(response) = &exchange.response
        && !crate::check::run::keep_captures(preset, response, &mut captured).is_empty()
    {
        write_captured(&captured_file, &captured);
    }
    if let Some(lab) = throwaway {
        lab.stop().await?;
    }
    let (exchange, trace) = result?;
    let status = match &exchange.response {
        Ok(r) => r.status,
        Err(e) => bail!("{e}"),
    };
    let as_expected = status == preset.expect_status;
    let curl = request.curl(&base);
    let mut out = term::stdout();
    match args.format {
        SendFormat::Text => {
            let width = term::output_width(None);
            let lines = view::send::lines(lesson, preset, curl, &exchange, trace.as_ref(), width);
            term::write_lines(&mut out, &lines)?;
        }
        SendFormat::Json => {
            let report = view::send::json(lesson, preset, curl, &exchange, trace.as_ref());
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if as_expected {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where `send` keeps the values presets captured, in the data directory.
pub(super) const CAPTURED: &str = "captured.json";

/// The values captured so far (none when the file is missing or unreadable: they are only
/// conveniences, and the next capture writes them again).
pub(super) fn read_captured(path: &std::path::Path) -> crate::course::template::Vars {
    let mut vars = crate::course::template::Vars::default();
    if let Ok(text) = std::fs::read_to_string(path)
        && let Ok(map) = serde_json::from_str::<std::collections::BTreeMap<String, String>>(&text)
    {
        for (name, value) in map {
            vars.set(&name, &value);
        }
    }
    vars
}

/// Keeps the captured values for the next `send` (owner-only: a token is a credential).
fn write_captured(path: &std::path::Path, vars: &crate::course::template::Vars) {
    let map: std::collections::BTreeMap<&str, &str> = vars.iter().collect();
    if let Ok(text) = serde_json::to_string_pretty(&map) {
        let _ = crate::paths::write_private(path, text.as_bytes());
    }
}

/// Sends the request, then looks up the trace the lab recorded for it.
async fn exchange(
    request: &crate::course::request::Request,
    base: &str,
    token: Option<&str>,
) -> anyhow::Result<(Exchange, Option<Trace>)> {
    let client = Client::new(TIMEOUT)?;
    let exchange = client.send(request.outgoing(base)).await;
    let Ok(response) = &exchange.response else {
        return Ok((exchange, None));
    };
    let Some(request_id) = response.header("x-request-id") else {
        return Ok((exchange, None));
    };
    let mut url =
        reqwest::Url::parse(base).with_context(|| format!("--url {base} is not a URL"))?;
    url.path_segments_mut()
        .map_err(|_| anyhow::anyhow!("--url {base} cannot have a path"))?
        .pop_if_empty()
        .extend(["_lab", "traces", &request_id]);
    let mut lookup = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()?
        .get(url);
    if let Some(token) = token {
        lookup = lookup.bearer_auth(token);
    }
    // The lab keeps the trace before it answers, so one lookup finds it; a lab that keeps no
    // traces (--no-trace) answers 404, and the exchange is shown without one.
    let trace = match lookup.send().await {
        Ok(r) if r.status().is_success() => r.json::<Trace>().await.ok(),
        _ => None,
    };
    Ok((exchange, trace))
}

/// `reqlab send <lesson>`: the lesson's requests, one per line.
fn list(lesson: &Lesson) -> anyhow::Result<ExitCode> {
    let mut out = term::stdout();
    if lesson.presets.is_empty() {
        writeln!(out, "lesson {} has no ready-made requests", lesson.id)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = lesson.presets.iter().map(|p| p.id.len()).max().unwrap_or(0);
    for p in &lesson.presets {
        writeln!(
            out,
            "  {}  {} {}",
            paint(style::ID, format!("{:<width$}", p.id)),
            p.title,
            paint(
                style::DIM,
                format!(
                    "· {} {} → {}",
                    p.request.method, p.request.path, p.expect_status
                )
            )
        )?;
    }
    writeln!(
        out,
        "\n{}",
        paint(
            style::DIM,
            format!("Send one with: reqlab send {}/<id>", lesson.id)
        )
    )?;
    Ok(ExitCode::SUCCESS)
}
