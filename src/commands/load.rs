//! `reqlab load`: resolve the target (a URL, or a lesson's request sent to the lab), run the
//! load with a live line on a terminal, print the summary or JSON.

use crate::check::http::Outgoing;
use crate::cli::{LoadArgs, LoadFormat};
use crate::course::Course;
use crate::lab::address;
use crate::load::target::{self, Target};
use crate::load::wire::Prepared;
use crate::load::{Plan, Progress, Stop};
use crate::term::{self, paint};
use crate::view::{self, style};
use anyhow::{Context, bail};
use axum::http::{HeaderName, HeaderValue, Method};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a run lasts when neither -n nor -d is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// How often the live line is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// Runs the command.
pub async fn run(course: &Course, args: LoadArgs) -> anyhow::Result<ExitCode> {
    let outgoing = request(course, &args)?;
    let target = target::resolve(&outgoing.url, args.allow_remote).await?;
    let plan = plan(&args, &outgoing, &target)?;
    let stop = plan.stop;
    let progress = Arc::new(Progress::default());
    let live = std::io::stderr().is_terminal() && args.format == LoadFormat::Text;
    if args.format == LoadFormat::Text {
        anstream::eprintln!(
            "{} {} {} · {} connection{} · {}{}",
            paint(style::DIM, "[load]"),
            outgoing.method,
            target.url,
            plan.connections,
            if plan.connections == 1 { "" } else { "s" },
            match stop {
                Stop::Requests(n) => format!("{n} requests"),
                Stop::After(d) => humantime::format_duration(d).to_string(),
            },
            plan.rate
                .map(|r| format!(" · {r} requests/s on schedule"))
                .unwrap_or_default()
        );
    }
    let started = Instant::now();
    let run = {
        let progress = Arc::clone(&progress);
        tokio::task::spawn_blocking(move || crate::load::run(plan, progress))
    };
    tokio::pin!(run);
    let mut ticker = tokio::time::interval(TICK);
    let mut last = (0, started);
    let report = loop {
        tokio::select! {
            done = &mut run => break done.context("the load run stopped unexpectedly")?,
            _ = tokio::signal::ctrl_c() => {
                // Requests in flight finish; the report covers what was sent.
                progress.cancel.store(true, Ordering::Relaxed);
            }
            _ = ticker.tick(), if live => {
                let answered = progress.answered.load(Ordering::Relaxed);
                let failed = progress.failed.load(Ordering::Relaxed);
                let now = Instant::now();
                let rate = (answered - last.0) as f64 / now.duration_since(last.1).as_secs_f64().max(1e-3);
                last = (answered, now);
                let so_far = match stop {
                    Stop::Requests(n) => format!("{answered} of {n} requests"),
                    Stop::After(d) => format!(
                        "{:.1} s of {:.0} s · {answered} requests",
                        started.elapsed().as_secs_f64().min(d.as_secs_f64()),
                        d.as_secs_f64()
                    ),
                };
                let failed = if failed > 0 { format!(" · {failed} failed") } else { String::new() };
                anstream::eprint!("\r\x1b[2K  {so_far} · {rate:.0} requests/s now{failed}");
                let _ = std::io::stderr().flush();
            }
        }
    };
    if live {
        anstream::eprint!("\r\x1b[2K");
    }
    if progress.cancel.load(Ordering::Relaxed) && args.format == LoadFormat::Text {
        anstream::eprintln!(
            "{} stopped early: the numbers cover the {:.1} s that ran",
            paint(style::DIM, "[load]"),
            report.duration.as_secs_f64()
        );
    }
    let mut out = term::stdout();
    match args.format {
        LoadFormat::Text => {
            let lines = view::load::lines(&report, &target.url, term::output_width(None));
            term::write_lines(&mut out, &lines)?;
        }
        LoadFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report.to_json(&target.url))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    if report.answered() == 0 {
        anstream::eprintln!(
            "{} no request got an answer from {}: is the server running there?",
            paint(style::FAIL, "error:"),
            target.url
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// True when `raw` names a lesson's request (`caching/stats-report`) rather than a URL.
fn is_preset(raw: &str) -> bool {
    !raw.contains("://") && !raw.contains(':') && raw.split('/').count() == 2 && {
        let (lesson, preset) = raw.split_once('/').unwrap_or_default();
        !lesson.is_empty() && !preset.is_empty() && !lesson.contains('.')
    }
}

/// The request to repeat: a URL with the flags' method, headers and body, or a lesson's
/// request sent to the lab.
fn request(course: &Course, args: &LoadArgs) -> anyhow::Result<Outgoing> {
    if !is_preset(&args.target) {
        let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
            .with_context(|| format!("--method {} is not an HTTP method", args.method))?;
        let mut headers = Vec::new();
        for raw in &args.headers {
            let Some((name, value)) = raw.split_once(':') else {
                bail!("--header {raw:?} needs a colon: write it as 'Name: value'");
            };
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        return Ok(Outgoing {
            method,
            url: args.target.clone(),
            headers,
            body: args.body.clone().map(String::into_bytes),
            follow_redirects: false,
        });
    }
    if args.body.is_some() || !args.headers.is_empty() || args.method != "GET" {
        bail!(
            "{} is a lesson's request, which brings its own method, headers and body: drop -X, -H and --body, or give a URL",
            args.target
        );
    }
    let (lesson_ref, preset_id) = args.target.split_once('/').unwrap_or_default();
    let lesson = super::learn::find(course, lesson_ref)?;
    let Some(preset) = lesson.presets.iter().find(|p| p.id == preset_id) else {
        bail!(
            "lesson {} has no request `{preset_id}` (see `reqlab send {}`); for a URL, write it with http://",
            lesson.id,
            lesson.id
        );
    };
    let data_dir = crate::paths::data_dir(args.data_dir.clone())?;
    let base = match (&args.url, address::find(&data_dir)) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(lab)) => lab.url,
        (None, None) => bail!(
            "no lab is running to send {} to: start one with `reqlab serve` in another terminal (or give --url)",
            args.target
        ),
    };
    let captured = super::send::read_captured(&data_dir.join(super::send::CAPTURED));
    let request = preset.render(&captured).map_err(|missing| {
        anyhow::anyhow!(
            "{}/{} sends {{{{{missing}}}}}, a value an earlier request captures: send that one first with `reqlab send`",
            lesson.id,
            preset.id
        )
    })?;
    Ok(request.outgoing(&base))
}

/// The engine's plan.
fn plan(args: &LoadArgs, outgoing: &Outgoing, target: &Target) -> anyhow::Result<Plan> {
    let mut headers = vec![("Host".to_string(), target.host.clone())];
    for (name, value) in &outgoing.headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            bail!("{name:?} is not a header name");
        }
        if HeaderValue::from_str(value).is_err() {
            bail!("the value of {name} cannot be sent in a header");
        }
        if !name.eq_ignore_ascii_case("host") {
            headers.push((name.clone(), value.clone()));
        }
    }
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::After(d),
        (None, None) => Stop::After(DEFAULT_DURATION),
    };
    let body = outgoing.body.clone().unwrap_or_default();
    Ok(Plan {
        addr: target.addr,
        request: Prepared::new(outgoing.method.as_str(), &target.path, &headers, &body),
        connections: args.connections as usize,
        threads: args.threads as usize,
        stop,
        rate: args.rate,
        timeout: args.timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_urls_are_told_apart() {
        assert!(is_preset("caching/stats-report"));
        assert!(is_preset("8/stats-report"));
        assert!(!is_preset("127.0.0.1:4747/tasks"));
        assert!(!is_preset("localhost:8000/tasks"));
        assert!(!is_preset("http://127.0.0.1/tasks"));
        assert!(!is_preset("example.com/tasks"));
        assert!(!is_preset("caching"));
    }
}
