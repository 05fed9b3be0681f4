//! `reqlab explain <thing>`: what a status code, a header or a lifecycle stage means, who sets
//! it in the lab, and the lesson section that teaches it.

use crate::cli::{ExplainArgs, ExplainFormat};
use crate::course::{Course, Subject};
use crate::stage::Stage;
use crate::term;
use crate::view;
use std::io::Write;
use std::process::ExitCode;

/// Prints the explanation; an unknown thing is an error that suggests what was meant.
pub fn run(course: &Course, args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let subject = Subject::parse(&args.thing);
    let Some(explanation) = course.explain().explain(&subject) else {
        anyhow::bail!(unknown(course, &args.thing, &subject));
    };
    let mut out = term::stdout();
    match args.format {
        ExplainFormat::Text => {
            let width = term::output_width(args.width);
            term::write_lines(&mut out, &view::explain::lines(&explanation, width))?;
        }
        ExplainFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &view::explain::json(&explanation))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Why `thing` has no explanation, and what the learner probably meant.
fn unknown(course: &Course, thing: &str, subject: &Subject) -> String {
    if let Subject::Status(code) = subject {
        return format!("{code} is not a status code: they run from 100 to 599");
    }
    let explain = course.explain();
    let shown = thing.trim();
    match explain.suggest(thing).as_slice() {
        [] => {
            let headers: Vec<&str> = explain.header_names().collect();
            format!(
                "reqlab cannot explain `{shown}`. It explains status codes (100–599), the lifecycle stages ({}) and these headers: {}",
                Stage::ALL.map(Stage::id).join(", "),
                if headers.is_empty() {
                    "none (this course has no explain.toml)".to_string()
                } else {
                    headers.join(", ")
                }
            )
        }
        close => {
            let quoted: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
            let options = match quoted.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            };
            format!("reqlab cannot explain `{shown}`; did you mean {options}?")
        }
    }
}
