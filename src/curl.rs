//! Requests written as curl commands a learner can copy into a shell.

/// A shell-safe curl command for a request. `-i` shows the status line and headers.
pub fn command(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> String {
    let mut parts = vec!["curl".to_string(), "-i".to_string()];
    let implied = match body {
        Some(_) => "POST",
        None => "GET",
    };
    if method != implied {
        if method == "HEAD" {
            parts = vec!["curl".into(), "-I".into()];
        } else {
            parts.push("-X".into());
            parts.push(method.into());
        }
    }
    parts.push(quote(url));
    for (name, value) in headers {
        parts.push("-H".into());
        parts.push(quote(&format!("{name}: {value}")));
    }
    if let Some(body) = body {
        parts.push("--data-raw".into());
        parts.push(quote(&String::from_utf8_lossy(body)));
    }
    parts.join(" ")
}

fn quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{}'", s.replace('\0', "").replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_needs_no_method_flag() {
        assert_eq!(
            command(
                "GET",
                "http://127.0.0.1:4747/tasks?limit=5&offset=0",
                &[],
                None
            ),
            "curl -i 'http://127.0.0.1:4747/tasks?limit=5&offset=0'"
        );
    }

    #[test]
    fn bodies_and_headers_are_quoted_for_the_shell() {
        let cmd = command(
            "PATCH",
            "http://127.0.0.1:4747/tasks/1",
            &[("Content-Type".into(), "application/json".into())],
            Some(br#"{"title":"it's done"}"#),
        );
        assert_eq!(
            cmd,
            r#"curl -i -X PATCH http://127.0.0.1:4747/tasks/1 -H 'Content-Type: application/json' --data-raw "{\"title\":\"it's done\"}""#
        );
    }

    #[test]
    fn post_with_a_body_is_implied() {
        let cmd = command("POST", "http://h/x", &[], Some(b"a"));
        assert_eq!(cmd, "curl -i http://h/x --data-raw a");
    }
}
