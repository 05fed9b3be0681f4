//! Sending check requests to the learner's server, and recording exactly what happened.
//!
//! Every exchange is kept whole (request, response or transport failure) so a failing check
//! can print it as a curl command and show what came back. Responses are read with a size cap
//! and a deadline: a server that hangs, drips, floods or speaks garbage yields a clear
//! failure, never a hung or exploding checker.

pub use crate::course::request::Outgoing;
use reqwest::cookie::Jar;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most response-body bytes read per request; the rest is discarded.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A response as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes, at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
    /// True when the body was longer than the cap.
    pub truncated: bool,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
}

impl Received {
    /// All values of a header, joined with `, ` (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The body parsed as JSON, or why it is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        if self.truncated {
            return Err(format!(
                "the body is larger than {} MiB; only the start was read, so it cannot be parsed",
                MAX_BODY_BYTES / (1024 * 1024)
            ));
        }
        if self.body.is_empty() {
            return Err("the body is empty".into());
        }
        serde_json::from_slice(&self.body).map_err(|e| format!("the body is not valid JSON ({e})"))
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Connection refused: no server on that port.
    #[error(
        "nothing is listening on {addr} — is your server running? (e.g. uvicorn main:app --port {port})"
    )]
    Refused {
        /// host:port.
        addr: String,
        /// The port alone.
        port: u16,
    },
    /// No complete response before the deadline.
    #[error("no complete response within {secs} s{progress}")]
    Timeout {
        /// The deadline, seconds (as written: `5`, `0.5`).
        secs: String,
        /// What had arrived, if anything.
        progress: String,
    },
    /// Redirects were followed too many times.
    #[error("too many redirects (a redirect loop?)")]
    RedirectLoop,
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What was sent.
    pub request: Outgoing,
    /// What came back.
    pub response: Result<Received, TransportError>,
}

/// Which certificates an https server may present, beyond the system's trusted ones.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// Extra trusted certificates (`--cacert FILE`), e.g. a learner's self-signed one.
    pub extra_roots: Vec<reqwest::Certificate>,
    /// Accept any certificate (`--insecure`): the connection is encrypted but not verified.
    pub insecure: bool,
}

impl Tls {
    /// Reads the PEM certificates in `path` (for `--cacert`).
    pub fn with_ca_file(mut self, path: &std::path::Path) -> anyhow::Result<Tls> {
        let pem =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("--cacert {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--cacert {}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)",
                    path.display()
                )
            })?;
        self.extra_roots.extend(certs);
        Ok(self)
    }
}

/// The HTTP client for one run: a shared cookie jar, a timeout, redirects off by default.
#[derive(Debug, Clone)]
pub struct Client {
    plain: reqwest::Client,
    following: reqwest::Client,
    /// The same two without the cookie jar, for requests that must carry no credentials
    /// but their own.
    plain_cookieless: reqwest::Client,
    following_cookieless: reqwest::Client,
    timeout: Duration,
}

/// Whether a request carries the cookies earlier responses set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cookies {
    /// Send them (a browser would).
    #[default]
    Jar,
    /// Send none: the request carries only the credentials it names itself.
    None,
}

impl Client {
    /// A client with a per-request `timeout` that trusts the system's certificates.
    pub fn new(timeout: Duration) -> anyhow::Result<Client> {
        Client::with_tls(timeout, &Tls::default())
    }

    /// A client with a per-request `timeout` and these TLS settings.
    pub fn with_tls(timeout: Duration, tls: &Tls) -> anyhow::Result<Client> {
        let jar = Arc::new(Jar::default());
        let build = |redirects: reqwest::redirect::Policy, cookies: Cookies| {
            let builder = reqwest::Client::builder()
                .tls_certs_merge(tls.extra_roots.iter().cloned())
                .tls_danger_accept_invalid_certs(tls.insecure);
            let builder = match cookies {
                Cookies::Jar => builder.cookie_provider(Arc::clone(&jar)),
                Cookies::None => builder,
            };
            builder
                .redirect(redirects)
                .timeout(timeout)
                .connect_timeout(timeout)
                // A fresh connection per request: a server that drops a connection after one
                // bad response must not make the next, unrelated check fail.
                .pool_max_idle_per_host(0)
                .user_agent(concat!("reqlab/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        use reqwest::redirect::Policy;
        Ok(Client {
            plain: build(Policy::none(), Cookies::Jar)?,
            following: build(Policy::limited(10), Cookies::Jar)?,
            plain_cookieless: build(Policy::none(), Cookies::None)?,
            following_cookieless: build(Policy::limited(10), Cookies::None)?,
            timeout,
        })
    }

    /// Sends a request with the cookie jar and records the exchange; never fails, never
    /// panics.
    pub async fn send(&self, request: Outgoing) -> Exchange {
        self.send_with(request, Cookies::Jar).await
    }

    /// Sends a request, with or without the cookie jar, and records the exchange.
    pub async fn send_with(&self, request: Outgoing, cookies: Cookies) -> Exchange {
        let response = self.perform(&request, cookies).await;
        Exchange { request, response }
    }

    async fn perform(&self, out: &Outgoing, cookies: Cookies) -> Result<Received, TransportError> {
        let client = match (out.follow_redirects, cookies) {
            (true, Cookies::Jar) => &self.following,
            (false, Cookies::Jar) => &self.plain,
            (true, Cookies::None) => &self.following_cookieless,
            (false, Cookies::None) => &self.plain_cookieless,
        };
        let mut builder = client.request(out.method.clone(), &out.url);
        for (name, value) in &out.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &out.body {
            builder = builder.body(body.clone());
        }
        let start = Instant::now();
        let mut response = builder
            .send()
            .await
            .map_err(|e| self.describe(&e, &out.url, 0))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_BODY_BYTES - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.describe(&e, &out.url, body.len())),
            }
        }
        Ok(Received {
            status,
            headers,
            body,
            truncated,
            elapsed: start.elapsed(),
        })
    }

    fn describe(&self, err: &reqwest::Error, url: &str, received: usize) -> TransportError {
        let chain = error_chain(err);
        if err.is_timeout() {
            let progress = if received > 0 {
                format!(" (the body had sent {received} bytes and was still going)")
            } else if err.is_body() || err.is_decode() {
                " (the headers came, the body did not finish)".to_string()
            } else {
                " (the server accepted the connection but did not answer)".to_string()
            };
            return TransportError::Timeout {
                secs: format!("{}", self.timeout.as_secs_f64()),
                progress,
            };
        }
        if err.is_redirect() {
            return TransportError::RedirectLoop;
        }
        if err.is_connect() && chain.contains("refused") {
            let parsed = reqwest::Url::parse(url).ok();
            let host = parsed
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            let port = parsed.and_then(|u| u.port_or_known_default()).unwrap_or(0);
            return TransportError::Refused {
                addr: format!("{host}:{port}"),
                port,
            };
        }
        let lower = chain.to_lowercase();
        let sentence = if lower.contains("reset")
            || lower.contains("connection closed before message completed")
        {
            "the server closed the connection without a complete response (connection reset)"
                .to_string()
        } else if lower.contains("invalid http")
            || lower.contains("parse") && lower.contains("http")
        {
            format!("the server did not answer with HTTP ({chain})")
        } else if received > 0 {
            format!("the body broke off after {received} bytes ({chain})")
        } else {
            chain
        };
        TransportError::Other(sentence)
    }
}

/// An error and its causes in one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
