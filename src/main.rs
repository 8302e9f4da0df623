//! The `airlock` binary: parse, run one command, map the outcome to the
//! contract's exit codes, print the error chain once. A closed stdout
//! (`airlock list | head`) is success.

mod cli;
mod commands;
mod printer;
mod reporter;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    airlock::prepare_process();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap: 0 for --help/--version, 2 for usage errors.
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match commands::run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let mut msg = err.to_string();
            for cause in err.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(&format!("\n  caused by: {c}"));
                }
            }
            let lib = err.downcast_ref::<airlock::Error>();
            printer::Printer::error(&msg, lib.and_then(|e| e.hint()).as_deref());
            ExitCode::from(lib.map(|e| e.class().exit_code()).unwrap_or(1))
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
