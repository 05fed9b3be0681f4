//! Requests written as curl commands a learner can copy into a shell.

/// A shell-safe curl command for a request. `-i` shows the status line and headers.
pub fn command(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> String {
    build(&["-i"], method, url, headers, body, quote)
}

/// A curl command for a reproduction: `flags` come first (they are written shell-safe), and
/// every `{{name}}` in the URL, headers or body reads the shell variable `$name`.
pub fn shell(
    flags: &[&str],
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> String {
    build(flags, method, url, headers, body, quote_with_variables)
}

fn build(
    flags: &[&str],
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    quote: fn(&str) -> String,
) -> String {
    let mut parts = vec!["curl".to_string()];
    let implied = match body {
        Some(_) => "POST",
        None => "GET",
    };
    let head = method == "HEAD" && method != implied;
    parts.extend(
        flags
            .iter()
            .filter(|f| !(head && **f == "-i"))
            .map(|f| f.to_string()),
    );
    if method != implied {
        if head {
            parts.push("-I".into());
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

/// One shell word holding `s` exactly.
pub fn quote(s: &str) -> String {
    // A carriage return (a multipart body) or another control character would not survive
    // a copy and paste inside plain quotes: ANSI-C quoting spells each one out.
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return ansi_c_quoted(s);
    }
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| single_quoted(s))
}

/// `$'…'` quoting (bash, zsh, and POSIX sh since 2024): control characters as escapes.
fn ansi_c_quoted(s: &str) -> String {
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c) & 0xff)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\0', "").replace('\'', r"'\''"))
}

/// Like [`quote`], but each `{{name}}` becomes `"$name"` (outside the single quotes).
fn quote_with_variables(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut any = false;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = &after[..end];
        let is_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            out.push_str(&single_quoted(&rest[..start + 2]));
            rest = after;
            continue;
        }
        if start > 0 {
            out.push_str(&single_quoted(&rest[..start]));
        }
        out.push_str(&format!("\"${name}\""));
        any = true;
        rest = &after[end + 2..];
    }
    if !any {
        return quote(s);
    }
    if !rest.is_empty() {
        out.push_str(&single_quoted(rest));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_spelled_out_so_a_pasted_command_sends_them() {
        assert_eq!(
            quote("--b\r\nContent-Type: text/plain\r\n\r\nit's\r\n--b--\r\n"),
            r"$'--b\r\nContent-Type: text/plain\r\n\r\nit\'s\r\n--b--\r\n'"
        );
        assert_eq!(quote("two\nlines"), "'two\nlines'");
    }

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
