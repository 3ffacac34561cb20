//! The no-op SQS server: parses each AWS JSON 1.0 request and answers with a fixed response, storing nothing
//! (with [`BodyMd5::Computed`], sent messages get their body's real MD5, so that checking clients accept it). It runs on the emulator's stack (axum 0.8, hyper, tokio), so it marks the ceiling that HTTP handling
//! plus JSON parsing and serialisation allow, against which the emulator's queue work can be judged.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::routing::post;
use md5::Digest as _;
use serde::Serialize;
use serde::de::IgnoredAny;

use crate::wire::{
    ACCOUNT_ID, Action, BatchResponse, BatchResultErrorEntry, CONTENT_TYPE_JSON_1_0,
    ChangeMessageVisibilityBatchRequest, ChangeMessageVisibilityBatchResultEntry, CreateQueueRequest,
    CreateQueueResponse, DeleteMessageBatchRequest, DeleteMessageBatchResultEntry, GetQueueAttributesRequest,
    GetQueueAttributesResponse, ReceiveMessageRequest, ReceiveMessageResponse, SendMessageBatchRequest,
    SendMessageBatchResultEntry, SendMessageRequest, SendMessageResponse,
};

/// The message id of every "sent" message.
const FIXED_MESSAGE_ID: &str = "5fea7756-0ea4-451a-a703-a558b933e274";

/// The body MD5 of every "sent" message (that of `Hello from sqskit`, SPEC.md §9).
const FIXED_MD5: &str = "09077c1cb05a9e73a1620c07e4bea548";

/// The header that carries each response's request id.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// What the no-op server answers as each sent message's `MD5OfMessageBody`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BodyMd5 {
    /// One fixed digest for every message: the least work, but the SDKs that check the digests of a
    /// `SendMessageBatch` answer (Java v1 and v2, Kotlin, JavaScript v3, and sqskit itself) reject it.
    Fixed,
    /// The real MD5 of each body: the least work that still makes an answer SDKs accept.
    Computed,
}

/// The server's settings, shared by every request.
#[derive(Debug, Clone)]
struct NoopState {
    authority: String,
    body_md5: BodyMd5,
}

/// Builds the router answering fixed digests; `authority` (`host:port`) goes into queue URLs when a request has
/// no `Host` header.
pub fn router(authority: String) -> Router {
    router_answering(authority, BodyMd5::Fixed)
}

/// Builds the router, answering `body_md5` digests for sent messages.
pub fn router_answering(authority: String, body_md5: BodyMd5) -> Router {
    Router::new().route("/", post(handle)).with_state(Arc::new(NoopState { authority, body_md5 }))
}

/// The `MD5OfMessageBody` to answer for `body`.
fn body_md5(mode: BodyMd5, body: &str) -> Cow<'static, str> {
    match mode {
        BodyMd5::Fixed => Cow::Borrowed(FIXED_MD5),
        BodyMd5::Computed => {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let digest = md5::Md5::digest(body.as_bytes());
            let mut hex = [0_u8; 32];
            for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
                pair[0] = DIGITS[usize::from(byte >> 4)];
                pair[1] = DIGITS[usize::from(byte & 0xf)];
            }
            Cow::Owned(std::str::from_utf8(&hex).unwrap_or(FIXED_MD5).to_owned())
        }
    }
}

/// The largest request body read, as the emulator's default.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

// The whole request rather than `HeaderMap` and `Bytes` extractors, which would clone every request's headers
// (the emulator's handler does the same); the state is shared, not cloned per request.
async fn handle(State(state): State<Arc<NoopState>>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let (headers, authority, md5_mode) = (parts.headers, &state.authority, state.body_md5);
    let Ok(body) = to_bytes(body, MAX_REQUEST_BYTES).await else {
        return error(
            "com.amazon.coral.service#SerializationException",
            "MalformedInput;Sender",
            "The request body could not be read.",
        );
    };
    let target = headers.get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let Some(action) = Action::from_target(target) else {
        return error(
            "com.amazon.coral.service#UnknownOperationException",
            "InvalidAction;Sender",
            "The action or operation requested is invalid.",
        );
    };
    match action {
        Action::CreateQueue => respond(&body, |request: CreateQueueRequest<'_>| {
            let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or(authority);
            CreateQueueResponse { queue_url: Cow::Owned(format!("http://{host}/{ACCOUNT_ID}/{}", request.queue_name)) }
        }),
        Action::SendMessage => respond(&body, |request: SendMessageRequest<'_>| SendMessageResponse {
            md5_of_message_body: body_md5(md5_mode, &request.message_body),
            message_id: Cow::Borrowed(FIXED_MESSAGE_ID),
        }),
        Action::SendMessageBatch => respond(&body, |request: SendMessageBatchRequest<'_>| BatchResponse {
            successful: request
                .entries
                .into_iter()
                .map(|entry| SendMessageBatchResultEntry {
                    md5_of_message_body: body_md5(md5_mode, &entry.message_body),
                    id: entry.id,
                    message_id: Cow::Borrowed(FIXED_MESSAGE_ID),
                })
                .collect(),
            failed: Vec::<BatchResultErrorEntry<'_>>::new(),
        }),
        Action::ReceiveMessage => {
            respond(&body, |_: ReceiveMessageRequest<'_>| ReceiveMessageResponse { messages: Vec::new() })
        }
        Action::DeleteMessage | Action::ChangeMessageVisibility | Action::DeleteQueue => {
            respond(&body, |_: IgnoredAny| Empty {})
        }
        Action::GetQueueAttributes => respond(&body, |request: GetQueueAttributesRequest<'_>| {
            // Nothing is ever stored: every count the caller asks for is zero.
            GetQueueAttributesResponse {
                attributes: request.attribute_names.into_iter().map(|name| (name, Cow::Borrowed("0"))).collect(),
            }
        }),
        Action::DeleteMessageBatch => respond(&body, |request: DeleteMessageBatchRequest<'_>| BatchResponse {
            successful: request
                .entries
                .into_iter()
                .map(|entry| DeleteMessageBatchResultEntry { id: entry.id })
                .collect(),
            failed: Vec::<BatchResultErrorEntry<'_>>::new(),
        }),
        Action::ChangeMessageVisibilityBatch => {
            respond(&body, |request: ChangeMessageVisibilityBatchRequest<'_>| BatchResponse {
                successful: request
                    .entries
                    .into_iter()
                    .map(|entry| ChangeMessageVisibilityBatchResultEntry { id: entry.id })
                    .collect(),
                failed: Vec::<BatchResultErrorEntry<'_>>::new(),
            })
        }
    }
}

/// The `{}` output of actions without output members.
#[derive(Serialize)]
struct Empty {}

/// Parses the request as `I`, maps it to the output and serialises that, or answers 400 for malformed input.
fn respond<'a, I, O, F>(body: &'a [u8], produce: F) -> Response<Body>
where
    I: serde::Deserialize<'a>,
    O: Serialize,
    F: FnOnce(I) -> O,
{
    match serde_json::from_slice::<I>(body) {
        Ok(input) => match serde_json::to_vec(&produce(input)) {
            Ok(json) => json_response(StatusCode::OK, json, None),
            Err(_) => error(
                "com.amazon.coral.service#InternalFailure",
                "InternalError;Receiver",
                "The request processing has failed because of an unknown error.",
            ),
        },
        Err(_) => error(
            "com.amazon.coral.service#SerializationException",
            "MalformedInput;Sender",
            "The request body is not valid JSON for this action.",
        ),
    }
}

fn error(type_name: &str, query_error: &'static str, message: &str) -> Response<Body> {
    let json = serde_json::json!({ "__type": type_name, "message": message }).to_string();
    let status =
        if query_error.ends_with("Receiver") { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
    json_response(status, json.into_bytes(), Some(query_error))
}

fn json_response(status: StatusCode, json: Vec<u8>, query_error: Option<&'static str>) -> Response<Body> {
    let mut response = Response::new(Body::from(json));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON_1_0));
    let mut request_id = [0_u8; uuid::fmt::Hyphenated::LENGTH];
    let request_id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut request_id);
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, value);
    }
    if let Some(query_error) = query_error {
        headers.insert(HeaderName::from_static("x-amzn-query-error"), HeaderValue::from_static(query_error));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_digests_are_the_bodies_md5() {
        // FIXED_MD5 is the digest of this body (SPEC.md §9), so both modes agree on it and only on it.
        assert_eq!(body_md5(BodyMd5::Computed, "Hello from sqskit"), FIXED_MD5);
        assert_eq!(body_md5(BodyMd5::Computed, ""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_ne!(body_md5(BodyMd5::Computed, "Hello from sqskit!"), FIXED_MD5);
        assert_eq!(body_md5(BodyMd5::Fixed, "anything"), FIXED_MD5);
    }
}
