//! The `sqskit-emulator` command: parses flags, starts the server, stops gracefully on SIGINT/SIGTERM.

use clap::Parser;
use sqskit_emulator::Emulator;
use sqskit_emulator::ManualClock;
use sqskit_emulator::auth::AuthMode;
use sqskit_emulator::config::{ClockKind, ConfigFile};

/// The binary allocates and frees a few small objects for every message; mimalloc does that in a fraction of
/// the instructions glibc's allocator takes (see BENCHMARKS.md), without transparent huge pages (see
/// [`sqskit_emulator::process::disable_transparent_huge_pages`]). Library users keep their own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A local Amazon SQS emulator.
///
/// Flags override the configuration file, which overrides the defaults.
#[derive(Debug, Parser)]
#[command(name = "sqskit-emulator", version, about)]
struct Args {
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, env = "SQSKIT_HOST")]
    host: Option<String>,
    /// Port to listen on, 0 picks a free port [default: 9324].
    #[arg(long, env = "SQSKIT_PORT")]
    port: Option<u16>,
    /// The default region: requests signed for no region (nor sent to a regional host) act there [default: us-east-1].
    #[arg(long, env = "SQSKIT_REGION")]
    region: Option<String>,
    /// Account id used in queue URLs and ARNs [default: 000000000000].
    #[arg(long, env = "SQSKIT_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Keep queues and messages in this directory (durable mode); without it everything is in memory.
    #[arg(long, env = "SQSKIT_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// A TOML file with settings and queues to declare at start-up (see the README).
    #[arg(long, env = "SQSKIT_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// `manual` runs on a virtual clock moved through `POST /_sqskit/clock/advance` [default: system].
    #[arg(long, env = "SQSKIT_CLOCK")]
    clock: Option<ClockKind>,
    /// Require this token (header x-sqskit-admin-token) on the admin API.
    #[arg(long, env = "SQSKIT_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Seed of the fault injector's random choices [default: 0].
    #[arg(long, env = "SQSKIT_FAULT_SEED")]
    fault_seed: Option<u64>,
    /// Enforce the FIFO throughput quota (300 calls/s per action and queue) with ThrottlingException.
    #[arg(long, env = "SQSKIT_FIFO_QUOTAS")]
    fifo_quotas: bool,
    /// `sigv4` verifies AWS Signature Version 4 with the config file's [[credentials]] [default: off].
    #[arg(long, env = "SQSKIT_AUTH")]
    auth: Option<AuthMode>,
    /// The largest request body in bytes [default: 4194304].
    #[arg(long, env = "SQSKIT_MAX_REQUEST_BYTES")]
    max_request_bytes: Option<usize>,
    /// Connections served at once; more get a 503 and are closed [default: 1024].
    #[arg(long, env = "SQSKIT_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Seconds a client may take to send request headers, or stay idle between requests [default: 30].
    #[arg(long, env = "SQSKIT_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: Option<u64>,
    /// The largest request head (request line and headers) in bytes [default: 65536].
    #[arg(long, env = "SQSKIT_MAX_HEADER_BYTES")]
    max_header_bytes: Option<usize>,
    /// The most queues one account may own [default: 10000].
    #[arg(long, env = "SQSKIT_MAX_QUEUES_PER_ACCOUNT")]
    max_queues_per_account: Option<usize>,
    /// Memory budget for stored messages (bodies and attributes) in bytes [default: 1073741824].
    #[arg(long, env = "SQSKIT_MAX_STORED_MESSAGE_BYTES")]
    max_stored_message_bytes: Option<u64>,
    /// Let a deleted queue's name be used again at once, instead of refusing it for 60 seconds with
    /// QueueDeletedRecently as AWS does (a deliberate deviation, for test suites).
    #[arg(long, env = "SQSKIT_NO_QUEUE_DELETED_RECENTLY")]
    no_queue_deleted_recently: bool,
    /// Worker threads of the async runtime (default: one per core).
    #[arg(long)]
    worker_threads: Option<usize>,
}

fn main() -> std::process::ExitCode {
    let huge_pages = sqskit_emulator::process::disable_transparent_huge_pages();
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Err(error) = huge_pages {
        tracing::warn!(%error, "cannot turn transparent huge pages off; the server may run slower");
    }
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
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let source = args.config.as_ref().map_or_else(|| "configuration".to_owned(), |path| path.display().to_string());
    let mut builder = Emulator::builder()
        .host(args.host.or(file.host).unwrap_or_else(|| "127.0.0.1".to_owned()))
        .port(args.port.or(file.port).unwrap_or(9324))
        .region(args.region.or(file.region).unwrap_or_else(|| "us-east-1".to_owned()))
        .account_id(args.account_id.or(file.account_id).unwrap_or_else(|| "000000000000".to_owned()))
        .declare_queues(file.queues, source)
        .fault_seed(args.fault_seed.or(file.fault_seed).unwrap_or(0))
        .fault_rules(file.faults)
        .fifo_quotas(args.fifo_quotas || file.fifo_quotas.unwrap_or(false))
        .auth(args.auth.or(file.auth).unwrap_or_default())
        .credentials(file.credentials)
        .queue_deleted_recently(!args.no_queue_deleted_recently && file.queue_deleted_recently.unwrap_or(true));
    if let Some(bytes) = args.max_request_bytes.or(file.max_request_bytes) {
        builder = builder.max_request_bytes(bytes);
    }
    if let Some(connections) = args.max_connections.or(file.max_connections) {
        builder = builder.max_connections(connections);
    }
    if let Some(secs) = args.header_read_timeout_secs.or(file.header_read_timeout_secs) {
        builder = builder.header_read_timeout(std::time::Duration::from_secs(secs));
    }
    if let Some(bytes) = args.max_header_bytes.or(file.max_header_bytes) {
        builder = builder.max_header_bytes(bytes);
    }
    if let Some(queues) = args.max_queues_per_account.or(file.max_queues_per_account) {
        builder = builder.max_queues_per_account(queues);
    }
    if let Some(bytes) = args.max_stored_message_bytes.or(file.max_stored_message_bytes) {
        builder = builder.max_stored_message_bytes(bytes);
    }
    if let Some(dir) = args.data_dir.or(file.data_dir) {
        builder = builder.data_dir(dir);
    }
    if let Some(token) = args.admin_token.or(file.admin_token) {
        builder = builder.admin_token(token);
    }
    if args.clock.or(file.clock) == Some(ClockKind::Manual) {
        builder = builder.clock(ManualClock::new());
    }
    let emulator = builder.start().await?;
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
