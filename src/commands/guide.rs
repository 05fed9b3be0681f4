//! `reqlab` with no command: the full-screen guide, on a terminal; a short usage elsewhere.

use crate::cli::{Cli, GuideArgs};
use clap::CommandFactory;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Opens the guide when both ends are a terminal; otherwise says how to use reqlab and exits 2.
pub async fn run(args: GuideArgs) -> anyhow::Result<ExitCode> {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        let mut err = anstream::stderr();
        writeln!(
            err,
            "reqlab opens its guide only on a terminal. Run it in one, or use a command:\n"
        )?;
        write!(err, "{}", Cli::command().render_usage())?;
        writeln!(
            err,
            "\n\nCommands: serve, lessons, learn, send, trace, check, progress (see `reqlab --help`)."
        )?;
        return Ok(ExitCode::from(2));
    }
    let course = super::load(&args.content)?;
    crate::tui::run(course, args).await
}
