//! The `arkwatch` binary: parse the command line, run the library, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = arkwatch::cli::parse();
    match arkwatch::run(args) {
        Ok(status) => status.into(),
        Err(err) => {
            eprintln!("arkwatch: {err:#}");
            arkwatch::exit::Status::for_error(&err).into()
        }
    }
}
