//! Captures: a value kept from a response (a JSON field, a header, a cookie) for a later
//! request to send, in challenge steps and in presets alike.

use super::jsonpath::JsonPath;

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Capture {
    /// A value in the JSON body (`json:<path>`).
    Json(JsonPath),
    /// A response header (`header:<Name>`).
    Header(String),
    /// A cookie the response sets (`cookie:<name>`).
    Cookie(String),
}

impl Capture {
    /// Parses `json:<path>`, `header:<Name>` or `cookie:<name>`.
    pub fn parse(source: &str) -> Result<Capture, String> {
        match source.split_once(':') {
            Some(("json", path)) => JsonPath::parse(path).map(Capture::Json),
            Some(("header", name))
                if axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok() =>
            {
                Ok(Capture::Header(name.to_string()))
            }
            Some(("cookie", name)) if !name.is_empty() => Ok(Capture::Cookie(name.to_string())),
            _ => Err(format!(
                "`{source}` must be json:<path>, header:<Name> or cookie:<name>"
            )),
        }
    }
}
