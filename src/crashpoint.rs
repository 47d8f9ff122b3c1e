//! Named points between the steps of a commit where a test can make the process die at once
//! (`abort`, no destructors, like SIGKILL), to exercise the crash windows that random kills
//! rarely hit. Inert unless `ARKWATCH_CRASH_AT` names the point.

/// Dies here if `ARKWATCH_CRASH_AT` is `name`.
pub fn here(name: &str) {
    if std::env::var_os("ARKWATCH_CRASH_AT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}
