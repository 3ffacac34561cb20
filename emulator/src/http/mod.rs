//! HTTP: the axum router that turns a request into `(Action, Payload)`, runs it, and writes the encoded
//! response. It tells the protocols apart (through `protocol::detect`) and owns the request id, but knows
//! neither how to parse a protocol nor any queue rule.
//!
//! - `server.rs`: the in-process [`Emulator`](crate::Emulator) builder and the running server's handle.
//! - `admin.rs`: the admin API under `/_sqskit/` (clock, faults, quotas, peek, reset).
//! - `access.rs`: who may see `/ui`, `/metrics` and `/_sqskit/*` (the admin token, or a signed request of an
//!   account in `--auth sigv4` mode).
//! - `health.rs`: liveness and readiness.
//! - `GET /metrics` (Prometheus text, see [`crate::metrics`]) and the dashboard under `/ui` (see
//!   [`crate::dashboard`]). Every SQS request is counted and timed here, by action and outcome.
//!
//! Injected faults are carried out here, because only this layer knows about connections: a dropped
//! connection is a response whose body fails after the headers, which makes hyper abort the connection.

pub mod access;
pub mod admin;
pub mod health;
pub mod server;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Extension, FromRef, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::actions::{self, Action, EntryFaults, RequestContext};
use crate::auth::{self, Authenticator, SignedRequest, Viewer};
use crate::dashboard::{self, DashboardState, DepthHistory};
use crate::engine::{Engine, ManualClock, is_valid_region, region_of_host};
use crate::error::{ErrorCode, SqsError};
use crate::faults::{FaultInjector, Outcome};
use crate::metrics::{self, RequestMetrics, RequestOutcome};
use crate::protocol::{self, Encoded, Payload, Protocol, QueryParams};

/// The largest request body accepted by default: a full 1 MiB batch plus JSON/base64 overhead, or the Query
/// protocol's form encoding (at most 3 bytes per byte of text).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
const TARGET_HEADER: &str = "x-amz-target";
/// The X-Ray trace header a request may carry (<https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader>).
const TRACE_ID_HEADER: &str = "x-amzn-trace-id";

/// What the HTTP layer serves: the engine and the test-instrument controls.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// Fault rules and quotas.
    pub faults: Arc<FaultInjector>,
    /// The virtual clock, when the emulator runs on one.
    pub manual_clock: Option<ManualClock>,
    /// Token the admin API requires, when set.
    pub admin_token: Option<String>,
    /// The largest request body accepted.
    pub max_request_bytes: usize,
    /// Base of queue URLs for requests without a `Host` header.
    pub fallback_base_url: String,
    /// Request counts and latencies.
    pub request_metrics: Arc<RequestMetrics>,
    /// Recent queue depths for the dashboard's charts.
    pub depth_history: Arc<DepthHistory>,
    /// The SigV4 verifier, when authentication is on (`--auth sigv4`).
    pub authenticator: Option<Arc<Authenticator>>,
    /// Dashboard sessions (sign-in with the admin token, form tokens).
    pub sessions: Arc<dashboard::Sessions>,
    /// The configuration's queues, declared again by a reset.
    pub declared: Arc<server::Declared>,
    /// Start-up and shutdown phase, for the readiness probe.
    pub readiness: Arc<health::Readiness>,
}

impl FromRef<Arc<AppState>> for DashboardState {
    fn from_ref(state: &Arc<AppState>) -> Self {
        Self {
            engine: state.engine.clone(),
            faults: Arc::clone(&state.faults),
            manual_clock: state.manual_clock.is_some(),
            depth_history: Arc::clone(&state.depth_history),
            sessions: Arc::clone(&state.sessions),
            admin_token: state.admin_token.clone(),
        }
    }
}

/// What a request ends in: an encoded answer, or a connection dropped on purpose (fault injection).
enum Reply {
    Answer(Encoded),
    DropConnection,
}

/// Builds the router serving the SQS API (`POST /` and `POST /<account>/<queue>` in either protocol, and the
/// same paths as `GET` with Query parameters in the query string), `/health` (and `/health/live`,
/// `/health/ready`), and behind [`access::guard`] `/metrics`, the dashboard (`/ui`) and the admin API.
pub fn router(state: AppState) -> Router {
    let state = Arc::new(state);
    let guarded = Router::new()
        .nest("/_sqskit", admin::routes())
        .merge(dashboard::routes())
        .route("/metrics", get(prometheus))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&state), access::guard));
    Router::new()
        .merge(guarded)
        .merge(dashboard::public_routes())
        .route("/health", get(health))
        .route("/health/live", get(|| async { health::live() }))
        .route("/health/ready", get(ready))
        .route("/", post(handle_root).get(handle_root))
        .route("/{account}/{queue}", post(handle_queue_path).get(handle_queue_path))
        .with_state(state)
}

/// `ok`, or 503 with the reason while durable storage is failing (durable writes are refused meanwhile) or
/// shutdown has begun (see [`health`]).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    health::summary(&state.readiness, Some(&state.engine))
}

/// Readiness with its detail (see [`health`]).
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    health::ready(&state.readiness, Some(&state.engine))
}

async fn prometheus(State(state): State<Arc<AppState>>, Extension(viewer): Extension<Viewer>) -> Response {
    match metrics::render(&state.engine, &state.faults, &state.request_metrics, &viewer) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

// The handlers take the whole request rather than `Method`, `Uri` and `HeaderMap` extractors, which would clone
// the headers of every request.
async fn handle_root(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    handle(&state, &parts.method, &parts.uri, &parts.headers, None, body).await
}

async fn handle_queue_path(
    State(state): State<Arc<AppState>>,
    Path((account, queue)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    handle(&state, &parts.method, &parts.uri, &parts.headers, Some((account, queue)), body).await
}

async fn handle(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    path_queue: Option<(String, String)>,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut request_id = uuid::Uuid::encode_buffer();
    let request_id: &str = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut request_id);
    let base_url = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map_or_else(|| state.fallback_base_url.clone(), |host| ["http://", host].concat());
    let mut context = RequestContext {
        path_queue_url: path_queue.map(|(account, queue)| format!("{base_url}/{account}/{queue}")),
        base_url,
        entry_faults: None,
        caller_account: None,
        region: None,
        trace_header: header_str(headers, TRACE_ID_HEADER).map(str::to_owned),
    };
    let protocol =
        protocol::detect(header_str(headers, TARGET_HEADER), header_str(headers, header::CONTENT_TYPE.as_str()))
            .answering(header_str(headers, header::ACCEPT.as_str()));
    let mut action = None;
    let (response, outcome) = match run(state, protocol, method, uri, headers, &mut context, &mut action, body).await {
        Ok(Reply::Answer(encoded)) => (into_response(encoded, request_id), RequestOutcome::Ok),
        Ok(Reply::DropConnection) => (dropped_connection(), RequestOutcome::Dropped),
        Err(error) => {
            tracing::debug!(code = ?error.code, message = %error.message, "request failed");
            let outcome = RequestOutcome::Error(error.code);
            (into_response(protocol::error::render(protocol, &error), request_id), outcome)
        }
    };
    state.request_metrics.record(action, outcome, started.elapsed());
    response
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    state: &AppState,
    protocol: Protocol,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    context: &mut RequestContext,
    parsed_action: &mut Option<Action>,
    body: Body,
) -> Result<Reply, SqsError> {
    let body = to_bytes(body, state.max_request_bytes).await.map_err(|_| {
        SqsError::new(
            ErrorCode::RequestEntityTooLarge,
            format!("Request body is larger than {} bytes.", state.max_request_bytes),
        )
    })?;
    let query_params = protocol.is_query().then(|| QueryParams::parse(uri.query(), &body));
    // STS GetCallerIdentity, at the endpoint's root only (a queue URL takes SQS actions).
    let sts = context.path_queue_url.is_none()
        && query_params.as_ref().is_some_and(|params| protocol::sts::is_sts_action(params.action()));
    let request = SignedRequest { method: method.as_str(), path: uri.path(), query: uri.query(), headers, body: &body };
    if let Some(authenticator) = &state.authenticator {
        let now = state.engine.clock().now();
        let caller = if sts {
            authenticator.authenticate_for(&request, now, protocol::sts::SIGNING_SERVICE)?
        } else {
            authenticator.authenticate(&request, now)?
        };
        context.caller_account = Some(caller.account_id);
    }
    if sts {
        let account = context.caller_account.as_deref().unwrap_or(&state.engine.config().account_id);
        let identity = protocol::sts::CallerIdentity::root(account);
        return Ok(Reply::Answer(protocol::sts::caller_identity_response(&identity)));
    }
    context.region = request_region(&request, state.authenticator.is_some())?;
    let (action, payload) = match (protocol, query_params) {
        (Protocol::Query | Protocol::QueryJson, Some(params)) => {
            let name = params.action().unwrap_or_default();
            let action: Action = name.parse().map_err(|_| protocol::query::unknown_action(name))?;
            // A queue URL is an endpoint for that queue's actions: AWS refuses the account-level ones there
            // (LocalStack's AWS-parity Query API, https://github.com/localstack/localstack/pull/5928: "ListQueues
            // and CreateQueue are invalid actions to call on a queue url endpoint"), in the words it uses for an
            // action sent to the wrong endpoint ("The action SendMessage is not valid for this endpoint.",
            // https://github.com/mirkokiefer/aws-lib/issues/8).
            if context.path_queue_url.is_some() && matches!(action, Action::CreateQueue | Action::ListQueues) {
                return Err(protocol::query::unknown_action(name));
            }
            let payload = if protocol == Protocol::QueryJson {
                Payload::QueryAnsweredInJson(params)
            } else {
                Payload::Query(params)
            };
            (action, payload)
        }
        _ => (json_action(headers)?, Payload::Json(body)),
    };
    *parsed_action = Some(action);
    if state.faults.is_active() {
        let queue = actions::target_queue_name(&payload, context);
        // Only with FIFO quotas on, and only for a FIFO queue, is the queue's mode looked up.
        let account = context.caller_account.as_deref().unwrap_or(&state.engine.config().account_id);
        let region = context.region.as_deref().unwrap_or(&state.engine.config().region);
        let high_throughput = state.faults.quotas()
            && queue.as_deref().is_some_and(|name| {
                name.ends_with(".fifo") && state.engine.in_region(region).is_high_throughput_fifo(account, name)
            });
        let rate = if high_throughput {
            crate::faults::high_throughput_fifo_calls_per_second(region)
        } else {
            crate::faults::FIFO_CALLS_PER_SECOND
        };
        let decision = state.faults.decide_at_rate(action, queue.as_deref(), rate);
        if !decision.delay.is_zero() {
            tokio::time::sleep(decision.delay).await;
        }
        match decision.outcome {
            None => {}
            Some(Outcome::Fail(error)) => return Err(error),
            Some(Outcome::Reset) => return Ok(Reply::DropConnection),
            Some(Outcome::FailEntries { probability, error, seed }) => {
                let per_million = (probability.clamp(0.0, 1.0) * 1_000_000.0).round() as u32;
                context.entry_faults = Some(EntryFaults { per_million, error, seed });
            }
            Some(Outcome::LoseResponse { reset }) => {
                let applied = actions::dispatch(&state.engine, context, action, &payload).await;
                tracing::debug!(%action, ok = applied.is_ok(), "applied, answer lost on purpose");
                return if reset { Ok(Reply::DropConnection) } else { Err(SqsError::internal()) };
            }
        }
    }
    let outcome = actions::dispatch(&state.engine, context, action, &payload).await;
    tracing::trace!(%action, ?protocol, ok = outcome.is_ok(), "handled");
    outcome.map(Reply::Answer)
}

/// The region a request acts in: its SigV4 credential scope's (the `Authorization` header or a presigned
/// `X-Amz-Credential`, verified or not), else its regional `Host`'s (`sqs.<region>.…`, see [`region_of_host`]),
/// else the default region (`None`). A scope that names no valid region is refused; with authentication on, so
/// is a scope that disagrees with a regional `Host`, as that region's endpoint refuses it on AWS.
fn request_region(request: &SignedRequest<'_>, authenticated: bool) -> Result<Option<String>, SqsError> {
    let host = request.headers.get(header::HOST).and_then(|host| host.to_str().ok()).and_then(region_of_host);
    match auth::credential_region(request) {
        Some(scope) if !is_valid_region(&scope) => Err(auth::invalid_region(&scope)),
        Some(scope) if authenticated && host.is_some_and(|host| host != scope) => Err(auth::invalid_region(&scope)),
        Some(scope) => Ok(Some(scope)),
        None => Ok(host.map(str::to_owned)),
    }
}

/// A response whose body fails right after the headers: hyper then aborts the connection, and the client sees
/// a reset instead of an answer.
fn dropped_connection() -> Response {
    struct Aborted;
    impl axum::body::HttpBody for Aborted {
        type Data = bytes::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(Some(Err(std::io::Error::other("connection reset by an injected fault"))))
        }
    }
    Response::new(Body::new(Aborted))
}

fn json_action(headers: &HeaderMap) -> Result<Action, SqsError> {
    let target = header_str(headers, TARGET_HEADER).ok_or_else(|| {
        SqsError::new(
            ErrorCode::UnknownOperationException,
            "Requests must name an action in the X-Amz-Target header (AWS JSON 1.0 protocol).",
        )
    })?;
    target
        .strip_prefix(protocol::json::TARGET_PREFIX)
        .ok_or_else(|| SqsError::new(ErrorCode::UnknownOperationException, format!("Unknown X-Amz-Target: {target}")))?
        .parse()
}

fn into_response(mut encoded: Encoded, request_id: &str) -> Response {
    encoded.fill_request_id(request_id);
    let status = StatusCode::from_u16(encoded.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, encoded.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(encoded.content_type));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    for (name, value) in encoded.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
