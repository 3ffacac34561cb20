//! The `sqskit-emulator` command: parses flags, starts the server, stops gracefully on SIGINT/SIGTERM.

use clap::Parser;
use sqskit_emulator::Emulator;

/// A local Amazon SQS emulator.
#[derive(Debug, Parser)]
#[command(name = "sqskit-emulator", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "SQSKIT_HOST")]
    host: String,
    /// Port to listen on (0 picks a free port).
    #[arg(long, default_value_t = 9324, env = "SQSKIT_PORT")]
    port: u16,
    /// Region used in queue ARNs.
    #[arg(long, default_value = "us-east-1", env = "SQSKIT_REGION")]
    region: String,
    /// Account id used in queue URLs and ARNs.
    #[arg(long, default_value = "000000000000", env = "SQSKIT_ACCOUNT_ID")]
    account_id: String,
    /// Worker threads of the async runtime (default: one per core).
    #[arg(long)]
    worker_threads: Option<usize>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.worker_threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sqskit-emulator: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sqskit-emulator: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), sqskit_emulator::ServerError> {
    let emulator = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .region(args.region)
        .account_id(args.account_id)
        .start()
        .await?;
    tracing::info!(endpoint = %emulator.endpoint(), "sqskit-emulator listening");
    println!("sqskit-emulator listening on {}", emulator.endpoint());
    let token = emulator.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        token.cancel();
    });
    emulator.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
