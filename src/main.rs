//! The `forkhttpd` binary: read the configuration, set up logging, hand over to the master.

use std::process::ExitCode;

use clap::Parser;
use forkhttpd::config::{Cli, Config};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let test_only = cli.test;
    let source = cli.config.clone();
    let config = match Config::load(cli) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    if test_only {
        if let Err(e) = forkhttpd::master::check(&config) {
            return fail(&e);
        }
        match source {
            Some(path) => eprintln!("forkhttpd: {} is valid", path.display()),
            None => eprintln!("forkhttpd: the options are valid"),
        }
        return ExitCode::SUCCESS;
    }
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

/// Start-up errors are one line each on stderr (a configuration file may have several
/// problems, each placed `FILE:line:column`) and exit code 1.
fn fail(error: &anyhow::Error) -> ExitCode {
    for line in format!("{error:#}").lines() {
        eprintln!("forkhttpd: error: {line}");
    }
    ExitCode::FAILURE
}
