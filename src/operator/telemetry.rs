//! Telemetry: the process-wide `tracing` subscriber (`--log-format text|json`, `--log-level` / `RUST_LOG`),
//! error-chain formatting for log fields, and [`Redacted`] for values that must never reach a log.
//!
//! Logs go to stderr (stdout stays clean for command output such as `edgefleet crds`). Events carry
//! structured fields (`kind`, `namespace`, `name`, `error`, ...); in JSON mode each line is one object with
//! the event's fields flattened to the top level and the enclosing spans listed under `spans`.
//!
//! Secrets are never logged: credentials are held in types whose `Debug`/`Display` print a placeholder
//! (the provider module's secret type, or [`Redacted`] here), and request/response bodies that may carry
//! them are never logged.

use std::error::Error;
use std::fmt;
use std::io::IsTerminal;

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter used when neither `--log-level` nor `RUST_LOG` is given.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Errors from setting up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid log filter {filter:?} (from {origin})")]
    InvalidFilter {
        /// The filter text.
        filter: String,
        /// Where it came from: `--log-level` or `RUST_LOG`.
        origin: &'static str,
        /// The parse error.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was already installed.
    #[error("failed to install the global tracing subscriber")]
    AlreadyInstalled(#[source] tracing::dispatcher::SetGlobalDefaultError),
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (ANSI colours only when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, event fields at the top level.
    Json,
}

/// Logging options, shared by every subcommand (`#[command(flatten)]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct LogOptions {
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "EDGEFLEET_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter in `tracing` EnvFilter syntax (e.g. `info` or `info,edgefleet=debug`). Takes precedence
    /// over `RUST_LOG`; without either, `info`.
    #[arg(long, env = "EDGEFLEET_LOG_LEVEL")]
    pub log_level: Option<String>,
}

impl LogOptions {
    /// The filter to use: `--log-level`, else `RUST_LOG`, else [`DEFAULT_LOG_FILTER`].
    ///
    /// # Errors
    /// [`TelemetryError::InvalidFilter`] when the chosen filter does not parse (never silently ignored).
    pub fn filter(&self) -> Result<EnvFilter, TelemetryError> {
        let (filter, origin) = match (&self.log_level, std::env::var("RUST_LOG")) {
            (Some(level), _) => (level.clone(), "--log-level"),
            (None, Ok(env)) if !env.trim().is_empty() => (env, "RUST_LOG"),
            _ => (DEFAULT_LOG_FILTER.to_owned(), "the default"),
        };
        EnvFilter::try_new(&filter).map_err(|source| TelemetryError::InvalidFilter {
            filter,
            origin,
            source,
        })
    }
}

/// Install the global subscriber, writing to stderr.
///
/// # Errors
/// An invalid filter, or a subscriber already installed.
pub fn init(options: &LogOptions) -> Result<(), TelemetryError> {
    let ansi = std::io::stderr().is_terminal();
    let dispatch = dispatch(options, std::io::stderr, ansi)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(TelemetryError::AlreadyInstalled)
}

/// Build (without installing) a subscriber writing to `writer`. `ansi` enables colours in text mode.
///
/// # Errors
/// [`TelemetryError::InvalidFilter`].
pub fn dispatch<W>(options: &LogOptions, writer: W, ansi: bool) -> Result<Dispatch, TelemetryError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(options.filter()?)
        .with_writer(writer);
    Ok(match options.log_format {
        LogFormat::Text => Dispatch::new(builder.with_ansi(ansi).with_target(true).finish()),
        LogFormat::Json => Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
                .with_target(true)
                .finish(),
        ),
    })
}

/// An error and all its sources, joined by `": "`, for a log field or a condition message.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`. Use [`Redacted::expose`]
/// where the value is genuinely needed (e.g. to sign a request).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wrap a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value itself. Never pass it to a log macro.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A `MakeWriter` collecting everything into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'writer> MakeWriter<'writer> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'writer self) -> Self::Writer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn options(format: LogFormat, level: &str) -> LogOptions {
        LogOptions {
            log_format: format,
            log_level: Some(level.to_owned()),
        }
    }

    #[test]
    fn json_lines_carry_structured_fields_and_spans() {
        let buffer = Buffer::default();
        let dispatch = dispatch(&options(LogFormat::Json, "debug"), buffer.clone(), false).unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("reconcile", kind = "Vpc", name = "net-a");
            let _entered = span.enter();
            tracing::info!(cloud_id = "vpc-123", attempt = 2, "created vpc");
        });
        let text = buffer.text();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "created vpc");
        assert_eq!(line["cloud_id"], "vpc-123");
        assert_eq!(line["attempt"], 2);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["spans"][0]["name"], "reconcile");
        assert_eq!(line["spans"][0]["kind"], "Vpc");
    }

    #[test]
    fn the_filter_drops_events_below_the_level() {
        let buffer = Buffer::default();
        let dispatch = dispatch(&options(LogFormat::Text, "warn"), buffer.clone(), false).unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!("quiet");
            tracing::warn!(name = "x", "loud");
        });
        let text = buffer.text();
        assert!(!text.contains("quiet"), "{text}");
        assert!(text.contains("loud") && text.contains("name=\"x\""), "{text}");
    }

    #[test]
    fn an_invalid_filter_is_an_error_not_ignored() {
        let error = options(LogFormat::Text, "info,edgefleet=loudest")
            .filter()
            .unwrap_err();
        assert!(
            matches!(
                error,
                TelemetryError::InvalidFilter {
                    origin: "--log-level",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn redacted_values_never_print() {
        let secret = Redacted::new("sk-very-secret".to_owned());
        assert_eq!(format!("{secret:?} {secret}"), "<redacted> <redacted>");
        assert_eq!(secret.expose(), "sk-very-secret");

        let buffer = Buffer::default();
        let dispatch = dispatch(&options(LogFormat::Json, "info"), buffer.clone(), false).unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!(secret = ?secret, shown = %secret, "using credentials");
        });
        assert!(!buffer.text().contains("sk-very-secret"));
    }

    #[test]
    fn error_chain_joins_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("failed to create vpc net-a")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            error_chain(&error),
            "failed to create vpc net-a: connection refused"
        );
    }
}
