//! One challenge run's conversation with a server: where to send, the client (and its cookie
//! jar), the variables captured so far, whether the server turned out to be unreachable — and
//! a log of every request with the values it provided, so a failure can list every earlier
//! request its verdict depends on ([`Conversation::reproduction`]).
//! Every request goes through it, so every request is reported as an event.

use super::event::{Event, EventSink};
use super::http::{Client, Cookies, Exchange, Outgoing, TransportError};
use super::repro::{Provided, ReproStep, Reproduction};
use crate::course::challenge::Capture;
use crate::course::template::Vars;
use axum::http::Method;
use std::collections::{BTreeSet, HashMap};

/// A request as the log keeps it.
#[derive(Debug, Clone)]
struct Logged {
    /// The check that sent it.
    check: usize,
    /// The request as a reproduction shows it (`{{name}}` for values from earlier responses).
    shown: Outgoing,
    /// Log positions of the requests whose responses provided values it uses.
    deps: Vec<usize>,
    /// Values its response provided.
    provides: Vec<Provided>,
    /// The group of requests it was sent at the same moment with, if any.
    batch: Option<usize>,
}

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
    log: Vec<Logged>,
    /// For each variable an earlier response provided, the log position of that request.
    origin: HashMap<String, usize>,
    /// For each check, requests it depends on without sending anything that uses them (a
    /// probe that reads a captured token, say).
    check_deps: HashMap<usize, Vec<usize>>,
    /// How many groups of simultaneous requests were sent.
    batches: usize,
}

impl Conversation {
    /// A fresh conversation with the server at `base` (`http://127.0.0.1:8000`) for
    /// `challenge`, sending with `client` and reporting each request to `events`.
    pub fn new(base: &str, client: Client, challenge: &str, events: EventSink) -> Conversation {
        Conversation {
            base: base.trim_end_matches('/').to_string(),
            client,
            vars: Vars::for_run(),
            unreachable: None,
            events,
            challenge: challenge.to_string(),
            check: 0,
            log: Vec::new(),
            origin: HashMap::new(),
            check_deps: HashMap::new(),
            batches: 0,
        }
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

    /// Marks the server unreachable (an earlier challenge of the same run found out).
    pub fn set_unreachable(&mut self, reason: String) {
        self.unreachable = Some(reason);
    }

    /// Marks the start of check `index`; the requests that follow belong to it.
    pub fn begin_check(&mut self, index: usize) {
        self.check = index;
    }

    /// Sends a request; a refused connection marks the server unreachable for later checks.
    pub async fn send(&mut self, out: Outgoing) -> Exchange {
        let shown = out.clone();
        self.send_shown(out, shown, &[]).await
    }

    /// Sends `out`, logging it as `shown` (where values earlier responses returned appear as
    /// `{{name}}`) and as depending on the requests that provided the variables `uses`.
    pub async fn send_shown(
        &mut self,
        out: Outgoing,
        shown: Outgoing,
        uses: &[String],
    ) -> Exchange {
        self.send_shown_with(out, shown, uses, Cookies::Jar).await
    }

    /// Like [`Conversation::send_shown`], with or without the cookies earlier responses set.
    pub async fn send_shown_with(
        &mut self,
        out: Outgoing,
        shown: Outgoing,
        uses: &[String],
        cookies: Cookies,
    ) -> Exchange {
        self.log_request(shown, uses, None);
        let exchange = self.client.send_with(out, cookies).await;
        self.received(&exchange).await;
        exchange
    }

    /// Sends requests all at the same moment, to see what the server does when they race;
    /// a reproduction sends them together too.
    pub async fn send_together(&mut self, outs: Vec<Outgoing>) -> Vec<Exchange> {
        self.batches += 1;
        let batch = Some(self.batches);
        for out in &outs {
            self.log_request(out.clone(), &[], batch);
        }
        let client = self.client.clone();
        let exchanges = futures_util::future::join_all(
            outs.into_iter()
                .map(|out| client.send_with(out, Cookies::Jar)),
        )
        .await;
        for exchange in &exchanges {
            self.received(exchange).await;
        }
        exchanges
    }

    fn log_request(&mut self, shown: Outgoing, uses: &[String], batch: Option<usize>) {
        let deps = uses
            .iter()
            .filter_map(|name| self.origin.get(name).copied())
            .collect();
        self.log.push(Logged {
            check: self.check,
            shown,
            deps,
            provides: Vec::new(),
            batch,
        });
    }

    /// Notes what came of a request: an unreachable server, and the event.
    async fn received(&mut self, exchange: &Exchange) {
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
    }

    /// Sends a request to `path` with an optional JSON body.
    pub async fn send_json(
        &mut self,
        method: Method,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Exchange {
        self.send(json_request(method, self.url(path), json)).await
    }

    /// Sends a request to `path` (which may hold `{{name}}` for variables earlier responses
    /// provided) with an optional JSON body.
    pub async fn send_json_using(
        &mut self,
        method: Method,
        path: &str,
        json: Option<&serde_json::Value>,
        uses: &[String],
    ) -> Result<Exchange, String> {
        let real = self.vars.render(path)?;
        let shown = self.shown_vars().render(path)?;
        let out = json_request(method.clone(), self.url(&real), json);
        let shown = json_request(method, self.url(&shown), json);
        Ok(self.send_shown(out, shown, uses).await)
    }

    /// Remembers `value` as variable `name`, provided by the last request's response at
    /// `source` (`url_encoded` when later requests put it in a query string).
    pub fn provide(&mut self, name: &str, value: &str, source: Capture, url_encoded: bool) {
        self.vars.set(name, value);
        if let Some(last) = self.log.len().checked_sub(1) {
            self.log[last].provides.retain(|p| p.name != name);
            self.log[last].provides.push(Provided {
                name: name.to_string(),
                source,
                url_encoded,
            });
            self.origin.insert(name.to_string(), last);
        }
    }

    /// Records that the current check's verdict depends on variable `name` (for checks that
    /// read a captured value without sending it).
    pub fn depends_on(&mut self, name: &str) {
        if let Some(&at) = self.origin.get(name) {
            self.check_deps.entry(self.check).or_default().push(at);
        }
    }

    /// Variables for showing a request: those an earlier response provided stay `{{name}}`,
    /// so a reproduction reads them from the shell variable its earlier command fills.
    pub fn shown_vars(&self) -> Vars {
        let mut shown = self.vars.clone();
        for name in self.origin.keys() {
            shown.set(name, &format!("{{{{{name}}}}}"));
        }
        shown
    }

    /// Every request check `check`'s verdict depends on: its own requests, and the earlier
    /// requests whose values they use (and theirs, in turn), in the order they were sent.
    /// With `last_showed_it`, the check's last request is the one that showed the problem.
    pub fn reproduction(&self, check: usize, last_showed_it: bool) -> Reproduction {
        let mut wanted: BTreeSet<usize> = self
            .log
            .iter()
            .enumerate()
            .filter(|(_, l)| l.check == check)
            .map(|(i, _)| i)
            .collect();
        wanted.extend(self.check_deps.get(&check).into_iter().flatten());
        let mut todo: Vec<usize> = wanted.iter().copied().collect();
        while let Some(i) = todo.pop() {
            for &d in &self.log[i].deps {
                if wanted.insert(d) {
                    todo.push(d);
                }
            }
        }
        // A value matters only when a request of the reproduction uses it.
        let used: BTreeSet<usize> = wanted
            .iter()
            .flat_map(|&i| self.log[i].deps.iter().copied())
            .chain(self.check_deps.get(&check).into_iter().flatten().copied())
            .collect();
        let mut steps: Vec<(usize, ReproStep)> = wanted
            .iter()
            .map(|&i| {
                let l = &self.log[i];
                let provides = if used.contains(&i) {
                    l.provides.clone()
                } else {
                    Vec::new()
                };
                (
                    i,
                    ReproStep {
                        request: l.shown.clone(),
                        provides,
                        batch: l.batch,
                    },
                )
            })
            .collect();
        let request = match steps.last() {
            // A request sent together with others is reproduced only with them.
            Some((i, _))
                if last_showed_it
                    && self.log[*i].check == check
                    && self.log[*i].batch.is_none() =>
            {
                steps.pop().map(|(_, s)| s.request)
            }
            _ => None,
        };
        Reproduction {
            setup: steps.into_iter().map(|(_, s)| s).collect(),
            request,
        }
    }
}

fn json_request(method: Method, url: String, json: Option<&serde_json::Value>) -> Outgoing {
    let mut out = Outgoing::new(method, url);
    if let Some(v) = json {
        out.headers
            .push(("Content-Type".to_string(), "application/json".to_string()));
        out.body = Some(serde_json::to_vec(v).expect("JSON values serialize"));
    }
    out
}
