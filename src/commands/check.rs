//! `reqlab check`: run challenges against a server and report, record passes, optionally
//! start the server (`--run`) and re-run on file changes (`--watch`).

use crate::check::report;
use crate::check::result::{ChallengeOutcome, Tally};
use crate::check::run::{RunSettings, run_challenge};
use crate::check::server::{LearnerServer, START_DEADLINE, StartError};
use crate::cli::{CheckArgs, CheckFormat};
use crate::course::{Challenge, Course};
use crate::lab::{LabConfig, RunningLab};
use crate::paths;
use crate::progress::{OpenNote, Progress};
use crate::term::{paint, styles};
use anyhow::{Context, bail};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// What the checks run against.
enum Target {
    /// A URL: the learner's server.
    Url(reqwest::Url),
    /// The embedded lab, started in-process.
    Lab,
}

/// Runs the command.
pub async fn run(course: &Course, args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        return list(course);
    }
    let target = parse_target(&args.target)?;
    // A report that cannot be written should stop the run before any server starts.
    if let Some(path) = &args.output {
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.run.is_some() && matches!(target, Target::Lab) {
        bail!("--run starts your own server; it cannot be combined with --target lab");
    }
    let challenges = select(course, &args, &target)?;
    if let Some(path) = &args.watch {
        if !path.exists() {
            bail!("--watch {}: no such file or folder", path.display());
        }
    }
    let data_dir = paths::data_dir(args.data_dir.clone())?;
    let settings = RunSettings {
        timeout: Duration::from_secs_f64(args.timeout),
    };

    // One Ctrl-C listener for the whole command. Interrupting a run drops it, and dropping a
    // run stops what it started (the learner's server is killed with its process group).
    let interrupted = tokio_util::sync::CancellationToken::new();
    let on_signal = interrupted.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let once = || async {
        tokio::select! {
            r = run_once(course, &challenges, &target, &args, settings, &data_dir) => r,
            _ = interrupted.cancelled() => {
                anstream::eprintln!("\n{} interrupted", paint(styles::WARN, "[check]"));
                Ok(ExitCode::from(130))
            }
        }
    };

    let mut code = once().await?;
    let Some(path) = &args.watch else {
        return Ok(code);
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut debouncer =
        notify_debouncer_mini::new_debouncer(Duration::from_millis(300), move |res| {
            if let Ok(events) = res {
                let _ = tx.send(events);
            }
        })
        .context("cannot watch files")?;
    debouncer
        .watcher()
        .watch(path, notify::RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", path.display()))?;
    // Files a run writes itself (the report, progress, the learner's database or logs) must
    // not start the next run.
    let own_files: Vec<std::path::PathBuf> = args
        .output
        .iter()
        .chain(std::iter::once(&data_dir))
        .filter_map(|p| std::path::absolute(p).ok())
        .collect();
    let relevant = |events: &[notify_debouncer_mini::DebouncedEvent]| {
        events
            .iter()
            .map(|e| &e.path)
            .find(|p| !is_noise(p) && !own_files.iter().any(|own| p.starts_with(own)))
            .map(|p| p.display().to_string())
    };
    loop {
        anstream::eprintln!(
            "{} watching {} — save a file to re-run, Ctrl-C to stop",
            paint(styles::DIM, "[check]"),
            path.display()
        );
        let changed = loop {
            let events: Vec<notify_debouncer_mini::DebouncedEvent> = tokio::select! {
                e = rx.recv() => match e { Some(e) => e, None => return Ok(code) },
                _ = interrupted.cancelled() => return Ok(code),
            };
            if let Some(changed) = relevant(&events) {
                break changed;
            }
        };
        anstream::eprintln!(
            "\n{} {changed} changed — running again",
            paint(styles::STRONG, "[check]")
        );
        code = once().await?;
        if interrupted.is_cancelled() {
            return Ok(code);
        }
        // Let the watcher report what the run itself touched, then forget it; an edit the
        // learner saved meanwhile still counts.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let mut pending = None;
        while let Ok(events) = rx.try_recv() {
            pending = pending.or_else(|| relevant(&events));
        }
        if let Some(changed) = pending {
            anstream::eprintln!(
                "{} {changed} changed during the run — running again",
                paint(styles::DIM, "[check]")
            );
            code = once().await?;
        }
    }
}

/// Files that change without the learner editing code: editor swap files, caches,
/// dependencies, databases and logs.
fn is_noise(path: &std::path::Path) -> bool {
    const DIRS: [&str; 9] = [
        "__pycache__",
        ".git",
        ".venv",
        "venv",
        "node_modules",
        "target",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
    ];
    const SUFFIXES: [&str; 12] = [
        "~", ".swp", ".swx", ".pyc", ".db", ".sqlite", ".sqlite3", "-journal", "-wal", "-shm",
        ".log", ".tmp",
    ];
    let in_noisy_dir = path
        .components()
        .any(|c| DIRS.iter().any(|d| c.as_os_str() == *d));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    in_noisy_dir || SUFFIXES.iter().any(|s| name.ends_with(s)) || name.starts_with(".#")
}

/// `reqlab check --list`: every challenge, with the lesson that teaches it.
fn list(course: &Course) -> anyhow::Result<ExitCode> {
    let mut out = crate::term::PipeTolerant::new(anstream::stdout());
    let width = course
        .challenges
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(9);
    for c in &course.challenges {
        let lesson = match &c.lesson {
            Some(l) => format!("lesson {l}"),
            None => "no lesson yet".to_string(),
        };
        writeln!(
            out,
            "  {}  {} {}",
            paint(styles::ID, format!("{:<width$}", c.id)),
            c.title,
            paint(
                styles::DIM,
                format!("· {} checks · {lesson}", c.checks.len())
            )
        )?;
    }
    writeln!(
        out,
        "\n{}",
        paint(
            styles::DIM,
            "Run one with: reqlab check <id> --target http://127.0.0.1:8000"
        )
    )?;
    Ok(ExitCode::SUCCESS)
}

fn parse_target(raw: &str) -> anyhow::Result<Target> {
    if raw == "lab" {
        return Ok(Target::Lab);
    }
    let url = reqwest::Url::parse(raw).map_err(|_| {
        anyhow::anyhow!(
            "--target `{raw}` is not a URL; use a base URL like http://127.0.0.1:8000, or `lab`"
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("--target `{raw}` must be an http:// or https:// URL with a host, or `lab`");
    }
    Ok(Target::Url(url))
}

/// The challenges to run, or a usage error naming what exists.
fn select<'c>(
    course: &'c Course,
    args: &CheckArgs,
    target: &Target,
) -> anyhow::Result<Vec<&'c Challenge>> {
    if args.all {
        if matches!(target, Target::Lab) {
            let (taught, untaught): (Vec<&Challenge>, Vec<&Challenge>) =
                course.challenges.iter().partition(|c| c.lesson.is_some());
            if !untaught.is_empty() {
                let ids: Vec<&str> = untaught.iter().map(|c| c.id.as_str()).collect();
                anstream::eprintln!(
                    "{} the lab serves the endpoints of written lessons only; not running {}",
                    paint(styles::DIM, "[check]"),
                    ids.join(", ")
                );
            }
            return Ok(taught);
        }
        return Ok(course.challenges.iter().collect());
    }
    let id = args.challenge.as_deref().unwrap_or_default();
    match course.challenge(id) {
        Some(c) if c.lesson.is_none() && matches!(target, Target::Lab) => bail!(
            "the lab does not serve `{id}` yet: it has the endpoints of written lessons only ({}); check your own server with --target URL",
            course
                .challenges
                .iter()
                .filter(|c| c.lesson.is_some())
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(c) => Ok(vec![c]),
        None => {
            let ids: Vec<&str> = course.challenges.iter().map(|c| c.id.as_str()).collect();
            bail!(
                "there is no challenge `{id}`; challenges are: {}",
                ids.join(", ")
            )
        }
    }
}

async fn run_once(
    course: &Course,
    challenges: &[&Challenge],
    target: &Target,
    args: &CheckArgs,
    settings: RunSettings,
    data_dir: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let mut lab: Option<RunningLab> = None;
    let mut learner: Option<LearnerServer> = None;
    let base = match target {
        Target::Lab => {
            let running = crate::lab::start(LabConfig::ephemeral()).await?;
            let url = running.url();
            anstream::eprintln!(
                "{} started the embedded lab at {url}",
                paint(styles::DIM, "[check]")
            );
            lab = Some(running);
            url
        }
        Target::Url(url) => {
            if let Some(command) = &args.run {
                let addr = format!(
                    "{}:{}",
                    url.host_str().unwrap_or("127.0.0.1"),
                    url.port_or_known_default().unwrap_or(80)
                );
                match LearnerServer::start(command, &addr, START_DEADLINE).await {
                    Ok(server) => learner = Some(server),
                    Err(e @ (StartError::PortBusy { .. } | StartError::Spawn { .. })) => {
                        return Err(e.into());
                    }
                    Err(e) => {
                        anstream::eprintln!("{} {e}", paint(styles::FAIL, "[check]"));
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            url.as_str().trim_end_matches('/').to_string()
        }
    };

    let result = execute(course, challenges, &base, args, settings).await;

    if let Some(mut server) = learner {
        if let Some(status) = server.exited() {
            anstream::eprintln!(
                "{} your server exited ({status}) during the checks; its output is above",
                paint(styles::FAIL, "[check]")
            );
        }
        server.stop().await;
    }
    if let Some(lab) = lab {
        lab.stop().await?;
    }
    let outcomes = result?;

    if matches!(target, Target::Url(_)) && outcomes.iter().any(ChallengeOutcome::passed) {
        if is_reqlab_lab(&base).await {
            anstream::eprintln!(
                "{} {base} is a reqlab lab server: passes against it show what passing looks like, and are not recorded as yours",
                paint(styles::DIM, "[check]")
            );
        } else {
            record(&outcomes, data_dir, args.format == CheckFormat::Text);
        }
    }
    let all_passed = outcomes.iter().all(ChallengeOutcome::passed);
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn execute(
    course: &Course,
    challenges: &[&Challenge],
    base: &str,
    args: &CheckArgs,
    settings: RunSettings,
) -> anyhow::Result<Vec<ChallengeOutcome>> {
    let mut sink: Box<dyn Write> = match &args.output {
        // Files get plain text: colors are for terminals.
        Some(path) => Box::new(anstream::StripStream::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(crate::term::PipeTolerant::new(anstream::stdout())),
    };
    let text = args.format == CheckFormat::Text;
    let mut outcomes = Vec::new();
    let mut total = Tally::default();
    for challenge in challenges {
        if text {
            report::text_heading(
                &mut sink,
                &challenge.id,
                &challenge.title,
                base,
                challenge.checks.len(),
            )?;
            sink.flush()?;
        }
        let mut on_check = |c: &crate::check::result::CheckOutcome| {
            if text {
                let _ = report::text_check(&mut sink, c);
                let _ = sink.flush();
            }
        };
        let outcome = run_challenge(challenge, course, base, settings, &mut on_check).await?;
        total += outcome.tally();
        outcomes.push(outcome);
    }
    match args.format {
        CheckFormat::Text => {
            if outcomes.len() > 1 {
                writeln!(sink)?;
                for o in &outcomes {
                    let mark = if o.passed() {
                        paint(styles::OK, "passed")
                    } else {
                        paint(styles::FAIL, "failed")
                    };
                    writeln!(sink, "  {mark}  {}", o.id)?;
                }
            }
            report::text_summary(&mut sink, total)?;
        }
        CheckFormat::Json => {
            serde_json::to_writer_pretty(&mut sink, &report::json(&outcomes))?;
            writeln!(sink)?;
        }
        CheckFormat::Junit => write!(sink, "{}", report::junit(&outcomes)?)?,
        CheckFormat::Tap => write!(sink, "{}", report::tap(&outcomes))?,
    }
    sink.flush()?;
    Ok(outcomes)
}

/// True when `base` answers like a reqlab lab (`GET /_lab/info`).
async fn is_reqlab_lab(base: &str) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return false;
    };
    let Ok(response) = client.get(format!("{base}/_lab/info")).send().await else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    response
        .json::<serde_json::Value>()
        .await
        .is_ok_and(|v| v["name"] == "reqlab")
}

/// Records passes; a progress problem is reported but never hides the check results.
fn record(outcomes: &[ChallengeOutcome], data_dir: &std::path::Path, announce: bool) {
    let passed: Vec<&ChallengeOutcome> = outcomes.iter().filter(|o| o.passed()).collect();
    if passed.is_empty() {
        return;
    }
    let result = (|| -> anyhow::Result<()> {
        let (progress, note) = Progress::open(data_dir)?;
        if let OpenNote::MovedAside(aside) = note {
            anstream::eprintln!(
                "{} your progress file could not be read; it was moved to {} and a new one started",
                paint(styles::WARN, "warning:"),
                aside.display()
            );
        }
        for o in &passed {
            let t = o.tally();
            progress.record_pass(&o.id, &o.target, t.passed as u32, t.warnings as u32)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) if announce => {
            let ids: Vec<&str> = passed.iter().map(|o| o.id.as_str()).collect();
            anstream::eprintln!(
                "{} recorded: {} passed (see `reqlab progress`)",
                paint(styles::OK, "progress"),
                ids.join(", ")
            );
        }
        Ok(()) => {}
        Err(e) => anstream::eprintln!(
            "{} could not record your progress: {e:#}",
            paint(styles::WARN, "warning:")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::is_noise;
    use std::path::Path;

    #[test]
    fn databases_logs_caches_and_editor_files_do_not_trigger_a_rerun() {
        for noise in [
            "app/tasks.db",
            "app/tasks.db-journal",
            "app/lab.sqlite3-wal",
            "app/server.log",
            "app/__pycache__/main.cpython-311.pyc",
            "app/.venv/lib/site.py",
            "app/.git/index",
            "app/.main.py.swp",
            "app/main.py~",
            "app/node_modules/x/index.js",
        ] {
            assert!(is_noise(Path::new(noise)), "{noise}");
        }
        for code in [
            "app/main.py",
            "app/routes/users.py",
            "app/static/index.html",
        ] {
            assert!(!is_noise(Path::new(code)), "{code}");
        }
    }
}
