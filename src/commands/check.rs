//! `reqlab check`: resolve the arguments into a [`Plan`], run it, and print its events —
//! check results on standard output (or `--output`), everything else on standard error.

use crate::check::event::{Event, EventSink};
use crate::check::http::Tls;
use crate::check::plan::{Plan, Selection, Target, Watch};
use crate::check::session::Ending;
use crate::cli::{CheckArgs, CheckFormat};
use crate::course::Course;
use crate::paths;
use crate::progress::{Progress, Standing};
use crate::term::{self, paint};
use crate::view::{check as view, report, style};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Events buffered between the session and the printer.
const EVENT_BUFFER: usize = 64;

/// The command's arguments, resolved: the plan, and how to report.
struct Settings {
    plan: Plan,
    format: CheckFormat,
    output: Option<PathBuf>,
}

/// Runs the command.
pub async fn run(course: Course, args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        let passed = crate::paths::data_dir(args.data_dir.clone())
            .map(|dir| Progress::passed_versions(&dir))
            .unwrap_or_default();
        return list(&course, args.format, &passed);
    }
    let settings = resolve(course, args)?;

    let (tx, mut rx) = tokio::sync::mpsc::channel(EVENT_BUFFER);
    // One Ctrl-C listener for the whole command: it cancels the session, which stops what it
    // started (the learner's server, with its process group) before it returns.
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });

    let mut printer = Printer::new(&settings);
    let mut failure: Option<anyhow::Error> = None;
    let mut handle = |event: Event, failure: &mut Option<anyhow::Error>| {
        if failure.is_none()
            && let Err(e) = printer.print(&event)
        {
            // The report cannot be written: stop the checks, then say why.
            cancel.cancel();
            *failure = Some(e);
        }
    };
    let session = settings.plan.run(EventSink::to(tx), cancel.clone());
    tokio::pin!(session);
    let ending = loop {
        tokio::select! {
            biased;
            Some(event) = rx.recv() => handle(event, &mut failure),
            ending = &mut session => break ending,
        }
    };
    while let Ok(event) = rx.try_recv() {
        handle(event, &mut failure);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(match ending? {
        Ending::Passed => ExitCode::SUCCESS,
        Ending::Failed => ExitCode::from(1),
        Ending::Interrupted => {
            anstream::eprintln!("\n{} interrupted", paint(style::WARN, "[check]"));
            ExitCode::from(130)
        }
    })
}

/// Where the checks go when neither --target nor --run says.
const DEFAULT_TARGET: &str = "http://127.0.0.1:8000";

/// Turns the arguments into settings, or the usage error (exit 2) that stops the command.
fn resolve(course: Course, args: CheckArgs) -> anyhow::Result<Settings> {
    if args.challenge.is_none() && !args.all {
        anyhow::bail!(
            "name the challenge to run: `reqlab check --list` shows them (or a lesson's id or number), and --all runs every one"
        );
    }
    let target = Target::parse(args.target.as_deref().unwrap_or(DEFAULT_TARGET))?;
    // A report that cannot be written should stop the run before any server starts.
    if let Some(path) = &args.output {
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let mut tls = Tls {
        insecure: args.insecure,
        ..Tls::default()
    };
    if let Some(path) = &args.cacert {
        tls = tls.with_ca_file(path)?;
    }
    let plan = Plan::new(Arc::new(course), target, timeout).with_tls(tls);
    let mut plan = match (args.run, args.target.is_some()) {
        // Without --target, the server says where it listens.
        (Some(command), false) => plan.with_server_anywhere(command),
        (command, _) => plan.with_server(command)?,
    };
    // clap requires a challenge unless --all (or --list) is given.
    let selection = match args.challenge.as_deref() {
        Some(id) if !args.all => Selection::One(id),
        _ => Selection::All,
    };
    let left_out = plan.choose(selection)?;
    if !left_out.is_empty() {
        anstream::eprintln!(
            "{} the lab serves the endpoints of written lessons only; not running {}",
            paint(style::DIM, "[check]"),
            left_out.join(", ")
        );
    }
    let data_dir = paths::data_dir(args.data_dir)?;
    // Files a run writes itself (the report, progress) must not start the next run.
    let watch = args.watch.map(|path| Watch {
        path,
        ignore: args
            .output
            .iter()
            .cloned()
            .chain([data_dir.clone()])
            .collect(),
    });
    let plan = plan.with_watch(watch)?.recording_progress_in(data_dir);
    Ok(Settings {
        plan,
        format: args.format,
        output: args.output,
    })
}

/// Prints a session's events: results to the report sink, notes to standard error.
struct Printer {
    format: CheckFormat,
    output: Option<PathBuf>,
    /// Where the current run's report goes; opened when the run's first result arrives.
    sink: Option<Box<dyn Write>>,
    /// Checks of the current challenge not run because nothing listens.
    not_run: usize,
    /// The course, to name the lesson after a passed challenge.
    course: Arc<Course>,
}

impl Printer {
    fn new(settings: &Settings) -> Printer {
        Printer {
            format: settings.format,
            output: settings.output.clone(),
            sink: None,
            not_run: 0,
            course: Arc::clone(settings.plan.course()),
        }
    }

    /// The report sink for this run: the `--output` file (plain text: colors are for
    /// terminals), else standard output.
    fn sink(&mut self) -> anyhow::Result<&mut Box<dyn Write>> {
        if self.sink.is_none() {
            let sink: Box<dyn Write> = match &self.output {
                Some(path) => Box::new(anstream::StripStream::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot write {}", path.display()))?,
                )),
                None => Box::new(term::stdout()),
            };
            self.sink = Some(sink);
        }
        Ok(self.sink.as_mut().expect("just opened"))
    }

    fn print(&mut self, event: &Event) -> anyhow::Result<()> {
        let text = self.format == CheckFormat::Text;
        match event {
            Event::ChallengeStarted {
                id,
                title,
                target,
                checks,
            } if text => {
                let sink = self.sink()?;
                term::write_lines(sink, &view::heading(id, title, target, *checks))?;
                sink.flush()?;
            }
            // Checks that cannot reach the server are one line per challenge, not one each.
            Event::CheckFinished { outcome, .. } if text && outcome.not_run_unreachable() => {
                self.not_run += 1;
            }
            Event::CheckFinished { outcome, .. } if text => {
                let sink = self.sink()?;
                term::write_lines(sink, &view::check_lines(outcome))?;
                sink.flush()?;
            }
            Event::ChallengeFinished(_) if text && self.not_run > 0 => {
                let line = view::not_run_line(std::mem::take(&mut self.not_run));
                let sink = self.sink()?;
                term::write_lines(sink, &[line])?;
                sink.flush()?;
            }
            Event::Report(outcomes) => {
                let format = self.format;
                let sink = self.sink()?;
                match format {
                    CheckFormat::Text => term::write_lines(sink, &view::summary(outcomes))?,
                    CheckFormat::Json => {
                        serde_json::to_writer_pretty(&mut *sink, &report::json(outcomes))?;
                        writeln!(sink)?;
                    }
                    CheckFormat::Junit => write!(sink, "{}", report::junit(outcomes)?)?,
                    CheckFormat::Tap => write!(sink, "{}", report::tap(outcomes))?,
                }
                sink.flush()?;
            }
            Event::RunFinished { .. } => self.sink = None,
            Event::Recorded { challenges } if text => {
                self.note(event);
                for id in challenges {
                    term::eprint_line(&view::next_step(&self.course, id));
                }
            }
            Event::ChangeSeen {
                during_run: false, ..
            } => {
                anstream::eprintln!();
                self.note(event);
            }
            other => self.note(other),
        }
        Ok(())
    }

    fn note(&self, event: &Event) {
        if let Some(line) = view::event_note(event, self.format == CheckFormat::Text) {
            term::eprint_line(&line);
        }
    }
}

/// One challenge in `reqlab check --list --format json`.
#[derive(serde::Serialize)]
struct Listed<'a> {
    id: &'a str,
    title: &'a str,
    summary: &'a str,
    /// The lesson that teaches it, if it is written.
    lesson: Option<&'a str>,
    checks: usize,
    /// Goes up when its checks become stricter.
    version: u32,
    /// True when you have passed this version against your own server.
    passed: bool,
    /// `passed`, `earlier-version` (run it again) or `not-passed`.
    standing: Standing,
}

/// `reqlab check --list`: every challenge, with the lesson that teaches it.
fn list(
    course: &Course,
    format: CheckFormat,
    passed: &[(String, u32)],
) -> anyhow::Result<ExitCode> {
    let standing = |c: &crate::course::Challenge| {
        let version = passed.iter().find(|(id, _)| *id == c.id).map(|(_, v)| *v);
        Standing::of(version, c.version)
    };
    let mut out = term::stdout();
    if format == CheckFormat::Json {
        let listed: Vec<Listed> = course
            .challenges
            .iter()
            .map(|c| Listed {
                id: &c.id,
                title: &c.title,
                summary: &c.summary,
                lesson: c.lesson.as_deref(),
                checks: c.checks.len(),
                version: c.version,
                passed: standing(c) == Standing::Passed,
                standing: standing(c),
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &listed)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if matches!(format, CheckFormat::Junit | CheckFormat::Tap) {
        anyhow::bail!("--list prints text or json; --format junit and tap are for check results");
    }
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
        let mark = match standing(c) {
            Standing::Passed => format!("  {}", paint(style::OK, "✓ passed")),
            Standing::EarlierVersion => format!(
                "  {}",
                paint(style::DIM, "passed an earlier version — run again")
            ),
            Standing::NotPassed => String::new(),
        };
        writeln!(
            out,
            "  {}  {} {}{mark}",
            paint(style::ID, format!("{:<width$}", c.id)),
            c.title,
            paint(
                style::DIM,
                format!("· {} checks · {lesson}", c.checks.len())
            )
        )?;
    }
    writeln!(
        out,
        "\n{}",
        paint(
            style::DIM,
            "Run one with: reqlab check <id or lesson number> --target http://127.0.0.1:8000"
        )
    )?;
    Ok(ExitCode::SUCCESS)
}
