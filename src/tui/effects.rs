//! Carrying out what `update` asks: requests to the lab, challenge runs, progress writes.
//! Each runs as a task and reports back as a [`Msg`] on the guide's channel.

use super::msg::{Effect, Msg, Notice, RunTarget};
use crate::check::event::{Event as CheckEvent, EventSink};
use crate::check::http::{Client, Exchange};
use crate::check::plan::{Plan, Selection, Target};
use crate::check::run::{RunSettings, run_challenge};
use crate::course::Course;
use crate::lab::step::{DEFAULT_HOLD_TIMEOUT, Go, STEP_HEADER, Stepper};
use crate::lab::{LabConfig, RunningLab};
use crate::progress::Progress;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a console request may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long each of a challenge's requests may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs effects.
pub struct Runner {
    tx: mpsc::Sender<Msg>,
    course: Arc<Course>,
    /// Where progress is kept; `None` keeps nothing (tests that must not write).
    data_dir: Option<PathBuf>,
    client: Client,
    /// For stepped requests, which wait at each stage for as long as the learner looks.
    stepping_client: Client,
    /// The step session's token, when the lab steps requests for this guide.
    step_token: Option<String>,
    challenge: Option<CancellationToken>,
}

impl Runner {
    /// A runner reporting on `tx`.
    pub fn new(
        tx: mpsc::Sender<Msg>,
        course: Arc<Course>,
        data_dir: Option<PathBuf>,
    ) -> anyhow::Result<Runner> {
        Ok(Runner {
            tx,
            course,
            data_dir,
            client: Client::new(SEND_TIMEOUT)?,
            stepping_client: Client::new(DEFAULT_HOLD_TIMEOUT + SEND_TIMEOUT)?,
            step_token: None,
            challenge: None,
        })
    }

    /// Opens a step session on the guide's lab: its holds come back as [`Msg::Held`].
    pub fn step_with(&mut self, stepper: &Stepper) {
        let mut session = stepper.session();
        self.step_token = Some(session.token().to_string());
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(held) = session.next().await {
                if let Err(unsent) = tx.send(Msg::Held(Box::new(held))).await {
                    // The guide has gone: let the request run on.
                    if let Msg::Held(held) = unsent.0 {
                        held.release(Go::Finish);
                    }
                    break;
                }
            }
        });
    }

    /// Starts one effect (it finishes in the background).
    pub fn run(&mut self, effect: Effect) {
        match effect {
            Effect::Send {
                id,
                mut request,
                stepped,
            } => {
                let client = match (&self.step_token, stepped) {
                    (Some(token), true) => {
                        request
                            .headers
                            .push((STEP_HEADER.to_string(), token.clone()));
                        self.stepping_client.clone()
                    }
                    _ => self.client.clone(),
                };
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let exchange = client.send(request).await;
                    let _ = tx
                        .send(Msg::Sent {
                            id,
                            exchange: Box::new(exchange),
                        })
                        .await;
                });
            }
            Effect::RunChallenge {
                run,
                challenge,
                target,
            } => self.run_challenge(run, challenge, target),
            Effect::Release(held, go) => held.release(go),
            Effect::CancelChallenge => {
                if let Some(token) = self.challenge.take() {
                    token.cancel();
                }
            }
            Effect::CompareWithLab { challenge, check } => {
                let course = Arc::clone(&self.course);
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = lab_exchanges(&course, &challenge, check).await;
                    let _ = tx.send(Msg::Compared { check, result }).await;
                });
            }
            Effect::MarkRead { lesson, section } => {
                self.with_progress(move |p| p.mark_read(&lesson, &section));
            }
            Effect::SavePlace(place) => {
                self.with_progress(move |p| p.save_place(&place));
            }
            // The loop itself carries these out: they need the terminal.
            Effect::Copy(_) | Effect::Edit { .. } => {}
        }
    }

    /// Writes progress off the async threads; a failure is told, never lost silently.
    fn with_progress(&self, write: impl FnOnce(&Progress) -> anyhow::Result<()> + Send + 'static) {
        let Some(dir) = self.data_dir.clone() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = Progress::open(&dir).and_then(|(p, _)| write(&p));
            if let Err(e) = result {
                let _ = tx.blocking_send(Msg::Notice(Notice::error(format!(
                    "could not save your progress: {e:#}"
                ))));
            }
        });
    }

    fn run_challenge(&mut self, run: u64, challenge: String, target: RunTarget) {
        if let Some(token) = self.challenge.take() {
            token.cancel();
        }
        let token = CancellationToken::new();
        self.challenge = Some(token.clone());
        let course = Arc::clone(&self.course);
        let data_dir = self.data_dir.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = run_plan(&course, &challenge, target, data_dir, run, &tx, token).await;
            let _ = tx
                .send(Msg::CheckEnded {
                    run,
                    result: result.map_err(|e| field_words(&format!("{e:#}"))),
                })
                .await;
        });
    }
}

/// The check session's flag names, said as the panel's fields.
fn field_words(error: &str) -> String {
    error
        .replace("--target", "the target")
        .replace("--run", "the start command")
}

async fn run_plan(
    course: &Arc<Course>,
    challenge: &str,
    target: RunTarget,
    data_dir: Option<PathBuf>,
    run: u64,
    tx: &mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> anyhow::Result<crate::check::session::Ending> {
    let (target, command) = match target {
        RunTarget::Lab => (Target::Lab, None),
        RunTarget::Learner { url, command } => (Target::parse(&url)?, command),
    };
    let mut plan = Plan::new(Arc::clone(course), target, CHECK_TIMEOUT).with_server(command)?;
    plan.choose(Selection::One(challenge))?;
    if let Some(dir) = data_dir {
        plan = plan.recording_progress_in(dir);
    }
    let (events_tx, mut events_rx) = mpsc::channel::<CheckEvent>(64);
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                if tx
                    .send(Msg::Check {
                        run,
                        event: Box::new(event),
                    })
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    };
    let ending = plan.run(EventSink::to(events_tx), cancel).await;
    let _ = forward.await;
    ending
}

/// Runs `challenge` against a fresh lab and returns the requests check `check` sent there.
async fn lab_exchanges(
    course: &Course,
    challenge: &str,
    check: usize,
) -> Result<Vec<Exchange>, String> {
    let def = course
        .challenge(challenge)
        .ok_or_else(|| format!("no challenge {challenge}"))?;
    let lab: RunningLab = crate::lab::start(LabConfig::ephemeral())
        .await
        .map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::channel::<CheckEvent>(64);
    let collect = tokio::spawn(async move {
        let mut mine = Vec::new();
        while let Some(event) = rx.recv().await {
            if let CheckEvent::RequestSent {
                check: c, exchange, ..
            } = event
                && c == check
            {
                mine.push(*exchange);
            }
        }
        mine
    });
    let outcome = run_challenge(
        def,
        course,
        &lab.url(),
        RunSettings::default(),
        &EventSink::to(tx),
    )
    .await;
    let _ = lab.stop().await;
    outcome.map_err(|e| e.to_string())?;
    collect.await.map_err(|e| e.to_string())
}
