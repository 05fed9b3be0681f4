//! Assertions in challenge steps: what a response must look like.
//!
//! In `challenge.toml` an assertion is a table with one subject (`status`, `header`, `json`,
//! `body` or `any_of`) and the predicates that suit it. When a challenge loads, each table
//! becomes an [`Assertion`]: the subject and its predicates as typed values, regular
//! expressions compiled and JSON paths parsed, so running a check never re-reads its file.
//!
//! - `any_of = [[…], […]]` holds when every assertion of one of its lists holds (a contract
//!   that accepts several styles), and says what it accepts in `describe`.
//! - `instead = { 400 = "…" }` (with `status` or `any_of`) is what a failure says when the
//!   server answered that status: a defensible style the contract still does not accept.
//! - `names_field = "email"` (with `body = "text"`) holds when the body names the field
//!   outside any copy of the request it repeats (see [`crate::check::echo`]).

use super::jsonpath::JsonPath;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// One assertion about a response.
#[derive(Debug, Clone)]
pub enum Assertion {
    /// The status is one of these codes.
    Status {
        /// The codes accepted.
        codes: Vec<u16>,
        /// What a failure says when the server answered one of these codes instead.
        instead: Vec<(u16, String)>,
    },
    /// One of these lists of assertions holds entirely.
    AnyOf {
        /// The alternatives, in order.
        alternatives: Vec<Vec<Assertion>>,
        /// What they accept, in words.
        describe: String,
        /// What a failure says when the server answered one of these codes.
        instead: Vec<(u16, String)>,
    },
    /// A response header (the name compares case-insensitively) and what must hold of it.
    Header {
        /// The header name, as written.
        name: String,
        /// Predicates, checked in order.
        checks: Vec<HeaderCheck>,
    },
    /// A value inside the JSON body and what must hold of it.
    Json {
        /// Where the value is.
        path: JsonPath,
        /// Predicates, checked in order.
        checks: Vec<JsonCheck>,
    },
    /// The body as text and what must hold of it.
    Text(Vec<TextCheck>),
    /// The body has no bytes.
    EmptyBody,
}

/// What must hold of a header.
#[derive(Debug, Clone)]
pub enum HeaderCheck {
    /// It is present (true) or absent (false).
    Exists(bool),
    /// Its value equals this, ignoring case (strings may hold templates).
    Equals(Value),
    /// Its value is none of these (an absent header passes).
    NotIn(Vec<Value>),
    /// Its value matches this pattern.
    Matches(Pattern),
    /// Its comma-separated list holds this token, ignoring case (a template).
    Lists(String),
}

/// What must hold of a JSON value.
#[derive(Debug, Clone)]
pub enum JsonCheck {
    /// It is present (true) or absent (false).
    Exists(bool),
    /// It equals this (strings may hold templates; `"7"` equals `7`).
    Equals(Value),
    /// It is none of these (an absent value passes).
    NotIn(Vec<Value>),
    /// Its text matches this pattern.
    Matches(Pattern),
    /// Its type is one of these.
    Type(Vec<JsonType>),
    /// The array or string has at least this many elements.
    MinLength(usize),
    /// The array or string has at most this many elements.
    MaxLength(usize),
    /// The array of objects is ordered by this field (timestamps compare as instants).
    SortedBy {
        /// The field.
        field: String,
        /// The direction.
        order: SortOrder,
    },
    /// In the array of objects, the items whose `by` field has one of these values appear in
    /// this relative order (values are templates).
    InOrder {
        /// The values, in order.
        values: Vec<String>,
        /// The field that identifies an item.
        by: String,
    },
}

impl JsonCheck {
    /// True when the check needs the value to be there (all but `exists` and `not_in`).
    pub fn needs_value(&self) -> bool {
        !matches!(self, JsonCheck::Exists(_) | JsonCheck::NotIn(_))
    }
}

/// What must hold of the body's text.
#[derive(Debug, Clone)]
pub enum TextCheck {
    /// It contains this, ignoring case (a template).
    Contains(String),
    /// It does not contain this, ignoring case (a template).
    NotContains(String),
    /// It matches this pattern.
    Matches(Pattern),
    /// It names this field outside any copy of the request's own payload.
    NamesField(String),
}

/// A regular expression, compiled when the challenge loads, with the author's description
/// of what it accepts (`describe`), which a mismatch shows instead of the pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: regex::Regex,
    describe: Option<String>,
}

impl Pattern {
    /// True when the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// What a match looks like, in words: the author's description, or else `subject`
    /// followed by the pattern itself.
    pub fn expected(&self, subject: &str) -> String {
        match &self.describe {
            Some(words) => words.clone(),
            None => format!("{subject} matching /{}/", self.regex.as_str()),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.regex.as_str())
    }
}

/// The JSON types `type` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// A string.
    String,
    /// Any number (integers included).
    Number,
    /// A whole number.
    Integer,
    /// true or false.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// null.
    Null,
}

impl JsonType {
    const ALL: [JsonType; 7] = [
        JsonType::String,
        JsonType::Number,
        JsonType::Integer,
        JsonType::Boolean,
        JsonType::Array,
        JsonType::Object,
        JsonType::Null,
    ];

    /// The name used in files and messages.
    pub fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
            JsonType::Object => "object",
            JsonType::Null => "null",
        }
    }

    /// The type of a value (whole numbers are `integer`).
    pub fn of(v: &Value) -> JsonType {
        match v {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::String(_) => JsonType::String,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }

    /// True when a value of type `actual` is acceptable as `self` (an integer is a number).
    pub fn accepts(self, actual: JsonType) -> bool {
        self == actual || (self == JsonType::Number && actual == JsonType::Integer)
    }
}

/// Sort direction for `sorted_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// `body = "text"` or `body = "empty"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BodySubject {
    Text,
    Empty,
}

/// An assertion table as written: every key optional, checked by [`RawAssertion::parse`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    status: Option<Vec<u16>>,
    header: Option<String>,
    json: Option<String>,
    body: Option<BodySubject>,
    exists: Option<bool>,
    equals: Option<Value>,
    not_in: Option<Vec<Value>>,
    matches: Option<String>,
    /// What `matches` accepts, in the author's words (shown instead of the pattern).
    describe: Option<String>,
    lists: Option<String>,
    #[serde(rename = "type")]
    json_type: Option<Vec<String>>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    sorted_by: Option<String>,
    order: Option<SortOrder>,
    in_order: Option<Vec<String>>,
    by: Option<String>,
    contains: Option<String>,
    not_contains: Option<String>,
    names_field: Option<String>,
    any_of: Option<Vec<Vec<RawAssertion>>>,
    /// Status code → what a failure says when the server answered it.
    instead: Option<std::collections::BTreeMap<String, String>>,
}

impl RawAssertion {
    /// The template strings the assertion uses, so the loader can check their variables.
    pub fn templates(&self) -> Vec<&str> {
        let mut texts = Vec::new();
        if let Some(Value::String(s)) = &self.equals {
            texts.push(s.as_str());
        }
        texts.extend(self.not_in.iter().flatten().filter_map(Value::as_str));
        texts.extend(self.in_order.iter().flatten().map(String::as_str));
        for alternative in self.any_of.iter().flatten() {
            for a in alternative {
                texts.extend(a.templates());
            }
        }
        texts
    }

    /// True when the assertion has a `matches` pattern without a `describe` in words:
    /// loading accepts it, `reqlab dev check` does not.
    pub fn lacks_description(&self) -> bool {
        let mut nested = self.any_of.iter().flatten().flatten();
        (self.matches.is_some() && self.describe.as_deref().is_none_or(|d| d.trim().is_empty()))
            || nested.any(RawAssertion::lacks_description)
    }

    /// The typed assertion, or why the table is malformed.
    pub fn parse(self) -> Result<Assertion, String> {
        let subjects = [
            self.status.is_some(),
            self.header.is_some(),
            self.json.is_some(),
            self.body.is_some(),
            self.any_of.is_some(),
        ];
        if subjects.iter().filter(|s| **s).count() != 1 {
            return Err("name exactly one subject: status, header, json, body or any_of".into());
        }
        let set: Vec<&str> = [
            ("exists", self.exists.is_some()),
            ("equals", self.equals.is_some()),
            ("not_in", self.not_in.is_some()),
            ("matches", self.matches.is_some()),
            ("lists", self.lists.is_some()),
            ("type", self.json_type.is_some()),
            ("min_length", self.min_length.is_some()),
            ("max_length", self.max_length.is_some()),
            ("sorted_by", self.sorted_by.is_some()),
            ("in_order", self.in_order.is_some()),
            ("contains", self.contains.is_some()),
            ("not_contains", self.not_contains.is_some()),
            ("names_field", self.names_field.is_some()),
            ("instead", self.instead.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name)
        .collect();
        let allowed: &[&str] = if self.status.is_some() || self.any_of.is_some() {
            &["instead"]
        } else if self.header.is_some() {
            &["exists", "equals", "not_in", "matches", "lists"]
        } else if self.json.is_some() {
            &[
                "exists",
                "equals",
                "not_in",
                "matches",
                "type",
                "min_length",
                "max_length",
                "sorted_by",
                "in_order",
            ]
        } else if self.body == Some(BodySubject::Empty) {
            &[]
        } else {
            &["contains", "not_contains", "matches", "names_field"]
        };
        if let Some(bad) = set.iter().find(|p| !allowed.contains(p)) {
            return Err(format!("`{bad}` does not apply to this subject"));
        }
        if set.is_empty()
            && self.status.is_none()
            && self.any_of.is_none()
            && self.body != Some(BodySubject::Empty)
        {
            return Err("say what must hold (exists, equals, matches, …)".into());
        }
        if self.describe.is_some() && self.matches.is_none() && self.any_of.is_none() {
            return Err(
                "`describe` says in words what `matches` or `any_of` accepts; it needs one of them"
                    .into(),
            );
        }
        let instead = parse_instead(self.instead.as_ref())?;
        if let Some(status) = &self.status
            && (status.is_empty() || status.iter().any(|s| !(100..=599).contains(s)))
        {
            return Err("status must list codes between 100 and 599".into());
        }
        let matches = match &self.matches {
            Some(source) => Some(Pattern {
                regex: regex::Regex::new(source)
                    .map_err(|e| format!("`matches` is not a valid regular expression: {e}"))?,
                describe: self.describe.clone(),
            }),
            None => None,
        };
        let path = self.json.as_deref().map(JsonPath::parse).transpose()?;
        let types = match &self.json_type {
            Some(names) => Some(
                names
                    .iter()
                    .map(|name| {
                        JsonType::ALL
                            .into_iter()
                            .find(|t| t.name() == name)
                            .ok_or_else(|| {
                                format!(
                                    "type `{name}` is not one of {}",
                                    JsonType::ALL.map(JsonType::name).join(", ")
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        if self.sorted_by.is_some() != self.order.is_some() {
            return Err("`sorted_by` and `order` go together".into());
        }
        if self.in_order.is_some() != self.by.is_some() {
            return Err("`in_order` and `by` go together".into());
        }

        if let Some(codes) = self.status {
            return Ok(Assertion::Status { codes, instead });
        }
        if let Some(raw) = self.any_of {
            let Some(describe) = self.describe.filter(|d| !d.trim().is_empty()) else {
                return Err(
                    "`any_of` needs `describe = \"…\"`: what it accepts, in words a learner reads"
                        .into(),
                );
            };
            if raw.len() < 2 || raw.iter().any(Vec::is_empty) {
                return Err("`any_of` lists at least two non-empty lists of assertions".into());
            }
            let alternatives = raw
                .into_iter()
                .enumerate()
                .map(|(i, list)| {
                    list.into_iter()
                        .map(RawAssertion::parse)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| format!("any_of alternative {}: {e}", i + 1))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Assertion::AnyOf {
                alternatives,
                describe,
                instead,
            });
        }
        if let Some(name) = self.header {
            let checks = [
                self.exists.map(HeaderCheck::Exists),
                self.equals.map(HeaderCheck::Equals),
                self.not_in.map(HeaderCheck::NotIn),
                matches.map(HeaderCheck::Matches),
                self.lists.map(HeaderCheck::Lists),
            ];
            return Ok(Assertion::Header {
                name,
                checks: checks.into_iter().flatten().collect(),
            });
        }
        if let Some(path) = path {
            let checks = [
                self.exists.map(JsonCheck::Exists),
                self.equals.map(JsonCheck::Equals),
                self.not_in.map(JsonCheck::NotIn),
                matches.map(JsonCheck::Matches),
                types.map(JsonCheck::Type),
                self.min_length.map(JsonCheck::MinLength),
                self.max_length.map(JsonCheck::MaxLength),
                self.sorted_by
                    .zip(self.order)
                    .map(|(field, order)| JsonCheck::SortedBy { field, order }),
                self.in_order
                    .zip(self.by)
                    .map(|(values, by)| JsonCheck::InOrder { values, by }),
            ];
            return Ok(Assertion::Json {
                path,
                checks: checks.into_iter().flatten().collect(),
            });
        }
        if self.body == Some(BodySubject::Empty) {
            return Ok(Assertion::EmptyBody);
        }
        let checks = [
            self.contains.map(TextCheck::Contains),
            self.not_contains.map(TextCheck::NotContains),
            matches.map(TextCheck::Matches),
            self.names_field.map(TextCheck::NamesField),
        ];
        Ok(Assertion::Text(checks.into_iter().flatten().collect()))
    }
}

/// The `instead` notes by status code, or why a key is not a status code.
fn parse_instead(
    raw: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<Vec<(u16, String)>, String> {
    raw.into_iter()
        .flatten()
        .map(|(code, note)| match code.parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => Ok((c, note.clone())),
            _ => Err(format!(
                "`instead` is keyed by status codes between 100 and 599; `{code}` is not one"
            )),
        })
        .collect()
}

/// Parses one assertion written as TOML (for tests and examples).
pub fn from_toml(text: &str) -> Result<Assertion, String> {
    let raw: RawAssertion = toml::from_str(text).map_err(|e| e.message().to_string())?;
    raw.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_become_typed_checks_in_evaluation_order() {
        let a = from_toml("header = \"Allow\"\nlists = \"GET\"\nexists = true").unwrap();
        let Assertion::Header { name, checks } = a else {
            panic!("{a:?}")
        };
        assert_eq!(name, "Allow");
        assert!(matches!(
            checks.as_slice(),
            [HeaderCheck::Exists(true), HeaderCheck::Lists(t)] if t == "GET"
        ));
    }

    #[test]
    fn malformed_tables_say_why() {
        let err = |text: &str| from_toml(text).unwrap_err();
        assert_eq!(
            err("status = [200]\njson = \"id\""),
            "name exactly one subject: status, header, json, body or any_of"
        );
        assert_eq!(
            err("header = \"X\"\nmin_length = 1"),
            "`min_length` does not apply to this subject"
        );
        assert!(err("json = \"id\"\nmatches = \"(\"").contains("not a valid regular expression"));
        assert!(err("json = \"id\"\ntype = [\"text\"]").starts_with("type `text` is not one of"));
        assert_eq!(
            err("json = \"$list\"\nsorted_by = \"id\""),
            "`sorted_by` and `order` go together"
        );
        assert_eq!(
            err("json = \"id\""),
            "say what must hold (exists, equals, matches, …)"
        );
    }

    #[test]
    fn any_of_instead_and_names_field_are_checked_when_they_load() {
        let err = |text: &str| from_toml(text).unwrap_err();
        assert_eq!(
            err("any_of = [[{ status = [200] }], [{ status = [204] }]]"),
            "`any_of` needs `describe = \"…\"`: what it accepts, in words a learner reads"
        );
        assert_eq!(
            err("any_of = [[{ status = [200] }]]\ndescribe = \"ok\""),
            "`any_of` lists at least two non-empty lists of assertions"
        );
        assert!(
            err("any_of = [[{ status = [200] }], [{ header = \"X\" }]]\ndescribe = \"ok\"")
                .starts_with("any_of alternative 2: say what must hold")
        );
        assert_eq!(
            err("status = [422]\ninstead = { teapot = \"no\" }"),
            "`instead` is keyed by status codes between 100 and 599; `teapot` is not one"
        );
        assert_eq!(
            err("header = \"X\"\nexists = true\ninstead = { 400 = \"no\" }"),
            "`instead` does not apply to this subject"
        );
        assert_eq!(
            err("json = \"id\"\nnames_field = \"id\""),
            "`names_field` does not apply to this subject"
        );
        let Assertion::Status { codes, instead } =
            from_toml("status = [422]\ninstead = { 400 = \"a style\" }").unwrap()
        else {
            panic!("a status assertion")
        };
        assert_eq!(
            (codes, instead),
            (vec![422], vec![(400, "a style".to_string())])
        );
        // A pattern inside an alternative needs its words like any other.
        let raw: RawAssertion = toml::from_str(
            "any_of = [[{ header = \"X\", matches = \"a\" }], [{ status = [200] }]]\ndescribe = \"ok\"",
        )
        .unwrap();
        assert!(raw.lacks_description());
    }
}
