//! The replies hyper writes on its own, made to look like every other error the lab sends.
//!
//! When a request cannot even be parsed (a broken request line, a URL or head too long for
//! hyper's buffers), hyper answers by itself — `400`, `414` or `431` with an empty body — and
//! no handler or middleware ever sees the request. This wrapper sits between hyper and the
//! socket: it remembers the start of what the client sent, and when hyper writes one of those
//! automatic replies (recognisable because every reply the lab makes carries `x-request-id`),
//! it writes the problem+json equivalent instead, describes the fault with `httparse`, and
//! records a trace for it.
//!
//! Every body the lab writes is JSON, an event stream or empty, so a write that starts with
//! `HTTP/1.` is always the start of a response head.

use super::error::{BAD_REQUEST, HEADERS_TOO_LARGE, Problem, URI_TOO_LONG};
use super::trace::{Outcome, Timestamp, TraceStore, Tracer};
use crate::stage::Stage;
use axum::http::Method;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of a request's start is kept to describe a fault.
const KEPT: usize = 8 * 1024;

/// A connection's IO, watching for hyper's automatic error replies.
pub struct Wire<T> {
    inner: T,
    /// The start of what the client sent since the last response began.
    seen: Vec<u8>,
    /// A replacement reply still to be written.
    pending: Vec<u8>,
    /// True once a reply was replaced: whatever hyper writes after it is dropped.
    replaced: bool,
    traces: Option<Arc<TraceStore>>,
}

impl<T> Wire<T> {
    /// Wraps a connection; `traces` receives a trace for each replaced reply (`None` when
    /// tracing is off).
    pub fn new(inner: T, traces: Option<Arc<TraceStore>>) -> Wire<T> {
        Wire {
            inner,
            seen: Vec::new(),
            pending: Vec::new(),
            replaced: false,
            traces,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Wire<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let room = KEPT.saturating_sub(self.seen.len());
        let new = &buf.filled()[before..];
        let keep = new.len().min(room);
        self.seen.extend_from_slice(&new[..keep]);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> Wire<T> {
    /// Writes what is pending of a replacement reply.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Wire<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replaced {
            ready!(self.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        if buf.starts_with(b"HTTP/1.") {
            match automatic_reply(buf) {
                Some(status) => {
                    let (reply, trace) = replacement(status, &self.seen, self.traces.is_some());
                    if let (Some(store), Some(trace)) = (&self.traces, trace) {
                        store.push(trace);
                    }
                    self.pending = reply;
                    self.replaced = true;
                    ready!(self.poll_pending(cx))?;
                    return Poll::Ready(Ok(buf.len()));
                }
                // The lab's own reply: what the client sends next is another request.
                None => self.seen.clear(),
            }
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The status of a reply hyper made by itself (a parse error), if `head` is one.
fn automatic_reply(head: &[u8]) -> Option<u16> {
    // Every response passes here, so look at the status first (`HTTP/1.1 400 …`): only the
    // statuses hyper makes by itself are worth reading further.
    let status = head.get(9..12)?;
    if !matches!(status, b"400" | b"414" | b"431") {
        return None;
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &head[..end + 4];
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(head).ok()?;
    let status = response.code?;
    let ours = response
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("x-request-id"));
    (!ours && matches!(status, 400 | 414 | 431)).then_some(status)
}

/// The problem+json reply for a request hyper could not parse, and its trace.
fn replacement(
    status: u16,
    seen: &[u8],
    tracing: bool,
) -> (Vec<u8>, Option<super::trace::RecordedTrace>) {
    let request = describe(status, seen);
    let kind = match status {
        414 => &URI_TOO_LONG,
        431 => &HEADERS_TOO_LARGE,
        _ => &BAD_REQUEST,
    };
    let problem = Problem::new(kind, format!("{}.", capitalize(&request.fault)));
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = problem.to_json(&request_id);
    let reason = crate::status::reason(status);
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\ncache-control: no-store\r\nx-request-id: {request_id}\r\nconnection: close\r\ndate: {}\r\n\r\n",
        body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    let trace = tracing.then(|| {
        let tracer = Tracer::recording();
        tracer.note(
            Stage::Http,
            Outcome::Fail,
            format_args!(
                "the request could not be parsed: {} → {status}; nothing after this ran",
                request.fault
            ),
        );
        tracer.sent(status, Some(body.len() as u64));
        tracer.finish(
            request_id,
            Timestamp::now(),
            request.method,
            request.target,
            status,
        )
    });
    let mut reply = head.into_bytes();
    reply.extend_from_slice(body.as_bytes());
    (reply, trace.flatten())
}

/// What could be read of a request hyper refused, and what is wrong with it.
struct Refused {
    method: Method,
    target: String,
    fault: String,
}

/// Describes what was wrong with what the client sent.
fn describe(status: u16, seen: &[u8]) -> Refused {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = request.parse(seen);
    let method = request
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or_else(|| Method::from_bytes(b"-").expect("- is a token"));
    let target = request
        .path
        .map(|p| super::validate::shorten(p, 200))
        .unwrap_or_else(|| "-".to_string());
    let fault = match (status, parsed) {
        (414, _) => "the request target (the URL's path and query) is too long".to_string(),
        (431, _) => "the request's head (its line and headers) is too large".to_string(),
        (_, Err(e)) => match e {
            httparse::Error::Token => {
                "the request line or a header name holds a character HTTP does not allow"
            }
            httparse::Error::Version => "the request line does not end in HTTP/1.0 or HTTP/1.1",
            httparse::Error::HeaderName => "a header name holds a character HTTP does not allow",
            httparse::Error::HeaderValue => "a header value holds a control character",
            httparse::Error::NewLine => "a line does not end in CR LF",
            httparse::Error::TooManyHeaders => "the request has more headers than the server reads",
            httparse::Error::Status => "the request line is not valid",
        }
        .to_string(),
        (_, Ok(_)) => {
            let lengths: Vec<&[u8]> = request
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| h.value)
                .collect();
            if lengths.len() > 1 {
                "the request gives Content-Length more than once, so where its body ends is ambiguous (a request-smuggling shape)".to_string()
            } else if lengths.len() == 1 {
                "its Content-Length is not a number".to_string()
            } else {
                "the request is not valid HTTP/1.1".to_string()
            }
        }
    };
    Refused {
        method,
        target,
        fault,
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_replies_without_a_request_id_are_automatic() {
        let canned = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_reply(canned), Some(400));
        let ours = b"HTTP/1.1 400 Bad Request\r\nx-request-id: a\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(automatic_reply(ours), None);
        let continue_ = b"HTTP/1.1 100 Continue\r\n\r\n";
        assert_eq!(automatic_reply(continue_), None);
    }

    #[test]
    fn faults_are_described_in_words() {
        let d = describe(400, b"GET /x HTTP/9.9\r\n\r\n");
        assert_eq!(
            d.fault,
            "the request line does not end in HTTP/1.0 or HTTP/1.1"
        );
        assert_eq!(d.method, Method::GET);
        assert_eq!(d.target, "/x");
        let d = describe(
            400,
            b"POST /t HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        );
        assert!(d.fault.contains("request-smuggling"), "{}", d.fault);
        let d = describe(400, b"\x01\x02garbage\r\n\r\n");
        assert_eq!(d.target, "-");
    }
}
