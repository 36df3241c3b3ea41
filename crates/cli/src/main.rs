//! The `kiln` command-line tool: argument parsing, rendering and wiring, no domain logic.
//!
//! Invoked as `kiln`, it parses a noun–verb command line with clap. Invoked under a legacy name
//! (`nix-hash`, …; by a symlink or a copy), it parses that program's documented flags and
//! behaves like it, exit codes included.

use std::io::Write as _;
use std::process::ExitCode;

mod alloc;
mod cli;
mod commands;
mod config;
mod diagnostic;
mod evaluate;
mod legacy;
mod output;
mod progress;
mod report;

/// The process's environment as the libraries see it, read once.
pub(crate) fn host() -> &'static kiln_session::HostEnv {
    static HOST: std::sync::OnceLock<kiln_session::HostEnv> = std::sync::OnceLock::new();
    HOST.get_or_init(kiln_session::HostEnv::from_process)
}

#[global_allocator]
static GLOBAL: alloc::HugePageAlloc = alloc::HugePageAlloc;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let program = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let res = match legacy::Legacy::from_program_name(&program) {
        Some(legacy) => legacy.run(&program, args.collect()),
        None => cli::run(),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&program, err),
    }
}

/// Prints an error as one line plus its cause chain, and picks the exit code.
fn report(program: &str, err: anyhow::Error) -> ExitCode {
    // A closed pipe (`kiln nar pack x | head`) is the reader's choice, not a failure.
    if err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::SUCCESS;
    }
    if let Some(exit) = err.downcast_ref::<output::SilentExit>() {
        return ExitCode::from(exit.0);
    }
    let code = match err.downcast_ref::<output::UsageError>() {
        Some(usage) => {
            write_error(&usage.to_string());
            let _ = writeln!(
                std::io::stderr(),
                "Try '{program} --help' for more information."
            );
            return ExitCode::from(usage.exit_code);
        }
        // Under a legacy name a failed build exits as Nix's does (100 and up).
        None => match err.downcast_ref::<kiln_realise::RealiseError>() {
            Some(e) if legacy::Legacy::from_program_name(program).is_some() => {
                u8::try_from(e.exit_status()).unwrap_or(1)
            }
            _ => 1,
        },
    };
    write_error(&format!("{err:#}"));
    ExitCode::from(code)
}

/// Writes `error: MESSAGE` to stderr. A message that starts with its trace (an evaluation
/// error) goes on the next line (`error:`); colours a Nix expression put in it are dropped
/// when stderr is no terminal; source lines that are not UTF-8 are written as their bytes,
/// as Nix writes them.
fn write_error(message: &str) {
    let text = match message.strip_prefix('\n') {
        Some(rest) => format!("error:\n{rest}"),
        None => format!("error: {message}"),
    };
    let mut bytes = diagnostic::raw_bytes(&kiln_eval::print::for_stderr(&text));
    bytes.push(b'\n');
    let _ = std::io::stderr().write_all(&bytes);
}
