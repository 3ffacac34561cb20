//! Who may see the emulator's own pages: `/ui`, `/metrics` and `/_sqskit/*` pass through [`guard`], which
//! names the [`Viewer`] (put in the request's extensions) or refuses the request.
//!
//! | mode | admin token given (header, or a dashboard session signed in with it) | SigV4-signed request | anything else |
//! |---|---|---|---|
//! | `--auth off` | the operator | the operator | the operator (and `/_sqskit/*` needs the token when one is set) |
//! | `--auth sigv4` | the operator | that account, seeing only its own queues | refused (`401`; `/ui` shows a sign-in form) |
//!
//! With authentication off every SQS request acts in the default account without a signature, so hiding the
//! pages would protect nothing; with `--auth sigv4` they would otherwise show every account's messages to
//! anyone who can reach the port.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::auth::{SignedRequest, Viewer};
use crate::dashboard::{self, session};
use crate::error::SqsError;

/// The header carrying the admin token.
pub const TOKEN_HEADER: &str = "x-sqskit-admin-token";

/// Why a request was refused.
#[derive(Debug)]
pub enum Refusal {
    /// A wrong admin token, or none where one is required.
    AdminToken,
    /// Neither the admin token nor a signature, in `--auth sigv4` mode.
    Anonymous,
    /// A signature that does not verify.
    Signature(SqsError),
}

impl Refusal {
    fn message(&self) -> String {
        match self {
            Self::AdminToken => format!("missing or wrong {TOKEN_HEADER} header"),
            Self::Anonymous => format!(
                "authentication is on (--auth sigv4): sign the request with SigV4 (service sqs) or give the admin \
                 token in the {TOKEN_HEADER} header"
            ),
            Self::Signature(error) => error.message.clone(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::AdminToken | Self::Anonymous => StatusCode::UNAUTHORIZED,
            Self::Signature(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The answer: the sign-in page for a browser on `/ui`, JSON under `/_sqskit`, text elsewhere.
    fn into_response(self, parts: &Parts, state: &AppState) -> Response {
        let path = parts.uri.path();
        if path == "/ui" || path.starts_with("/ui/") {
            return dashboard::sign_in_page(self.status(), state.admin_token.is_some(), None);
        }
        if path.starts_with("/_sqskit") {
            return (self.status(), Json(json!({ "error": self.message() }))).into_response();
        }
        (self.status(), format!("{}\n", self.message())).into_response()
    }
}

/// The middleware: names the viewer or refuses.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, state.max_request_bytes).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
    };
    match identify(&state, &parts, &body) {
        Ok(viewer) => {
            parts.extensions.insert(viewer);
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
        Err(refusal) => {
            tracing::debug!(path = %parts.uri.path(), ?refusal, "refused");
            refusal.into_response(&parts, &state)
        }
    }
}

/// Whether the request carries the configured admin token: `Some(true)` right, `Some(false)` wrong or
/// missing, `None` when no token is configured.
pub fn admin_token_given(state: &AppState, headers: &HeaderMap) -> Option<bool> {
    let expected = state.admin_token.as_deref()?;
    let given = headers.get(TOKEN_HEADER).and_then(|value| value.to_str().ok());
    Some(given.is_some_and(|given| session::same_token(given, expected)))
}

/// Names the viewer of a request (see the module's table).
///
/// # Errors
/// The [`Refusal`] to answer with.
pub fn identify(state: &AppState, parts: &Parts, body: &[u8]) -> Result<Viewer, Refusal> {
    let headers = &parts.headers;
    let token_header = headers.contains_key(TOKEN_HEADER);
    match admin_token_given(state, headers) {
        Some(true) => return Ok(Viewer::Admin),
        Some(false) if token_header => return Err(Refusal::AdminToken),
        _ => {}
    }
    let signed_in =
        session::session_id(headers).and_then(|id| state.sessions.get(id)).is_some_and(|session| session.admin);
    if signed_in {
        return Ok(Viewer::Admin);
    }
    let Some(authenticator) = &state.authenticator else {
        if parts.uri.path().starts_with("/_sqskit") && state.admin_token.is_some() {
            return Err(Refusal::AdminToken);
        }
        return Ok(Viewer::Admin);
    };
    let presigned = parts.uri.query().is_some_and(|query| query.contains("X-Amz-Signature="));
    if !headers.contains_key(header::AUTHORIZATION) && !presigned {
        return Err(Refusal::Anonymous);
    }
    let request = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers,
        body,
    };
    authenticator
        .authenticate(&request, state.engine.clock().now())
        .map(|caller| Viewer::Account(caller.account_id))
        .map_err(Refusal::Signature)
}
