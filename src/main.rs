//! The `arkwatch` binary: parse the command line, run the library, map the outcome to an exit code.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = arkwatch::cli::parse();
    match arkwatch::run(args) {
        Ok(status) => status.into(),
        Err(err) => {
            // Never eprintln!: it panics on a closed stderr, which under panic = "abort"
            // would turn every documented status into 134.
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "arkwatch: {err:#}");
            arkwatch::exit::Status::for_error(&err).into()
        }
    }
}
