//! Recording a trace while a request runs, as cheaply as possible: the events every request
//! has are kept as facts, handler sentences go into one recycled text buffer, and the readable
//! [`Trace`] is written only when someone reads it ([`RecordedTrace::to_trace`]).

use super::model::{
    Outcome, RequestCopy, Size, SqlRecord, Timestamp, Trace, TraceContext, TraceEvent,
};
use crate::stage::Stage;
use axum::extract::MatchedPath;
use axum::http::Method;
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Collects one request's events; shared between the middleware, extractors and handlers.
///
/// Recording is on every request's path, so it is built to be cheap: sentences are written
/// into one text buffer per request (events hold ranges into it), SQL statements are usually
/// `&'static str`, and the readable [`Trace`] is only assembled when someone asks for it.
#[derive(Debug)]
struct Recorder {
    start: Instant,
    state: Mutex<RecorderState>,
}

#[derive(Debug)]
struct RecorderState {
    route: Option<MatchedPath>,
    events: Vec<RawEvent>,
    text: String,
    caller: Option<TraceContext>,
    /// The request's id in the text buffer, once the capture layer has it (no allocation of
    /// its own: this runs for every traced request).
    request_id: Option<Range<usize>>,
    /// The request's headers as `name: value` lines, credentials redacted (for replay).
    headers: String,
    /// The request's body, as far as it is kept.
    body: KeptBody,
}

/// What a trace keeps of a request's body, for replay.
#[derive(Debug, Default)]
enum KeptBody {
    /// None was read.
    #[default]
    None,
    /// The bytes (credentials replaced), and the fields that were.
    Kept(Vec<u8>, Vec<String>),
    /// Longer than [`MAX_KEPT_BODY`]: only its size.
    TooLarge(usize),
    /// Declared by the request (its size, when it said) but never read: the lab answered
    /// before it needed the body.
    Unread(Option<u64>),
    /// Not readable as the JSON or form data it claimed to be, so it could not be checked for
    /// credentials: only its size.
    Unchecked(usize),
}

/// The longest body a trace keeps a copy of.
pub const MAX_KEPT_BODY: usize = 4 * 1024;
/// The most header text a trace keeps a copy of.
const MAX_KEPT_HEADERS: usize = 8 * 1024;

/// An event whose message (and SQL parameters) live in the trace's text buffer.
#[derive(Debug)]
struct RawEvent {
    stage: Stage,
    outcome: Outcome,
    at_us: u64,
    duration_us: u64,
    message: Message,
    sql: Option<RawSql>,
}

/// An event's sentence: text written by a handler, or the facts of an event every request
/// has, turned into a sentence only when the trace is read.
#[derive(Debug)]
enum Message {
    /// Text in the buffer.
    Text(Range<usize>),
    /// The request arrived.
    Received {
        version: &'static str,
        body: RequestBody,
        id: IdSource,
    },
    /// A route matched (the route and method are on the trace).
    Routed,
    /// The response went out.
    Sent { status: u16, bytes: Option<u64> },
    /// A SQL statement ran (its rows are in the event's SQL record).
    Sql,
    /// A fixed sentence (a layer entering or leaving): nothing to write while recording.
    Fixed(&'static str),
}

/// What the request's headers said about its body.
#[derive(Debug, Clone)]
enum RequestBody {
    /// No body (no or zero Content-Length, not chunked).
    None,
    /// A body of this many bytes; the content type is in the text buffer.
    Length(u64, Range<usize>),
    /// A chunked body; the content type is in the text buffer.
    Chunked(Range<usize>),
}

/// Where the request id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// The client's X-Request-ID was kept.
    Client,
    /// The client's X-Request-ID was unusable; a new one was generated.
    Replaced,
    /// There was none; one was generated.
    Generated,
}

#[derive(Debug)]
struct RawSql {
    statement: Cow<'static, str>,
    /// Parameters, separated by [`PARAM_SEPARATOR`] in the text buffer.
    params: Range<usize>,
    rows: u64,
    /// The line of code that ran it.
    call_site: &'static std::panic::Location<'static>,
}

/// The two growable buffers of a trace, recycled from evicted traces so that recording a
/// request usually allocates neither.
#[derive(Debug)]
pub struct Buffers {
    events: Vec<RawEvent>,
    text: String,
    headers: String,
}

/// Events and text bytes a fresh or recycled buffer holds room for: enough for most requests.
const RECYCLED_EVENTS: usize = 8;
const RECYCLED_TEXT: usize = 768;

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers {
            events: Vec::with_capacity(RECYCLED_EVENTS),
            text: String::with_capacity(RECYCLED_TEXT),
            headers: String::with_capacity(RECYCLED_TEXT),
        }
    }
}

/// Separates SQL parameters inside the text buffer (a control character no literal contains).
const PARAM_SEPARATOR: char = '\u{1f}';

/// Most events a single trace keeps; a runaway handler cannot grow a trace without bound.
const MAX_EVENTS_PER_TRACE: usize = 200;
/// Most bytes of text a single trace keeps.
const MAX_TEXT_PER_TRACE: usize = 16 * 1024;
/// Most bytes one sentence keeps (longer ones end in `…`): no sentence that long is read.
const MAX_SENTENCE: usize = 2048;
/// Longest request target kept in a trace (longer ones are cut, marked with `…`).
const MAX_PATH_IN_TRACE: usize = 2048;

/// The handle handlers record on. Cheap to clone; does nothing when tracing is off.
#[derive(Debug, Clone, Default)]
pub struct Tracer(Option<Arc<Recorder>>);

impl Tracer {
    /// A tracer that records, with fresh buffers.
    pub fn recording() -> Tracer {
        Tracer::with_buffers(Buffers::default())
    }

    /// A tracer that records into recycled buffers.
    pub fn with_buffers(buffers: Buffers) -> Tracer {
        Tracer(Some(Arc::new(Recorder {
            start: Instant::now(),
            state: Mutex::new(RecorderState {
                route: None,
                events: buffers.events,
                text: buffers.text,
                caller: None,
                request_id: None,
                headers: buffers.headers,
                body: KeptBody::None,
            }),
        })))
    }

    /// A tracer that ignores everything (tracing off, or lab-internal endpoints).
    pub fn off() -> Tracer {
        Tracer(None)
    }

    /// True when events are being kept.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Records that the request arrived (the sentence is written when the trace is read).
    pub fn received(&self, version: &'static str, headers: &axum::http::HeaderMap, id: IdSource) {
        use axum::http::header;
        let Some(r) = &self.0 else { return };
        let at = r.start.elapsed();
        let mut state = r.state.lock().expect("trace lock");
        let content_type = |state: &mut RecorderState| {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no Content-Type");
            let mut end = ct.len().min(200);
            while !ct.is_char_boundary(end) {
                end -= 1;
            }
            let start = state.text.len();
            state.text.push_str(&ct[..end]);
            start..state.text.len()
        };
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = match length {
            Some(0) => RequestBody::None,
            Some(n) => RequestBody::Length(n, content_type(&mut state)),
            None if headers.contains_key(header::TRANSFER_ENCODING) => {
                RequestBody::Chunked(content_type(&mut state))
            }
            None => RequestBody::None,
        };
        let message = Message::Received { version, body, id };
        record(
            &mut state,
            Stage::Http,
            Outcome::Ok,
            at,
            Duration::ZERO,
            message,
            None,
        );
    }

    /// Tells the recorder the request's id (the trace id of a request that joined no caller's
    /// trace is made from it).
    pub fn identify(&self, request_id: &str) {
        if let Some(r) = &self.0 {
            let mut state = r.state.lock().expect("trace lock");
            let start = state.text.len();
            state.text.push_str(request_id);
            state.request_id = Some(start..state.text.len());
        }
    }

    /// The `traceparent` a call this request makes carries: the request's trace (the caller's,
    /// when it joined one) and the request's own span as the parent, as its OTLP export names
    /// them. `None` when tracing is off.
    pub fn outgoing_traceparent(&self) -> Option<String> {
        let r = self.0.as_ref()?;
        let state = r.state.lock().expect("trace lock");
        let trace_id = match &state.caller {
            Some(caller) => caller.trace_id.clone(),
            None => super::otlp::trace_id_for(state.text.get(state.request_id.clone()?)?),
        };
        let parent = super::otlp::server_span_id(&trace_id);
        Some(format!("00-{trace_id}-{parent}-01"))
    }

    /// Records that the request joined its caller's distributed trace (`traceparent`).
    pub fn joined(&self, caller: TraceContext) {
        let Some(r) = &self.0 else { return };
        let sentence = format!(
            "joined the caller's trace {} as a child of its span {}{}: exported, this request's spans carry that trace id, so a tracing tool shows them under the caller's",
            caller.trace_id,
            caller.parent_id,
            if caller.sampled {
                ""
            } else {
                " (the caller does not sample it)"
            }
        );
        self.note(Stage::Observability, Outcome::Ok, sentence);
        r.state.lock().expect("trace lock").caller = Some(caller);
    }

    /// Records that a route matched, and which.
    pub fn routed(&self, route: &MatchedPath) {
        if let Some(r) = &self.0 {
            let at = r.start.elapsed();
            let mut state = r.state.lock().expect("trace lock");
            state.route = Some(route.clone());
            record(
                &mut state,
                Stage::Routing,
                Outcome::Ok,
                at,
                Duration::ZERO,
                Message::Routed,
                None,
            );
        }
    }

    /// Records the response going out.
    pub fn sent(&self, status: u16, bytes: Option<u64>) {
        if let Some(r) = &self.0 {
            let at = r.start.elapsed();
            let outcome = if status >= 400 {
                Outcome::Fail
            } else {
                Outcome::Ok
            };
            let mut state = r.state.lock().expect("trace lock");
            let message = Message::Sent { status, bytes };
            record(
                &mut state,
                Stage::Response,
                outcome,
                at,
                Duration::ZERO,
                message,
                None,
            );
        }
    }

    /// Records an instantaneous event. Pass `format_args!(…)` to format nothing when off.
    pub fn note(&self, stage: Stage, outcome: Outcome, message: impl fmt::Display) {
        if let Some(r) = &self.0 {
            let at = r.start.elapsed();
            push(r, stage, outcome, at, Duration::ZERO, message, None);
        }
    }

    /// Records an instantaneous event whose sentence never changes (a layer of the lab's own
    /// entering or leaving): cheaper than [`Tracer::note`], as nothing is formatted.
    pub fn fixed(&self, stage: Stage, sentence: &'static str) {
        if let Some(r) = &self.0 {
            let at = r.start.elapsed();
            let mut state = r.state.lock().expect("trace lock");
            record(
                &mut state,
                stage,
                Outcome::Ok,
                at,
                Duration::ZERO,
                Message::Fixed(sentence),
                None,
            );
        }
    }

    /// The time spent in each stage so far, as a `Server-Timing` header value
    /// (`validation;dur=0.041, data;dur=0.213, db;dur=0.180;desc="2 queries", total;dur=0.612`,
    /// milliseconds): the stages whose events took time, in lifecycle order, the SQL statements
    /// (their time and how many), and the whole request until now. `None` when off.
    pub fn server_timing(&self) -> Option<String> {
        let r = self.0.as_ref()?;
        let mut spent: Vec<(Stage, u64)> = Vec::new();
        let (mut queries, mut query_us) = (0u32, 0u64);
        {
            let state = r.state.lock().expect("trace lock");
            for event in state.events.iter().filter(|e| e.sql.is_some()) {
                queries += 1;
                query_us += event.duration_us;
            }
            for event in state.events.iter().filter(|e| e.duration_us > 0) {
                match spent.iter_mut().find(|(stage, _)| *stage == event.stage) {
                    Some((_, us)) => *us += event.duration_us,
                    None => spent.push((event.stage, event.duration_us)),
                }
            }
        }
        spent.sort_by_key(|(stage, _)| *stage);
        let total = u64::try_from(r.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        // Written by hand with itoa: this runs for every traced request.
        let mut value = String::with_capacity(24 * (spent.len() + 3));
        for (stage, us) in &spent {
            value.push_str(stage.id());
            value.push_str(";dur=");
            push_millis(&mut value, *us);
            value.push_str(", ");
        }
        // The SQL statements on their own, counted: how a client sees an N+1 from outside.
        value.push_str("db;dur=");
        push_millis(&mut value, query_us);
        value.push_str(";desc=\"");
        value.push_str(itoa::Buffer::new().format(queries));
        value.push_str(if queries == 1 { " query" } else { " queries" });
        value.push_str("\", total;dur=");
        push_millis(&mut value, total);
        Some(value)
    }

    /// Records an event that began at `since` and ends now.
    pub fn timed(
        &self,
        stage: Stage,
        since: Instant,
        outcome: Outcome,
        message: impl fmt::Display,
    ) {
        if let Some(r) = &self.0 {
            let at = since.saturating_duration_since(r.start);
            push(r, stage, outcome, at, since.elapsed(), message, None);
        }
    }

    /// Records a SQL statement that began at `since`, with its bound parameters and the line
    /// of code that ran it.
    pub fn sql(
        &self,
        since: Instant,
        statement: Cow<'static, str>,
        params: &[&dyn rusqlite::ToSql],
        rows: u64,
        call_site: &'static std::panic::Location<'static>,
    ) {
        let Some(r) = &self.0 else { return };
        let at = since.saturating_duration_since(r.start);
        let duration = since.elapsed();
        let mut state = r.state.lock().expect("trace lock");
        if state.events.len() >= MAX_EVENTS_PER_TRACE || state.text.len() >= MAX_TEXT_PER_TRACE {
            return;
        }
        let param_start = state.text.len();
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                state.text.push(PARAM_SEPARATOR);
            }
            write_sql_literal(&mut state.text, *p);
        }
        let params = param_start..state.text.len();
        let sql = RawSql {
            statement,
            params,
            rows,
            call_site,
        };
        record(
            &mut state,
            Stage::Data,
            Outcome::Ok,
            at,
            duration,
            Message::Sql,
            Some(sql),
        );
    }

    /// Keeps a copy of the request's headers for replay: hop-by-hop ones, `Host` and
    /// `Content-Length` left out (a new request has its own), credentials redacted.
    pub fn copy_headers(&self, headers: &axum::http::HeaderMap) {
        use axum::http::header;
        let Some(r) = &self.0 else { return };
        let mut state = r.state.lock().expect("trace lock");
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if length.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING) {
            state.body = KeptBody::Unread(length);
        }
        for (name, value) in headers {
            if matches!(
                *name,
                header::HOST
                    | header::CONTENT_LENGTH
                    | header::CONNECTION
                    | header::TRANSFER_ENCODING
                    | header::TE
                    | header::UPGRADE
            ) || name.as_str() == "keep-alive"
            {
                continue;
            }
            let value = if super::secrets::is_secret_header(name.as_str()) {
                super::secrets::REDACTED
            } else {
                match value.to_str() {
                    Ok(v) => v,
                    Err(_) => continue,
                }
            };
            if state.headers.len() + name.as_str().len() + value.len() + 3 > MAX_KEPT_HEADERS {
                break;
            }
            state.headers.push_str(name.as_str());
            state.headers.push_str(": ");
            state.headers.push_str(value);
            state.headers.push('\n');
        }
    }

    /// Keeps a copy of the request's body for replay (credentials replaced), or its size when
    /// it is longer than [`MAX_KEPT_BODY`].
    pub fn copy_body(&self, bytes: &[u8], content_type: Option<&str>) {
        let Some(r) = &self.0 else { return };
        let kept = if bytes.len() > MAX_KEPT_BODY {
            KeptBody::TooLarge(bytes.len())
        } else {
            match super::secrets::redact_body(bytes, content_type) {
                Some((kept, redacted)) => KeptBody::Kept(kept, redacted),
                None => KeptBody::Unchecked(bytes.len()),
            }
        };
        r.state.lock().expect("trace lock").body = kept;
    }

    /// Ends recording; `None` when tracing is off.
    pub fn finish(
        &self,
        request_id: String,
        started_at: Timestamp,
        method: Method,
        path: String,
        status: u16,
    ) -> Option<RecordedTrace> {
        let r = self.0.as_ref()?;
        let duration_us = micros(r.start.elapsed());
        let mut state = r.state.lock().expect("trace lock");
        let mut events = std::mem::take(&mut state.events);
        let mut path = path;
        if path.len() > MAX_PATH_IN_TRACE {
            let mut cut = MAX_PATH_IN_TRACE;
            while !path.is_char_boundary(cut) {
                cut -= 1;
            }
            path.truncate(cut);
            path.push('…');
        }
        // Events from concurrent work (a write that finished after a read) stay in time order.
        events.sort_by_key(|e| e.at_us);
        Some(RecordedTrace {
            request_id,
            started_at,
            method,
            path,
            route: state.route.take(),
            status,
            duration_us,
            events,
            text: std::mem::take(&mut state.text),
            caller: state.caller.take(),
            headers: std::mem::take(&mut state.headers),
            body: std::mem::take(&mut state.body),
        })
    }
}

fn push(
    r: &Recorder,
    stage: Stage,
    outcome: Outcome,
    at: Duration,
    duration: Duration,
    message: impl fmt::Display,
    sql: Option<RawSql>,
) {
    let mut state = r.state.lock().expect("trace lock");
    if state.events.len() >= MAX_EVENTS_PER_TRACE || state.text.len() >= MAX_TEXT_PER_TRACE {
        return;
    }
    let start = state.text.len();
    let room = MAX_SENTENCE.min(MAX_TEXT_PER_TRACE - start);
    let mut bounded = Bounded {
        out: &mut state.text,
        room,
        cut: false,
    };
    // A sentence past its room stops formatting early, so a huge one costs no more than its cap.
    if write!(bounded, "{message}").is_err() && bounded.cut {
        state.text.push('…');
    }
    let message = Message::Text(start..state.text.len());
    record(&mut state, stage, outcome, at, duration, message, sql);
}

/// A writer that keeps at most `room` bytes (cut at a character boundary) and then refuses.
struct Bounded<'a> {
    out: &'a mut String,
    room: usize,
    cut: bool,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.room {
            self.out.push_str(s);
            self.room -= s.len();
            return Ok(());
        }
        let mut end = self.room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.room = 0;
        self.cut = true;
        Err(fmt::Error)
    }
}

/// Appends `us` microseconds as milliseconds with three decimals (`1.042`).
fn push_millis(out: &mut String, us: u64) {
    let mut digits = itoa::Buffer::new();
    out.push_str(digits.format(us / 1000));
    out.push('.');
    let fraction = us % 1000;
    if fraction < 100 {
        out.push('0');
    }
    if fraction < 10 {
        out.push('0');
    }
    out.push_str(digits.format(fraction));
}

/// Appends an event, unless the trace already holds as many as it may.
fn record(
    state: &mut RecorderState,
    stage: Stage,
    outcome: Outcome,
    at: Duration,
    duration: Duration,
    message: Message,
    sql: Option<RawSql>,
) {
    if state.events.len() < MAX_EVENTS_PER_TRACE {
        state.events.push(RawEvent {
            stage,
            outcome,
            at_us: micros(at),
            duration_us: micros(duration),
            message,
            sql,
        });
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A finished request's trace in its compact recorded form; [`RecordedTrace::to_trace`] makes
/// the readable [`Trace`] when someone asks for it.
#[derive(Debug)]
pub struct RecordedTrace {
    request_id: String,
    started_at: Timestamp,
    method: Method,
    path: String,
    route: Option<MatchedPath>,
    status: u16,
    duration_us: u64,
    events: Vec<RawEvent>,
    text: String,
    caller: Option<TraceContext>,
    headers: String,
    body: KeptBody,
}

impl RecordedTrace {
    /// The trace's buffers, emptied and shrunk back to an ordinary request's size, for
    /// another request to record into.
    pub fn into_buffers(self) -> Buffers {
        let mut events = self.events;
        let mut text = self.text;
        let mut headers = self.headers;
        events.clear();
        text.clear();
        headers.clear();
        events.shrink_to(RECYCLED_EVENTS);
        text.shrink_to(RECYCLED_TEXT);
        headers.shrink_to(RECYCLED_TEXT);
        Buffers {
            events,
            text,
            headers,
        }
    }

    /// Roughly how many bytes of memory the trace holds.
    pub fn size(&self) -> usize {
        std::mem::size_of::<RecordedTrace>()
            + self.events.capacity() * std::mem::size_of::<RawEvent>()
            + self.text.capacity()
            + self.path.capacity()
            + self.request_id.capacity()
            + self.headers.capacity()
            + match &self.body {
                KeptBody::Kept(bytes, fields) => {
                    bytes.capacity() + fields.iter().map(|f| f.capacity()).sum::<usize>()
                }
                _ => 0,
            }
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// An event's sentence.
    fn sentence(&self, e: &RawEvent) -> String {
        let text = |range: &Range<usize>| self.text.get(range.clone()).unwrap_or("");
        match &e.message {
            Message::Text(range) => text(range).to_string(),
            Message::Fixed(sentence) => (*sentence).to_string(),
            Message::Received { version, body, id } => {
                let body = match body {
                    RequestBody::None => "no body".to_string(),
                    RequestBody::Length(n, ct) => format!("a {n}-byte body ({})", text(ct)),
                    RequestBody::Chunked(ct) => format!("a chunked body ({})", text(ct)),
                };
                let id = match id {
                    IdSource::Client => "kept the client's X-Request-ID",
                    IdSource::Replaced => "ignored an unusable X-Request-ID and generated a new id",
                    IdSource::Generated => "generated a request id",
                };
                format!(
                    "received {} {} over {version} with {body}; {id}",
                    self.method, self.path
                )
            }
            Message::Routed => {
                let route = self.route.as_ref().map_or("", |r| r.as_str());
                // A route is a path and its methods; when the method turned out not to be
                // one of them (405), or the request only asked which they are (OPTIONS),
                // only the path matched.
                if self.status == 405 || self.method == Method::OPTIONS {
                    format!("the path matches route {route}; its methods decide next")
                } else {
                    format!("matched route {} {route}", self.method)
                }
            }
            Message::Sent { status, bytes } => {
                let reason = crate::status::reason(*status);
                let size = Size(*bytes);
                format!("sent {status} {reason} with {size}")
            }
            Message::Sql => {
                let rows = e.sql.as_ref().map_or(0, |s| s.rows);
                let select = e
                    .sql
                    .as_ref()
                    .is_some_and(|s| s.statement.starts_with("SELECT"));
                let verb = if select { "returned" } else { "changed" };
                format!("{verb} {rows} row{}", if rows == 1 { "" } else { "s" })
            }
        }
    }

    /// The statements this request ran more than once (N+1 patterns and repeats), and the
    /// index of each one's last run among its events.
    pub fn repeats(&self) -> Vec<super::repeats::Repeat> {
        // Each statement with its place among the events; call sites stay locations, written
        // out only for what is found.
        let (positions, ran): (Vec<usize>, Vec<super::repeats::Ran<'_>>) = self
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let s = e.sql.as_ref()?;
                Some((
                    i,
                    super::repeats::Ran {
                        statement: &s.statement,
                        params: self.text.get(s.params.clone()).unwrap_or(""),
                        call_site: Some(s.call_site),
                    },
                ))
            })
            .unzip();
        let mut found = super::repeats::find(&ran);
        for r in &mut found {
            r.last = positions[r.last];
        }
        found
    }

    /// The request as kept for replay, when its headers were copied.
    fn request_copy(&self) -> Option<RequestCopy> {
        if self.headers.is_empty() && matches!(self.body, KeptBody::None) {
            return None;
        }
        let mut redacted = Vec::new();
        let headers = self
            .headers
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| {
                if value == super::secrets::REDACTED && super::secrets::is_secret_header(name) {
                    redacted.push(format!("header {name}"));
                }
                (name.to_string(), value.to_string())
            })
            .collect();
        let (body, body_base64, body_size) = match &self.body {
            KeptBody::None => (None, None, None),
            KeptBody::Kept(bytes, fields) => {
                redacted.extend(fields.iter().map(|f| format!("body field {f}")));
                match std::str::from_utf8(bytes) {
                    Ok(text) => (Some(text.to_string()), None, Some(bytes.len())),
                    Err(_) => {
                        use base64::Engine;
                        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                        (None, Some(encoded), Some(bytes.len()))
                    }
                }
            }
            KeptBody::TooLarge(n) => (None, None, Some(*n)),
            KeptBody::Unread(n) => (None, None, n.map(|n| n as usize)),
            KeptBody::Unchecked(n) => {
                redacted
                    .push("body (not readable as its type, so not checked for credentials)".into());
                (None, None, Some(*n))
            }
        };
        Some(RequestCopy {
            headers,
            body,
            body_base64,
            body_size,
            body_unread: matches!(self.body, KeptBody::Unread(_)),
            redacted,
        })
    }

    /// The readable trace.
    pub fn to_trace(&self) -> Trace {
        let text = |range: &Range<usize>| self.text.get(range.clone()).unwrap_or("").to_string();
        Trace {
            request_id: self.request_id.clone(),
            started_at: self.started_at,
            method: self.method.to_string(),
            path: self.path.clone(),
            route: self.route.as_ref().map(|r| r.as_str().to_string()),
            status: self.status,
            duration_us: self.duration_us,
            caller: self.caller.clone(),
            request: self.request_copy(),
            events: self
                .events
                .iter()
                .map(|e| TraceEvent {
                    stage: e.stage,
                    outcome: e.outcome,
                    at_us: e.at_us,
                    duration_us: e.duration_us,
                    message: self.sentence(e),
                    sql: e.sql.as_ref().map(|s| SqlRecord {
                        statement: if s.statement.contains("  ") || s.statement.contains('\n') {
                            s.statement.split_whitespace().collect::<Vec<_>>().join(" ")
                        } else {
                            s.statement.to_string()
                        },
                        params: {
                            let joined = text(&s.params);
                            if joined.is_empty() {
                                Vec::new()
                            } else {
                                joined.split(PARAM_SEPARATOR).map(str::to_string).collect()
                            }
                        },
                        rows: s.rows,
                        call_site: Some(super::repeats::call_site(s.call_site)),
                    }),
                })
                .collect::<Vec<_>>(),
        }
        .with_repeats(self.repeats())
    }
}

/// Writes a bound parameter as a SQL literal (text is shortened, blobs are not shown), the way
/// traces and step mode show parameters.
pub fn write_sql_literal(out: &mut String, param: &dyn ToSql) {
    use std::fmt::Write as _;
    let owned;
    let value = match param.to_sql() {
        Ok(ToSqlOutput::Borrowed(v)) => v,
        Ok(ToSqlOutput::Owned(v)) => {
            owned = v;
            ValueRef::from(&owned)
        }
        Ok(_) | Err(_) => {
            out.push('?');
            return;
        }
    };
    match value {
        ValueRef::Null => out.push_str("NULL"),
        ValueRef::Integer(i) => out.push_str(itoa::Buffer::new().format(i)),
        ValueRef::Real(f) => {
            let _ = write!(out, "{f}");
        }
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            out.push('\'');
            for (i, ch) in s.chars().enumerate() {
                if i == 80 {
                    out.push('…');
                    break;
                }
                if ch == '\'' {
                    out.push('\'');
                }
                out.push(ch);
            }
            out.push('\'');
        }
        ValueRef::Blob(b) => {
            let _ = write!(out, "<{} bytes>", b.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_off_tracer_records_nothing() {
        let t = Tracer::off();
        t.note(Stage::Http, Outcome::Ok, "x");
        assert!(
            t.finish("a".into(), Timestamp(0), Method::GET, "/".into(), 200)
                .is_none()
        );
    }

    #[test]
    fn messages_and_sql_survive_the_compact_form() {
        let t = Tracer::recording();
        t.note(
            Stage::Logic,
            Outcome::Fail,
            format_args!("no task has id {} → 404", 9),
        );
        t.sql(
            Instant::now(),
            Cow::Borrowed("SELECT id FROM tasks WHERE id = ?1 AND title = ?2"),
            &[&9i64, &"a, b"],
            0,
            std::panic::Location::caller(),
        );
        let trace = t
            .finish("a".into(), Timestamp(0), Method::GET, "/".into(), 404)
            .unwrap()
            .to_trace();
        assert_eq!(trace.events[0].message, "no task has id 9 → 404");
        assert_eq!(trace.events[1].message, "returned 0 rows");
        let sql = trace.events[1].sql.as_ref().unwrap();
        assert_eq!(sql.params, ["9", "'a, b'"]);
        assert_eq!(sql.rows, 0);
    }

    #[test]
    fn a_huge_sentence_is_cut_and_the_trace_stays_small() {
        let t = Tracer::recording();
        let huge = "x".repeat(1_000_000);
        t.note(
            Stage::Validation,
            Outcome::Fail,
            format_args!("fields: {huge}"),
        );
        t.note(Stage::Logic, Outcome::Ok, "still recorded");
        let recorded = t
            .finish("a".into(), Timestamp(0), Method::GET, "/".into(), 422)
            .unwrap();
        assert!(recorded.size() < 8 * 1024, "{}", recorded.size());
        let trace = recorded.to_trace();
        assert!(trace.events[0].message.ends_with('…'));
        assert!(trace.events[0].message.len() <= MAX_SENTENCE + '…'.len_utf8());
        assert_eq!(trace.events[1].message, "still recorded");
        let buffers = recorded.into_buffers();
        assert!(
            buffers.text.capacity() <= 4 * RECYCLED_TEXT,
            "recycled buffers shrink"
        );
    }

    #[test]
    fn events_are_bounded_per_trace() {
        let t = Tracer::recording();
        for _ in 0..(MAX_EVENTS_PER_TRACE + 50) {
            t.note(Stage::Logic, Outcome::Ok, "again");
        }
        let trace = t
            .finish("a".into(), Timestamp(0), Method::GET, "/".into(), 200)
            .unwrap();
        assert_eq!(trace.events.len(), MAX_EVENTS_PER_TRACE);
    }

    #[test]
    fn literals_quote_text_and_redact_blobs() {
        let lit = |p: &dyn ToSql| {
            let mut s = String::new();
            write_sql_literal(&mut s, p);
            s
        };
        assert_eq!(lit(&"it's"), "'it''s'");
        assert_eq!(lit(&5i64), "5");
        assert_eq!(lit(&vec![1u8, 2, 3]), "<3 bytes>");
        assert_eq!(lit(&Option::<i64>::None), "NULL");
        assert_eq!(lit(&"x".repeat(100)).chars().count(), 83);
    }
}
