//! HTTP: the axum router that turns a request into `(Action, Payload)`, runs it, and writes the encoded
//! response. It knows which protocol a request speaks, but neither how to parse one nor any queue rule.
//!
//! - `server.rs`: the in-process [`Emulator`](crate::Emulator) builder and the running server's handle.

pub mod server;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::actions::{self, Action, RequestContext};
use crate::engine::Engine;
use crate::error::{ErrorCode, SqsError};
use crate::protocol::{self, Encoded, Payload, Protocol};

/// The largest request body accepted by default: a full 1 MiB batch plus JSON/base64 overhead.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

#[derive(Debug)]
struct AppState {
    engine: Engine,
    max_request_bytes: usize,
    fallback_base_url: String,
}

/// Builds the router serving the SQS API for `engine`.
pub fn router(engine: Engine, max_request_bytes: usize, fallback_base_url: String) -> Router {
    let state = Arc::new(AppState { engine, max_request_bytes, fallback_base_url });
    Router::new()
        .route("/health", get(health))
        .route("/", post(handle_root))
        .route("/{account}/{queue}", post(handle_queue_path))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok"
}

async fn handle_root(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    handle(&state, &headers, None, body).await
}

async fn handle_queue_path(
    State(state): State<Arc<AppState>>,
    Path((account, queue)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&state, &headers, Some((account, queue)), body).await
}

async fn handle(state: &AppState, headers: &HeaderMap, path_queue: Option<(String, String)>, body: Body) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let base_url = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map_or_else(|| state.fallback_base_url.clone(), |host| format!("http://{host}"));
    let context = RequestContext {
        path_queue_url: path_queue.map(|(account, queue)| format!("{base_url}/{account}/{queue}")),
        base_url,
    };
    let encoded = match run(state, headers, &context, body).await {
        Ok(encoded) => encoded,
        Err(error) => {
            tracing::debug!(code = ?error.code, message = %error.message, "request failed");
            protocol::error::render(Protocol::Json, &error)
        }
    };
    into_response(encoded, &request_id)
}

async fn run(state: &AppState, headers: &HeaderMap, context: &RequestContext, body: Body) -> Result<Encoded, SqsError> {
    let target = headers.get("x-amz-target").and_then(|value| value.to_str().ok()).ok_or_else(|| {
        SqsError::new(
            ErrorCode::UnknownOperationException,
            "Requests must name an action in the X-Amz-Target header (AWS JSON 1.0 protocol).",
        )
    })?;
    let action: Action = target
        .strip_prefix(protocol::json::TARGET_PREFIX)
        .ok_or_else(|| SqsError::new(ErrorCode::UnknownOperationException, format!("Unknown X-Amz-Target: {target}")))?
        .parse()?;
    let body = to_bytes(body, state.max_request_bytes).await.map_err(|_| {
        SqsError::new(
            ErrorCode::RequestEntityTooLarge,
            format!("Request body is larger than {} bytes.", state.max_request_bytes),
        )
    })?;
    let payload = Payload::Json(body);
    let outcome = actions::dispatch(&state.engine, context, action, &payload).await;
    tracing::trace!(%action, ok = outcome.is_ok(), "handled");
    outcome
}

fn into_response(encoded: Encoded, request_id: &str) -> Response {
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
