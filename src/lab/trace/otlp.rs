//! One trace as OTLP JSON: an OpenTelemetry `ExportTraceServiceRequest` in the JSON encoding
//! OTLP defines, for tracing tools such as Jaeger UI (`reqlab trace <id> --format otlp`).
//!
//! The shape, from the OTLP specification's "JSON Protobuf Encoding" section: the proto3 JSON
//! mapping with lowerCamelCase keys, 64-bit integers (times, `intValue`) as decimal strings,
//! enums (span kind, status code) as integers, and — unlike the plain proto3 mapping, which
//! writes `bytes` fields in base64 — `traceId`, `spanId` and `parentSpanId` as hex strings.
//!
//! The spans follow OpenTelemetry's semantic conventions:
//!
//! - the request is a SERVER span named `{method} {route}` (`GET /tasks/{id}`), or `{method}`
//!   when no route matched, with the `http.*` and `url.*` attributes;
//! - each lifecycle stage is an INTERNAL span under it, named after the stage (`validation`,
//!   `data`), from its first event's start to its last event's end; each of the stage's events
//!   is a span event named with its sentence, at its time, with `reqlab.outcome`;
//! - each SQL statement is also a CLIENT span under its stage's span, named by its query
//!   summary (`SELECT tasks`), with the `db.*` attributes and the line of code that ran it.
//!
//! Ids are derived from the request id, so the same trace always exports the same file.

use super::model::{Outcome, SqlRecord, Trace, TraceEvent};
use crate::lab::digest::sha256_hex;
use crate::stage::Stage;
use serde_json::{Value, json};

/// `service.name` of the resource every span belongs to.
pub const SERVICE_NAME: &str = "reqlab-lab";
/// Name of the instrumentation scope that produced the spans.
pub const SCOPE_NAME: &str = "reqlab";

/// OTLP `SpanKind` values (the JSON encoding writes enums as integers).
const KIND_INTERNAL: u8 = 1;
const KIND_SERVER: u8 = 2;
const KIND_CLIENT: u8 = 3;
/// OTLP `StatusCode` for an error.
const STATUS_ERROR: u8 = 2;
/// The longest `db.query.summary` the conventions allow.
const MAX_SUMMARY: usize = 255;

/// The trace as an OTLP `ExportTraceServiceRequest`: one resource (`service.name` =
/// [`SERVICE_NAME`]), one scope ([`SCOPE_NAME`]), and the request's spans — the SERVER span
/// first, then one INTERNAL span per stage in the order the stages first acted, then one
/// CLIENT span per SQL statement.
///
/// A pure function of the trace: the trace id is the caller's when the request joined one
/// (`traceparent`), its span then the SERVER span's parent, and otherwise the first 16 bytes of
/// the SHA-256 of the request id; each span id is the first 8 bytes of the SHA-256 of the trace
/// id and the span's position in that list, all as lowercase hex. It adds nothing the trace does not show: the
/// path and SQL parameters are the trace's, with their credentials already redacted.
pub fn export(trace: &Trace) -> Value {
    let trace_id = match &trace.caller {
        Some(caller) => caller.trace_id.clone(),
        None => trace_id_for(&trace.request_id),
    };
    let start_us = u64::try_from(trace.started_at.0).unwrap_or(0);
    let nanos = |offset_us: u64| start_us.saturating_add(offset_us).saturating_mul(1000);
    let mut spans = Vec::new();

    let server_id = span_id(&trace_id, 0);
    // The request lasts until its last event ends, should one end after the lab's measure.
    let last_end = trace
        .events
        .iter()
        .map(|e| e.at_us.saturating_add(e.duration_us))
        .max()
        .unwrap_or(0);
    let server_end = trace.duration_us.max(last_end);
    spans.push(span(SpanParts {
        trace_id: &trace_id,
        span_id: &server_id,
        parent: trace.caller.as_ref().map(|c| c.parent_id.as_str()),
        name: server_name(trace),
        kind: KIND_SERVER,
        start: nanos(0),
        end: nanos(server_end),
        attributes: server_attributes(trace),
        events: Vec::new(),
        // A 5xx is the server's failure; a 4xx is the client's, which leaves it unset.
        error: (trace.status >= 500).then(|| json!({ "code": STATUS_ERROR })),
    }));

    // Stages in the order they first acted, each with its events.
    let mut stages: Vec<(Stage, Vec<&TraceEvent>)> = Vec::new();
    for event in &trace.events {
        match stages.iter_mut().find(|(stage, _)| *stage == event.stage) {
            Some((_, events)) => events.push(event),
            None => stages.push((event.stage, vec![event])),
        }
    }
    let mut stage_ids = Vec::new();
    for (stage, events) in &stages {
        let id = span_id(&trace_id, spans.len());
        let start = events.iter().map(|e| e.at_us).min().unwrap_or(0);
        let end = events
            .iter()
            .map(|e| e.at_us.saturating_add(e.duration_us))
            .max()
            .unwrap_or(start);
        let outcome = events
            .iter()
            .map(|e| e.outcome)
            .find(|o| *o == Outcome::Fail)
            .or_else(|| events.iter().map(|e| e.outcome).find(|o| *o != Outcome::Ok))
            .unwrap_or(Outcome::Ok);
        let span_events = events
            .iter()
            .map(|e| {
                let mut attributes = vec![string_attr("reqlab.outcome", &outcome_name(e.outcome))];
                if e.duration_us > 0 {
                    attributes.push(int_attr("reqlab.duration_us", e.duration_us));
                }
                json!({
                    "timeUnixNano": nanos(e.at_us).to_string(),
                    "name": e.message,
                    "attributes": attributes,
                })
            })
            .collect();
        spans.push(span(SpanParts {
            trace_id: &trace_id,
            span_id: &id,
            parent: Some(&server_id),
            name: stage.id().to_string(),
            kind: KIND_INTERNAL,
            start: nanos(start),
            end: nanos(end),
            attributes: vec![
                string_attr("reqlab.stage", stage.label()),
                string_attr("reqlab.outcome", &outcome_name(outcome)),
            ],
            events: span_events,
            error: None,
        }));
        stage_ids.push((*stage, id));
    }

    // Each statement, under its stage's span (the data stage: the lab records SQL there).
    for (index, event) in trace.events.iter().enumerate() {
        let Some(sql) = &event.sql else { continue };
        let Some((_, parent)) = stage_ids.iter().find(|(stage, _)| *stage == event.stage) else {
            continue;
        };
        let id = span_id(&trace_id, spans.len());
        let query = Query::parse(&sql.statement);
        spans.push(span(SpanParts {
            trace_id: &trace_id,
            span_id: &id,
            parent: Some(parent),
            name: query.span_name(),
            kind: KIND_CLIENT,
            start: nanos(event.at_us),
            end: nanos(event.at_us.saturating_add(event.duration_us)),
            attributes: sql_attributes(sql, &query),
            events: Vec::new(),
            error: refusal(&trace.events[index + 1..], event.stage),
        }));
    }

    json!({
        "resourceSpans": [{
            "resource": {
                "attributes": [string_attr("service.name", SERVICE_NAME)],
            },
            "scopeSpans": [{
                "scope": {
                    "name": SCOPE_NAME,
                    "version": env!("CARGO_PKG_VERSION"),
                },
                "spans": spans,
            }],
        }],
    })
}

/// Methods the HTTP conventions know; any other is reported as `_OTHER`.
const KNOWN_METHODS: [&str; 10] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE",
];

/// `{method} {route}`, or `{method}` without a route; `HTTP` stands for a method the
/// conventions do not know.
fn server_name(trace: &Trace) -> String {
    let method = if KNOWN_METHODS.contains(&trace.method.as_str()) {
        trace.method.as_str()
    } else {
        "HTTP"
    };
    match &trace.route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    }
}

fn server_attributes(trace: &Trace) -> Vec<Value> {
    let mut attributes = Vec::new();
    if KNOWN_METHODS.contains(&trace.method.as_str()) {
        attributes.push(string_attr("http.request.method", &trace.method));
    } else {
        attributes.push(string_attr("http.request.method", "_OTHER"));
        attributes.push(string_attr("http.request.method_original", &trace.method));
    }
    // The lab serves plain HTTP only.
    attributes.push(string_attr("url.scheme", "http"));
    let (path, query) = match trace.path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (trace.path.as_str(), None),
    };
    attributes.push(string_attr("url.path", path));
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        attributes.push(string_attr("url.query", query));
    }
    if let Some(route) = &trace.route {
        attributes.push(string_attr("http.route", route));
    }
    attributes.push(int_attr(
        "http.response.status_code",
        u64::from(trace.status),
    ));
    if trace.status >= 500 {
        attributes.push(string_attr("error.type", &trace.status.to_string()));
    }
    attributes.push(string_attr("reqlab.request_id", &trace.request_id));
    attributes
}

fn sql_attributes(sql: &SqlRecord, query: &Query) -> Vec<Value> {
    let mut attributes = vec![
        string_attr("db.system.name", "sqlite"),
        string_attr("db.query.text", &sql.statement),
    ];
    if !query.parts.is_empty() {
        attributes.push(string_attr("db.query.summary", &query.summary()));
    }
    if let Some(operation) = &query.operation {
        attributes.push(string_attr("db.operation.name", operation));
    }
    // Keys match the statement's placeholders: `?1` is key 1; bare `?`s, referenced only
    // by position, are keyed from 0 as the conventions ask. Values are the SQL literals the
    // trace shows (text quoted, long text cut short, secrets already left out).
    let first_key = usize::from(query.numbered_params);
    for (i, param) in sql.params.iter().enumerate() {
        let key = format!("db.query.parameter.{}", i + first_key);
        attributes.push(string_attr(&key, param));
    }
    // The line of the lab's code that ran it (`src/lab/topics/…/items.rs:88`).
    if let Some((file, line)) = sql.call_site.as_deref().and_then(|s| s.rsplit_once(':'))
        && let Ok(line) = line.parse()
    {
        attributes.push(string_attr("code.file.path", file));
        attributes.push(int_attr("code.line.number", line));
    }
    if query.returns_rows {
        attributes.push(int_attr("db.response.returned_rows", sql.rows));
    } else {
        // A write's count is of rows changed, which no convention names.
        attributes.push(int_attr("reqlab.db.changed_rows", sql.rows));
    }
    attributes
}

/// The error status of a statement the database refused: the lab notes a refusal as a failed
/// data-stage event right after the statement (before the next statement or stage).
fn refusal(following: &[TraceEvent], stage: Stage) -> Option<Value> {
    following
        .iter()
        .take_while(|e| e.stage == stage && e.sql.is_none())
        .find(|e| e.outcome == Outcome::Fail)
        .map(|e| json!({ "code": STATUS_ERROR, "message": e.message }))
}

/// What a span is made of.
struct SpanParts<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    parent: Option<&'a str>,
    name: String,
    kind: u8,
    /// Nanoseconds since the Unix epoch.
    start: u64,
    end: u64,
    attributes: Vec<Value>,
    events: Vec<Value>,
    /// The span's status when it is an error; none leaves it unset.
    error: Option<Value>,
}

fn span(parts: SpanParts<'_>) -> Value {
    let mut span = json!({
        "traceId": parts.trace_id,
        "spanId": parts.span_id,
    });
    let fields = span.as_object_mut().expect("an object");
    if let Some(parent) = parts.parent {
        fields.insert("parentSpanId".into(), parent.into());
    }
    fields.insert("name".into(), parts.name.into());
    fields.insert("kind".into(), parts.kind.into());
    fields.insert("startTimeUnixNano".into(), parts.start.to_string().into());
    fields.insert("endTimeUnixNano".into(), parts.end.to_string().into());
    fields.insert("attributes".into(), parts.attributes.into());
    if !parts.events.is_empty() {
        fields.insert("events".into(), parts.events.into());
    }
    if let Some(status) = parts.error {
        fields.insert("status".into(), status);
    }
    span
}

/// The id of the span at `position` in the exported list: 8 bytes, as hex.
/// The trace id of a request that joined no caller's trace: from its request id.
pub fn trace_id_for(request_id: &str) -> String {
    nonzero(sha256_hex(request_id.as_bytes())[..32].to_string())
}

/// The id of the request's own (SERVER) span, the parent of the calls it makes.
pub fn server_span_id(trace_id: &str) -> String {
    span_id(trace_id, 0)
}

fn span_id(trace_id: &str, position: usize) -> String {
    nonzero(sha256_hex(format!("{trace_id}/{position}").as_bytes())[..16].to_string())
}

/// OTLP treats an all-zero id as no id at all; a hash is practically never zero, but never is
/// better.
fn nonzero(mut hex: String) -> String {
    if hex.bytes().all(|b| b == b'0') {
        hex.pop();
        hex.push('1');
    }
    hex
}

/// An outcome as traces write it in JSON (`ok`, `fail`).
fn outcome_name(outcome: Outcome) -> String {
    match serde_json::to_value(outcome) {
        Ok(Value::String(name)) => name,
        _ => format!("{outcome:?}").to_ascii_lowercase(),
    }
}

fn string_attr(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

/// An integer attribute; OTLP's `intValue` is 64-bit, so JSON carries it as a decimal string.
fn int_attr(key: &str, value: u64) -> Value {
    let value = i64::try_from(value).unwrap_or(i64::MAX);
    json!({ "key": key, "value": { "intValue": value.to_string() } })
}

/// What the database conventions want from a statement's text, found by a light scan (not a
/// full SQL parser): its operations and the tables they act on, in order.
#[derive(Debug, Default, PartialEq)]
struct Query {
    /// Operations and their targets in order: `DELETE sessions SELECT sessions`.
    parts: Vec<String>,
    /// The statement's own operation (`SELECT`, `INSERT`), as written.
    operation: Option<String>,
    /// Whether placeholders are numbered (`?1`) rather than bare (`?`).
    numbered_params: bool,
    /// Whether the statement hands back rows (a query, or a write with RETURNING).
    returns_rows: bool,
}

/// Words that end a table reference: never a table name or an alias.
const CLAUSE_WORDS: &str = "AND AS BY CROSS DEFAULT DELETE DO EXCEPT FILTER FROM FULL GROUP \
    HAVING INDEXED INNER INSERT INTERSECT INTO JOIN LEFT LIMIT NATURAL NOT OFFSET ON OR ORDER \
    OUTER OVER RETURNING RIGHT SELECT SET UNION UPDATE USING VALUES WHERE WINDOW WITH";

/// Whether `word` is one of [`CLAUSE_WORDS`], in any case.
fn is_clause_word(word: &str) -> bool {
    CLAUSE_WORDS
        .split_whitespace()
        .any(|w| w.eq_ignore_ascii_case(word))
}

impl Query {
    fn parse(statement: &str) -> Query {
        let tokens = tokenize(statement);
        let mut query = Query {
            numbered_params: tokens
                .iter()
                .any(|t| matches!(t, Token::Param { numbered: true })),
            ..Query::default()
        };
        let word = |i: usize| match tokens.get(i) {
            Some(Token::Word(w)) => Some(w.to_ascii_uppercase()),
            _ => None,
        };
        // A table name at `i`: a quoted name, or a word that is no clause keyword.
        let table = |i: usize| match tokens.get(i) {
            Some(Token::Quoted(name)) => Some(name.to_string()),
            Some(Token::Word(name)) if !is_clause_word(name) => Some(name.to_string()),
            _ => None,
        };
        let mut i = 0;
        while i < tokens.len() {
            let Token::Word(w) = tokens[i] else {
                i += 1;
                continue;
            };
            match w.to_ascii_uppercase().as_str() {
                "SELECT" | "INSERT" | "DELETE" => query.operation_found(w),
                // `replace(…)` elsewhere is the string function.
                "REPLACE" if i == 0 => query.operation_found(w),
                "UPDATE" => {
                    query.operation_found(w);
                    // UPDATE OR IGNORE t; `DO UPDATE SET` (an upsert) names no table.
                    let at = if word(i + 1).as_deref() == Some("OR") {
                        i + 3
                    } else {
                        i + 1
                    };
                    if let Some(name) = table(at) {
                        query.parts.push(name);
                        i = at;
                    }
                }
                "INTO" | "JOIN" => {
                    if let Some(name) = table(i + 1) {
                        query.parts.push(name);
                        i += 1;
                    }
                }
                "FROM" => {
                    // A list: `FROM a, b AS x, c y`; a subquery is scanned as it comes.
                    let mut at = i + 1;
                    while let Some(name) = table(at) {
                        query.parts.push(name);
                        at += 1;
                        if word(at).as_deref() == Some("AS") {
                            at += 2;
                        } else if table(at).is_some() {
                            at += 1; // an alias
                        }
                        if matches!(tokens.get(at), Some(Token::Punct(','))) {
                            at += 1;
                        } else {
                            break;
                        }
                    }
                    i = at;
                    continue;
                }
                "RETURNING" => query.returns_rows = true,
                // A CTE's own SELECT names the operation.
                "WITH" => {}
                // Any other command (PRAGMA, CREATE, BEGIN) is the operation, without a target.
                _ if i == 0 => query.operation_found(w),
                _ => {}
            }
            i += 1;
        }
        if let Some(first) = word(0) {
            query.returns_rows |= matches!(first.as_str(), "SELECT" | "WITH" | "VALUES");
        }
        query
    }

    fn operation_found(&mut self, operation: &str) {
        if self.operation.is_none() {
            self.operation = Some(operation.to_string());
        }
        self.parts.push(operation.to_string());
    }

    /// `db.query.summary`: the parts, cut to the conventions' 255 characters between parts.
    fn summary(&self) -> String {
        let mut summary = String::new();
        for part in &self.parts {
            let extra = usize::from(!summary.is_empty()) + part.chars().count();
            if summary.chars().count() + extra > MAX_SUMMARY {
                break;
            }
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(part);
        }
        summary
    }

    /// The span name: the summary, else the database system (the conventions' fallback).
    fn span_name(&self) -> String {
        match self.summary() {
            summary if summary.is_empty() => "sqlite".to_string(),
            summary => summary,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    /// A keyword or a name (dots included: `a.id`).
    Word(&'a str),
    /// A quoted name: `"song list"`, `` `t` ``, `[t]`.
    Quoted(&'a str),
    /// A string or blob literal; its text never matters here.
    Literal,
    /// A placeholder: `?1` (numbered) or `?`.
    Param {
        numbered: bool,
    },
    Punct(char),
}

fn tokenize(sql: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = sql.char_indices().peekable();
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '\'' => {
                // '' inside a literal is a quote.
                while let Some((_, d)) = chars.next() {
                    if d == '\'' {
                        if matches!(chars.peek(), Some((_, '\''))) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                tokens.push(Token::Literal);
            }
            '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let mut end = sql.len();
                for (i, d) in chars.by_ref() {
                    if d == close {
                        end = i + d.len_utf8();
                        break;
                    }
                }
                tokens.push(Token::Quoted(&sql[start..end]));
            }
            '-' if matches!(chars.peek(), Some((_, '-'))) => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if matches!(chars.peek(), Some((_, '*'))) => {
                chars.next();
                let mut star = false;
                for (_, d) in chars.by_ref() {
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
            }
            '?' => {
                let mut numbered = false;
                while let Some((_, d)) = chars.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    numbered = true;
                    chars.next();
                }
                tokens.push(Token::Param { numbered });
            }
            c if is_name(c) => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, d)) = chars.peek() {
                    if !(is_name(d) || d == '.') {
                        break;
                    }
                    end = i + d.len_utf8();
                    chars.next();
                }
                // x'ABCD' is a blob literal.
                if matches!(&sql[start..end], "x" | "X") && matches!(chars.peek(), Some((_, '\'')))
                {
                    chars.next();
                    for (_, d) in chars.by_ref() {
                        if d == '\'' {
                            break;
                        }
                    }
                    tokens.push(Token::Literal);
                } else {
                    tokens.push(Token::Word(&sql[start..end]));
                }
            }
            other => tokens.push(Token::Punct(other)),
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace like the lab's for `GET /tasks/1?fields=title`, built from JSON.
    fn trace(status: u16) -> Trace {
        serde_json::from_value(json!({
            "request_id": "req-42",
            "started_at": "2026-01-02T03:04:05.000006Z",
            "method": "GET",
            "path": "/tasks/1?fields=title",
            "route": "/tasks/{id}",
            "status": status,
            "duration_us": 900,
            "events": [
                { "stage": "http", "outcome": "ok", "at_us": 0, "duration_us": 0,
                  "message": "received HTTP/1.1 GET with no body" },
                { "stage": "routing", "outcome": "ok", "at_us": 10, "duration_us": 5,
                  "message": "matched route GET /tasks/{id}" },
                { "stage": "data", "outcome": "ok", "at_us": 100, "duration_us": 40,
                  "message": "returned 1 row",
                  "sql": { "statement": "SELECT id, title FROM tasks WHERE id = ?1",
                           "params": ["1"], "rows": 1,
                           "call_site": "src/lab/topics/tasks/items.rs:88" } },
                { "stage": "logic", "outcome": "ok", "at_us": 200, "duration_us": 0,
                  "message": "found task 1" },
                { "stage": "data", "outcome": "ok", "at_us": 300, "duration_us": 60,
                  "message": "changed 1 row",
                  "sql": { "statement": "UPDATE tasks SET title = ?2 WHERE id = ?1",
                           "params": ["1", "'a'"], "rows": 1 } },
                { "stage": "data", "outcome": "fail", "at_us": 360, "duration_us": 0,
                  "message": "the database refused the statement: UNIQUE constraint failed" },
                { "stage": "response", "outcome": "ok", "at_us": 850, "duration_us": 0,
                  "message": "sent 200 OK with 42 bytes" },
            ],
        }))
        .expect("a trace")
    }

    fn spans(export: &Value) -> &Vec<Value> {
        export["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .expect("spans")
    }

    fn named<'a>(export: &'a Value, name: &str) -> &'a Value {
        spans(export)
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span named {name}"))
    }

    fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
        span["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| &a["value"])
    }

    fn nanos(span: &Value, field: &str) -> u64 {
        span[field]
            .as_str()
            .expect("a decimal string")
            .parse()
            .unwrap()
    }

    #[test]
    fn resource_and_scope_name_the_lab() {
        let out = export(&trace(200));
        let resource = &out["resourceSpans"][0]["resource"];
        assert_eq!(resource["attributes"][0]["key"], "service.name");
        assert_eq!(
            resource["attributes"][0]["value"]["stringValue"],
            "reqlab-lab"
        );
        assert_eq!(
            out["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"],
            "reqlab"
        );
    }

    #[test]
    fn ids_are_hex_of_the_right_length_and_stable() {
        let out = export(&trace(200));
        assert_eq!(
            out,
            export(&trace(200)),
            "the same trace exports the same file"
        );
        let spans = spans(&out);
        let trace_id = spans[0]["traceId"].as_str().unwrap();
        assert_eq!(trace_id, &sha256_hex(b"req-42")[..32]);
        let hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let mut span_ids = Vec::new();
        for span in spans {
            assert_eq!(span["traceId"], trace_id);
            let id = span["spanId"].as_str().unwrap();
            assert!(id.len() == 16 && hex(id), "{id}");
            span_ids.push(id);
        }
        span_ids.sort_unstable();
        span_ids.dedup();
        assert_eq!(span_ids.len(), spans.len(), "span ids are unique");
        let mut other = trace(200);
        other.request_id = "req-43".into();
        assert_ne!(export(&other), out);
    }

    #[test]
    fn a_request_that_joined_a_callers_trace_exports_into_it() {
        let mut joined = trace(200);
        joined.caller = Some(crate::lab::trace::TraceContext {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            parent_id: "00f067aa0ba902b7".into(),
            sampled: true,
        });
        let out = export(&joined);
        let spans = spans(&out);
        assert!(
            spans
                .iter()
                .all(|s| s["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(spans[0]["parentSpanId"], "00f067aa0ba902b7");
    }

    #[test]
    fn stages_hang_under_the_request_and_statements_under_the_data_stage() {
        let out = export(&trace(200));
        let server = named(&out, "GET /tasks/{id}");
        assert_eq!(server["kind"], 2);
        assert!(
            server.get("parentSpanId").is_none(),
            "the root has no parent"
        );
        let names: Vec<&str> = spans(&out)
            .iter()
            .filter(|s| s["kind"] == 1)
            .map(|s| {
                assert_eq!(s["parentSpanId"], server["spanId"]);
                s["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(names, ["http", "routing", "data", "logic", "response"]);
        let data = named(&out, "data");
        let clients: Vec<&Value> = spans(&out).iter().filter(|s| s["kind"] == 3).collect();
        assert_eq!(clients.len(), 2);
        for client in &clients {
            assert_eq!(client["parentSpanId"], data["spanId"]);
        }
        // Every data event is a span event of the data span, with its outcome.
        let events = data["events"].as_array().unwrap();
        let sentences: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(
            sentences,
            [
                "returned 1 row",
                "changed 1 row",
                "the database refused the statement: UNIQUE constraint failed"
            ]
        );
        assert_eq!(
            attr(&events[2], "reqlab.outcome").unwrap()["stringValue"],
            "fail"
        );
        assert_eq!(attr(data, "reqlab.outcome").unwrap()["stringValue"], "fail");
    }

    #[test]
    fn a_stage_that_warned_says_so() {
        let mut t = trace(200);
        let warning: TraceEvent = serde_json::from_value(json!({
            "stage": "data", "outcome": "warn", "at_us": 140, "duration_us": 0,
            "message": "the same statement ran 3 times: an N+1",
        }))
        .unwrap();
        t.events.retain(|e| e.outcome != Outcome::Fail);
        t.events.insert(3, warning);
        let out = export(&t);
        let data = named(&out, "data");
        assert_eq!(attr(data, "reqlab.outcome").unwrap()["stringValue"], "warn");
        let last = data["events"].as_array().unwrap()[1].clone();
        assert_eq!(
            attr(&last, "reqlab.outcome").unwrap()["stringValue"],
            "warn"
        );
        assert!(named(&out, "UPDATE tasks").get("status").is_none());
    }

    #[test]
    fn the_request_span_carries_the_http_attributes() {
        let out = export(&trace(200));
        let server = named(&out, "GET /tasks/{id}");
        let text = |key| attr(server, key).map(|v| v["stringValue"].as_str().unwrap());
        assert_eq!(text("http.request.method"), Some("GET"));
        assert_eq!(text("url.path"), Some("/tasks/1"));
        assert_eq!(text("url.query"), Some("fields=title"));
        assert_eq!(text("http.route"), Some("/tasks/{id}"));
        assert_eq!(text("reqlab.request_id"), Some("req-42"));
        assert_eq!(
            attr(server, "http.response.status_code").unwrap()["intValue"],
            "200"
        );
        assert!(
            server.get("status").is_none(),
            "a 2xx leaves the status unset"
        );
    }

    #[test]
    fn a_5xx_marks_the_request_span_as_an_error_and_a_4xx_does_not() {
        let out = export(&trace(503));
        let server = named(&out, "GET /tasks/{id}");
        assert_eq!(server["status"]["code"], 2);
        assert_eq!(attr(server, "error.type").unwrap()["stringValue"], "503");
        let out = export(&trace(404));
        assert!(named(&out, "GET /tasks/{id}").get("status").is_none());
    }

    #[test]
    fn without_a_route_the_name_is_the_method_and_odd_methods_are_other() {
        let mut t = trace(404);
        t.route = None;
        t.path = "/nowhere".into();
        let out = export(&t);
        let server = &spans(&out)[0];
        assert_eq!(server["name"], "GET");
        assert!(attr(server, "http.route").is_none());
        assert!(attr(server, "url.query").is_none());
        t.method = "BREW".into();
        let out = export(&t);
        let server = &spans(&out)[0];
        assert_eq!(server["name"], "HTTP");
        assert_eq!(
            attr(server, "http.request.method").unwrap()["stringValue"],
            "_OTHER"
        );
        assert_eq!(
            attr(server, "http.request.method_original").unwrap()["stringValue"],
            "BREW"
        );
    }

    #[test]
    fn statements_carry_the_database_attributes() {
        let out = export(&trace(200));
        let select = named(&out, "SELECT tasks");
        let text = |span, key| attr(span, key).map(|v| v["stringValue"].as_str().unwrap());
        assert_eq!(text(select, "db.system.name"), Some("sqlite"));
        assert_eq!(
            text(select, "db.query.text"),
            Some("SELECT id, title FROM tasks WHERE id = ?1")
        );
        assert_eq!(text(select, "db.operation.name"), Some("SELECT"));
        assert_eq!(text(select, "db.query.parameter.1"), Some("1"));
        assert_eq!(
            attr(select, "db.response.returned_rows").unwrap()["intValue"],
            "1"
        );
        assert_eq!(
            text(select, "code.file.path"),
            Some("src/lab/topics/tasks/items.rs")
        );
        assert_eq!(attr(select, "code.line.number").unwrap()["intValue"], "88");
        assert!(select.get("status").is_none());
        let update = named(&out, "UPDATE tasks");
        assert_eq!(text(update, "db.query.parameter.2"), Some("'a'"));
        assert!(attr(update, "db.response.returned_rows").is_none());
        assert_eq!(
            attr(update, "reqlab.db.changed_rows").unwrap()["intValue"],
            "1"
        );
        // The database refused it: the failed data event after it says why.
        assert_eq!(update["status"]["code"], 2);
        assert_eq!(
            update["status"]["message"],
            "the database refused the statement: UNIQUE constraint failed"
        );
    }

    #[test]
    fn times_are_ordered_and_inside_the_request() {
        let t = trace(200);
        let out = export(&t);
        let server = &spans(&out)[0];
        let start = nanos(server, "startTimeUnixNano");
        let end = nanos(server, "endTimeUnixNano");
        assert_eq!(start, u64::try_from(t.started_at.0).unwrap() * 1000);
        assert_eq!(end - start, 900_000);
        for span in spans(&out) {
            let (s, e) = (
                nanos(span, "startTimeUnixNano"),
                nanos(span, "endTimeUnixNano"),
            );
            assert!(start <= s && s <= e && e <= end, "{span}");
            for event in span["events"].as_array().into_iter().flatten() {
                let at = nanos(event, "timeUnixNano");
                assert!(s <= at && at <= e, "{event}");
            }
        }
        let data = named(&out, "data");
        assert_eq!(nanos(data, "startTimeUnixNano") - start, 100_000);
        assert_eq!(nanos(data, "endTimeUnixNano") - start, 360_000);
        let select = named(&out, "SELECT tasks");
        assert_eq!(nanos(select, "endTimeUnixNano") - start, 140_000);
    }

    #[test]
    fn summaries_list_operations_and_tables_in_order() {
        let cases = [
            (
                "SELECT id FROM tasks WHERE id = ?1",
                "SELECT tasks",
                "SELECT",
            ),
            (
                "INSERT INTO tasks (title, done) VALUES (?1, ?2) RETURNING id",
                "INSERT tasks",
                "INSERT",
            ),
            (
                "DELETE FROM sessions WHERE expires_at < ?1 OR rowid NOT IN (SELECT rowid FROM sessions ORDER BY rowid DESC LIMIT ?2)",
                "DELETE sessions SELECT sessions",
                "DELETE",
            ),
            (
                "SELECT a.id, a.role FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?1",
                "SELECT sessions accounts",
                "SELECT",
            ),
            (
                "SELECT count(*), min(CASE WHEN done = 0 THEN created_at END) FROM tasks",
                "SELECT tasks",
                "SELECT",
            ),
            (
                "UPDATE idempotency_keys SET state = 'done from here', status = ?2 WHERE key = ?1",
                "UPDATE idempotency_keys",
                "UPDATE",
            ),
            (
                "SELECT * FROM \"song list\", artists AS a",
                "SELECT \"song list\" artists",
                "SELECT",
            ),
            ("SELECT 1", "SELECT", "SELECT"),
            ("PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA", "PRAGMA"),
        ];
        for (statement, summary, operation) in cases {
            let query = Query::parse(statement);
            assert_eq!(query.summary(), summary, "{statement}");
            assert_eq!(query.operation.as_deref(), Some(operation), "{statement}");
        }
        let returning = Query::parse("INSERT INTO t (a) VALUES (?1) RETURNING id");
        assert!(returning.returns_rows && returning.numbered_params);
        let bare = Query::parse("SELECT id FROM tasks LIMIT ?");
        assert!(bare.returns_rows && !bare.numbered_params);
        assert!(!Query::parse("DELETE FROM tasks WHERE id = ?1").returns_rows);
        assert_eq!(Query::parse("").span_name(), "sqlite");
    }

    #[test]
    fn bare_placeholders_are_keyed_from_zero() {
        let record: SqlRecord = serde_json::from_value(json!({
            "statement": "SELECT id FROM tasks WHERE done = ? LIMIT ?",
            "params": ["0", "21"],
            "rows": 3,
        }))
        .unwrap();
        let attributes = sql_attributes(&record, &Query::parse(&record.statement));
        let keys: Vec<&str> = attributes
            .iter()
            .filter_map(|a| a["key"].as_str())
            .filter(|k| k.starts_with("db.query.parameter."))
            .collect();
        assert_eq!(keys, ["db.query.parameter.0", "db.query.parameter.1"]);
    }

    #[test]
    fn long_summaries_stop_between_parts() {
        let tables: Vec<String> = (0..60).map(|i| format!("table_{i:03}")).collect();
        let statement = format!("SELECT * FROM {}", tables.join(", "));
        let summary = Query::parse(&statement).summary();
        assert!(summary.len() <= MAX_SUMMARY, "{}", summary.len());
        assert!(summary.starts_with("SELECT table_000 table_001"));
        assert!(summary.ends_with(|c: char| c.is_ascii_digit()));
    }
}
