//! Conditional requests (RFC 9110 §13): entity tags, and the `If-None-Match` / `If-Match`
//! preconditions that compare them with a resource's current tag.
//!
//! A GET with `If-None-Match` naming the current tag gets `304 Not Modified` (the client's
//! copy is current); a write with `If-Match` naming an older tag gets `412 Precondition Failed`
//! (someone changed the resource first). One mechanism serves caching and safe concurrent
//! updates alike.

use axum::http::HeaderMap;

/// An entity tag: an opaque version of a representation, strong or weak (`W/"…"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    /// A weak tag only promises equivalent content, not identical bytes.
    pub weak: bool,
    /// The quoted part, without its quotes.
    pub opaque: String,
}

impl EntityTag {
    /// A strong tag.
    pub fn strong(opaque: impl Into<String>) -> EntityTag {
        EntityTag {
            weak: false,
            opaque: opaque.into(),
        }
    }

    /// The tag as a header value: `"…"` or `W/"…"`.
    pub fn header(&self) -> String {
        let prefix = if self.weak { "W/" } else { "" };
        format!("{prefix}\"{}\"", self.opaque)
    }

    /// Parses one tag; `None` when it is not `"…"` or `W/"…"`.
    pub fn parse(text: &str) -> Option<EntityTag> {
        let text = text.trim();
        let (weak, quoted) = match text.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let opaque = quoted.strip_prefix('"')?.strip_suffix('"')?;
        // etagc = %x21 / %x23-7E / obs-text: no quotes, spaces or controls inside.
        let valid = opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80);
        valid.then(|| EntityTag {
            weak,
            opaque: opaque.to_string(),
        })
    }
}

/// What an `If-Match` or `If-None-Match` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current representation.
    Any,
    /// One of these tags (malformed members are ignored).
    Tags(Vec<EntityTag>),
}

impl Condition {
    /// The condition in the named header(s), if the request has any.
    pub fn from_headers(headers: &HeaderMap, name: &axum::http::HeaderName) -> Option<Condition> {
        let mut values = headers.get_all(name).iter().peekable();
        values.peek()?;
        let mut tags = Vec::new();
        // A value that is not visible ASCII holds no entity tag: it still names a condition,
        // one no version meets, rather than vanishing as if the header were absent.
        for value in values.filter_map(|v| v.to_str().ok()) {
            for member in split_list(value) {
                if member == "*" {
                    return Some(Condition::Any);
                }
                tags.extend(EntityTag::parse(member));
            }
        }
        Some(Condition::Tags(tags))
    }

    /// `If-None-Match` semantics: the weak comparison (a `W/` tag matches its strong twin).
    pub fn matches_weakly(&self, current: &EntityTag) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags.iter().any(|t| t.opaque == current.opaque),
        }
    }

    /// `If-Match` semantics: the strong comparison (weak tags never match).
    pub fn matches_strongly(&self, current: &EntityTag) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags
                .iter()
                .any(|t| !t.weak && !current.weak && t.opaque == current.opaque),
        }
    }

    /// True when the header held no well-formed entity tag at all (such as an unquoted value),
    /// so it can match nothing.
    pub fn names_no_tag(&self) -> bool {
        matches!(self, Condition::Tags(tags) if tags.is_empty())
    }

    /// The condition as it was written, for trace sentences.
    pub fn shown(&self) -> String {
        match self {
            Condition::Any => "*".to_string(),
            Condition::Tags(tags) if tags.is_empty() => "(no valid entity tag)".to_string(),
            Condition::Tags(tags) => tags
                .iter()
                .map(EntityTag::header)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Splits a comma-separated list of entity tags, respecting quotes (a tag may hold a comma).
fn split_list(value: &str) -> Vec<&str> {
    let mut members = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                members.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(value[start..].trim());
    members.retain(|m| !m.is_empty());
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, header};

    fn condition(value: &'static str) -> Condition {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(value));
        Condition::from_headers(&headers, &header::IF_NONE_MATCH).unwrap()
    }

    #[test]
    fn tags_lists_and_stars() {
        let current = EntityTag::strong("v7");
        assert!(condition("\"v7\"").matches_weakly(&current));
        assert!(condition("W/\"v7\"").matches_weakly(&current));
        assert!(!condition("W/\"v7\"").matches_strongly(&current));
        assert!(condition("\"a\", \"v7\"").matches_strongly(&current));
        assert!(condition("\"a,b\", W/\"v7\"").matches_weakly(&current));
        assert!(condition("*").matches_strongly(&current));
        assert!(!condition("\"v6\"").matches_weakly(&current));
        assert!(
            !condition("v7").matches_weakly(&current),
            "a tag must be quoted"
        );
        assert_eq!(EntityTag::strong("v7").header(), "\"v7\"");
    }

    #[test]
    fn a_value_that_is_not_ascii_is_a_condition_no_version_meets() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MATCH,
            HeaderValue::from_bytes(b"\xc2\x84").unwrap(),
        );
        let condition = Condition::from_headers(&headers, &header::IF_MATCH).unwrap();
        assert!(!condition.matches_strongly(&EntityTag::strong("v7")));
        assert!(condition.names_no_tag());
    }

    #[test]
    fn no_header_means_no_condition() {
        assert_eq!(
            Condition::from_headers(&HeaderMap::new(), &header::IF_MATCH),
            None
        );
    }
}
