//! Running a [`Plan`]: start what the checks need (the embedded lab, or the learner's server),
//! run the challenges, stop what was started, record the learner's passes — and with a watch,
//! do it again on every change. Everything is reported as [`Event`]s; a cancelled session
//! stops what it started before it returns.

use super::event::{Event, EventSink};
use super::output::ServerLog;
use super::plan::{Plan, Target};
use super::result::ChallengeOutcome;
use super::run::{OUTPUT_QUIET, OUTPUT_WAIT, RunSettings, run_challenge};
use super::server::{LearnerServer, PORT_RELEASE, START_DEADLINE};
use super::watch::Watcher;
use crate::lab::{LabConfig, RunningLab};
use crate::progress::{OpenNote, Progress};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The last run passed every must-check.
    Passed,
    /// The last run failed a must-check, or its server did not start.
    Failed,
    /// The session was cancelled while the checks ran.
    Interrupted,
}

/// How long to let the watcher report what a run touched before looking for the learner's
/// own edits (the run's files are ignored; this only settles the queue).
const SETTLE: Duration = Duration::from_millis(400);

impl Plan {
    /// Runs the plan, reporting to `events`, until it is done or `cancel` fires. Errors are
    /// configuration problems (a busy port, a command that cannot start, a lab that cannot
    /// open); a failing server is a failed run, not an error.
    pub async fn run(
        &self,
        events: EventSink,
        cancel: CancellationToken,
    ) -> anyhow::Result<Ending> {
        let mut ending = self.run_once(&events, &cancel, false).await?;
        if ending == Ending::Interrupted {
            return Ok(ending);
        }
        let Some(watch) = &self.watch else {
            return Ok(ending);
        };
        let mut watcher = Watcher::start(watch)?;
        loop {
            events
                .emit(Event::Watching {
                    path: watch.path.clone(),
                })
                .await;
            let changed = tokio::select! {
                changed = watcher.next_change() => changed,
                _ = cancel.cancelled() => None,
            };
            let Some(path) = changed else {
                return Ok(ending);
            };
            events
                .emit(Event::ChangeSeen {
                    path,
                    during_run: false,
                })
                .await;
            ending = self.run_once(&events, &cancel, true).await?;
            // Let the watcher report what the run itself touched, then forget it; an edit the
            // learner saved meanwhile still counts.
            tokio::select! {
                _ = tokio::time::sleep(SETTLE) => {}
                _ = cancel.cancelled() => {}
            }
            if ending == Ending::Interrupted || cancel.is_cancelled() {
                return Ok(ending);
            }
            if let Some(path) = watcher.take_pending() {
                events
                    .emit(Event::ChangeSeen {
                        path,
                        during_run: true,
                    })
                    .await;
                ending = self.run_once(&events, &cancel, true).await?;
                if ending == Ending::Interrupted {
                    return Ok(ending);
                }
            }
        }
    }

    /// One run: start, check, stop, record. A re-run first waits for the previous server to
    /// let go of its port.
    async fn run_once(
        &self,
        events: &EventSink,
        cancel: &CancellationToken,
        rerun: bool,
    ) -> anyhow::Result<Ending> {
        let mut lab: Option<RunningLab> = None;
        let mut learner: Option<LearnerServer> = None;
        let base = match &self.target {
            Target::Lab => {
                let running = crate::lab::start(LabConfig::ephemeral()).await?;
                let url = running.url();
                events.emit(Event::LabStarted { url: url.clone() }).await;
                lab = Some(running);
                url
            }
            Target::Url(url) => {
                if let Some(server) = &self.server {
                    let wait_free = rerun.then_some(PORT_RELEASE);
                    let started = tokio::select! {
                        started = LearnerServer::start(&server.command, &server.listen, START_DEADLINE, wait_free, events) => started,
                        _ = cancel.cancelled() => return Ok(Ending::Interrupted),
                    };
                    match started {
                        Ok(server) => learner = Some(server),
                        Err(e) if e.is_configuration() => return Err(e.into()),
                        Err(e) => {
                            events
                                .emit(Event::ServerDidNotStart {
                                    reason: e.to_string(),
                                })
                                .await;
                            events.emit(Event::RunFinished { passed: false }).await;
                            return Ok(Ending::Failed);
                        }
                    }
                }
                match &learner {
                    Some(server) => server.base().to_string(),
                    None => url.as_str().trim_end_matches('/').to_string(),
                }
            }
        };

        let log = learner.as_ref().map(|s| s.log().clone());
        let checks = self.run_challenges(&base, log, events);
        let outcomes = tokio::select! {
            outcomes = checks => Some(outcomes),
            _ = cancel.cancelled() => None,
        };
        if let Some(Ok(outcomes)) = &outcomes {
            events.emit(Event::Report(outcomes.clone())).await;
        }

        if let Some(mut server) = learner {
            // What the server prints about the last requests (a traceback) comes just after
            // them; let it arrive before the server stops.
            server.log().settle(OUTPUT_QUIET, OUTPUT_WAIT).await;
            if let Some(status) = server.exited() {
                events.emit(Event::ServerExited { status }).await;
            }
            server.stop().await;
        }
        if let Some(lab) = lab {
            lab.stop().await?;
        }
        let Some(outcomes) = outcomes else {
            return Ok(Ending::Interrupted);
        };
        let outcomes = outcomes?;

        if matches!(self.target, Target::Url(_)) && outcomes.iter().any(ChallengeOutcome::passed) {
            if is_reqlab_lab(&base).await {
                events.emit(Event::LabNotRecorded { target: base }).await;
            } else if let Some(data_dir) = &self.progress {
                record(&outcomes, data_dir, events).await;
            }
        }
        let passed = outcomes.iter().all(ChallengeOutcome::passed);
        events.emit(Event::RunFinished { passed }).await;
        Ok(if passed {
            Ending::Passed
        } else {
            Ending::Failed
        })
    }

    async fn run_challenges(
        &self,
        base: &str,
        server_log: Option<ServerLog>,
        events: &EventSink,
    ) -> anyhow::Result<Vec<ChallengeOutcome>> {
        let mut settings = RunSettings {
            timeout: self.timeout,
            tls: self.tls.clone(),
            server_log,
            unreachable: None,
        };
        let mut outcomes = Vec::new();
        for challenge in self.challenges() {
            let outcome =
                run_challenge(challenge, &self.course, base, settings.clone(), events).await?;
            // One server that is not there is one failure: the later challenges do not run.
            settings.unreachable = outcome.unreachable.clone();
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
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
async fn record(outcomes: &[ChallengeOutcome], data_dir: &std::path::Path, events: &EventSink) {
    let passed: Vec<&ChallengeOutcome> = outcomes.iter().filter(|o| o.passed()).collect();
    let mut moved_to = None;
    let result = (|| -> anyhow::Result<()> {
        let (progress, note) = Progress::open(data_dir)?;
        if let OpenNote::MovedAside(aside) = note {
            moved_to = Some(aside);
        }
        for o in &passed {
            let t = o.tally();
            progress.record_pass(
                &o.id,
                o.version,
                &o.target,
                t.passed as u32,
                t.warnings as u32,
            )?;
        }
        Ok(())
    })();
    if let Some(moved_to) = moved_to {
        events.emit(Event::ProgressMovedAside { moved_to }).await;
    }
    match result {
        Ok(()) => {
            let challenges = passed.iter().map(|o| o.id.clone()).collect();
            events.emit(Event::Recorded { challenges }).await;
        }
        Err(e) => {
            events
                .emit(Event::RecordFailed {
                    reason: format!("{e:#}"),
                })
                .await;
        }
    }
}
