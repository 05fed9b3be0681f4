//! `reqlab trace`: read the lab server's traces — recent ones, one by id (also as OTLP JSON),
//! or live.

use crate::cli::{StatusFilter, TraceArgs, TraceFormat};
use crate::lab::address;
use crate::lab::trace::Trace;
use crate::term::{self, paint};
use crate::view::style;
use crate::view::trace::trace_lines;
use anyhow::{Context, bail};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Where `reqlab serve` listens unless told otherwise.
const DEFAULT_URL: &str = "http://127.0.0.1:4747";

/// Which traces to show.
struct Filter {
    path: Option<String>,
    status: Option<StatusFilter>,
    method: Option<String>,
}

impl Filter {
    /// True when any filter is set.
    fn is_active(&self) -> bool {
        self.path.is_some() || self.status.is_some() || self.method.is_some()
    }

    fn admits(&self, trace: &Trace) -> bool {
        self.path
            .as_ref()
            .is_none_or(|p| trace.path.starts_with(p.as_str()))
            && self.status.is_none_or(|s| s.admits(trace.status))
            && self.method.as_ref().is_none_or(|m| &trace.method == m)
    }
}

/// How long a one-shot request to the lab may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause between reconnection attempts while following.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the command.
pub async fn run(args: TraceArgs) -> anyhow::Result<ExitCode> {
    // `reqlab trace diff A B`: two ids after the word diff, and nothing else takes two.
    let comparing = args.request_id.as_deref() == Some("diff");
    if comparing && args.compared.len() != 2 {
        bail!(
            "reqlab trace diff compares two requests: give both ids (`reqlab trace diff A B`); `reqlab trace` lists recent requests with their ids"
        );
    }
    if !comparing && !args.compared.is_empty() {
        bail!(
            "reqlab trace takes one request id ({} given); to compare two, write `reqlab trace diff A B`",
            args.compared.len() + 1
        );
    }
    if comparing && (args.pin || args.unpin) {
        bail!("--pin and --unpin take one request id: `reqlab trace REQUEST_ID --pin`");
    }
    if comparing && (args.plan || args.format == TraceFormat::Otlp) {
        bail!(
            "reqlab trace diff prints a comparison (as text, or --format json): --plan and --format otlp are for one request"
        );
    }
    // OTLP JSON holds one request (a file to open in a tracing tool): it needs an id.
    if args.format == TraceFormat::Otlp {
        if args.follow {
            bail!(
                "--format otlp writes one request's trace, so it cannot --follow: give that request's id instead (`reqlab trace REQUEST_ID --format otlp`)"
            );
        }
        if args.request_id.is_none() {
            bail!(
                "--format otlp writes one request's trace: give its id (`reqlab trace REQUEST_ID --format otlp > trace.json`); `reqlab trace` shows recent requests with their ids"
            );
        }
    }
    let lab = connect(&args.lab)?;
    let (base, client) = (lab.base.clone(), lab.client.clone());
    let filter = Filter {
        path: args.path.clone(),
        status: args.status,
        method: args.method.as_deref().map(str::to_ascii_uppercase),
    };
    let width = term::output_width(None);
    if args.follow {
        return follow(&client, &base, &filter, args.format, width).await;
    }
    if let (true, Some(id)) = (args.pin || args.unpin, &args.request_id) {
        let url = format!("{}/pin", trace_url(&base, id)?);
        let request = if args.pin {
            client.put(&url)
        } else {
            client.delete(&url)
        };
        let response = request
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| unreachable_error(&url, &e))?;
        let status = response.status();
        if !status.is_success() {
            let detail: serde_json::Value = response.json().await.unwrap_or_default();
            bail!("{}", detail["detail"].as_str().unwrap_or("the lab refused"));
        }
        let said = if args.pin {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            format!(
                "pinned {id}: kept however many requests follow ({} of {} pinned); reqlab trace {id} finds it, reqlab trace diff {id} OTHER compares with it",
                body["pinned"], body["cap"]
            )
        } else {
            format!("unpinned {id}: it goes once newer traces push it out")
        };
        anstream::eprintln!("{} {said}", paint(style::DIM, "[trace]"));
        return Ok(ExitCode::SUCCESS);
    }
    if args.pinned {
        let url = format!("{base}/_lab/traces/pinned");
        let response = get(&client, &url).await?;
        let body: serde_json::Value = parse_json(response, &url).await?;
        let traces: Vec<Trace> = serde_json::from_value(body["traces"].clone())
            .with_context(|| format!("{url} did not answer with traces"))?;
        if traces.is_empty() {
            anstream::eprintln!(
                "{}",
                paint(
                    style::DIM,
                    "no pinned traces: reqlab trace REQUEST_ID --pin keeps one"
                )
            );
        }
        let mut out = crate::term::stdout();
        for trace in &traces {
            print_trace(&mut out, trace, args.format, width)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if comparing {
        let mut pair = Vec::new();
        for id in &args.compared {
            pair.push(fetch_trace(&lab, id).await?);
        }
        let (a, b) = (&pair[0], &pair[1]);
        let compared = crate::view::trace_diff::diff(a, b);
        let mut out = crate::term::stdout();
        match args.format {
            TraceFormat::Text | TraceFormat::Otlp => {
                term::write_lines(&mut out, &crate::view::trace_diff::lines(a, b, &compared))?
            }
            TraceFormat::Json => writeln!(out, "{}", serde_json::to_string(&compared)?)?,
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let traces: Vec<Trace> = match &args.request_id {
        Some(id) => vec![fetch_trace(&lab, id).await?],
        None => {
            // With a filter, -n counts the traces that pass it: ask for all the lab keeps
            // (its answer stays bounded in bytes) and keep the newest n that match.
            let fetch = if filter.is_active() {
                crate::lab::MAX_TRACE_CAPACITY
            } else {
                args.limit as usize
            };
            let url = format!("{base}/_lab/traces?limit={fetch}");
            let response = get(&client, &url).await?;
            let body: serde_json::Value = parse_json(response, &url).await?;
            let mut traces: Vec<Trace> = serde_json::from_value(body["traces"].clone())
                .with_context(|| format!("{url} did not answer with traces"))?;
            if let Some(left_out) = body["left_out"].as_u64() {
                anstream::eprintln!(
                    "{} {left_out} older trace(s) were left out to keep the answer small; ask for fewer with -n, or look one up by id",
                    paint(style::DIM, "note:")
                );
            }
            if body["tracing"] == false {
                anstream::eprintln!(
                    "{} this lab runs with --no-trace, so it records nothing",
                    paint(style::WARN, "note:")
                );
            }
            // Oldest first, so the newest ends up next to the prompt.
            traces.reverse();
            traces.retain(|t| filter.admits(t));
            let surplus = traces.len().saturating_sub(args.limit as usize);
            traces.drain(..surplus);
            traces
        }
    };
    if traces.is_empty() {
        anstream::eprintln!(
            "{}",
            paint(
                style::DIM,
                format!("no traces yet: send the lab a request (e.g. curl -i {base}/tasks)")
            )
        );
    }
    let mut out = crate::term::stdout();
    for trace in &traces {
        print_trace(&mut out, trace, args.format, width)?;
    }
    if let (true, Some(id)) = (args.plan, &args.request_id) {
        let url = format!("{}/plans", trace_url(&base, id)?);
        let response = get(&client, &url).await?;
        let body: serde_json::Value = parse_json(response, &url).await?;
        let plans: Vec<crate::lab::query_plan::StatementPlan> =
            serde_json::from_value(body["statements"].clone())
                .with_context(|| format!("{url} did not answer with query plans"))?;
        match args.format {
            TraceFormat::Text => {
                term::write_lines(&mut out, &crate::view::trace::plan_lines(&plans, width))?
            }
            TraceFormat::Json | TraceFormat::Otlp => {
                writeln!(out, "{}", serde_json::to_string(&plans)?)?
            }
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The lab the trace commands talk to.
pub(super) struct LabClient {
    /// Its base URL.
    pub base: String,
    /// A client that sends the lab token, when there is one.
    pub client: reqwest::Client,
    /// Behind a proxy: each replica's own address, where the traces are.
    pub replicas: Vec<String>,
}

/// The lab to talk to and a client for it: the one named with `--url`, else the one
/// `reqlab serve` recorded, else the default address; with the lab token when there is one.
pub(super) fn connect(args: &crate::cli::LabArgs) -> anyhow::Result<LabClient> {
    let (url, token) = (args.url.as_deref(), args.token.clone());
    let recorded = crate::paths::data_dir(args.data_dir.clone())
        .ok()
        .and_then(|dir| address::find(&dir));
    let (base, token, replicas) = match (url, recorded) {
        (Some(url), Some(lab)) if url.trim_end_matches('/') == lab.url => {
            (lab.url, token.or(lab.token), lab.replicas)
        }
        (Some(url), _) => (url.to_string(), token, Vec::new()),
        (None, Some(lab)) => (lab.url, token.or(lab.token), lab.replicas),
        (None, None) => (DEFAULT_URL.to_string(), token, Vec::new()),
    };
    let base = base.trim_end_matches('/').to_string();
    reqwest::Url::parse(&base).with_context(|| format!("--url {base} is not a URL"))?;
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = &token {
        let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| anyhow::anyhow!("--token holds characters a header cannot carry"))?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .default_headers(headers)
        .build()?;
    Ok(LabClient {
        base,
        client,
        replicas,
    })
}

/// One request's trace from the lab (behind a proxy, from whichever replica served it); a
/// clear error when none has it.
pub(super) async fn fetch_trace(lab: &LabClient, id: &str) -> anyhow::Result<Trace> {
    for base in std::iter::once(&lab.base).chain(&lab.replicas) {
        let url = trace_url(base, id)?;
        let response = get(&lab.client, &url).await?;
        if response.status() != reqwest::StatusCode::NOT_FOUND {
            return parse_json(response, &url).await;
        }
    }
    bail!(
        "the lab has no trace for request {id}: it never reached this lab, or it is older than the traces kept"
    )
}

async fn get(client: &reqwest::Client, url: &str) -> anyhow::Result<reqwest::Response> {
    client
        .get(url)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| unreachable_error(url, &e))
}

async fn parse_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    url: &str,
) -> anyhow::Result<T> {
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        bail!("{url} answered 404: is this a reqlab lab server? (start one with `reqlab serve`)");
    }
    refused(status, url)?;
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    response
        .json()
        .await
        .with_context(|| format!("{url} did not answer with reqlab trace JSON"))
}

/// The lab's guards, explained: a missing token, or a host name it does not answer to.
fn refused(status: reqwest::StatusCode, url: &str) -> anyhow::Result<()> {
    match status.as_u16() {
        401 => bail!(
            "{url} needs the lab token: this lab listens beyond its own machine; pass --token TOKEN (`reqlab serve` printed it)"
        ),
        421 => bail!(
            "{url} does not answer to that host name; use 127.0.0.1, or start the lab with --allowed-host NAME"
        ),
        _ => Ok(()),
    }
}

fn unreachable_error(url: &str, err: &reqwest::Error) -> anyhow::Error {
    if err.is_connect() {
        anyhow::anyhow!(
            "nothing is listening at {url} — is the lab running? Start it with `reqlab serve`"
        )
    } else if err.is_timeout() {
        anyhow::anyhow!(
            "{url} did not answer within {} seconds",
            REQUEST_TIMEOUT.as_secs()
        )
    } else {
        anyhow::anyhow!("cannot reach {url}: {err}")
    }
}

fn print_trace(
    out: &mut impl Write,
    trace: &Trace,
    format: TraceFormat,
    width: u16,
) -> anyhow::Result<()> {
    match format {
        TraceFormat::Json => writeln!(out, "{}", serde_json::to_string(trace)?)?,
        TraceFormat::Otlp => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&crate::lab::trace::otlp::export(trace))?
        )?,
        TraceFormat::Text => {
            term::write_lines(out, &trace_lines(trace, width))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Prints each new trace as the lab finishes it; reconnects when the lab restarts.
async fn follow(
    client: &reqwest::Client,
    base: &str,
    filter: &Filter,
    format: TraceFormat,
    width: u16,
) -> anyhow::Result<ExitCode> {
    let url = format!("{base}/_lab/traces/stream");
    let mut backoff = Duration::from_millis(250);
    let mut announced_wait = false;
    loop {
        let response = tokio::select! {
            r = client.get(&url).header("Accept", "text/event-stream").send() => r,
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        };
        match response {
            Ok(response) if response.status().is_success() => {
                backoff = Duration::from_millis(250);
                anstream::eprintln!(
                    "{} {base} — send it requests; each one's trace appears here (Ctrl-C to stop)",
                    paint(style::OK, "following")
                );
                let mut events = response.bytes_stream().eventsource();
                loop {
                    let next = tokio::select! {
                        e = events.next() => e,
                        _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                    };
                    match next {
                        Some(Ok(event)) if event.event == "trace" => {
                            match serde_json::from_str::<Trace>(&event.data) {
                                Ok(trace) if filter.admits(&trace) => {
                                    print_trace(&mut crate::term::stdout(), &trace, format, width)?
                                }
                                Ok(_) => {}
                                Err(e) => anstream::eprintln!(
                                    "{} a trace could not be read: {e}",
                                    paint(style::WARN, "warning:")
                                ),
                            }
                        }
                        Some(Ok(event)) if event.event == "lagged" => {
                            anstream::eprintln!("{} {}", paint(style::WARN, "warning:"), event.data)
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break,
                    }
                }
                anstream::eprintln!(
                    "{}",
                    paint(
                        style::WARN,
                        "the lab server went away; waiting for it to come back…"
                    )
                );
                announced_wait = true;
            }
            Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => {
                bail!("{url} answered 404: is {base} a reqlab lab server?");
            }
            Ok(response) if refused(response.status(), &url).is_err() => {
                refused(response.status(), &url)?;
            }
            Ok(response) => bail!("{url} answered {}", response.status()),
            Err(e) if e.is_connect() || e.is_timeout() => {
                if !announced_wait {
                    anstream::eprintln!(
                        "{} nothing is listening at {base} yet — start the lab with `reqlab serve`; waiting…",
                        paint(style::DIM, "trace:")
                    );
                    announced_wait = true;
                }
            }
            Err(e) => return Err(unreachable_error(&url, &e)),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The URL of one trace; the request id is percent-encoded as a path segment.
fn trace_url(base: &str, request_id: &str) -> anyhow::Result<String> {
    let mut url =
        reqwest::Url::parse(base).with_context(|| format!("--url {base} is not a URL"))?;
    url.path_segments_mut()
        .map_err(|_| anyhow::anyhow!("--url {base} cannot have a path"))?
        .pop_if_empty()
        .extend(["_lab", "traces", request_id]);
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::trace_url;

    #[test]
    fn request_ids_are_encoded_as_one_path_segment() {
        assert_eq!(
            trace_url("http://127.0.0.1:4747", "a b/c?d").unwrap(),
            "http://127.0.0.1:4747/_lab/traces/a%20b%2Fc%3Fd"
        );
    }
}
