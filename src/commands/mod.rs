//! One module per subcommand; [`run`] dispatches the parsed command line.

pub mod check;
pub mod dev;
pub mod learn;
pub mod lessons;
pub mod progress;
pub mod serve;
pub mod trace;

use crate::cli::{Cli, Command, DevCommand};
use crate::course::{ContentSource, Course};
use clap::CommandFactory;
use std::process::ExitCode;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let source = match cli.lessons {
        Some(dir) => ContentSource::Dir(dir),
        None => ContentSource::Embedded,
    };
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Lessons(args) => lessons::run(&load(&source)?, args),
        Command::Learn(args) => learn::run(&load(&source)?, args),
        Command::Trace(args) => trace::run(args).await,
        Command::Check(args) => check::run(&load(&source)?, args).await,
        Command::Progress(args) => progress::run(&load(&source)?, args),
        Command::Dev(DevCommand::Check) => dev::check(&load(&source)?).await,
        Command::Completions(args) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "reqlab",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the course, turning content problems into one error listing them all.
pub fn load(source: &ContentSource) -> anyhow::Result<Course> {
    Ok(Course::load(source)?)
}
