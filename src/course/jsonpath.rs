//! A small JSON path: `id`, `items[0].id`, `detail[0].loc`, `$` for the whole body, and
//! `$list` for "the list" — the body itself when it is an array, else its `items` field
//! (checks accept both shapes). Paths are parsed once, when a challenge loads.

use serde_json::Value;
use std::fmt;

/// A parsed path, remembering how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

impl JsonPath {
    /// Parses a path, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        Ok(JsonPath {
            segments: parse(text)?,
            text: text.to_string(),
        })
    }

    /// The value the path points at, if everything along the way is there.
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        resolve(root, &self.segments)
    }

    /// The steps of the path, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// True for `$list`, which reads as "the list" rather than as a field.
    pub fn is_the_list(&self) -> bool {
        self.segments == [Segment::List]
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// "The list" of a body: the body when it is an array, else its `items` array.
pub fn the_list(body: &Value) -> Option<&Value> {
    match body {
        Value::Array(_) => Some(body),
        Value::Object(map) => map.get("items").filter(|v| v.is_array()),
        _ => None,
    }
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object field.
    Field(String),
    /// An array index.
    Index(usize),
    /// The body's list (see module docs).
    List,
}

fn parse(path: &str) -> Result<Vec<Segment>, String> {
    let path = path.trim();
    if path == "$" {
        return Ok(Vec::new());
    }
    let mut segments = Vec::new();
    let rest = if let Some(rest) = path.strip_prefix("$list") {
        segments.push(Segment::List);
        rest.strip_prefix('.').unwrap_or(rest)
    } else {
        path.strip_prefix("$.").unwrap_or(path)
    };
    if rest.is_empty() {
        return if segments.is_empty() {
            Err("a JSON path cannot be empty (use $ for the whole body)".into())
        } else {
            Ok(segments)
        };
    }
    for part in rest.split('.') {
        let (name, mut indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            segments.push(Segment::Field(name.to_string()));
        } else if indexes.is_empty() {
            return Err(format!("`{path}` has an empty segment"));
        }
        while !indexes.is_empty() {
            let close = indexes
                .find(']')
                .ok_or_else(|| format!("`{path}` has an unclosed ["))?;
            let n = indexes[1..close]
                .parse::<usize>()
                .map_err(|_| format!("`{path}`: an index must be a whole number"))?;
            segments.push(Segment::Index(n));
            indexes = &indexes[close + 1..];
            if !indexes.is_empty() && !indexes.starts_with('[') {
                return Err(format!("`{path}`: unexpected text after ]"));
            }
        }
    }
    Ok(segments)
}

fn resolve<'v>(root: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    let mut current = root;
    for segment in path {
        current = match segment {
            Segment::Field(name) => current.get(name)?,
            Segment::Index(i) => current.get(i)?,
            Segment::List => the_list(current)?,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
        JsonPath::parse(path).unwrap().get(root)
    }

    #[test]
    fn paths_resolve_fields_and_indexes() {
        let v = json!({"items": [{"id": 1}, {"id": 2}], "detail": [{"loc": ["body", "email"]}]});
        assert_eq!(get(&v, "items[1].id"), Some(&json!(2)));
        assert_eq!(get(&v, "detail[0].loc[1]"), Some(&json!("email")));
        assert_eq!(get(&v, "$.items[0].id"), Some(&json!(1)));
        assert_eq!(get(&v, "items[5]"), None);
        assert_eq!(get(&v, "$"), Some(&v));
    }

    #[test]
    fn the_list_is_the_array_or_its_items() {
        let bare = json!([1, 2]);
        let wrapped = json!({"items": [1, 2], "next_cursor": null});
        assert_eq!(get(&bare, "$list"), Some(&json!([1, 2])));
        assert_eq!(get(&wrapped, "$list"), Some(&json!([1, 2])));
        assert_eq!(get(&wrapped, "$list[1]"), Some(&json!(2)));
        assert_eq!(get(&json!({"data": []}), "$list"), None);
    }

    #[test]
    fn bad_paths_are_explained() {
        assert!(parse("").is_err());
        assert!(parse("a..b").is_err());
        assert!(parse("a[x]").is_err());
        assert!(parse("a[1").is_err());
    }
}
