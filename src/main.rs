//! The `reqlab` binary: parse the command line, run it, print any error, exit.

use reqlab::cli::Cli;
use std::process::ExitCode;

// The lab allocates many small, short-lived strings per request (trace events); mimalloc
// handles that pattern with far less overhead than the system allocator (see scripts/bench.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    reqlab::term::set_color(cli.color);
    match &cli.command {
        Some(reqlab::cli::Command::Serve(reqlab::cli::ServeArgs {
            log_format: Some(format),
            ..
        })) => reqlab::term::log_requests_to_stderr(*format == reqlab::cli::LogFormat::Json),
        _ => reqlab::term::log_to_stderr(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(reqlab::commands::run(cli)) {
        Ok(code) => code,
        // The reader of our output went away (`reqlab learn 1 | head`): nothing to report.
        Err(err) if reqlab::term::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            reqlab::term::print_error(&err);
            ExitCode::from(2)
        }
    }
}
