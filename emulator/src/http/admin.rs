//! The admin API: everything that makes the emulator a test instrument, under one reserved prefix that no
//! SQS request uses (`/_sqskit/`; queue paths are `/<account>/<queue>`). JSON in and out. Who may call it is
//! decided by [`access`](super::access): with authentication off, anyone (or, when an admin token is configured,
//! whoever carries it in `x-sqskit-admin-token`); with `--auth sigv4`, the admin token, or a signed request of
//! an account, which may only peek at and reset its own queues.
//!
//! | call | does |
//! |---|---|
//! | `GET /_sqskit/clock` | `{"now_millis", "manual"}` |
//! | `POST /_sqskit/clock/advance` `{"seconds": 1.5}` or `{"millis": 1500}` | moves a manual clock forward |
//! | `POST /_sqskit/clock/set` `{"now_millis": ...}` | sets a manual clock |
//! | `GET /_sqskit/faults` | `{"seed", "fifo_quotas", "rules": [{"id", ..., "injected"}]}` |
//! | `POST /_sqskit/faults` `{rule}` | installs a fault rule, answers `{"id"}` |
//! | `DELETE /_sqskit/faults/{id}` | removes a rule |
//! | `POST /_sqskit/faults/reset` `{"seed": 7}` | removes every rule, restarts the random sequence |
//! | `PUT /_sqskit/quotas` `{"fifo": true}` | turns the FIFO throughput quota on or off |
//! | `GET /_sqskit/queues/{name}/messages?limit=100&region=eu-west-1&account=111122223333` | peeks at messages without changing them (a queue of the default region and account, or of `region` / `account`; a signed caller's own account by default) |
//! | `POST /_sqskit/reset` (body empty, `{}`, `{"account": "111122223333"}`, `{"region": "eu-west-1"}` or both) | deletes every queue (of that account, of that region) with its messages and move tasks, lifts the 60-second name block, declares the configuration's queues again; answers `{"deleted_queues", "declared_queues"}` |

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::Request;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use crate::auth::Viewer;
use crate::engine::{AttributeValue, MessageState, ResetScope, Timestamp, is_valid_region};
use crate::faults::FaultRule;

pub use super::access::TOKEN_HEADER;
const DEFAULT_PEEK_LIMIT: usize = 100;

/// The admin routes (nested under `/_sqskit`), behind [`access::guard`](super::access::guard): the global
/// test controls (clock, faults, quotas) are the operator's; an account (a signed request in `--auth sigv4`
/// mode) may peek at and reset only its own queues.
pub fn routes() -> Router<Arc<AppState>> {
    let global = Router::new()
        .route("/clock", get(get_clock))
        .route("/clock/advance", post(advance_clock))
        .route("/clock/set", post(set_clock))
        .route("/faults", get(list_faults).post(add_fault))
        .route("/faults/reset", post(reset_faults))
        .route("/faults/{id}", delete(remove_fault))
        .route("/quotas", put(set_quotas))
        .route_layer(middleware::from_fn(require_operator));
    Router::new().merge(global).route("/queues/{name}/messages", get(peek)).route("/reset", post(reset))
}

/// Refuses the global controls to an account's signed request.
async fn require_operator(request: Request, next: Next) -> Response {
    match request.extensions().get::<Viewer>() {
        Some(Viewer::Admin) => next.run(request).await,
        _ => failure(
            StatusCode::FORBIDDEN,
            format!(
                "the clock, fault rules and quotas are shared by every account: they need the admin token                  ({TOKEN_HEADER})"
            ),
        ),
    }
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn clock_json(state: &AppState) -> Response {
    let now = state.engine.clock().now();
    Json(json!({ "now_millis": now.as_millis(), "manual": state.manual_clock.is_some() })).into_response()
}

async fn get_clock(State(state): State<Arc<AppState>>) -> Response {
    clock_json(&state)
}

/// How far to move the clock.
#[derive(Debug, Deserialize)]
struct Advance {
    seconds: Option<f64>,
    millis: Option<u64>,
}

fn manual_clock_missing() -> Response {
    failure(StatusCode::CONFLICT, "the emulator runs on the system clock; start it with --clock manual")
}

/// Parses a JSON body whatever its content type (so a bare `curl -d` works).
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|error| Box::new(failure(StatusCode::BAD_REQUEST, format!("invalid JSON body: {error}"))))
}

async fn advance_clock(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let by: Advance = match json_body(&body) {
        Ok(by) => by,
        Err(refused) => return *refused,
    };
    let Some(clock) = &state.manual_clock else { return manual_clock_missing() };
    let by = match (by.seconds, by.millis) {
        (Some(seconds), None) if seconds.is_finite() && seconds >= 0.0 => Duration::from_secs_f64(seconds),
        (None, Some(millis)) => Duration::from_millis(millis),
        _ => return failure(StatusCode::BAD_REQUEST, "give exactly one of seconds (>= 0) or millis"),
    };
    clock.advance(by);
    clock_json(&state)
}

/// The time to set.
#[derive(Debug, Deserialize)]
struct SetTime {
    now_millis: u64,
}

async fn set_clock(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let to: SetTime = match json_body(&body) {
        Ok(to) => to,
        Err(refused) => return *refused,
    };
    let Some(clock) = &state.manual_clock else { return manual_clock_missing() };
    clock.set(Timestamp::from_millis(to.now_millis));
    clock_json(&state)
}

async fn list_faults(State(state): State<Arc<AppState>>) -> Response {
    let (seed, rules) = state.faults.list();
    Json(json!({ "seed": seed, "fifo_quotas": state.faults.quotas(), "rules": rules })).into_response()
}

async fn add_fault(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let rule: FaultRule = match json_body(&body) {
        Ok(rule) => rule,
        Err(refused) => return *refused,
    };
    match state.faults.add(rule) {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))).into_response(),
        Err(reason) => failure(StatusCode::BAD_REQUEST, reason),
    }
}

async fn remove_fault(State(state): State<Arc<AppState>>, Path(id): Path<u64>) -> Response {
    if state.faults.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        failure(StatusCode::NOT_FOUND, format!("no fault rule {id}"))
    }
}

/// Options of a reset.
#[derive(Debug, Default, Deserialize)]
struct Reset {
    seed: Option<u64>,
}

async fn reset_faults(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let reset: Reset = if body.is_empty() {
        Reset::default()
    } else {
        match json_body(&body) {
            Ok(reset) => reset,
            Err(refused) => return *refused,
        }
    };
    state.faults.reset(reset.seed);
    StatusCode::NO_CONTENT.into_response()
}

/// Quota switches.
#[derive(Debug, Deserialize)]
struct Quotas {
    fifo: bool,
}

async fn set_quotas(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let quotas: Quotas = match json_body(&body) {
        Ok(quotas) => quotas,
        Err(refused) => return *refused,
    };
    state.faults.set_quotas(quotas.fifo);
    Json(json!({ "fifo": quotas.fifo })).into_response()
}

/// What `POST /_sqskit/reset` resets (see [`ResetScope`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    account: Option<String>,
    region: Option<String>,
}

async fn reset(
    State(state): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    body: axum::body::Bytes,
) -> Response {
    let body: ResetBody = if body.iter().all(u8::is_ascii_whitespace) {
        ResetBody::default()
    } else {
        match json_body(&body) {
            Ok(body) => body,
            Err(refused) => return *refused,
        }
    };
    let scope = match body.account {
        Some(account) if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) => {
            ResetScope::account(account)
        }
        Some(account) => {
            return failure(StatusCode::BAD_REQUEST, format!("account must be a 12-digit account id, not {account:?}"));
        }
        None => match viewer.account() {
            Some(own) => ResetScope::account(own),
            None => ResetScope::everything(),
        },
    };
    let scope = match body.region {
        Some(region) if is_valid_region(&region) => scope.in_region(region),
        Some(region) => return failure(StatusCode::BAD_REQUEST, format!("region \"{region}\" is not a region name")),
        None => scope,
    };
    if scope.account.as_deref().map_or(!viewer.is_admin(), |account| !viewer.sees(account)) {
        return failure(StatusCode::FORBIDDEN, "an account may reset only its own queues");
    }
    match state.declared.reset(&state.engine, &scope).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => failure(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

/// `?limit=&account=` of a peek.
#[derive(Debug, Deserialize)]
struct PeekQuery {
    limit: Option<usize>,
    /// The queue's region; the default region when not given.
    region: Option<String>,
    /// The queue's account; the caller's own (a signed request), else the default account, when not given.
    account: Option<String>,
}

/// One message as the peek call shows it.
#[derive(Debug, Serialize)]
struct PeekedJson {
    message_id: String,
    sequence: u64,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    until_millis: Option<u64>,
    receive_count: u32,
    sent_millis: u64,
    body: String,
    attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deduplication_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_letter_source_arn: Option<String>,
}

async fn peek(
    State(state): State<Arc<AppState>>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Query(query): Query<PeekQuery>,
) -> Response {
    let limit = query.limit.unwrap_or(DEFAULT_PEEK_LIMIT);
    let region = query.region.unwrap_or_else(|| state.engine.config().region.clone());
    if !is_valid_region(&region) {
        return failure(StatusCode::BAD_REQUEST, format!("region \"{region}\" is not a region name"));
    }
    let account = query
        .account
        .or_else(|| viewer.account().map(str::to_owned))
        .unwrap_or_else(|| state.engine.config().account_id.clone());
    if !viewer.sees(&account) {
        // As for a queue that does not exist: another account's queues are not even confirmed.
        return failure(StatusCode::NOT_FOUND, "The specified queue does not exist.");
    }
    let messages = match state.engine.in_region(&region).peek(&format!("{account}/{name}"), limit) {
        Ok(messages) => messages,
        Err(error) => return failure(StatusCode::NOT_FOUND, error.message),
    };
    let messages: Vec<PeekedJson> = messages
        .into_iter()
        .map(|message| {
            let (state, until) = match message.state {
                MessageState::Visible => ("visible", None),
                MessageState::Delayed { until } => ("delayed", Some(until.as_millis())),
                MessageState::InFlight { until, .. } => ("in_flight", Some(until.as_millis())),
            };
            let attributes = message
                .attributes
                .iter()
                .map(|(name, attribute)| {
                    let value = match &attribute.value {
                        AttributeValue::String(text) => json!({ "DataType": attribute.data_type, "StringValue": text }),
                        AttributeValue::Binary(bytes) => json!({
                            "DataType": attribute.data_type,
                            "BinaryValue": base64::engine::general_purpose::STANDARD.encode(bytes),
                        }),
                    };
                    (name.to_owned(), value)
                })
                .collect();
            PeekedJson {
                message_id: message.message_id,
                sequence: message.sequence,
                state,
                until_millis: until,
                receive_count: message.receive_count,
                sent_millis: message.sent_at.as_millis(),
                body: message.body,
                attributes,
                group_id: message.extra.group_id,
                deduplication_id: message.extra.deduplication_id,
                dead_letter_source_arn: message.extra.dead_letter_source_arn,
            }
        })
        .collect();
    Json(json!({ "queue": name, "region": region, "account": account, "messages": messages })).into_response()
}
