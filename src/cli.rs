//! The command line, declared with clap. The `///` comments here are the `--help` text.

use crate::term::ColorWhen;

mod ids;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::IpAddr;
use std::path::PathBuf;

/// Learn backend development from first principles: watch every stage of an HTTP request on a
/// real server, then prove you can build it yourself.
#[derive(Debug, Parser)]
#[command(name = "reqlab", version, propagate_version = true)]
#[command(
    after_help = "Start here:\n  reqlab                    open the guide: lessons, the lab console, step mode, challenges\n  reqlab lessons            list the lessons\n  reqlab learn http-basics  read the first one\n  reqlab serve              start the lab server to send requests to\n  reqlab send http-basics   the lesson's ready-made requests, to send to the lab\n  reqlab trace --follow     watch each request's trace (in a second terminal)\n  reqlab check --list       the challenges that prove you can build it yourself\n  reqlab explain etag       what a status, header or stage means, and where it is taught"
)]
pub struct Cli {
    /// When to use colors: `auto` uses them on a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    pub color: ColorWhen,

    /// What to do; without a command, reqlab opens the guide (on a terminal).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The guide's own settings (used when no command is given).
    #[command(flatten)]
    pub guide: GuideArgs,
}

impl Cli {
    /// Parses the command line; the guide's own options given together with a command are a
    /// usage error (exit 2) rather than silently ignored.
    pub fn parse_checked() -> Cli {
        use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
        let matches = Cli::command().get_matches();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        if let Some((name, _)) = matches.subcommand() {
            for (id, flag) in [
                ("port", "--port"),
                ("memory", "--memory"),
                ("data_dir", "--data-dir"),
                ("lessons", "--lessons"),
            ] {
                if matches.value_source(id) == Some(ValueSource::CommandLine) {
                    Cli::command()
                        .error(
                            clap::error::ErrorKind::ArgumentConflict,
                            format!(
                                "{flag} before the command is an option of the guide (`reqlab` alone); put it after the command if it takes one: `reqlab {name} {flag} …`"
                            ),
                        )
                        .exit();
                }
            }
        }
        cli
    }
}

/// `reqlab` with no command: the full-screen guide with its own lab.
#[derive(Debug, Clone, Args)]
pub struct GuideArgs {
    /// Port for the guide's lab; by default any free one (so it never clashes with `reqlab serve`).
    #[arg(long, short, value_name = "PORT")]
    pub port: Option<u16>,

    /// Keep the guide's lab database in memory: a fresh, seeded lab each time.
    #[arg(long)]
    pub memory: bool,

    /// Where reqlab keeps its data (progress, where you left off, the lab database).
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the lab server: a real HTTP API on SQLite that records a trace of every request.
    Serve(ServeArgs),
    /// List the lessons.
    Lessons(LessonsArgs),
    /// Read a lesson in the terminal.
    Learn(LearnArgs),
    /// Show the lab server's request traces (recent ones, one by id, or live with --follow);
    /// `reqlab trace diff A B` compares two.
    #[command(
        after_help = "Examples:\n  reqlab trace                          the ten most recent requests\n  reqlab trace 3f2a…                    one request by its X-Request-ID\n  reqlab trace 3f2a… --plan             with each statement's query plan, in words\n  reqlab trace 3f2a… --format otlp > trace.json   for Jaeger UI and other tracing tools\n  reqlab trace diff 3f2a… 9c1d…         two requests compared: stage times, statements\n  reqlab trace --follow --status 4xx    each failing request as it happens"
    )]
    Trace(TraceArgs),
    /// Send a recorded request again and compare its new trace with the old one
    #[command(
        after_help = "Credentials are never stored in a trace: replay says which headers and body fields were left out, and takes them again with --header (and the body with --body).\n\nExamples:\n  reqlab replay 3f2a…                                  send it again, compare the traces\n  reqlab replay 3f2a… --header 'Authorization: Bearer eyJ…'\n  reqlab replay 3f2a… --format json"
    )]
    Replay(ReplayArgs),
    /// Send a lesson's ready-made request to the lab and show the exchange and its trace.
    #[command(
        after_help = "Exit status: 0 when the lab answers with the status the lesson expects, 1 when it does not, 2 on a usage error.\n\nExamples:\n  reqlab send validation                 list the validation lesson's requests\n  reqlab send validation/bad-email       send one\n  reqlab send 5 bad-email --format json"
    )]
    Send(SendArgs),
    /// Put load on a server: many connections sending one request, with latency percentiles.
    #[command(
        after_help = "Exit status: 0 when the run finished with answers, 1 when no request got one, 2 on a usage error.\n\nWithout --rate each connection sends its next request as soon as the last is answered, so a slow answer holds back the requests behind it and their waiting is never measured. With --rate requests go out on a fixed schedule and each latency counts from the time it was due: corrected for coordinated omission.\n\nExamples:\n  reqlab load http://127.0.0.1:4747/tasks/1              10 connections for 10 s\n  reqlab load caching/stats-report -c 32 -d 30s           a lesson's request, sent to the running lab\n  reqlab load 127.0.0.1:8000/tasks -n 10000 --rate 500    500 requests a second, on schedule\n  reqlab load http://127.0.0.1:8000/tasks -X POST -H 'Content-Type: application/json' --body '{\"title\":\"x\"}'\n  reqlab load http://127.0.0.1:4747/health --format json"
    )]
    Load(LoadArgs),
    /// Run a challenge's checks against your own server (or the lab, to see what passing looks like).
    #[command(
        after_help = "Exit status: 0 when every must-check passes, 1 when one fails (or your server is not there), 2 on a usage or configuration error.\n\nA failure lists every request it depends on as sh commands that reproduce it on a fresh server; values earlier responses returned (an id) are read into shell variables with python3.\n\nExamples:\n  reqlab check rest-crud --target http://127.0.0.1:8000\n  reqlab check rest-crud --run \"uvicorn main:app --port 8000\" --watch .\n  reqlab check 2 --target localhost:3000\n  reqlab check --all --target lab\n  reqlab check --all --format junit --output reqlab.xml"
    )]
    Check(CheckArgs),
    /// Show which challenges you have passed; `reqlab progress reset` starts over.
    Progress(ProgressArgs),
    /// Explain a status code, a header or a lifecycle stage: what it means, who sets it in the
    /// lab, and the lesson section that teaches it.
    #[command(
        after_help = "Exit status: 0 when reqlab can explain it, 2 when it cannot (close matches are suggested).\n\nExamples:\n  reqlab explain 412                 a status code\n  reqlab explain etag                a header, in any letter case (ETag works too)\n  reqlab explain validation          a lifecycle stage\n  reqlab explain x-request-id --format json"
    )]
    Explain(ExplainArgs),
    /// Tools for lesson authors.
    #[command(subcommand)]
    Dev(DevCommand),
    /// Print a shell completion script (e.g. `reqlab completions bash > ~/.local/share/bash-completion/completions/reqlab`).
    Completions(CompletionsArgs),
}

/// Where lessons and challenges come from.
#[derive(Debug, Clone, Args)]
pub struct ContentArgs {
    /// Read lessons and challenges from this folder instead of the built-in ones (for authors).
    #[arg(long, value_name = "DIR", env = "REQLAB_LESSONS")]
    pub lessons: Option<PathBuf>,
}

/// `reqlab serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, short, default_value_t = crate::lab::DEFAULT_PORT, env = "REQLAB_PORT")]
    pub port: u16,

    /// Address to listen on. The default, 127.0.0.1, keeps the lab private to this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// SQLite database file (created and seeded with demo data when missing).
    /// Default: lab.db in reqlab's data directory.
    #[arg(long, value_name = "PATH", conflicts_with = "memory")]
    pub db: Option<PathBuf>,

    /// Keep the database in memory: a fresh, seeded lab that is gone when the server stops.
    #[arg(long)]
    pub memory: bool,

    /// Start from the seeded demo data: the lab database is deleted and made anew.
    #[arg(long, conflicts_with = "memory")]
    pub reset: bool,

    /// Largest request body accepted, in bytes; bigger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = crate::lab::DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,

    /// How many recent traces to keep in memory.
    #[arg(long, value_name = "N", default_value_t = crate::lab::DEFAULT_TRACE_CAPACITY as u32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub trace_capacity: u32,

    /// Also answer requests addressed to this host name or address (besides localhost,
    /// 127.0.0.1, [::1] and the --host address). Any other gets 421, so a web page cannot reach
    /// the lab through DNS rebinding. Repeat for several.
    #[arg(long, value_name = "NAME", value_parser = parse_host_name)]
    pub allowed_host: Vec<String>,

    /// Let web pages from this origin (e.g. http://localhost:3000) change data; other sites'
    /// pages are refused with 403 (CSRF). Repeat for several origins.
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin)]
    pub allowed_origin: Vec<String>,

    /// Seconds a client may take to send a request's head; also how long an idle keep-alive
    /// connection stays open. Clients that stall are disconnected, so they cannot use up the
    /// lab's connections.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,

    /// Do not record traces (to measure what tracing costs).
    #[arg(long)]
    pub no_trace: bool,

    /// Treat a statement run once per item (N+1) as an error: log each one, and exit 1 when
    /// the lab stops if any request ran one. Answers are never changed by it.
    #[arg(long, conflicts_with = "no_trace")]
    pub strict_queries: bool,

    /// Log one line per request to stderr (request id, method, path, route, status,
    /// duration), as text or as one JSON object per line for a log pipeline.
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Most background jobs waiting or running at once; past it, POST /documents/ingest
    /// answers 503 with Retry-After (backpressure).
    #[arg(long, value_name = "N", default_value_t = crate::lab::DEFAULT_QUEUE_LIMIT as u32,
        value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub queue_limit: u32,

    /// Run N lab processes (2 to 8) sharing one database, behind nginx (which must be
    /// installed): nginx listens on --port and balances requests round robin; each answer
    /// names its replica in X-Replica.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=8),
        conflicts_with_all = ["memory", "host"])]
    pub replicas: Option<u8>,

    /// This lab is one replica of several, with this name (set by --replicas).
    #[arg(long, hide = true, value_name = "NAME", conflicts_with = "replicas")]
    pub replica_name: Option<String>,

    /// Where reqlab keeps its data; the lab database is lab.db there unless --db or --memory
    /// says otherwise.
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// How the lab logs each request (`serve --log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Text,
    /// One JSON object per line, with the request id and every field at the top level.
    Json,
}

/// Output formats for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table for people.
    Table,
    /// JSON for programs.
    Json,
}

/// `reqlab lessons`.
#[derive(Debug, Args)]
pub struct LessonsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,

    /// Where reqlab keeps its data (your progress, to mark what you have passed).
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// `reqlab learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The lesson id (see `reqlab lessons`) or its number; `lesson#section` opens one section.
    #[arg(value_parser = ids::lessons(true), hide_possible_values = true)]
    pub lesson: String,

    /// Show only this section (its id, as check hints name it).
    #[arg(long, value_name = "SECTION")]
    pub section: Option<String>,

    /// Wrap text at this many columns (default: the terminal's width).
    #[arg(long, value_parser = clap::value_parser!(u16).range(20..=400))]
    pub width: Option<u16>,

    /// The lab the curl lines address (default: the lab `reqlab serve` runs, else
    /// http://127.0.0.1:4747).
    #[arg(long, env = "REQLAB_URL")]
    pub url: Option<String>,

    /// Print straight to the terminal instead of through $PAGER.
    #[arg(long)]
    pub no_pager: bool,

    /// Where reqlab keeps its data (the running lab's address, for the curl lines).
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// Output formats for `reqlab load`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadFormat {
    /// A summary for people.
    Text,
    /// One JSON document (requests_per_second, latency_ms percentiles, status_counts, errors).
    Json,
}

/// `reqlab load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// What to send: a URL (`http://127.0.0.1:4747/tasks/1`; `host:port/path` means http), or
    /// a lesson's request as `lesson/preset`, sent to the lab.
    #[arg(value_name = "URL | LESSON/PRESET")]
    pub target: String,

    /// Connections kept open at once.
    #[arg(short = 'c', long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,

    /// Stop after this many requests (instead of after --duration).
    #[arg(short = 'n', long, conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// How long to run: 10s, 500ms, 2m (default 10s).
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Requests per second in all, sent on a fixed schedule; latencies then count from each
    /// request's scheduled time (corrected for coordinated omission).
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Threads sending, each with its share of the connections.
    #[arg(short = 't', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,

    /// The method, for a URL (a lesson's request brings its own).
    #[arg(short = 'X', long, default_value = "GET")]
    pub method: String,

    /// A header, as `Name: value`; repeat for more.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// The request body, for a URL (set its Content-Type with -H).
    #[arg(long)]
    pub body: Option<String>,

    /// How long one request may take before it counts as failed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,

    /// Allow a target that is not on this machine (send load only to servers you run).
    #[arg(long)]
    pub allow_remote: bool,

    /// The lab's address, for a lesson's request (default: the lab `reqlab serve` runs).
    #[arg(long, env = "REQLAB_URL")]
    pub url: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LoadFormat::Text)]
    pub format: LoadFormat,

    /// Where reqlab keeps its data (the running lab's address).
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// A duration such as `10s`, `500ms` or `2m`.
fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(raw)
        .map_err(|e| format!("{e}: write it like 10s, 500ms or 2m"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// A positive request rate.
fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 10_000_000.0 => Ok(r),
        _ => Err("must be a number of requests per second above 0, such as 500".into()),
    }
}

/// Output formats for `reqlab send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SendFormat {
    /// The exchange and its trace, for people.
    Text,
    /// One JSON document.
    Json,
}

/// `reqlab send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The request: `lesson/preset` (`validation/bad-email`), or a lesson (id or number) alone
    /// to list its requests.
    #[arg(value_name = "LESSON[/PRESET]", value_parser = ids::presets(), hide_possible_values = true)]
    pub target: String,

    /// The preset's id, when the lesson is given on its own (`reqlab send validation bad-email`).
    #[arg(value_name = "PRESET")]
    pub preset: Option<String>,

    /// The lab's address (default: the lab `reqlab serve` runs; without one, a throwaway lab
    /// is started for this request).
    #[arg(long, env = "REQLAB_URL")]
    pub url: Option<String>,

    /// The lab token, for a lab that listens beyond this machine.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REQLAB_LAB_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = SendFormat::Text)]
    pub format: SendFormat,

    /// Where reqlab keeps its data (the running lab's address).
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// Output formats for traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// One readable block per request.
    Text,
    /// One JSON object per line.
    Json,
    /// OTLP JSON for tracing tools such as Jaeger UI (one request: give its id).
    Otlp,
}

/// `reqlab trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Show only this request's trace (or `diff`, followed by two request ids).
    #[arg(value_name = "REQUEST_ID", conflicts_with = "follow")]
    pub request_id: Option<String>,

    /// After `diff`: the two requests to compare, A then B.
    #[arg(value_name = "A B", num_args = 0..=2, hide = true)]
    pub compared: Vec<String>,

    /// With a request id: how SQLite means to run each of its statements (EXPLAIN QUERY
    /// PLAN), step by step and in words.
    #[arg(long, requires = "request_id")]
    pub plan: bool,

    /// With a request id: keep its trace however many requests come after (at most 50
    /// pinned), to compare later ones with it.
    #[arg(long, requires = "request_id", conflicts_with = "unpin")]
    pub pin: bool,

    /// With a request id: let a pinned trace go.
    #[arg(long, requires = "request_id")]
    pub unpin: bool,

    /// Show the pinned traces.
    #[arg(long, conflicts_with_all = ["request_id", "follow"])]
    pub pinned: bool,

    /// Keep running and print each new request's trace as it happens.
    #[arg(long, short)]
    pub follow: bool,

    /// The lab to read traces from.
    #[command(flatten)]
    pub lab: LabArgs,

    /// Only requests whose path starts with this (`/tasks`).
    #[arg(long, value_name = "PREFIX")]
    pub path: Option<String>,

    /// Only responses with this status, or class (`404`, `4xx`).
    #[arg(long, value_name = "CODE", value_parser = parse_status_filter)]
    pub status: Option<StatusFilter>,

    /// Only requests with this method.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,

    /// How many recent traces to print (without --follow).
    #[arg(long, short = 'n', default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
}

/// Which running lab a command talks to (`trace`, `replay`).
#[derive(Debug, Args)]
pub struct LabArgs {
    /// The lab server's address (default: the lab `reqlab serve` runs, else
    /// http://127.0.0.1:4747).
    #[arg(long, env = "REQLAB_URL")]
    pub url: Option<String>,

    /// Where reqlab keeps its data (the running lab's address).
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The lab token `reqlab serve` printed, for a lab that listens beyond this machine.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REQLAB_LAB_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// `reqlab replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The request to send again (its X-Request-ID; `reqlab trace` lists recent ones).
    #[arg(value_name = "REQUEST_ID")]
    pub request_id: String,

    /// A header to send, `Name: value`: one the trace left out (a credential), or to change
    /// one it kept. Repeat for several.
    #[arg(long, short = 'H', value_name = "NAME: VALUE", value_parser = parse_header)]
    pub header: Vec<(String, String)>,

    /// The body to send instead of the recorded one (needed when a body field was a
    /// credential, or the body was over 4 KiB and not kept).
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,

    /// The lab to send it to.
    #[command(flatten)]
    pub lab: LabArgs,

    /// Output format: the comparison as text, or as JSON.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Text)]
    pub format: ReplayFormat,
}

/// Output formats for `reqlab replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    /// The comparison, readable.
    Text,
    /// The new request's id and the comparison, as JSON.
    Json,
}

/// A `Name: value` header argument.
fn parse_header(raw: &str) -> Result<(String, String), String> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| format!("`{raw}` is not a header: write it as 'Name: value'"))?;
    let name = name.trim();
    axum::http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a header name"))?;
    let value = value.trim();
    axum::http::HeaderValue::from_str(value)
        .map_err(|_| format!("the value of {name} holds characters a header cannot carry"))?;
    Ok((name.to_string(), value.to_string()))
}

/// Output formats for check results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Readable, printed check by check.
    Text,
    /// One JSON document.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
    /// Test Anything Protocol, version 14.
    Tap,
}

/// `reqlab check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The challenge to run, or a lesson's id or number for its challenge (`reqlab check
    /// --list` shows them; `--all` runs every one).
    #[arg(
        value_name = "CHALLENGE",
        value_parser = ids::challenges(),
        hide_possible_values = true,
        conflicts_with_all = ["all", "list"]
    )]
    pub challenge: Option<String>,

    /// Run every challenge (with `--target lab`: every challenge whose lesson exists).
    #[arg(long, conflicts_with = "list")]
    pub all: bool,

    /// List the challenges and exit.
    #[arg(long)]
    pub list: bool,

    /// The server to check: its base URL (`http://` is assumed without a scheme), or `lab`
    /// for the embedded lab server. Default: http://127.0.0.1:8000, or with --run, the port
    /// the command names or the address your server says it listens on.
    #[arg(long, short, value_name = "URL", env = "REQLAB_TARGET")]
    pub target: Option<String>,

    /// Start your server with this shell command first, wait for its port, stop it after.
    #[arg(long, value_name = "COMMAND")]
    pub run: Option<String>,

    /// Trust the certificate(s) in this PEM file, for an https server with a self-signed
    /// certificate.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Accept any certificate from an https server (encrypted, but not verified).
    #[arg(long)]
    pub insecure: bool,

    /// Re-run the checks whenever a file under this path changes (restarting --run's server).
    #[arg(long, value_name = "PATH")]
    pub watch: Option<PathBuf>,

    /// Output format (with --list: text or json).
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Seconds to wait for each response.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// Where reqlab keeps its data (your progress).
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// A status to filter traces by: one code, or a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this code.
    Code(u16),
    /// Any code of this hundred (`4` for 4xx).
    Class(u16),
}

impl StatusFilter {
    /// True when `status` passes the filter.
    pub fn admits(self, status: u16) -> bool {
        match self {
            StatusFilter::Code(code) => status == code,
            StatusFilter::Class(class) => status / 100 == class,
        }
    }
}

fn parse_status_filter(s: &str) -> Result<StatusFilter, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        if let Ok(c @ 1..=5) = class.parse::<u16>() {
            return Ok(StatusFilter::Class(c));
        }
    } else if let Ok(code @ 100..=599) = lower.parse::<u16>() {
        return Ok(StatusFilter::Code(code));
    }
    Err(format!("`{s}` is not a status (404) or a class (4xx)"))
}

fn parse_host_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok || s.parse::<IpAddr>().is_ok() {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{s}` is not a host name (give the name alone, like lab.example.test, without a scheme or port)"
        ))
    }
}

fn parse_origin(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s)
        .map_err(|_| format!("`{s}` is not an origin like http://localhost:3000"))?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare {
        return Err(format!(
            "`{s}` is not an origin: give scheme, host and port only, like http://localhost:3000"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if (0.1..=600.0).contains(&v) {
        Ok(v)
    } else {
        Err("the timeout must be between 0.1 and 600 seconds".into())
    }
}

/// `reqlab progress`.
#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// `reset` forgets every pass (after confirmation).
    #[command(subcommand)]
    pub action: Option<ProgressAction>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,

    /// Where reqlab keeps its data.
    #[arg(long, value_name = "DIR", env = "REQLAB_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// `reqlab progress …`.
#[derive(Debug, Subcommand)]
pub enum ProgressAction {
    /// Forget every recorded pass.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Output formats for `reqlab explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// Wrapped text, for people.
    Text,
    /// One JSON document.
    Json,
}

/// `reqlab explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A status code (`412`), a header name (`etag`, any letter case) or a lifecycle stage
    /// (`validation`).
    #[arg(value_name = "THING", value_parser = ids::explainable(), hide_possible_values = true)]
    pub thing: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,

    /// Wrap text at this many columns (default: the terminal's width).
    #[arg(long, value_parser = clap::value_parser!(u16).range(20..=400))]
    pub width: Option<u16>,

    #[command(flatten)]
    pub content: ContentArgs,
}

/// `reqlab dev …`.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Check all lesson content: formats, ids, references, every preset and every lesson's
    /// challenge against a live lab.
    Check(DevCheckArgs),
}

/// `reqlab dev check`.
#[derive(Debug, Args)]
pub struct DevCheckArgs {
    #[command(flatten)]
    pub content: ContentArgs,

    /// Also write each preset's trace as OTLP JSON into this folder (one file per preset,
    /// named lesson--preset.json), to validate or open in a tracing tool.
    #[arg(long, value_name = "DIR")]
    pub otlp_dir: Option<PathBuf>,
}

/// `reqlab completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}
