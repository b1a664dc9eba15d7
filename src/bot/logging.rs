//! Process-wide `tracing` subscriber set-up: text or JSON lines on stderr, filtered by level.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::ParseError;

pub use super::settings::LogFormat;

/// Installs the global subscriber writing `format` lines to stderr, filtered by `level`
/// (env-filter syntax, e.g. `info` or `info,pmbot=debug`). Idempotent: when a global subscriber
/// is already installed (a second call, or a test harness), that one stays and this is a no-op.
/// Fails only on a malformed `level`.
pub fn init(format: LogFormat, level: &str) -> Result<(), ParseError> {
    let filter = EnvFilter::try_new(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init` only fails when a global subscriber exists already, which is the idempotent case.
    let _already_installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_twice_is_harmless_and_bad_filters_are_rejected() {
        assert!(init(LogFormat::Json, "info").is_ok());
        assert!(init(LogFormat::Text, "debug,pmbot=trace").is_ok());
        assert!(init(LogFormat::Text, "info,pmbot=notalevel").is_err());
    }
}
