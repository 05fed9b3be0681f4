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

/// A body with its credentials replaced: JSON fields (at any depth) or form fields (by their
/// decoded names) with a secret name. Returns the body to keep and the names of the fields
/// that were replaced; `None` when a body declared as JSON or form data cannot be read as such,
/// so it cannot be checked for credentials and is not kept at all.
pub fn redact_body(bytes: &[u8], content_type: Option<&str>) -> Option<(Vec<u8>, Vec<String>)> {
    let media = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json = media == "application/json" || media.ends_with("+json");
    let form = media == "application/x-www-form-urlencoded";
    let mut redacted = Vec::new();
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        redact_json(&mut value, &mut redacted);
        if redacted.is_empty() {
            return Some((bytes.to_vec(), redacted));
        }
        return Some((serde_json::to_vec(&value).unwrap_or_default(), redacted));
    }
    if json {
        return None;
    }
    if form {
        // Names are compared decoded (pass%77ord is password), as the server reads them.
        if std::str::from_utf8(bytes).is_err() {
            return None;
        }
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in url::form_urlencoded::parse(bytes) {
            if is_secret_name(&name) {
                if !redacted.iter().any(|r| r == &name) {
                    redacted.push(name.to_string());
                }
                out.append_pair(&name, REDACTED);
            } else {
                out.append_pair(&name, &value);
            }
        }
        if redacted.is_empty() {
            return Some((bytes.to_vec(), redacted));
        }
        return Some((out.finish().into_bytes(), redacted));
    }
    Some((bytes.to_vec(), redacted))
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
        )
        .unwrap();
        let text = String::from_utf8(kept).unwrap();
        assert!(
            !text.contains("alicepass") && !text.contains("\"k\""),
            "{text}"
        );
        assert!(text.contains("alice"));
        assert_eq!(names, ["password", "api_key"]);

        let (kept, names) = redact_body(
            b"username=alice&pass%77ord=alicepass",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
        )
        .unwrap();
        assert_eq!(kept, b"username=alice&password=%5Bredacted%5D");
        assert_eq!(names, ["password"]);

        // What cannot be read as its declared type cannot be checked, so it is not kept.
        assert!(redact_body(b"{\"password\": \"x\",}", Some("application/json")).is_none());
        assert!(
            redact_body(
                b"username=Jos\xE9&password=x",
                Some("application/x-www-form-urlencoded")
            )
            .is_none()
        );

        let (kept, names) = redact_body(b"{\"title\":\"ok\"}", Some("application/json")).unwrap();
        assert_eq!(
            kept, b"{\"title\":\"ok\"}",
            "untouched when nothing is secret"
        );
        assert!(names.is_empty());
    }
}
