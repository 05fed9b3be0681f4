//! Step mode: a request sent with a step token is held at each stage boundary, so a viewer can
//! show what it carries there and let it go one stage at a time.
//!
//! A viewer in the same process opens a [`StepSession`] on the lab's [`Stepper`] and sends
//! requests carrying [`STEP_HEADER`]`: <token>`. Each hold arrives on [`StepSession::next`] as
//! a [`Held`]; [`Held::release`] moves the request on one stage ([`Go::Step`]) or to the end
//! ([`Go::Finish`]). The hold points, in order and each only if the request gets there:
//!
//! - `http`: the head as received (the capture middleware);
//! - `routing`: the matched route and its path parameters, as the handler takes its [`Gate`]
//!   (only a method the route serves gets there); or the 405 (the capture middleware) or the
//!   404 (the fallback handler), after which the request goes straight to `response`;
//! - `parsing`: the parsed body or query string, or why it could not be parsed (extractors);
//! - `validation`: each field's verdict (`Fields::finish`);
//! - `auth`: who is calling — every route is public for now ([`Gate::auth`], in handlers);
//! - `data`: every statement the handler is about to run, with its values, awaited before the
//!   database is touched: never on the writer thread nor inside a transaction, so a held
//!   request blocks no other;
//! - `response`: the status, headers and body about to go out (the capture middleware).
//!
//! Bounds, so nothing a client sends can make the lab hold requests without limit: only a
//! token a session issued holds anything (others are ignored, and the header is removed from
//! every request before anything else reads it); a session steps one request at a time — a
//! second stepped request while one is stepping is refused with a 409 problem, not queued;
//! every hold ends after the session's timeout ([`DEFAULT_HOLD_TIMEOUT`] unless set), when
//! the session is dropped, or when the lab shuts down, and the request then runs to the end.
//! Each hold adds one sentence to the trace saying how long it lasted and how it ended; the
//! durations of the stages' own work never include it, and no hold falls inside a body read,
//! so the lab's read timeouts measure reading alone. Values a handler would take as it writes
//! (timestamps) are taken before the data hold when the request is stepped, so the values shown
//! are the values written. Step mode follows traces: a lab running with tracing off, and its
//! own `/_lab/*` endpoints, hold nothing.
//!
//! - [`carries`]: what a hold shows, bounded in size.
//! - [`gate`]: a request's side — where it waits, and the trace sentences.

pub mod carries;
pub mod gate;

pub use carries::{Block, BlockKind, Carries, Planned};
pub use gate::{Gate, Hold};

use super::trace::Tracer;
use crate::stage::Stage;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The request header that carries a step token.
pub const STEP_HEADER: &str = "x-reqlab-step";
/// [`STEP_HEADER`] as a header name.
pub static STEP: HeaderName = HeaderName::from_static(STEP_HEADER);
/// How long a request stays held when nobody releases it, unless the session says otherwise.
pub const DEFAULT_HOLD_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The lab's step sessions: which tokens it issued, and where their holds go.
#[derive(Debug, Clone)]
pub struct Stepper {
    registry: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    sessions: Mutex<HashMap<String, Entry>>,
    /// The lab's shutdown: it ends every hold and every session's stream.
    shutdown: CancellationToken,
}

/// One open session, as requests find it by its token.
#[derive(Debug, Clone)]
struct Entry {
    viewer: mpsc::UnboundedSender<Held>,
    timeout: Duration,
    /// Cancelled when the session is dropped.
    ended: CancellationToken,
    /// True while one of its requests is being stepped.
    busy: Arc<AtomicBool>,
}

/// A second stepped request arrived while the session was stepping another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Stepper {
    /// A stepper whose holds all end when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Stepper {
        Stepper {
            registry: Arc::new(Registry {
                sessions: Mutex::new(HashMap::new()),
                shutdown,
            }),
        }
    }

    /// Opens a step session; requests carrying `session.token()` in [`STEP_HEADER`] are held.
    /// A hold nobody releases ends after [`DEFAULT_HOLD_TIMEOUT`].
    pub fn session(&self) -> StepSession {
        self.session_with_timeout(DEFAULT_HOLD_TIMEOUT)
    }

    /// Opens a step session whose holds end after `timeout` when nobody releases them.
    pub fn session_with_timeout(&self, timeout: Duration) -> StepSession {
        // A version 4 UUID draws 122 bits from the operating system's generator: unguessable.
        let token = uuid::Uuid::new_v4().simple().to_string();
        let (viewer, held) = mpsc::unbounded_channel();
        let ended = CancellationToken::new();
        let entry = Entry {
            viewer,
            timeout,
            ended: ended.clone(),
            busy: Arc::new(AtomicBool::new(false)),
        };
        self.registry.lock().insert(token.clone(), entry);
        StepSession {
            token,
            held,
            timeout,
            ended,
            registry: Arc::clone(&self.registry),
        }
    }

    /// The gate of a request that carried `token`: off for a token no open session issued,
    /// [`Busy`] when its session is already stepping another request.
    pub fn gate(
        &self,
        token: &HeaderValue,
        request_id: &str,
        tracer: &Tracer,
        headers: &HeaderMap,
    ) -> Result<Gate, Busy> {
        let Ok(token) = token.to_str() else {
            return Ok(Gate::off());
        };
        let Some(entry) = self.registry.lock().get(token.trim()).cloned() else {
            return Ok(Gate::off());
        };
        if entry
            .busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Busy);
        }
        let run = gate::Run {
            request_id: request_id.to_string(),
            tracer: tracer.clone(),
            viewer: entry.viewer,
            timeout: entry.timeout,
            ended: entry.ended,
            shutdown: self.registry.shutdown.clone(),
            authorization: gate::authorization(headers),
            slot: Mutex::new(Some(gate::Slot(entry.busy))),
        };
        Ok(Gate::on(run))
    }

    /// How many sessions are open.
    pub fn sessions(&self) -> usize {
        self.registry.lock().len()
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // The map stays consistent whatever a panicking holder was doing: it only inserts
        // and removes whole entries.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An open step session: its token, and the holds of the requests that carry it.
///
/// Dropping it closes the session: its token stops working and every request it holds runs
/// on to the end.
#[derive(Debug)]
pub struct StepSession {
    token: String,
    held: mpsc::UnboundedReceiver<Held>,
    timeout: Duration,
    ended: CancellationToken,
    registry: Arc<Registry>,
}

impl StepSession {
    /// The token to send in [`STEP_HEADER`].
    pub fn token(&self) -> &str {
        &self.token
    }

    /// How long a hold lasts when nobody releases it.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The next hold, or `None` when the lab shuts down.
    pub async fn next(&mut self) -> Option<Held> {
        tokio::select! {
            biased;
            _ = self.registry.shutdown.cancelled() => None,
            held = self.held.recv() => held,
        }
    }

    /// A hold that is already waiting, without waiting for one (for a viewer's draw loop).
    pub fn try_next(&mut self) -> Option<Held> {
        if self.registry.shutdown.is_cancelled() {
            return None;
        }
        self.held.try_recv().ok()
    }
}

impl Drop for StepSession {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.token);
        // Before the holds still queued are dropped, so their requests read this as the
        // session ending rather than as a step.
        self.ended.cancel();
    }
}

/// A request held at a stage boundary. Dropping it without [`Held::release`] is
/// [`Go::Step`].
#[derive(Debug)]
pub struct Held {
    /// The request's id: the same as its trace's and its `X-Request-ID`.
    pub request_id: String,
    /// The stage it is held at (it has not started it yet; for `http`, it has just arrived).
    pub stage: Stage,
    /// What it carries there.
    pub carries: Carries,
    go: oneshot::Sender<Go>,
}

impl Held {
    /// A hold for the request `request_id` at `stage`, and the receiver its release arrives
    /// on (the gate waits on it; a viewer's tests can stand in for the gate).
    pub fn new(
        request_id: String,
        stage: Stage,
        carries: Carries,
    ) -> (Held, oneshot::Receiver<Go>) {
        let (go, released) = oneshot::channel();
        let held = Held {
            request_id,
            stage,
            carries,
            go,
        };
        (held, released)
    }

    /// Moves the request on: one stage (held again at the next boundary) or to the end.
    pub fn release(self, go: Go) {
        // The request may be gone already (its client hung up): nothing is left to release.
        let _ = self.go.send(go);
    }

    /// True while the request still waits here: false once its hold timed out, the lab began
    /// shutting down, or its client went away (a viewer can then stop showing it as held).
    pub fn waiting(&self) -> bool {
        !self.go.is_closed()
    }
}

/// How far a released request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Go {
    /// To the next hold point.
    Step,
    /// To the end, without being held again.
    Finish,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn only_an_open_sessions_token_opens_a_gate_and_one_request_at_a_time() {
        let stepper = Stepper::new(CancellationToken::new());
        let headers = HeaderMap::new();
        let tracer = Tracer::recording();
        let forged = stepper.gate(&value("0123"), "r", &tracer, &headers);
        assert!(!forged.unwrap().is_on());

        let session = stepper.session();
        let token = value(session.token());
        assert_eq!(session.token().len(), 32);
        let first = stepper.gate(&token, "a", &tracer, &headers).unwrap();
        assert!(first.is_on());
        assert_eq!(
            stepper.gate(&token, "b", &tracer, &headers).unwrap_err(),
            Busy
        );
        drop(first);
        let again = stepper.gate(&token, "c", &tracer, &headers).unwrap();
        assert!(
            again.is_on(),
            "the slot is free once the first request ends"
        );
        drop(again);

        drop(session);
        assert_eq!(stepper.sessions(), 0);
        let closed = stepper.gate(&token, "d", &tracer, &headers).unwrap();
        assert!(!closed.is_on(), "a closed session's token holds nothing");
    }

    #[test]
    fn tokens_differ_between_sessions() {
        let stepper = Stepper::new(CancellationToken::new());
        let (a, b) = (stepper.session(), stepper.session());
        assert_ne!(a.token(), b.token());
        assert_eq!(stepper.sessions(), 2);
    }
}
