//! Starting and stopping the emulator's HTTP server, in-process (tests, the embedded demo) or from the CLI.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::health::{self, Phase, Readiness};
use super::{AppState, DEFAULT_MAX_REQUEST_BYTES, router};
use crate::auth::{AuthMode, Authenticator, Credential, CredentialsError};
use crate::config::{ConfigError, QueueDeclaration, declare_queues};
use crate::dashboard::DepthHistory;
use crate::dashboard::history::run_sampler;
use crate::engine::{Clock, Engine, EngineConfig, EventSink, ResetScope, SystemClock, is_valid_region};
use crate::error::{ErrorCode, SqsError};
use crate::faults::{FaultInjector, FaultRule};
use crate::protocol;
use crate::storage::{SqliteStorage, StorageError};

/// Infrastructure failures of the server (never sent to SQS clients).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address that was asked for.
        address: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The server failed while running.
    #[error("server failed: {0}")]
    Serve(#[from] io::Error),
    /// The data directory could not be used.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored state could not be restored.
    #[error("cannot restore the stored queues: {0}")]
    Restore(String),
    /// A declared queue is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The credentials for `--auth sigv4` are unusable.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

/// Connections served at once by default; more are answered `503 ServiceUnavailable` and closed.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request's headers (and how long a keep-alive connection may sit
/// idle) by default, before the connection is closed.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request head (request line and headers) by default; larger ones get `431`.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Connections over the limit that are still answered with a 503; beyond these they are closed at once.
const OVERFLOW_ANSWERS: usize = 64;
/// How long a connection over the limit may take to send the request its 503 answers.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// The smallest request head limit accepted (a request line and the usual headers fit easily).
const MIN_HEADER_BYTES: usize = 8192;

/// The limits the accept loop enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectionLimits {
    max_connections: usize,
    header_read_timeout: Duration,
    max_header_bytes: usize,
}

/// Entry point for running the emulator in-process.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> Result<(), sqskit_emulator::ServerError> {
/// let emulator = sqskit_emulator::Emulator::builder().port(0).start().await?;
/// println!("SQS endpoint: {}", emulator.endpoint());
/// emulator.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: 127.0.0.1:9324, us-east-1, account 000000000000, the system clock.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures and starts an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    host: String,
    port: u16,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    max_request_bytes: usize,
    data_dir: Option<PathBuf>,
    queues: Vec<QueueDeclaration>,
    queues_source: String,
    admin_token: Option<String>,
    fault_seed: u64,
    fault_rules: Vec<FaultRule>,
    fifo_quotas: bool,
    auth: AuthMode,
    credentials: Vec<Credential>,
    limits: ConnectionLimits,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 9324,
            config: EngineConfig::default(),
            clock: Arc::new(SystemClock),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            data_dir: None,
            queues: Vec::new(),
            queues_source: "configuration".to_owned(),
            admin_token: None,
            fault_seed: 0,
            fault_rules: Vec::new(),
            fifo_quotas: false,
            auth: AuthMode::Off,
            credentials: Vec::new(),
            limits: ConnectionLimits {
                max_connections: DEFAULT_MAX_CONNECTIONS,
                header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
                max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            },
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to listen on; 0 picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The default region (default `us-east-1`): where requests that name no region act, and the region of
    /// declared queues without one. Requests signed for (or sent to a host of) another region act in that one.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.config.region = region.into();
        self
    }

    /// The account id in queue URLs and ARNs.
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.config.account_id = account_id.into();
        self
    }

    /// The clock; pass a [`ManualClock`](crate::engine::ManualClock) to control time from a test.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The largest request body accepted.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Keeps queues and messages in `dir` (durable mode); without it everything lives in memory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Queues to create (or update) before serving; `source` names them in errors (e.g. the config file).
    pub fn declare_queues(mut self, queues: Vec<QueueDeclaration>, source: impl Into<String>) -> Self {
        self.queues = queues;
        self.queues_source = source.into();
        self
    }

    /// Requires this token (header `x-sqskit-admin-token`) on every admin API call.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// The seed of the fault injector's random choices (default 0), for reproducible fault sequences.
    pub fn fault_seed(mut self, seed: u64) -> Self {
        self.fault_seed = seed;
        self
    }

    /// Fault rules installed at start-up (more can be added through [`RunningEmulator::faults`] or the admin
    /// API).
    pub fn fault_rules(mut self, rules: Vec<FaultRule>) -> Self {
        self.fault_rules = rules;
        self
    }

    /// Enforces SQS's FIFO throughput quota (300 calls per second per action and queue) with
    /// `ThrottlingException`.
    pub fn fifo_quotas(mut self, on: bool) -> Self {
        self.fifo_quotas = on;
        self
    }

    /// `AuthMode::Sigv4` requires every SQS request to be signed with one of the [`credentials`]; the default,
    /// `AuthMode::Off`, accepts anything and acts in the default account.
    ///
    /// [`credentials`]: EmulatorBuilder::credentials
    pub fn auth(mut self, mode: AuthMode) -> Self {
        self.auth = mode;
        self
    }

    /// The access keys accepted in SigV4 mode, each mapped to its account.
    pub fn credentials(mut self, credentials: Vec<Credential>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Connections served at once (default [`DEFAULT_MAX_CONNECTIONS`]); a connection over the limit gets a
    /// `503 ServiceUnavailable` and is closed.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections.max(1);
        self
    }

    /// How long a client may take to send a request's headers, and a keep-alive connection may stay idle
    /// (default [`DEFAULT_HEADER_READ_TIMEOUT`]); then the connection is closed.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// The largest request head in bytes (default [`DEFAULT_MAX_HEADER_BYTES`], at least 8 KiB); larger ones get
    /// `431 Request Header Fields Too Large`.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_header_bytes = bytes.max(MIN_HEADER_BYTES);
        self
    }

    /// The most queues one account may own (default
    /// [`DEFAULT_MAX_QUEUES_PER_ACCOUNT`](crate::engine::DEFAULT_MAX_QUEUES_PER_ACCOUNT)).
    pub fn max_queues_per_account(mut self, queues: usize) -> Self {
        self.config.max_queues_per_account = queues;
        self
    }

    /// The most messages one queue keeps in flight (default
    /// [`DEFAULT_MAX_IN_FLIGHT_MESSAGES`](crate::engine::DEFAULT_MAX_IN_FLIGHT_MESSAGES), AWS's quota).
    pub fn max_in_flight_messages(mut self, messages: usize) -> Self {
        self.config.max_in_flight_messages = messages;
        self
    }

    /// The memory budget for stored messages, in bytes of bodies and attributes (default
    /// [`DEFAULT_MAX_STORED_MESSAGE_BYTES`](crate::engine::DEFAULT_MAX_STORED_MESSAGE_BYTES)).
    pub fn max_stored_message_bytes(mut self, bytes: u64) -> Self {
        self.config.max_stored_message_bytes = bytes;
        self
    }

    /// `false` lets a deleted queue's name be used again at once; `true` (the default) refuses it for 60 seconds
    /// with `QueueDeletedRecently`, as AWS does.
    pub fn queue_deleted_recently(mut self, on: bool) -> Self {
        self.config.queue_deleted_recently = on;
        self
    }

    /// Opens storage (restoring what it kept), declares the configured queues, binds the socket and starts
    /// serving in a background task.
    ///
    /// # Errors
    /// [`ServerError::Storage`] / [`ServerError::Restore`] for an unusable data directory,
    /// [`ServerError::Config`] for an invalid queue declaration, [`ServerError::Credentials`] for unusable SigV4
    /// credentials, [`ServerError::Bind`] when the address cannot be bound.
    pub async fn start(self) -> Result<RunningEmulator, ServerError> {
        if !is_valid_region(&self.config.region) {
            return Err(ServerError::Config(ConfigError {
                source: self.queues_source.clone(),
                queue: None,
                message: format!(
                    "region \"{}\" is not a region name (lowercase letters, digits and hyphens, starting with a \
                     letter)",
                    self.config.region
                ),
            }));
        }
        let authenticator = match self.auth {
            AuthMode::Off => None,
            AuthMode::Sigv4 => Some(Arc::new(Authenticator::new(self.credentials.clone())?)),
        };
        let faults = Arc::new(FaultInjector::new(self.fault_seed, Arc::clone(&self.clock)));
        for rule in self.fault_rules.iter().cloned() {
            faults.add(rule).map_err(|reason| {
                ServerError::Config(ConfigError { source: self.queues_source.clone(), queue: None, message: reason })
            })?;
        }
        // The socket is bound first, so that liveness and readiness probes are answered while storage is
        // restored and the configured queues declared (see `health.rs`).
        let address = format!("{}:{}", self.host, self.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| ServerError::Bind { address: address.clone(), source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { address, source })?;
        let endpoint = format!("http://{local_addr}");
        let readiness = Arc::new(Readiness::new(self.data_dir.is_some()));
        let app: Arc<OnceLock<Router>> = Arc::new(OnceLock::new());
        let started_engine: Arc<OnceLock<Engine>> = Arc::new(OnceLock::new());
        let shutdown = CancellationToken::new();
        let serving = {
            let stop = shutdown.clone();
            let readiness = Arc::clone(&readiness);
            let started_engine = Arc::clone(&started_engine);
            let starting = starting_router(Arc::clone(&readiness));
            tokio::spawn(serve(listener, Arc::clone(&app), starting, self.limits, async move {
                stop.cancelled().await;
                readiness.set(Phase::Stopping);
                if let Some(engine) = started_engine.get() {
                    engine.shutdown();
                }
            }))
        };
        let prepared = prepare(&self, &readiness).await;
        let (engine, storage) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                shutdown.cancel();
                if let Err(join) = serving.await {
                    tracing::error!(%join, "the start-up server task failed");
                }
                return Err(error);
            }
        };
        // Set once, before the router that uses it exists.
        let _ = started_engine.set(engine.clone());
        faults.set_quotas(self.fifo_quotas);
        let depth_history = Arc::new(DepthHistory::default());
        let declared = Arc::new(Declared { queues: self.queues.clone(), source: self.queues_source.clone() });
        let _ = app.set(router(AppState {
            declared: Arc::clone(&declared),
            sessions: Arc::default(),
            engine: engine.clone(),
            faults: Arc::clone(&faults),
            manual_clock: self.clock.as_manual().cloned(),
            admin_token: self.admin_token,
            max_request_bytes: self.max_request_bytes,
            fallback_base_url: endpoint.clone(),
            request_metrics: Arc::default(),
            depth_history: Arc::clone(&depth_history),
            authenticator,
            readiness: Arc::clone(&readiness),
        }));
        readiness.set(Phase::Ready);
        tokio::spawn(run_sampler(Arc::clone(&depth_history), engine.clone(), shutdown.clone()));
        let task = tokio::spawn(async move {
            let served = match serving.await {
                Ok(served) => served,
                Err(join) => Err(io::Error::other(join)),
            };
            if let Some(storage) = storage {
                // Writes what is still queued and stops the writer thread.
                if tokio::task::spawn_blocking(move || storage.close()).await.is_err() {
                    tracing::error!("closing storage failed");
                }
            }
            served
        });
        Ok(RunningEmulator { local_addr, endpoint, engine, faults, depth_history, declared, shutdown, task })
    }
}

/// Restores storage (when there is a data directory) and declares the configured queues, moving `readiness`
/// through its phases.
async fn prepare(
    builder: &EmulatorBuilder,
    readiness: &Readiness,
) -> Result<(Engine, Option<Arc<SqliteStorage>>), ServerError> {
    let (engine, storage) = match &builder.data_dir {
        Some(dir) => {
            let dir = dir.clone();
            let (storage, snapshot) = tokio::task::spawn_blocking(move || SqliteStorage::open(&dir))
                .await
                .map_err(|join| ServerError::Serve(io::Error::other(join)))??;
            let storage = Arc::new(storage);
            let sink: Arc<dyn EventSink> = storage.clone();
            let queues = snapshot.queues.len();
            let engine = Engine::restore(builder.config.clone(), builder.clock.clone(), Some(sink), snapshot)
                .map_err(|error| ServerError::Restore(error.message))?;
            tracing::info!(path = %storage.path().display(), queues, "durable storage restored");
            (engine, Some(storage))
        }
        None => (Engine::new(builder.config.clone(), builder.clock.clone()), None),
    };
    readiness.set(Phase::DeclaringQueues);
    readiness.set_declared_queues(builder.queues.len());
    let declared = declare_queues(&engine, &builder.queues, &builder.queues_source)
        .map_err(ServerError::from)
        .map(|()| engine.clone());
    let declared = match declared {
        Ok(engine) => engine.sync().await.map_err(|error| ServerError::Restore(error.message)),
        Err(error) => Err(error),
    };
    if let Err(error) = declared {
        if let Some(storage) = storage {
            engine.shutdown();
            if tokio::task::spawn_blocking(move || storage.close()).await.is_err() {
                tracing::error!("closing storage failed");
            }
        }
        return Err(error);
    }
    Ok((engine, storage))
}

/// What the server answers before the engine exists: the health endpoints, and `503 ServiceUnavailable` to
/// everything else (in the SQS protocol of the request, so SDKs retry it).
fn starting_router(readiness: Arc<Readiness>) -> Router {
    use axum::extract::State;
    use axum::routing::get;
    Router::new()
        .route("/health/live", get(|| async { health::live() }))
        .route(
            "/health/ready",
            get(|State(readiness): State<Arc<Readiness>>| async move { health::ready(&readiness, None) }),
        )
        .route(
            "/health",
            get(|State(readiness): State<Arc<Readiness>>| async move { health::summary(&readiness, None) }),
        )
        .fallback(|request: axum::extract::Request| async move {
            let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
            let protocol = protocol::detect(header("x-amz-target"), header("content-type"));
            let error = SqsError::new(
                ErrorCode::ServiceUnavailable,
                "The emulator is starting (restoring storage or declaring queues); try again shortly.",
            );
            let mut encoded = protocol::error::render(protocol, &error);
            encoded.fill_request_id(&uuid::Uuid::new_v4().to_string());
            let mut response = axum::response::IntoResponse::into_response(encoded.body);
            *response.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
            if let Ok(value) = axum::http::HeaderValue::from_str(encoded.content_type) {
                response.headers_mut().insert(axum::http::header::CONTENT_TYPE, value);
            }
            for (name, value) in encoded.headers {
                if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        })
        .with_state(readiness)
}

/// The accept loop: serves each connection with hyper under the connection limits, until `shutdown`
/// completes; then stops accepting, lets in-flight requests finish and closes idle connections.
///
/// A connection over `max_connections` is answered `503 ServiceUnavailable` (in the protocol its request
/// uses) and closed; while [`OVERFLOW_ANSWERS`] such answers are already pending, further ones are closed
/// without an answer, so a flood costs no more than a bounded number of tasks.
async fn serve(
    listener: TcpListener,
    app: Arc<OnceLock<Router>>,
    starting: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_ANSWERS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    let mut refuse = hyper::server::conn::http1::Builder::new();
    refuse.timer(TokioTimer::new()).header_read_timeout(OVERFLOW_HEADER_TIMEOUT).keep_alive(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses must not wait for Nagle's algorithm (the client's delayed ACK would add up to 40 ms).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        if let Ok(permit) = Arc::clone(&permits).try_acquire_owned() {
            // Each request goes to the full router once it exists (a connection opened during start-up too).
            let app = Arc::clone(&app);
            let starting = starting.clone();
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let router = app.get().unwrap_or(&starting).clone();
                hyper::service::Service::call(&TowerToHyperService::new(router), request)
            });
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
                drop(permit);
            });
        } else if let Ok(permit) = Arc::clone(&overflow).try_acquire_owned() {
            tokio::spawn(refuse_connection(refuse.clone(), stream, permit));
        } else {
            drop(stream);
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers the first request of a connection over the limit with `503 ServiceUnavailable`, then closes it.
async fn refuse_connection(
    http: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let service = hyper::service::service_fn(|request: hyper::Request<Incoming>| async move {
        let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
        let protocol = protocol::detect(header("x-amz-target"), header("content-type")).answering(header("accept"));
        let error = SqsError::new(
            ErrorCode::ServiceUnavailable,
            "The emulator is serving as many connections as it may (max_connections); try again later.",
        );
        let mut encoded = protocol::error::render(protocol, &error);
        encoded.fill_request_id(&uuid::Uuid::new_v4().to_string());
        let mut response = hyper::Response::new(Full::new(Bytes::from(encoded.body)));
        *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        if let Ok(value) = hyper::header::HeaderValue::from_str(encoded.content_type) {
            headers.insert(hyper::header::CONTENT_TYPE, value);
        }
        for (name, value) in encoded.headers {
            if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        Ok::<_, Infallible>(response)
    });
    if let Err(error) = http.serve_connection(TokioIo::new(stream), service).await {
        tracing::debug!(%error, "refused connection ended with an error");
    }
    drop(permit);
}

/// A running emulator. Dropping it without [`RunningEmulator::shutdown`] leaves the server running until the
/// runtime ends.
#[derive(Debug)]
pub struct RunningEmulator {
    local_addr: SocketAddr,
    endpoint: String,
    engine: Engine,
    faults: Arc<FaultInjector>,
    depth_history: Arc<DepthHistory>,
    declared: Arc<Declared>,
    shutdown: CancellationToken,
    task: JoinHandle<io::Result<()>>,
}

/// The queues of the configuration, kept to declare them again after a reset.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    queues: Vec<QueueDeclaration>,
    source: String,
}

/// What a reset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ResetReport {
    /// Queues deleted.
    pub deleted_queues: usize,
    /// Configured queues declared again.
    pub declared_queues: usize,
}

impl Declared {
    /// Resets `scope` of `engine` and declares again the configured queues the scope covers (they live in the
    /// default account, each in its declared region or the default one); waits until the change is durable.
    ///
    /// # Errors
    /// As [`RunningEmulator::reset`].
    pub async fn reset(&self, engine: &Engine, scope: &ResetScope) -> Result<ResetReport, ServerError> {
        let deleted_queues = engine.reset(scope);
        let account = &engine.config().account_id;
        let covered: Vec<QueueDeclaration> = self
            .queues
            .iter()
            .filter(|queue| scope.covers(queue.region.as_deref().unwrap_or(engine.region()), account))
            .cloned()
            .collect();
        // A region is covered whole, so every dead-letter queue a covered declaration names is covered too.
        declare_queues(engine, &covered, &self.source)?;
        let declared_queues = covered.len();
        engine.sync().await.map_err(|error| ServerError::Restore(error.message))?;
        tracing::info!(deleted_queues, declared_queues, ?scope, "reset");
        Ok(ResetReport { deleted_queues, declared_queues })
    }
}

impl RunningEmulator {
    /// The endpoint URL, e.g. `http://127.0.0.1:9324`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The engine behind the server, for in-process inspection.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The fault rules and quotas, to change them in-process.
    pub fn faults(&self) -> &Arc<FaultInjector> {
        &self.faults
    }

    /// The dashboard's depth history; [`DepthHistory::sample`] adds a sample now, without waiting for the
    /// background task (tests that move a manual clock use it to draw a chart).
    pub fn depth_history(&self) -> &Arc<DepthHistory> {
        &self.depth_history
    }

    /// A token that stops the server when cancelled (for signal handlers).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Deletes every queue in `scope` with its messages and move tasks, lifts the 60-second block on their
    /// names, and declares the configured queues again when the scope covers the default account (what
    /// `POST /_sqskit/reset` does).
    ///
    /// # Errors
    /// [`ServerError::Config`] if a declared queue cannot be created again; [`ServerError::Restore`] if durable
    /// storage fails to record the reset.
    pub async fn reset(&self, scope: &ResetScope) -> Result<ResetReport, ServerError> {
        self.declared.reset(&self.engine, scope).await
    }

    /// Ends long polls, stops accepting connections, and waits for in-flight requests to finish.
    ///
    /// # Errors
    /// [`ServerError::Serve`] if the server failed while running.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after the shutdown token is cancelled).
    ///
    /// # Errors
    /// [`ServerError::Serve`] if the server failed while running.
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(result) => result.map_err(ServerError::Serve),
            Err(join_error) => Err(ServerError::Serve(io::Error::other(join_error))),
        }
    }
}
