//! The `forkhttpd` binary: parse the command line, set up logging, hand over to the master.

use std::process::ExitCode;

use clap::Parser;
use forkhttpd::config::{Cli, Config};

fn main() -> ExitCode {
    let config = match Config::from_cli(Cli::parse()) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    if let Err(e) = forkhttpd::log::init(config.log_level, config.log_file.as_deref()) {
        let path = config
            .log_file
            .as_deref()
            .unwrap_or(std::path::Path::new(""))
            .display();
        eprintln!("forkhttpd: error: cannot open log file {path}: {e}");
        return ExitCode::FAILURE;
    }
    match forkhttpd::master::run(config) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// Start-up errors are one line on stderr and exit code 1.
fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("forkhttpd: error: {error:#}");
    ExitCode::FAILURE
}
