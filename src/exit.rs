//! Exit statuses, the contract with cron and scripts, and the error kinds that choose them.
//!
//! The codes follow BSD `sysexits.h` where one fits, so a wrapper script can tell "try again
//! later" (75) from "fix the configuration" (78) without parsing messages.

use std::path::PathBuf;
use std::process::ExitCode;

/// What a run tells its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Everything asked for was done.
    Ok = 0,
    /// The run failed (an I/O error, say), or finished with part of it failed (a log that could
    /// not be read); whatever was done was saved, and the message or summary says what.
    Partial = 1,
    /// The command line was wrong (clap uses 2 as well).
    Usage = 2,
    /// The state file is corrupt or from a newer arkwatch; nothing was changed.
    DataError = 65,
    /// The event store lost the data arkwatch was folding (a Redis restart without
    /// persistence, a `FLUSHDB`): nothing was folded; `arkwatch fold-events --restore` puts the
    /// projection back.
    StoreLost = 69,
    /// Another run holds the lock, or a service is temporarily down; no work was lost.
    TempFail = 75,
    /// Not allowed, and retrying will not help: a server refused the credentials or its TLS
    /// certificate, or `data_dir` belongs to another user.
    Denied = 77,
    /// The configuration file is missing or invalid.
    Config = 78,
}

impl Status {
    /// Chooses the status for an error by the first typed cause found in its chain.
    pub fn for_error(err: &anyhow::Error) -> Status {
        for cause in err.chain() {
            if let Some(kind) = cause.downcast_ref::<Fatal>() {
                return match kind {
                    Fatal::Busy { .. } | Fatal::ServiceDown { .. } | Fatal::Throttled { .. } => {
                        Status::TempFail
                    }
                    Fatal::CorruptState { .. } | Fatal::NewerState { .. } => Status::DataError,
                    Fatal::Config(_) => Status::Config,
                    Fatal::Usage(_) => Status::Usage,
                    Fatal::Denied(_) => Status::Denied,
                    Fatal::StoreLost(_) => Status::StoreLost,
                };
            }
        }
        Status::Partial
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status as u8)
    }
}

/// Errors a caller must tell apart, because each maps to its own exit status.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error(
        "another arkwatch run ({holder}) holds the lock {path}; waited {waited_secs}s. \
         Try again later, or raise --wait"
    )]
    Busy {
        path: PathBuf,
        holder: String,
        waited_secs: u64,
    },
    #[error(
        "state file {path} is corrupt ({reason}). It was left untouched: a silent reset would \
         re-read every log and re-send every alert. Restore it from a backup, or move it aside \
         to start over from nothing (every configured log is then read again from its start)"
    )]
    CorruptState { path: PathBuf, reason: String },
    #[error(
        "state file {path} has schema version {found}, newer than this arkwatch understands \
         ({supported}); upgrade arkwatch"
    )]
    NewerState {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{service} at {address} is unreachable ({reason})")]
    ServiceDown {
        service: String,
        address: String,
        reason: String,
    },
    /// The server asked to be left alone for a while (HTTP 429 and `Retry-After`).
    #[error(
        "{service} at {address} is rate-limiting (429): it asks for {retry_after_secs} s; the \
         alerts stay pending until then"
    )]
    Throttled {
        service: String,
        address: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Config(String),
    /// The command line (or a hidden setting) is wrong.
    #[error("{0}")]
    Usage(String),
    /// Authentication, TLS or ownership: permanent until someone changes something.
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    StoreLost(String),
}

/// A TLS failure in words, said once; None when `text` is no TLS failure.
pub fn tls_failure(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("unknownissuer")
        || lower.contains("causedasendentity")
        || lower.contains("self-signed")
        || lower.contains("self signed")
    {
        return Some(
            "its certificate is not signed by an authority this system trusts (a self-signed \
             certificate?). Give the server a certificate from a trusted CA, or name the CA \
             (smtp.ca_file for mail; for a Redis test server only, end the URL with #insecure)"
                .to_string(),
        );
    }
    if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        return Some(
            "its certificate does not name this host; connect by the name the certificate \
             holds"
                .to_string(),
        );
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return Some(text.to_string());
    }
    None
}

/// Whether an error text is a read or write that timed out (`os error 11` is EAGAIN from a
/// socket timeout).
pub fn timed_out(text: &str) -> bool {
    text.contains("os error 11") || text.contains("timed out") || text.contains("Timeout")
}
