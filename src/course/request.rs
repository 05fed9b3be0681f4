//! Requests as the course writes them: a lesson's preset and a challenge step are both a
//! [`Request`] (a composer edits one), and either becomes an [`Outgoing`] request to send.

use super::template::Vars;
use axum::http::Method;

/// A request a lesson offers or a check sends: method, path, headers, body. Strings may hold
/// `{{variables}}` (challenge steps); [`Request::render`] fills them in.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Headers the request sets (the body's content type is added when they do not).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
    /// Follow redirects (off by default, so a redirect itself can be seen).
    pub follow_redirects: bool,
}

/// A request body, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body.
    None,
    /// A JSON value, sent as `application/json`.
    Json(serde_json::Value),
    /// Form fields, sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// Raw text, repeated `repeat` times (to show size limits without a huge file); its
    /// content type, if any, is one of the headers.
    Raw {
        /// The text.
        text: String,
        /// How many times it is sent back to back (at least 1).
        repeat: usize,
    },
}

impl Request {
    /// A copy with every `{{variable}}` replaced; an unknown one is an error naming it.
    pub fn render(&self, vars: &Vars) -> Result<Request, String> {
        let path = vars.render(&self.path)?;
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), vars.render(value)?)))
            .collect::<Result<_, String>>()?;
        let body = match &self.body {
            Body::None => Body::None,
            Body::Json(json) => Body::Json(vars.render_json(json)?),
            Body::Form(fields) => Body::Form(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), vars.render(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Body::Raw { text, repeat } => Body::Raw {
                text: vars.render(text)?,
                repeat: *repeat,
            },
        };
        Ok(Request {
            method: self.method.clone(),
            path,
            headers,
            body,
            follow_redirects: self.follow_redirects,
        })
    }

    /// The body's bytes and the content type they imply.
    fn body_bytes(&self) -> Option<(Vec<u8>, Option<&'static str>)> {
        match &self.body {
            Body::None => None,
            Body::Json(json) => Some((
                serde_json::to_vec(json).expect("a JSON value always serializes"),
                Some("application/json"),
            )),
            Body::Form(fields) => {
                let mut encoder = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    encoder.append_pair(k, v);
                }
                Some((
                    encoder.finish().into_bytes(),
                    Some("application/x-www-form-urlencoded"),
                ))
            }
            Body::Raw { text, repeat } => Some((text.repeat(*repeat).into_bytes(), None)),
        }
    }

    /// The headers to send: the body's content type first (unless a header sets one), then
    /// the request's own.
    fn headers_to_send(&self, content_type: Option<&'static str>) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        if let Some(content_type) = content_type
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.insert(0, ("Content-Type".into(), content_type.into()));
        }
        headers
    }

    /// The request, ready to send to the server at `base` (`http://127.0.0.1:8000`).
    pub fn outgoing(&self, base: &str) -> Outgoing {
        let body = self.body_bytes();
        let content_type = body.as_ref().and_then(|(_, ct)| *ct);
        Outgoing {
            method: self.method.clone(),
            url: format!("{}{}", base.trim_end_matches('/'), self.path),
            headers: self.headers_to_send(content_type),
            body: body.map(|(bytes, _)| bytes),
            follow_redirects: self.follow_redirects,
        }
    }

    /// The request as a curl command against `base`. A repeated body is too long to paste,
    /// so the shell repeats it and pipes it in.
    pub fn curl(&self, base: &str) -> String {
        if let Body::Raw { text, repeat } = &self.body
            && *repeat > 1
        {
            let url = format!("{}{}", base.trim_end_matches('/'), self.path);
            let piped = crate::curl::command(
                self.method.as_str(),
                &url,
                &self.headers_to_send(None),
                Some(b"@-"),
            )
            .replace("--data-raw @-", "--data-binary @-");
            let printf_arg = format!("%.0s{}", text.replace('%', "%%"));
            return format!(
                "printf {} $(seq {repeat}) | {piped}",
                shlex::try_quote(&printf_arg)
                    .map(|q| q.into_owned())
                    .unwrap_or_else(|_| "x".into()),
            );
        }
        self.outgoing(base).curl()
    }
}

/// A request ready to go: full URL and body bytes. Also the record of what was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Headers set by the request (the client adds Host, User-Agent…).
    pub headers: Vec<(String, String)>,
    /// Body bytes, if any.
    pub body: Option<Vec<u8>>,
    /// Follow redirects.
    pub follow_redirects: bool,
}

impl Outgoing {
    /// A copy with each `{{name}}` in the URL, header values and body filled from `vars`;
    /// the error is the first name `vars` lacks.
    pub fn render(&self, vars: &Vars) -> Result<Outgoing, String> {
        let body_text = self
            .body
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok());
        let mut names = super::template::variables(&self.url);
        for (_, value) in &self.headers {
            names.extend(super::template::variables(value));
        }
        if let Some(text) = body_text {
            names.extend(super::template::variables(text));
        }
        if let Some(missing) = names.into_iter().find(|n| vars.get(n).is_none()) {
            return Err(missing);
        }
        let fill = |text: &str| vars.render(text).unwrap_or_else(|_| text.to_string());
        Ok(Outgoing {
            method: self.method.clone(),
            url: fill(&self.url),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), fill(v)))
                .collect(),
            body: match body_text {
                Some(text) => Some(fill(text).into_bytes()),
                None => self.body.clone(),
            },
            follow_redirects: self.follow_redirects,
        })
    }

    /// A request without a body or headers.
    pub fn new(method: Method, url: String) -> Outgoing {
        Outgoing {
            method,
            url,
            headers: Vec::new(),
            body: None,
            follow_redirects: false,
        }
    }

    /// The request as a curl command.
    pub fn curl(&self) -> String {
        self.with_redirects(crate::curl::command(
            self.method.as_str(),
            &self.url,
            &self.headers,
            self.body.as_deref(),
        ))
    }

    /// The request as a curl command for a script: `flags` first, and each `{{name}}` read
    /// from the shell variable `$name` (see [`crate::check::repro`]).
    pub fn shell(&self, flags: &[&str]) -> String {
        self.with_redirects(crate::curl::shell(
            flags,
            self.method.as_str(),
            &self.url,
            &self.headers,
            self.body.as_deref(),
        ))
    }

    fn with_redirects(&self, mut cmd: String) -> String {
        if self.follow_redirects {
            cmd.push_str(" -L");
        }
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post_json() -> Request {
        Request {
            method: Method::POST,
            path: "/tasks/{{id}}".into(),
            headers: vec![("X-Request-ID".into(), "r-{{run}}".into())],
            body: Body::Json(serde_json::json!({"title": "t {{run}}"})),
            follow_redirects: false,
        }
    }

    #[test]
    fn rendering_fills_every_part_and_names_what_is_missing() {
        let mut vars = Vars::default();
        vars.set("run", "abc");
        let err = post_json().render(&vars).unwrap_err();
        assert!(err.contains("{{id}}"), "{err}");
        vars.set("id", "7");
        let out = post_json().render(&vars).unwrap().outgoing("http://h/");
        assert_eq!(out.url, "http://h/tasks/7");
        assert_eq!(
            out.headers,
            [
                ("Content-Type".to_string(), "application/json".to_string()),
                ("X-Request-ID".to_string(), "r-abc".to_string())
            ]
        );
        assert_eq!(out.body.as_deref(), Some(&br#"{"title":"t abc"}"#[..]));
    }

    #[test]
    fn forms_are_url_encoded_and_repeated_bodies_pipe_into_curl() {
        let form = Request {
            method: Method::POST,
            path: "/login".into(),
            headers: Vec::new(),
            body: Body::Form(vec![("user".into(), "a b&c".into())]),
            follow_redirects: false,
        };
        let out = form.outgoing("http://h");
        assert_eq!(out.body.as_deref(), Some(&b"user=a+b%26c"[..]));
        assert_eq!(out.headers[0].1, "application/x-www-form-urlencoded");
        let big = Request {
            body: Body::Raw {
                text: "x".into(),
                repeat: 3,
            },
            ..form
        };
        assert_eq!(
            big.curl("http://h"),
            "printf '%.0sx' $(seq 3) | curl -i http://h/login --data-binary @-"
        );
        assert_eq!(big.outgoing("http://h").body.unwrap(), b"xxx");
    }
}
