//! The `reqlab` binary: parse the command line, run it, print any error, exit.

use clap::Parser;
use reqlab::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    reqlab::term::set_color(cli.color);
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
        Err(err) => {
            reqlab::term::print_error(&err);
            ExitCode::from(2)
        }
    }
}
