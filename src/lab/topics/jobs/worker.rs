//! The lab's background work: job workers and the outbox dispatcher.
//!
//! Each lab process runs [`WORKERS`] workers. A worker claims the oldest due job (see
//! [`queue::claim`]), renews its lease every [`HEARTBEAT`] while it works, and records how
//! the attempt ended. When the lab stops, a worker hands its job back at once; when the
//! process is killed, the lease lapses after [`LEASE`] and any worker — in this process after
//! a restart, or in another replica — takes the job again.
//!
//! The dispatcher publishes committed outbox events in order and keeps the queue's gauges in
//! `/metrics` current.

use super::queue::{self, Claimed, Outcome};
use crate::lab::clock;
use crate::lab::state::LabState;
use std::sync::Arc;
use std::time::Duration;

/// Workers per lab process.
pub const WORKERS: usize = 2;
/// How long a claimed job counts as held without a renewal.
pub const LEASE: Duration = Duration::from_secs(3);
/// How often a working worker renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// The longest a worker sleeps before looking for due work again (another replica may have
/// queued some, or a lease may lapse).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How often the dispatcher looks for events another process committed, and refreshes the
/// queue's gauges (changes in this process wake it at once).
const DISPATCH_POLL: Duration = Duration::from_secs(1);
/// What a simulated failure says.
pub const SIMULATED_ERROR: &str = "the object store answered 503 (simulated)";

/// Starts the workers and the dispatcher; they stop when the lab shuts down.
pub fn start(lab: &Arc<LabState>) {
    let name = lab.config.replica.clone().unwrap_or_else(|| "lab".into());
    for n in 1..=WORKERS {
        let worker = format!("{name}-{}-w{n}", std::process::id());
        lab.background.spawn(work(Arc::clone(lab), worker));
    }
    lab.background.spawn(dispatch(Arc::clone(lab)));
}

fn lease_from_now() -> i64 {
    clock::wall_micros() + LEASE.as_micros() as i64
}

async fn work(lab: Arc<LabState>, worker: String) {
    loop {
        if lab.shutdown.is_cancelled() {
            return;
        }
        // A read first: an idle worker only writes when a job may be due.
        let wait = until_due(&lab);
        if !wait.is_zero() {
            idle(&lab, wait).await;
            continue;
        }
        let w = worker.clone();
        let claimed = lab
            .db
            .write(move |conn| Ok(queue::claim(conn, &w, lease_from_now())?))
            .await;
        let job = match claimed {
            Ok(Some(job)) => job,
            Ok(None) => {
                // Another worker was quicker.
                idle(&lab, IDLE_POLL).await;
                continue;
            }
            Err(e) => {
                tracing::warn!("job worker {worker} could not claim a job: {e}");
                idle(&lab, IDLE_POLL).await;
                continue;
            }
        };
        lab.jobs.changed.notify_one();
        tracing::info!(job_id = %job.job_id, attempt = job.attempt, "{worker} started a job");
        let outcome = run(&lab, &job, &worker).await;
        let Some(outcome) = outcome else {
            // The lease was lost to another worker: the job is no longer ours to report on.
            continue;
        };
        let (j, w, o) = (job.clone(), worker.clone(), outcome.clone());
        match lab
            .db
            .write(move |conn| Ok(queue::finish(conn, &j, &w, &o)?))
            .await
        {
            Ok(Some(status)) => {
                tracing::info!(job_id = %job.job_id, attempt = job.attempt, status, "{worker} finished an attempt");
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(job_id = %job.job_id, "job worker {worker} could not record an attempt: {e}")
            }
        }
        lab.jobs.changed.notify_one();
        if matches!(outcome, Outcome::Interrupted) {
            return;
        }
    }
}

/// How long until the next job may be due: zero when one is due now (or the queue cannot be
/// read, so the claim says why), at most [`IDLE_POLL`] (another replica may queue work).
fn until_due(lab: &LabState) -> Duration {
    match lab.db.read(queue::next_due) {
        Ok(Some(due)) => {
            Duration::from_micros(due.saturating_sub(clock::wall_micros()).max(0) as u64)
                .min(IDLE_POLL)
        }
        Ok(None) => IDLE_POLL,
        Err(_) => Duration::ZERO,
    }
}

/// Sleeps for `wait`, or until new work is queued or the lab stops.
async fn idle(lab: &LabState, wait: Duration) {
    tokio::select! {
        _ = lab.jobs.queued.notified() => {}
        _ = tokio::time::sleep(wait) => {}
        _ = lab.shutdown.cancelled() => {}
    }
}

/// Does the work of one attempt, renewing the lease as it goes. `None`: the job was taken
/// by another worker (this one's lease lapsed while it was stalled).
async fn run(lab: &Arc<LabState>, job: &Claimed, worker: &str) -> Option<Outcome> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(job.work_ms as u64);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = lab.shutdown.cancelled() => return Some(Outcome::Interrupted),
            _ = heartbeat.tick() => {
                let (j, w) = (job.clone(), worker.to_string());
                match lab.db.write(move |conn| Ok(queue::renew(conn, &j, &w, lease_from_now())?)).await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => tracing::warn!(job_id = %job.job_id, "could not renew a lease: {e}"),
                }
            }
        }
    }
    Some(if job.attempt <= job.fail_times {
        Outcome::Failed(SIMULATED_ERROR.into())
    } else {
        Outcome::Succeeded(serde_json::json!({
            "chunks": chunks(&job.object_key),
            "worker": worker,
        }))
    })
}

/// How many chunks "indexing" the document made: a stand-in result that depends only on its key.
fn chunks(object_key: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(object_key.as_bytes());
    1 + u64::from(digest[0]) % 40
}

/// Publishes committed events in order and keeps the queue gauges current, until the lab stops.
async fn dispatch(lab: Arc<LabState>) {
    loop {
        // A read first: an idle dispatcher writes nothing.
        if lab.db.read(queue::unpublished).unwrap_or(true) {
            match lab.db.write(|conn| Ok(queue::publish(conn)?)).await {
                Ok(0) => {}
                Ok(_) => lab.jobs.published.notify_waiters(),
                Err(e) => tracing::warn!("the outbox dispatcher could not publish: {e}"),
            }
        }
        if let Ok((by_status, depth)) = lab.db.read(queue::counts) {
            lab.metrics.set_jobs(&by_status, depth);
        }
        tokio::select! {
            _ = lab.jobs.changed.notified() => {}
            _ = tokio::time::sleep(DISPATCH_POLL) => {}
            _ = lab.shutdown.cancelled() => {
                // What the last workers committed while stopping is published too.
                let _ = lab.db.write(|conn| Ok(queue::publish(conn)?)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_depend_on_the_key_only() {
        assert_eq!(chunks("a"), chunks("a"));
        assert!((1..=40).contains(&chunks("uploads/report.pdf")));
    }
}
