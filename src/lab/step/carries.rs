//! What a held request carries at a stage boundary, made for display and bounded in size: a
//! sentence, name → value rows, and at most one larger block of text.
//!
//! Every value passes through the builders here, which cut it to size, so a request with a
//! thousand headers or a 64 KiB body still makes a hold of a few KiB.

use axum::http::{HeaderMap, StatusCode, header};
use rusqlite::ToSql;
use std::fmt::{self, Write as _};

/// Most rows a hold shows; past it, the last row says how many more there were.
pub const MAX_FIELDS: usize = 50;
/// Most bytes of a row's name.
const MAX_NAME: usize = 100;
/// Most bytes of a row's value (a header value, a parameter, an error message).
const MAX_VALUE: usize = 400;
/// Most bytes of the summary sentence.
const MAX_SUMMARY: usize = 600;
/// Most bytes of a block (a pretty-printed body, SQL, an excerpt).
pub const MAX_BLOCK: usize = 4 * 1024;

/// What the request carries at a boundary, for display.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carries {
    /// One plain sentence: "matched GET /tasks/{id} with id = 5".
    pub summary: String,
    /// Name → value rows: headers, path parameters, SQL parameters `?1`…, field verdicts.
    pub fields: Vec<(String, String)>,
    /// A larger text: a pretty-printed JSON body, the SQL statement, a body excerpt.
    pub block: Option<Block>,
    /// Rows that did not fit in [`MAX_FIELDS`].
    left_out: usize,
}

/// A larger piece of text a hold shows, with what kind of text it is (for highlighting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// What the text is.
    pub kind: BlockKind,
    /// The text, at most [`MAX_BLOCK`] bytes (a cut one ends saying how much was left out).
    pub text: String,
}

/// The kind of text in a [`Block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// JSON, pretty-printed.
    Json,
    /// SQL statements.
    Sql,
    /// Anything else: a body that is not JSON, an excerpt.
    Text,
}

impl Carries {
    /// Carries with this summary and nothing else yet.
    pub fn new(summary: impl fmt::Display) -> Carries {
        Carries {
            summary: bounded(summary, MAX_SUMMARY),
            ..Carries::default()
        }
    }

    /// Adds a row; past [`MAX_FIELDS`] rows, the last one counts what was left out.
    pub fn field(&mut self, name: impl fmt::Display, value: impl fmt::Display) {
        if self.fields.len() + 1 < MAX_FIELDS {
            self.fields
                .push((bounded(name, MAX_NAME), bounded(value, MAX_VALUE)));
            return;
        }
        self.left_out += 1;
        let more = format!("{} more not shown", self.left_out);
        match self.fields.get_mut(MAX_FIELDS - 1) {
            Some(last) => last.1 = more,
            None => self.fields.push(("…".into(), more)),
        }
    }

    /// The same carries, with a row added.
    pub fn with_field(mut self, name: impl fmt::Display, value: impl fmt::Display) -> Carries {
        self.field(name, value);
        self
    }

    /// The same carries, with this block.
    pub fn with_block(mut self, block: Block) -> Carries {
        self.block = Some(block);
        self
    }

    /// Adds one row per header (values that are not text are shown lossily). Credentials
    /// (Authorization, Cookie, Set-Cookie, API keys, CSRF tokens) show their scheme or name
    /// only: what step mode shows can be copied, shared or captured.
    pub fn headers(&mut self, headers: &HeaderMap) {
        for (name, value) in headers {
            let text = String::from_utf8_lossy(value.as_bytes());
            match name.as_str() {
                "authorization" => {
                    let scheme = text.split_whitespace().next().unwrap_or("");
                    self.field(
                        name.as_str(),
                        format_args!("{scheme} … (credential not shown)"),
                    );
                }
                "cookie" | "set-cookie" => {
                    let names: Vec<&str> = text
                        .split(';')
                        .filter_map(|pair| pair.split_once('=').map(|(n, _)| n.trim()))
                        .filter(|n| {
                            !n.is_empty()
                                && !n.eq_ignore_ascii_case("path")
                                && !n.eq_ignore_ascii_case("max-age")
                        })
                        .collect();
                    self.field(
                        name.as_str(),
                        format_args!("{} (values not shown)", names.join("; ")),
                    );
                }
                "x-api-key" | "x-csrf-token" => self.field(name.as_str(), "(not shown)"),
                _ => self.field(name.as_str(), text),
            }
        }
    }

    /// One statement about to run, with its parameter values ([`Carries::sql`] for several).
    pub fn statement(place: &str, sql: &str, params: &[&dyn ToSql]) -> Carries {
        Carries::sql(place, &[Planned::new(sql, params)])
    }

    /// What the data layer is about to run: each planned statement and its parameter values,
    /// before any of it touches the database. `place` says where it will run.
    pub fn sql(place: &str, plan: &[Planned<'_>]) -> Carries {
        let conditional = plan.iter().filter(|p| p.when.is_some()).count();
        let count = match (plan.len(), conditional) {
            (1, _) => "1 statement".to_string(),
            (n, 0) => format!("{n} statements"),
            (n, c) => format!("up to {n} statements ({c} only in some cases)"),
        };
        let mut carries = Carries::new(format_args!(
            "about to run {count} {place}; the database is not touched until this is released"
        ));
        let mut text = String::new();
        for (i, planned) in plan.iter().enumerate() {
            for (j, param) in planned.params.iter().enumerate() {
                let mut literal = String::new();
                crate::lab::trace::record::write_sql_literal(&mut literal, *param);
                match plan.len() {
                    1 => carries.field(format_args!("?{}", j + 1), literal),
                    _ => carries.field(format_args!("#{} ?{}", i + 1, j + 1), literal),
                }
            }
            if i > 0 {
                text.push_str("\n\n");
            }
            if plan.len() > 1 {
                let _ = write!(text, "-- #{}", i + 1);
                if let Some(when) = planned.when {
                    let _ = write!(text, ", {when}");
                }
                text.push('\n');
            }
            for (k, word) in planned.sql.split_whitespace().enumerate() {
                if k > 0 {
                    text.push(' ');
                }
                text.push_str(word);
            }
            text.push(';');
        }
        carries.with_block(Block::new(BlockKind::Sql, text))
    }
}

impl Carries {
    /// A request head as it arrived: method, target, version and every header.
    pub fn request_head(method: &str, target: &str, version: &str, headers: &HeaderMap) -> Carries {
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let content_type = content_type.as_deref().unwrap_or("no Content-Type");
        let body = match length {
            Some(0) => "no body".to_string(),
            Some(n) => format!("a {n}-byte body ({content_type})"),
            None if headers.contains_key(header::TRANSFER_ENCODING) => {
                format!("a chunked body ({content_type})")
            }
            None => "no body".to_string(),
        };
        let mut carries = Carries::new(format_args!(
            "received {method} {target} over {version} with {body}; nothing has read it yet"
        ))
        .with_field("method", method)
        .with_field("target", target)
        .with_field("version", version);
        carries.headers(headers);
        carries
    }

    /// A response about to go out: status, headers, and its body (pretty JSON or an excerpt).
    pub fn response(status: StatusCode, headers: &HeaderMap, body: Option<&[u8]>) -> Carries {
        let code = status.as_u16();
        let reason = crate::status::reason(code);
        let size = match body {
            Some([]) => "no body".to_string(),
            Some(bytes) => {
                let kind = headers
                    .get(header::CONTENT_TYPE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_else(|| "no Content-Type".into());
                format!("a {}-byte body ({kind})", bytes.len())
            }
            None => "a body too large to show".to_string(),
        };
        let mut carries = Carries::new(format_args!(
            "built {code} {reason} with {size}; it goes out when released"
        ))
        .with_field("status", format_args!("{code} {reason}"));
        carries.headers(headers);
        if let Some(bytes) = body.filter(|b| !b.is_empty()) {
            carries.block = Some(Block::body(bytes));
        }
        carries
    }
}

/// One statement a handler plans to run, for [`Carries::sql`]: the same text and values it
/// then runs.
#[derive(Clone, Copy)]
pub struct Planned<'a> {
    /// The statement.
    pub sql: &'a str,
    /// Its parameters, `?1` first.
    pub params: &'a [&'a dyn ToSql],
    /// When it runs only in some cases, which ("only if the key is new").
    pub when: Option<&'a str>,
}

impl<'a> Planned<'a> {
    /// A statement that always runs.
    pub fn new(sql: &'a str, params: &'a [&'a dyn ToSql]) -> Planned<'a> {
        Planned {
            sql,
            params,
            when: None,
        }
    }

    /// The same statement, run only in the case `when` says.
    pub fn when(self, when: &'a str) -> Planned<'a> {
        Planned {
            when: Some(when),
            ..self
        }
    }
}

impl std::fmt::Debug for Planned<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Planned")
            .field("sql", &self.sql)
            .field("params", &self.params.len())
            .field("when", &self.when)
            .finish()
    }
}

impl Block {
    /// A block of this kind, cut to [`MAX_BLOCK`] bytes.
    pub fn new(kind: BlockKind, text: impl Into<String>) -> Block {
        Block::cut(kind, text.into(), 0)
    }

    /// A block of `text` cut to [`MAX_BLOCK`] bytes, whose closing line counts what was cut
    /// plus `left_out` bytes the text already lacked.
    fn cut(kind: BlockKind, mut text: String, left_out: usize) -> Block {
        let mut left_out = left_out;
        if text.len() > MAX_BLOCK {
            let mut cut = MAX_BLOCK;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            left_out += text.len() - cut;
            text.truncate(cut);
        }
        if left_out > 0 {
            let _ = write!(text, "\n… ({left_out} more bytes not shown)");
        }
        Block { kind, text }
    }

    /// A JSON value, pretty-printed.
    pub fn json(value: &serde_json::Value) -> Block {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        Block::new(BlockKind::Json, text)
    }

    /// Body bytes: pretty JSON when they parse as JSON, else an excerpt of the text.
    pub fn body(bytes: &[u8]) -> Block {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(value) => Block::json(&value),
            Err(_) => {
                let shown = &bytes[..bytes.len().min(MAX_BLOCK)];
                let text = String::from_utf8_lossy(shown).into_owned();
                Block::cut(BlockKind::Text, text, bytes.len() - shown.len())
            }
        }
    }
}

/// `value` as text of at most `max` bytes, cut at a character boundary and ending in `…`
/// when cut; formatting stops at the cut, so a huge value costs no more than its cap.
fn bounded(value: impl fmt::Display, max: usize) -> String {
    struct Capped {
        out: String,
        room: usize,
        cut: bool,
    }
    impl fmt::Write for Capped {
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
    let mut capped = Capped {
        out: String::new(),
        room: max,
        cut: false,
    };
    if write!(capped, "{value}").is_err() && capped.cut {
        capped.out.push('…');
    }
    capped.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_capped_and_the_last_one_counts_the_rest() {
        let mut carries = Carries::new("many");
        for i in 0..1000 {
            carries.field(format_args!("h{i}"), "x".repeat(10_000));
        }
        assert_eq!(carries.fields.len(), MAX_FIELDS);
        assert_eq!(carries.fields[MAX_FIELDS - 1].1, "951 more not shown");
        assert!(carries.fields[0].1.len() <= MAX_VALUE + '…'.len_utf8());
        assert!(carries.fields[0].1.ends_with('…'));
    }

    #[test]
    fn blocks_and_summaries_are_cut_at_character_boundaries() {
        let block = Block::new(BlockKind::Text, "é".repeat(MAX_BLOCK));
        assert!(block.text.len() < MAX_BLOCK + 64, "{}", block.text.len());
        assert!(block.text.ends_with("more bytes not shown)"));
        let summary = Carries::new("ü".repeat(MAX_SUMMARY)).summary;
        assert!(summary.len() <= MAX_SUMMARY + '…'.len_utf8());
        assert!(summary.ends_with('…'));
    }

    #[test]
    fn bodies_show_as_pretty_json_or_as_text() {
        let json = Block::body(br#"{"title":"Water the plants"}"#);
        assert_eq!(json.kind, BlockKind::Json);
        assert_eq!(json.text, "{\n  \"title\": \"Water the plants\"\n}");
        let text = Block::body(b"not json");
        assert_eq!(
            (text.kind, text.text.as_str()),
            (BlockKind::Text, "not json")
        );
    }

    #[test]
    fn a_plan_shows_each_statement_and_its_values() {
        let title = "it's".to_string();
        let one = Carries::sql(
            "on the writer thread",
            &[Planned {
                sql: "INSERT INTO t (a, b)\n    VALUES (?1, ?2)",
                params: &[&title, &5i64],
                when: None,
            }],
        );
        assert_eq!(
            one.fields,
            [("?1".into(), "'it''s'".into()), ("?2".into(), "5".into())]
        );
        let block = one.block.unwrap();
        assert_eq!(block.kind, BlockKind::Sql);
        assert_eq!(block.text, "INSERT INTO t (a, b) VALUES (?1, ?2);");
        let two = Carries::sql(
            "on the writer thread",
            &[
                Planned {
                    sql: "SELECT 1",
                    params: &[],
                    when: None,
                },
                Planned {
                    sql: "DELETE FROM t WHERE id = ?1",
                    params: &[&7i64],
                    when: Some("only if it exists"),
                },
            ],
        );
        assert_contains(&two.summary, "up to 2 statements (1 only in some cases)");
        assert_eq!(two.fields, [("#2 ?1".into(), "7".into())]);
        assert_contains(
            &two.block.unwrap().text,
            "-- #2, only if it exists\nDELETE FROM t WHERE id = ?1;",
        );
    }

    fn assert_contains(text: &str, needle: &str) {
        assert!(text.contains(needle), "expected {needle:?} in {text:?}");
    }
}
