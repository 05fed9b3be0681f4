//! The guide: `reqlab` on a terminal. One full-screen app that walks a learner through the
//! request lifecycle — the map of stages, each lesson beside a console that sends requests
//! to an embedded lab and shows their traces, and the challenge panel that checks the
//! learner's own server.
//!
//! The shape (Elm-style): [`app::App`] is the state; [`msg::Msg`] what happens;
//! [`update::update`] changes the state and returns [`msg::Effect`]s without doing I/O;
//! [`effects::Runner`] carries them out and reports back as messages; [`draw::draw`] shows
//! the state. [`runtime::Loop`] ties them together over any ratatui backend and any input
//! stream, so tests drive the real loop with keys and read the screen.
//!
//! - [`keys`]: the key table (actions, the `?` help and the footer come from it).
//! - [`layout`]: where panes go for a terminal size.
//! - [`reader`], [`composer`], [`responses`], [`traces`], [`challenge`]: each pane's state.
//! - [`side`]: clipboard and `$EDITOR` behind a trait; the terminal's setup and restoration.
//! - [`text`]: wrapping styled lines.

pub mod app;
pub mod challenge;
pub mod composer;
pub mod draw;
pub mod effects;
pub mod keys;
pub mod layout;
pub mod msg;
pub mod reader;
pub mod responses;
pub mod runtime;
pub mod side;
pub mod text;
pub mod traces;
pub mod update;

use crate::cli::GuideArgs;
use crate::course::Course;
use crate::lab::db::DbLocation;
use crate::lab::{LabConfig, RunningLab, address};
use crate::progress::Progress;
use app::{App, Standing};
use msg::Msg;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// Messages waiting for the loop, at most (senders wait when it is full).
pub const QUEUE: usize = 256;

/// Opens the guide: starts its lab, takes the terminal, runs until the learner quits, gives
/// the terminal back.
pub async fn run(course: Course, args: GuideArgs) -> anyhow::Result<ExitCode> {
    let data_dir = crate::paths::data_dir(args.data_dir.clone())?;
    crate::paths::ensure_dir(&data_dir)?;
    let (progress, _) = Progress::open(&data_dir)?;
    let standing = Standing {
        passed: progress
            .best_passes()?
            .into_iter()
            .map(|p| (p.challenge, p.version))
            .collect(),
        read: progress.sections_read()?.into_iter().collect(),
    };
    let place = progress.place()?;
    drop(progress);

    let db = if args.memory {
        DbLocation::Memory
    } else {
        DbLocation::File(data_dir.join("lab.db"))
    };
    let lab = crate::lab::start(LabConfig {
        port: args.port.unwrap_or(0),
        memory: args.memory,
        db,
        ..LabConfig::ephemeral()
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = lab.url();
    // Where `send`, `trace` and `learn` in another terminal find this lab.
    let recorded = address::record(&data_dir, &url, None).ok();

    let result = run_on_terminal(Arc::new(course), &lab, Some(data_dir), standing, place).await;
    drop(recorded);
    lab.stop().await?;
    result.map(|()| ExitCode::SUCCESS)
}

async fn run_on_terminal(
    course: Arc<Course>,
    lab: &RunningLab,
    data_dir: Option<std::path::PathBuf>,
    standing: Standing,
    place: crate::progress::Place,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    feed_traces(lab, tx.clone());
    quit_on_signals(tx.clone());
    let mut runner = effects::Runner::new(tx.clone(), Arc::clone(&course), data_dir)?;
    runner.step_with(&lab.state.steps);

    side::restore_on_panic();
    side::enter()?;
    let _restore = side::Restore;
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    let size = terminal.size()?;
    let mut app = App::new(
        course,
        lab.url(),
        standing,
        place,
        (size.width, size.height),
    );
    let mut input = side::TerminalInput::new();
    let mut side = side::TerminalSide;
    let colors = crate::term::colors_on_stdout();
    let mut main_loop = runtime::Loop {
        terminal: &mut terminal,
        input: &mut input,
        messages: &mut rx,
        runner: &mut runner,
        side: &mut side,
        colors,
    };
    let result = main_loop.run(&mut app).await;
    // Stop a challenge run (and the learner server it started) before leaving.
    runner.run(msg::Effect::CancelChallenge);
    result
}

/// Forwards the lab's traces to the guide, saying how many it had to skip when behind.
pub fn feed_traces(lab: &RunningLab, tx: mpsc::Sender<Msg>) {
    let mut traces = lab.state.traces.subscribe();
    tokio::spawn(async move {
        loop {
            let msg = match traces.recv().await {
                Ok(trace) => Msg::Trace(Box::new(trace.to_trace())),
                Err(broadcast::error::RecvError::Lagged(n)) => Msg::TracesSkipped(n),
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if tx.send(msg).await.is_err() {
                break;
            }
        }
    });
}

/// Leaves cleanly on SIGTERM and SIGHUP (the terminal closed), like on `q`.
fn quit_on_signals(tx: mpsc::Sender<Msg>) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = tx.send(Msg::Quit).await;
    });
}
