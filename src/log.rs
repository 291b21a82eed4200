//! Logging: one line per event to stderr, or to `--log-file`, from every process.
//!
//! Each line carries the writing process's pid. The log file is opened with O_APPEND and put on
//! file descriptor 2, so the master and the workers it forks share it, and lines from different
//! processes never overwrite each other. On SIGUSR1 each process reopens the path onto fd 2,
//! which is all that logrotate's "move, then signal" needs.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global logger. Must run before any fork, once.
pub fn init(level: Level, log_file: Option<&Path>) -> io::Result<()> {
    if let Some(path) = log_file {
        reopen(path)?;
    }
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(io::stderr)
        .with_ansi(false)
        .event_format(LineFormat)
        .init();
    Ok(())
}

/// Opens `path` for appending and makes it this process's stderr.
pub fn reopen(path: &Path) -> io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    nix::unistd::dup2_stderr(file.as_fd())?;
    Ok(())
}

/// `2026-11-26T15:08:00.123456Z  INFO [4242] message key=value`
struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        write!(
            writer,
            " {:>5} [{}] ",
            event.metadata().level(),
            std::process::id()
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
