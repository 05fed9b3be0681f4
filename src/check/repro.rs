//! Reproductions: every request a failed check's verdict depends on, as `sh` commands a
//! learner can paste against a fresh server and see the same result.
//!
//! A request that returned a value a later request uses (an id, a token, a cursor) becomes
//! a shell variable assignment: `task_id=$(curl -s … | python3 -c '…')`, and the later
//! request reads `"$task_id"`. Values are read from responses with `python3` (its standard
//! library only), which every machine that runs the fixture apps has, and which is more
//! often installed than `jq`. Requests that only set up state print their status.

use super::http::Outgoing;
use crate::course::challenge::Capture;
use crate::course::jsonpath::Segment;

/// A value a response provided that later requests use.
#[derive(Debug, Clone, PartialEq)]
pub struct Provided {
    /// The shell variable (and template variable) name.
    pub name: String,
    /// Where in the response the value is.
    pub source: Capture,
    /// True when later requests put it in a query string, so it is percent-encoded.
    pub url_encoded: bool,
}

/// One earlier request of a reproduction.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproStep {
    /// The request as shown: values earlier responses returned appear as `{{name}}`.
    pub request: Outgoing,
    /// Values its response provides to later requests of the reproduction.
    pub provides: Vec<Provided>,
    /// The group of requests sent at the same moment it belongs to: the shell starts them
    /// in the background together and waits for all of them.
    pub batch: Option<usize>,
}

/// What reproduces a finding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reproduction {
    /// Requests to send first, in order.
    pub setup: Vec<ReproStep>,
    /// The request that showed the problem, as shown (`None` when no single request did).
    pub request: Option<Outgoing>,
}

impl Reproduction {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.setup.is_empty() && self.request.is_none()
    }

    /// The setup requests as `sh` lines (one or more per request); requests sent together
    /// run in the background, followed by `wait`.
    pub fn setup_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, step) in self.setup.iter().enumerate() {
            match step.batch {
                Some(batch) => {
                    lines.extend(step_lines(step).into_iter().map(|l| format!("{l} &")));
                    if self.setup.get(i + 1).and_then(|s| s.batch) != Some(batch) {
                        lines.push("wait".into());
                    }
                }
                None => lines.extend(step_lines(step)),
            }
        }
        lines
    }

    /// The request that showed the problem as a `curl -i` line.
    pub fn request_line(&self) -> Option<String> {
        self.request.as_ref().map(|r| r.shell(&["-i"]))
    }

    /// The whole reproduction, one `sh` line per entry, in order.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.setup_lines();
        lines.extend(self.request_line());
        lines
    }
}

/// What to read from the response, and so how curl should print it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Body,
    Head,
    Whole,
}

fn step_lines(step: &ReproStep) -> Vec<String> {
    let r = &step.request;
    match step.provides.as_slice() {
        [] => vec![r.shell(&["-s", "-o", "/dev/null", "-w", "'%{http_code}\\n'"])],
        provides => {
            let json = provides
                .iter()
                .filter(|p| matches!(p.source, Capture::Json(_)))
                .count();
            let part = if json == provides.len() {
                Part::Body
            } else if json == 0 {
                Part::Head
            } else {
                Part::Whole
            };
            let curl = match part {
                Part::Body => r.shell(&["-s"]),
                Part::Head => r.shell(&["-s", "-o", "/dev/null", "-D", "-"]),
                Part::Whole => r.shell(&["-s", "-i"]),
            };
            if let [one] = provides {
                return vec![format!(
                    "{}=$({curl} | python3 -c {})",
                    one.name,
                    quote(&extract(one, part))
                )];
            }
            let mut lines = vec![format!("response=$({curl})")];
            for p in provides {
                lines.push(format!(
                    "{}=$(printf '%s\\n' \"$response\" | python3 -c {})",
                    p.name,
                    quote(&extract(p, part))
                ));
            }
            lines
        }
    }
}

/// A Python program that prints one value from a response on standard input.
fn extract(p: &Provided, part: Part) -> String {
    let read = match part {
        Part::Body => "body = sys.stdin.read()",
        Part::Head => "head = sys.stdin.read()",
        Part::Whole => "head, _, body = sys.stdin.read().partition(\"\\r\\n\\r\\n\")",
    };
    let mut code = vec![
        "import json, sys, urllib.parse".to_string(),
        read.to_string(),
    ];
    match &p.source {
        Capture::Json(path) => {
            code.push("v = json.loads(body)".into());
            for segment in path.segments() {
                code.push(match segment {
                    Segment::Field(name) => format!("v = v[{}]", py_str(name)),
                    Segment::Index(i) => format!("v = v[{i}]"),
                    Segment::List => "v = v if isinstance(v, list) else v[\"items\"]".into(),
                });
            }
            code.push("v = v if isinstance(v, str) else json.dumps(v)".into());
        }
        Capture::Header(name) => code.push(format!(
            "v = next((l.split(\":\", 1)[1].strip() for l in head.splitlines() if l.lower().startswith({})), \"\")",
            py_str(&format!("{}:", name.to_lowercase()))
        )),
        Capture::Cookie(name) => code.push(format!(
            "v = next((c.split(\"=\", 1)[1].strip() for c in (l.split(\":\", 1)[1].split(\";\")[0] for l in head.splitlines() if l.lower().startswith(\"set-cookie:\")) if c.split(\"=\", 1)[0].strip() == {}), \"\")",
            py_str(name)
        )),
    }
    if p.url_encoded {
        code.push("v = urllib.parse.quote(v, safe=\"\")".into());
    }
    code.push("print(v)".into());
    code.join("; ")
}

/// A Python string literal (JSON's escapes are Python's too).
fn py_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn quote(s: &str) -> String {
    crate::curl::quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::jsonpath::JsonPath;
    use axum::http::Method;

    fn post(url: &str, body: &str) -> Outgoing {
        let mut out = Outgoing::new(Method::POST, url.into());
        out.headers
            .push(("Content-Type".into(), "application/json".into()));
        out.body = Some(body.as_bytes().to_vec());
        out
    }

    #[test]
    fn a_value_an_earlier_response_returned_becomes_a_shell_variable() {
        let repro = Reproduction {
            setup: vec![
                ReproStep {
                    request: post("http://h/tasks", r#"{"title":"a"}"#),
                    provides: vec![Provided {
                        name: "task_id".into(),
                        source: Capture::Json(JsonPath::parse("id").unwrap()),
                        url_encoded: false,
                    }],
                    batch: None,
                },
                ReproStep {
                    request: post("http://h/other", "{}"),
                    provides: Vec::new(),
                    batch: None,
                },
            ],
            request: Some(Outgoing::new(
                Method::DELETE,
                "http://h/tasks/{{task_id}}".into(),
            )),
        };
        let lines = repro.lines();
        assert_eq!(
            lines[0],
            r#"task_id=$(curl -s http://h/tasks -H 'Content-Type: application/json' --data-raw '{"title":"a"}' | python3 -c 'import json, sys, urllib.parse; body = sys.stdin.read(); v = json.loads(body); v = v["id"]; v = v if isinstance(v, str) else json.dumps(v); print(v)')"#
        );
        assert_eq!(
            lines[1],
            r#"curl -s -o /dev/null -w '%{http_code}\n' http://h/other -H 'Content-Type: application/json' --data-raw '{}'"#
        );
        assert_eq!(lines[2], r#"curl -i -X DELETE 'http://h/tasks/'"$task_id""#);
    }

    #[test]
    fn requests_sent_together_run_in_the_background_and_are_waited_for() {
        let together = |n: usize| ReproStep {
            request: post("http://h/users", &format!(r#"{{"n":{n}}}"#)),
            provides: Vec::new(),
            batch: Some(1),
        };
        let repro = Reproduction {
            setup: vec![together(1), together(2)],
            request: None,
        };
        let lines = repro.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("curl -s -o /dev/null") && lines[0].ends_with(" &"));
        assert!(
            lines[1].ends_with(r#"--data-raw '{"n":2}' &"#),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "wait");
    }
}
