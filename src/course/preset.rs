//! Presets: ready-made requests a lesson offers, sendable to the lab and printable as curl.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A ready-made request a learner can send to the lab server.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Slug, unique within the lesson.
    pub id: String,
    /// What the request demonstrates, in a few words.
    pub title: String,
    /// The section it belongs to.
    pub section: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sent with `Content-Type: application/json`).
    pub json: Option<serde_json::Value>,
    /// A raw body, for demonstrating bad input; set its content type in `headers`.
    pub body: Option<String>,
    /// Repeat the raw body this many times (to demonstrate size limits without a huge file).
    pub body_repeat: Option<usize>,
    /// The status the lab answers with on a fresh database; `reqlab dev check` verifies it.
    pub expect_status: u16,
    /// What to look for in the response and the trace.
    pub note: Option<String>,
}

impl Preset {
    /// The body bytes this preset sends, and the content type it implies.
    pub fn body_bytes(&self) -> Option<(Vec<u8>, Option<&'static str>)> {
        if let Some(json) = &self.json {
            let bytes = serde_json::to_vec(json).expect("a JSON value always serializes");
            return Some((bytes, Some("application/json")));
        }
        self.body
            .as_ref()
            .map(|b| (b.repeat(self.body_repeat.unwrap_or(1)).into_bytes(), None))
    }

    /// Headers to send: the preset's own, plus the content type its body implies.
    pub fn headers_to_send(&self) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some((_, Some(content_type))) = self.body_bytes() {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.insert(0, ("Content-Type".into(), content_type.into()));
            }
        }
        headers
    }

    /// The preset as a curl command against the lab at `base`.
    pub fn curl(&self, base: &str) -> String {
        let url = format!("{}{}", base.trim_end_matches('/'), self.path);
        let body = self.body_bytes();
        if let (Some(times), Some(chunk)) = (self.body_repeat.filter(|n| *n > 1), &self.body) {
            // Too long to paste: let the shell repeat the chunk and pipe it in.
            let piped =
                crate::curl::command(&self.method, &url, &self.headers_to_send(), Some(b"@-"))
                    .replace("--data-raw @-", "--data-binary @-");
            let printf_arg = format!("%.0s{}", chunk.replace('%', "%%"));
            return format!(
                "printf {} $(seq {times}) | {piped}",
                shlex::try_quote(&printf_arg)
                    .map(|q| q.into_owned())
                    .unwrap_or_else(|_| "x".into()),
            );
        }
        crate::curl::command(
            &self.method,
            &url,
            &self.headers_to_send(),
            body.as_ref().map(|(b, _)| b.as_slice()),
        )
    }

    /// Sends the preset to the lab at `base`.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        base: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let url = format!("{}{}", base.trim_end_matches('/'), self.path);
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .expect("preset methods are checked when lessons load");
        let mut request = client.request(method, url);
        for (name, value) in self.headers_to_send() {
            request = request.header(name, value);
        }
        if let Some((bytes, _)) = self.body_bytes() {
            request = request.body(bytes);
        }
        request.send().await
    }
}
