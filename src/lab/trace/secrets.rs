//! What a trace never keeps: credentials. A request's copy (for `reqlab replay`) keeps every
//! header and its body, except the values of the headers, query parameters and body fields
//! named here, which are replaced by [`REDACTED`] and listed by name.

/// What stands in for a value that was not kept.
pub const REDACTED: &str = "[redacted]";

/// Headers whose values are credentials.
pub const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "x-csrf-token",
];

/// Query parameters and body fields whose values are credentials.
pub const SECRET_NAMES: [&str; 13] = [
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "password",
    "new_password",
    "current_password",
    "secret",
    "client_secret",
    "session",
];

/// True for a header whose value is a credential.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// True for a parameter or field whose value is a credential.
pub fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// A body with its credentials replaced: JSON fields (at any depth) or form fields with a
/// secret name. Returns the body to keep and the names of the fields that were replaced.
pub fn redact_body(bytes: &[u8], content_type: Option<&str>) -> (Vec<u8>, Vec<String>) {
    let mut redacted = Vec::new();
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        redact_json(&mut value, &mut redacted);
        if redacted.is_empty() {
            return (bytes.to_vec(), redacted);
        }
        return (serde_json::to_vec(&value).unwrap_or_default(), redacted);
    }
    let form = content_type.is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if form && let Ok(text) = std::str::from_utf8(bytes) {
        let pairs: Vec<String> = text
            .split('&')
            .map(|pair| {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                if is_secret_name(name) {
                    redacted.push(name.to_string());
                    format!("{name}={REDACTED}")
                } else {
                    pair.to_string()
                }
            })
            .collect();
        return (pairs.join("&").into_bytes(), redacted);
    }
    (bytes.to_vec(), redacted)
}

fn redact_json(value: &mut serde_json::Value, redacted: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                if is_secret_name(name) && !v.is_null() {
                    *v = serde_json::Value::String(REDACTED.into());
                    if !redacted.contains(name) {
                        redacted.push(name.clone());
                    }
                } else {
                    redact_json(v, redacted);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, redacted)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_credentials_are_replaced_and_named() {
        let (kept, names) = redact_body(
            br#"{"username":"alice","password":"alicepass","nested":{"api_key":"k"}}"#,
            Some("application/json"),
        );
        let text = String::from_utf8(kept).unwrap();
        assert!(
            !text.contains("alicepass") && !text.contains("\"k\""),
            "{text}"
        );
        assert!(text.contains("alice"));
        assert_eq!(names, ["password", "api_key"]);

        let (kept, names) = redact_body(
            b"username=alice&password=alicepass",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert_eq!(kept, b"username=alice&password=[redacted]");
        assert_eq!(names, ["password"]);

        let (kept, names) = redact_body(b"{\"title\":\"ok\"}", Some("application/json"));
        assert_eq!(
            kept, b"{\"title\":\"ok\"}",
            "untouched when nothing is secret"
        );
        assert!(names.is_empty());
    }
}
