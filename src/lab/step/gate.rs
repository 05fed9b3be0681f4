//! A request's side of step mode: the [`Gate`] it waits at, one hold at a time, and the trace
//! sentence each hold leaves.
//!
//! A request that is not stepped has an off gate: every hold is a check of one `Option`, and
//! the closure that would describe the request is never called.

use super::carries::Carries;
use super::{Go, Held};
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::http::{HeaderMap, header};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where a request waits in step mode; off (and free) for every request not stepped.
#[derive(Debug, Clone, Default)]
pub struct Gate(Option<Arc<Run>>);

/// A stepped request: where its holds go and what ends them.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) request_id: String,
    pub(super) tracer: Tracer,
    pub(super) viewer: mpsc::UnboundedSender<Held>,
    pub(super) timeout: Duration,
    /// The session was dropped.
    pub(super) ended: CancellationToken,
    /// The lab is shutting down.
    pub(super) shutdown: CancellationToken,
    /// The scheme of the request's `Authorization` header, when it sent one.
    pub(super) authorization: Option<String>,
    /// The session's one stepping slot while this request is stepped; taken once it runs to
    /// the end, which frees the session for its next request.
    pub(super) slot: Mutex<Option<Slot>>,
}

/// A session's stepping slot, held by one request; freed when dropped.
#[derive(Debug)]
pub(super) struct Slot(pub(super) Arc<AtomicBool>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How a hold ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// Released to the next hold point.
    Step,
    /// Released to run to the end.
    Finish,
    /// The session was dropped.
    Left,
    /// Nobody released it in time.
    Timeout,
    /// The lab is shutting down.
    Shutdown,
}

impl Gate {
    /// The gate of a request that is not stepped.
    pub fn off() -> Gate {
        Gate(None)
    }

    pub(super) fn on(run: Run) -> Gate {
        Gate(Some(Arc::new(run)))
    }

    /// True for a stepped request (even one already released to run to the end).
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// True while the request is still held at each stage: stepped, and not yet released to
    /// run to the end. Lets a caller skip preparing what only a hold would show.
    pub fn stepping(&self) -> bool {
        self.0.as_ref().is_some_and(|run| run.stepping())
    }

    /// Holds a stepped request at `stage` until it is released, showing what `carries` makes;
    /// for any other request, returns at once without calling `carries`.
    ///
    /// `carries` runs now, not when the future is first polled, so it may borrow what the
    /// caller has and the future stays `'static`.
    pub fn hold(&self, stage: Stage, carries: impl FnOnce() -> Carries) -> Hold {
        self.pending(stage, |_| carries())
    }

    /// Holds a stepped request at `auth`: who is calling, and whether it may. Every lab route
    /// is public for now, so the hold says so, and whether an `Authorization` header came.
    pub fn auth(&self) -> Hold {
        self.pending(Stage::Auth, |run| {
            auth_carries(run.authorization.as_deref())
        })
    }

    /// The hold at `stage`, when the request is still being stepped.
    fn pending(&self, stage: Stage, carries: impl FnOnce(&Run) -> Carries) -> Hold {
        let Some(run) = self.0.as_ref().filter(|run| run.stepping()) else {
            return Hold(None);
        };
        let (run, carries) = (Arc::clone(run), carries(run));
        Hold(Some(Box::pin(
            async move { run.wait(stage, carries).await },
        )))
    }
}

/// A hold to await: done at once for a request that is not stepped. The waiting itself lives
/// on the heap, made only for a stepped request, so every other request's futures stay small.
#[must_use = "a hold does nothing unless awaited"]
pub struct Hold(Option<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Future for Hold {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut().0.as_mut() {
            None => Poll::Ready(()),
            Some(wait) => wait.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Hold(waiting)"
        } else {
            "Hold(none)"
        })
    }
}

impl Run {
    fn stepping(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// Sends the hold to the session and waits for whatever ends it first.
    async fn wait(&self, stage: Stage, carries: Carries) {
        if let Some(why) = self.over() {
            return self.end(stage, None, why);
        }
        let (held, released) = Held::new(self.request_id.clone(), stage, carries);
        if self.viewer.send(held).is_err() {
            return self.end(stage, None, Release::Left);
        }
        let since = Instant::now();
        let release = tokio::select! {
            biased;
            go = released => match go {
                Ok(Go::Step) => Release::Step,
                Ok(Go::Finish) => Release::Finish,
                // Dropped unreleased: a step, unless the session or the lab is going away.
                Err(_) => self.over().unwrap_or(Release::Step),
            },
            _ = self.ended.cancelled() => Release::Left,
            _ = self.shutdown.cancelled() => Release::Shutdown,
            _ = tokio::time::sleep(self.timeout) => Release::Timeout,
        };
        self.end(stage, Some(since.elapsed()), release);
    }

    /// Why holding is over for good, if it is.
    fn over(&self) -> Option<Release> {
        if self.shutdown.is_cancelled() {
            Some(Release::Shutdown)
        } else if self.ended.is_cancelled() {
            Some(Release::Left)
        } else {
            None
        }
    }

    /// Writes the hold's trace sentence; anything but a step lets the request run to the end.
    fn end(&self, stage: Stage, held: Option<Duration>, release: Release) {
        let tail = match release {
            Release::Step => "released to the next stage".to_string(),
            Release::Finish => "released to run to the end".to_string(),
            Release::Left => "the step session ended, so the request runs to the end".to_string(),
            Release::Timeout => format!(
                "nobody released it within the session's {} timeout, so the request runs to the end",
                spoken(self.timeout)
            ),
            Release::Shutdown => {
                "the lab is shutting down, so the request runs to the end".to_string()
            }
        };
        let stage_id = stage.id();
        match held {
            Some(held) => self.tracer.note(
                stage,
                Outcome::Ok,
                format_args!(
                    "held at {stage_id} for {} by step mode; {tail}",
                    spoken(held)
                ),
            ),
            None => self.tracer.note(
                stage,
                Outcome::Ok,
                format_args!("step mode stopped before {stage_id}: {tail}"),
            ),
        }
        if release != Release::Step {
            self.slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
        }
    }
}

/// The scheme of a request's `Authorization` header ("Bearer"), when it sent one; never the
/// credential itself.
pub(super) fn authorization(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?;
    let scheme = value
        .to_str()
        .ok()
        .and_then(|v| v.split_whitespace().next())
        .filter(|s| s.len() <= 20)
        .unwrap_or("unreadable");
    Some(scheme.to_string())
}

/// What the auth hold shows.
fn auth_carries(authorization: Option<&str>) -> Carries {
    let sent = match authorization {
        Some(scheme) => format!(
            "the request carries an Authorization header ({scheme}), which this public route does not read"
        ),
        None => "the request carries no Authorization header".to_string(),
    };
    Carries::new(format_args!(
        "this route is public: the lab asks nobody who they are, so every caller may go on; {sent}"
    ))
    .with_field("identity", "anonymous (the route is public)")
    .with_field(
        "Authorization",
        match authorization {
            Some(scheme) => format!("present ({scheme}), not checked"),
            None => "absent".to_string(),
        },
    )
    .with_field("decision", "allowed: no identity is needed")
}

/// A duration as a trace sentence says it: "240 ms", "2.3 s", "10 min".
fn spoken(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "under 1 ms".to_string(),
        1..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", d.as_secs_f64()),
        _ => {
            let (min, s) = (d.as_secs() / 60, d.as_secs() % 60);
            if s == 0 {
                format!("{min} min")
            } else {
                format!("{min} min {s} s")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(spoken(Duration::from_micros(300)), "under 1 ms");
        assert_eq!(spoken(Duration::from_millis(240)), "240 ms");
        assert_eq!(spoken(Duration::from_millis(2340)), "2.3 s");
        assert_eq!(spoken(Duration::from_secs(600)), "10 min");
        assert_eq!(spoken(Duration::from_secs(61)), "1 min 1 s");
    }

    #[test]
    fn the_auth_hold_names_the_scheme_but_never_the_credential() {
        let mut headers = HeaderMap::new();
        assert_eq!(authorization(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            "Bearer s3cret-token".parse().unwrap(),
        );
        let scheme = authorization(&headers);
        assert_eq!(scheme.as_deref(), Some("Bearer"));
        let carries = auth_carries(scheme.as_deref());
        assert!(carries.summary.contains("public"), "{}", carries.summary);
        let shown = format!("{carries:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[tokio::test]
    async fn an_off_gate_never_builds_what_it_would_show() {
        let gate = Gate::off();
        gate.hold(Stage::Data, || unreachable!("not stepped")).await;
        gate.auth().await;
        assert!(!gate.is_on());
    }
}
