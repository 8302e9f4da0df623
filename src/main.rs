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
            let code = e.exit_code().clamp(0, 255) as u8;
            if code != 0 && std::env::args_os().any(|a| a == "--json") {
                let text = e.to_string();
                let message = text
                    .lines()
                    .map(str::trim)
                    .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                let message = message.trim_start_matches("error: ");
                printer::Printer::json_error("usage", message, None, code);
            }
            return ExitCode::from(code);
        }
    };
    let json = cli.global.json;
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
            let hint = lib.and_then(|e| e.hint());
            let code = lib.map(|e| e.class().exit_code()).unwrap_or(1);
            printer::Printer::error(&msg, hint.as_deref());
            if json {
                let kind = lib.map(|e| e.kind()).unwrap_or("error");
                printer::Printer::json_error(kind, &msg, hint.as_deref(), code);
            }
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
