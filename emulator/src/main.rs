//! The `edgefleet-emulator` binary: serves the IEC API (and IAM token endpoint and admin API) on
//! `--iec-addr` and the veEN API (and the same admin API) on `--veen-addr`. With port 0 the bound IEC
//! URL is printed as the first line of stdout, the veEN URL as the second (`veen http://…`), the Luchen
//! URL (`--luchen-addr`) as the third (`luchen http://…`), the Workspace URL (`--workspace-addr`) as
//! the fourth (`workspace http://…`), the ModelArts URL (`--modelarts-addr`) as the fifth
//! (`modelarts http://…`): one line `<cloud> <url>` per listener after IEC's, in `clouds()` order,
//! written at once. SIGTERM or Ctrl-C shut down gracefully (and write `--state-file`, if given).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use edgefleet_emulator::core::clock::ClockMode;
use edgefleet_emulator::core::faults::{ErrorFault, Faults, LatencyFault, ThrottleFault};
use edgefleet_emulator::{Config, Delays, Error};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "edgefleet-emulator",
    version,
    about = "Emulates the Huawei IEC and Volcengine veEN APIs for edgefleet"
)]
struct Cli {
    /// Listen address of the IEC (and IAM) endpoint, e.g. 127.0.0.1:8443; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    iec_addr: SocketAddr,
    /// Listen address of the Volcengine veEN endpoint; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    veen_addr: SocketAddr,
    /// Listen address of the Luchen endpoint; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    luchen_addr: SocketAddr,
    /// Listen address of the Huawei Workspace endpoint; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    workspace_addr: SocketAddr,
    /// Listen address of the Huawei ModelArts DevServer (and BSS order) endpoint; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    modelarts_addr: SocketAddr,
    /// Config file (YAML or JSON): credentials, catalog, delays, faults, limits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// State snapshot file: loaded at start if present, written on graceful shutdown.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Faults file (YAML or JSON, same schema as `PUT /_emulator/faults`); replaces config faults.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Make every asynchronous transition immediate.
    #[arg(long)]
    zero_delays: bool,
    /// Freeze the clock (time moves only via `POST /_emulator/clock/advance`).
    #[arg(long)]
    frozen_clock: bool,
    /// Add this latency (ms) to every API call.
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Fail this share (0..1) of API calls with 500.
    #[arg(long)]
    error_rate: Option<f64>,
    /// Throttle every account to this many requests per second (429 APIG.0308).
    #[arg(long)]
    throttle_rps: Option<u32>,
    /// Log filter (RUST_LOG syntax).
    #[arg(long, default_value = "info")]
    log: String,
}

fn build_config(cli: &Cli) -> Result<Config, Error> {
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    config.iec_addr = cli.iec_addr;
    config.veen_addr = cli.veen_addr;
    config.luchen_addr = cli.luchen_addr;
    config.workspace_addr = cli.workspace_addr;
    config.modelarts_addr = cli.modelarts_addr;
    if cli.state_file.is_some() {
        config.state_file = cli.state_file.clone();
    }
    if let Some(path) = &cli.faults {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let faults: Faults = serde_yaml_ng::from_str(&text).map_err(|e| Error::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        config.faults = faults;
    }
    if cli.zero_delays {
        config.delays = Delays::zero();
    }
    if cli.frozen_clock {
        config.clock = ClockMode::Frozen;
    }
    if let Some(ms) = cli.latency_ms {
        config.faults.latency.push(LatencyFault {
            operation: "*".into(),
            fixed_ms: ms,
            jitter_ms: 0,
        });
    }
    if let Some(rate) = cli.error_rate {
        config.faults.errors.push(ErrorFault {
            operation: "*".into(),
            rate,
            status: 500,
        });
    }
    if let Some(limit) = cli.throttle_rps {
        config.faults.throttle.push(ThrottleFault {
            account: "*".into(),
            limit_per_second: limit,
            retry_after_secs: 1,
        });
    }
    config.faults.validate().map_err(|message| Error::Parse {
        path: PathBuf::from("<faults>"),
        message,
    })?;
    Ok(config)
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called (not when the future is
/// first polled), so a signal sent right after the URL is printed is never lost to the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "info".into()))
        .init();
    let run = async {
        let config = build_config(&cli)?;
        let (addr, handle) = edgefleet_emulator::serve(config).await?;
        let stop = shutdown_signal();
        let mut out = std::io::stdout();
        // One write, so a reader of the log sees every listener's line once it sees the first.
        let mut banner = format!("http://{addr}\n");
        for cloud in edgefleet_emulator::clouds().iter().skip(1) {
            if let Some(url) = handle.url_of(cloud.name) {
                banner.push_str(&format!("{} {url}\n", cloud.name));
            }
        }
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
        stop.await;
        tracing::info!("shutting down");
        handle.shutdown().await
    };
    match run.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            let mut msg = err.to_string();
            let mut src = std::error::Error::source(&err);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("edgefleet-emulator: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
