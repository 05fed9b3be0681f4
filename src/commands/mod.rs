//! One module per subcommand; [`run`] dispatches the parsed command line.

pub mod check;
pub mod dev;
pub mod explain;
pub mod guide;
pub mod learn;
pub mod lessons;
pub mod load;
pub mod progress;
pub mod replay;
pub mod replicas;
pub mod send;
pub mod serve;
pub mod trace;

use crate::cli::{Cli, Command, ContentArgs, DevCommand};
use crate::course::{ContentSource, Course};
use clap::CommandFactory;
use std::process::ExitCode;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        return guide::run(cli.guide).await;
    };
    match command {
        Command::Serve(args) => match args.replicas {
            Some(n) => replicas::run(args, n).await,
            None => serve::run(args).await,
        },
        Command::Lessons(args) => lessons::run(&load(&args.content)?, args),
        Command::Learn(args) => learn::run(&load(&args.content)?, args),
        Command::Trace(args) => trace::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Send(args) => send::run(&load(&args.content)?, args).await,
        Command::Load(args) => load::run(&load(&args.content)?, args).await,
        Command::Check(args) => check::run(load(&args.content)?, args).await,
        Command::Progress(args) => progress::run(&load(&args.content)?, args),
        Command::Explain(args) => explain::run(&load(&args.content)?, args),
        Command::Dev(DevCommand::Check(args)) => {
            dev::check(&load(&args.content)?, args.otlp_dir.as_deref()).await
        }
        Command::Completions(args) => {
            // Generated into memory first: clap_complete panics when its writer fails, and a
            // reader such as `head` may close the pipe early.
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "reqlab", &mut script);
            let mut out = crate::term::stdout();
            std::io::Write::write_all(&mut out, &script)?;
            std::io::Write::flush(&mut out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the course (built in, or `--lessons DIR`), turning content problems into one error
/// listing them all.
pub fn load(content: &ContentArgs) -> anyhow::Result<Course> {
    let source = match &content.lessons {
        Some(dir) => ContentSource::Dir(dir.clone()),
        None => ContentSource::Embedded,
    };
    Ok(Course::load(&source)?)
}
