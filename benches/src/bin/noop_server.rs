//! `sqskit-noop-server`: the reference ceiling for the emulator benchmarks. It answers SQS JSON requests with
//! fixed responses on the emulator's HTTP stack; see `sqskit_bench::noop`.
//!
//! `cargo run --release -p sqskit-bench --bin sqskit-noop-server -- --port 9399 --threads 1`

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use clap::Parser;
use sqskit_bench::noop::BodyMd5;

/// The same allocator as the `sqskit-emulator` binary (transparent huge pages off too, see `main`), so the ceiling
/// runs on the emulator's whole stack.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(name = "sqskit-noop-server", about = "A no-op SQS JSON server: the benchmark ceiling")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 9399)]
    port: u16,
    /// Tokio worker threads (multi-thread runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The `MD5OfMessageBody` of sent messages: `fixed` (no work, an answer SDKs reject) or `computed` (the
    /// real digest of each body).
    #[arg(long, value_enum, default_value_t = BodyMd5::Fixed)]
    md5: BodyMd5,
}

fn main() -> anyhow::Result<()> {
    // Like the emulator binary (`sqskit_emulator::process`), so that the ceiling's allocator behaves the same.
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("cannot turn transparent huge pages off ({err}); the server may run slower");
    }
    let args = Args::parse();
    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let local = listener.local_addr().context("no local address")?;
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            eprintln!("cannot set TCP_NODELAY: {err}");
        }
    });
    eprintln!(
        "sqskit-noop-server listening on http://{local} with {} worker thread(s), {:?} body MD5s",
        args.threads, args.md5
    );
    axum::serve(listener, sqskit_bench::noop::router_answering(local.to_string(), args.md5))
        .with_graceful_shutdown(async {
            // If the handler cannot be installed, SIGINT keeps its default action and still stops the process.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .context("server failed")
}
