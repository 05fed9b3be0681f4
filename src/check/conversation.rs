//! One challenge run's conversation with a server: where to send, the client (and its cookie
//! jar), the variables captured so far, and whether the server turned out to be unreachable.
//! Every request goes through it, so every request is reported as an event.

use super::event::{Event, EventSink};
use super::http::{Client, Exchange, Outgoing, TransportError};
use crate::course::template::Vars;
use axum::http::Method;
use std::time::Duration;

/// The state the checks of one challenge run share.
pub struct Conversation {
    base: String,
    client: Client,
    /// Variables: built-ins and captures.
    pub vars: Vars,
    unreachable: Option<String>,
    events: EventSink,
    challenge: String,
    check: usize,
}

impl Conversation {
    /// A fresh conversation with the server at `base` (`http://127.0.0.1:8000`) for
    /// `challenge`, reporting each request to `events`.
    pub fn new(
        base: &str,
        timeout: Duration,
        challenge: &str,
        events: EventSink,
    ) -> anyhow::Result<Conversation> {
        Ok(Conversation {
            base: base.trim_end_matches('/').to_string(),
            client: Client::new(timeout)?,
            vars: Vars::for_run(),
            unreachable: None,
            events,
            challenge: challenge.to_string(),
            check: 0,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URL for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Why the server cannot be reached, once a request found out.
    pub fn unreachable(&self) -> Option<&str> {
        self.unreachable.as_deref()
    }

    /// Marks the start of check `index`; the requests that follow belong to it.
    pub fn begin_check(&mut self, index: usize) {
        self.check = index;
    }

    /// Sends a request; a refused connection marks the server unreachable for later checks.
    pub async fn send(&mut self, out: Outgoing) -> Exchange {
        let exchange = self.client.send(out).await;
        if let Err(e @ TransportError::Refused { .. }) = &exchange.response {
            self.unreachable = Some(e.to_string());
        }
        if self.events.is_listening() {
            self.events
                .emit(Event::RequestSent {
                    challenge: self.challenge.clone(),
                    check: self.check,
                    exchange: Box::new(exchange.clone()),
                })
                .await;
        }
        exchange
    }

    /// Sends a request to `path` with an optional JSON body.
    pub async fn send_json(
        &mut self,
        method: Method,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Exchange {
        let mut out = Outgoing::new(method, self.url(path));
        if let Some(v) = json {
            out.headers
                .push(("Content-Type".to_string(), "application/json".to_string()));
            out.body = Some(serde_json::to_vec(v).expect("JSON values serialize"));
        }
        self.send(out).await
    }
}
