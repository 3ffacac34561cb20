//! HTTP: the axum router that turns a request into `(Action, Payload)`, runs it, and writes the encoded
//! response. It tells the protocols apart (through `protocol::detect`) and owns the request id, but knows
//! neither how to parse a protocol nor any queue rule.
//!
//! - `server.rs`: the in-process [`Emulator`](crate::Emulator) builder and the running server's handle.

pub mod server;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::actions::{self, Action, RequestContext};
use crate::engine::Engine;
use crate::error::{ErrorCode, SqsError};
use crate::protocol::{self, Encoded, Payload, Protocol, QueryParams};

/// The largest request body accepted by default: a full 1 MiB batch plus JSON/base64 overhead, or the Query
/// protocol's form encoding (at most 3 bytes per byte of text).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
const TARGET_HEADER: &str = "x-amz-target";

#[derive(Debug)]
struct AppState {
    engine: Engine,
    max_request_bytes: usize,
    fallback_base_url: String,
}

/// Builds the router serving the SQS API for `engine`: `POST /` and `POST /<account>/<queue>` in either
/// protocol, and the same paths as `GET` with Query parameters in the query string.
pub fn router(engine: Engine, max_request_bytes: usize, fallback_base_url: String) -> Router {
    let state = Arc::new(AppState { engine, max_request_bytes, fallback_base_url });
    Router::new()
        .route("/health", get(health))
        .route("/", post(handle_root).get(handle_root))
        .route("/{account}/{queue}", post(handle_queue_path).get(handle_queue_path))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok"
}

async fn handle_root(State(state): State<Arc<AppState>>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    handle(&state, &uri, &headers, None, body).await
}

async fn handle_queue_path(
    State(state): State<Arc<AppState>>,
    Path((account, queue)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&state, &uri, &headers, Some((account, queue)), body).await
}

async fn handle(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    path_queue: Option<(String, String)>,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let base_url = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map_or_else(|| state.fallback_base_url.clone(), |host| format!("http://{host}"));
    let context = RequestContext {
        path_queue_url: path_queue.map(|(account, queue)| format!("{base_url}/{account}/{queue}")),
        base_url,
    };
    let protocol =
        protocol::detect(header_str(headers, TARGET_HEADER), header_str(headers, header::CONTENT_TYPE.as_str()));
    let encoded = match run(state, protocol, uri, headers, &context, body).await {
        Ok(encoded) => encoded,
        Err(error) => {
            tracing::debug!(code = ?error.code, message = %error.message, "request failed");
            protocol::error::render(protocol, &error)
        }
    };
    into_response(encoded, &request_id)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn run(
    state: &AppState,
    protocol: Protocol,
    uri: &Uri,
    headers: &HeaderMap,
    context: &RequestContext,
    body: Body,
) -> Result<Encoded, SqsError> {
    let body = to_bytes(body, state.max_request_bytes).await.map_err(|_| {
        SqsError::new(
            ErrorCode::RequestEntityTooLarge,
            format!("Request body is larger than {} bytes.", state.max_request_bytes),
        )
    })?;
    let (action, payload) = match protocol {
        Protocol::Json => (json_action(headers)?, Payload::Json(body)),
        Protocol::Query => {
            let params = QueryParams::parse(uri.query(), &body);
            let name = params.action().unwrap_or_default();
            let action: Action = name.parse().map_err(|_| protocol::query::unknown_action(name))?;
            (action, Payload::Query(params))
        }
    };
    let outcome = actions::dispatch(&state.engine, context, action, &payload).await;
    tracing::trace!(%action, ?protocol, ok = outcome.is_ok(), "handled");
    outcome
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
