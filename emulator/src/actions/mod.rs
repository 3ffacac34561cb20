//! The 23 SQS actions: for each, the typed request and response as the model names their members, and a
//! handler that turns the request into one [`Engine`] call. No wire format and no queue logic lives here.
//!
//! [`dispatch`] is the single exhaustive match from [`Action`] to handler.

/// Implements [`QueueScoped`] for request types with a `queue_url` member (invoked where each type is defined,
/// as the member is private there).
macro_rules! queue_scoped {
    ($($request:ty),* $(,)?) => {
        $(impl super::QueueScoped for $request {
            fn take_queue_url(&mut self) -> Option<String> {
                self.queue_url.take()
            }
        })*
    };
}

mod attributes;
mod batch;
mod delete;
mod permissions;
mod queues;
mod receive;
mod redrive;
mod send;
mod tags;
mod visibility;
mod wire;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::action::Action;
use crate::engine::{BatchEntry, BatchResult, Engine, validate_batch_entries};
use crate::error::SqsError;
use crate::protocol::{Encoded, Payload, encode_response};

/// What a handler needs to know about the request besides its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// Scheme, host and port the client used to reach the emulator, for the queue URLs it returns.
    pub base_url: String,
    /// The queue URL given by the request path (`/<account>/<queue>`), used when the body names none.
    pub path_queue_url: Option<String>,
    /// Batch entries to fail without applying them (fault injection); `None` normally.
    pub entry_faults: Option<EntryFaults>,
    /// The account of the authenticated caller (SigV4 mode); `None` when authentication is off, and every
    /// request acts in the engine's default account without access checks.
    pub caller_account: Option<String>,
    /// The region the request acts in (from its SigV4 credential scope or a regional `Host`); `None` for the
    /// engine's default region. Queues, URLs and ARNs are looked up and made there ([`Engine::in_region`]).
    pub region: Option<String>,
    /// The request's `X-Amzn-Trace-Id` header (an X-Ray trace header): SendMessage(Batch) stores it as the
    /// `AWSTraceHeader` of every message that carries no `AWSTraceHeader` system attribute of its own.
    pub trace_header: Option<String>,
}

impl RequestContext {
    /// A context for a client that reached the emulator at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            path_queue_url: None,
            entry_faults: None,
            caller_account: None,
            region: None,
            trace_header: None,
        }
    }

    /// The account the request acts in: the caller's, or the engine's default one.
    fn account<'a>(&'a self, engine: &'a Engine) -> &'a str {
        self.caller_account.as_deref().unwrap_or(&engine.config().account_id)
    }
}

/// Entries to apply, and results for the entries failed by an injected fault.
type Split<T, R> = (Vec<BatchEntry<T>>, Vec<BatchResult<R>>);

/// An injected partial batch failure: each entry fails with `probability`, reporting `error`, and is not
/// applied. The choice is drawn from `seed`, so a seeded fault sequence is reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFaults {
    /// Probability per entry, in millionths.
    pub per_million: u32,
    /// The error failed entries report.
    pub error: SqsError,
    /// Seed of the choice.
    pub seed: u64,
}

impl EntryFaults {
    /// Checks the whole-request rules on all entries, then splits off the entries chosen to fail (as results)
    /// from those to apply.
    fn split<T, R>(&self, entries: Vec<BatchEntry<T>>, entry_kind: &str) -> Result<Split<T, R>, SqsError> {
        use rand::{Rng, SeedableRng};
        validate_batch_entries(&entries, entry_kind)?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let (mut applied, mut failed) = (Vec::new(), Vec::new());
        for entry in entries {
            if rng.random_ratio(self.per_million, 1_000_000) {
                failed.push(BatchResult { id: entry.id, result: Err(self.error.clone()) });
            } else {
                applied.push(entry);
            }
        }
        Ok((applied, failed))
    }
}

/// An empty response (`{}` in JSON), for actions whose output is `Unit`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EmptyResponse {}

fn encode<T: Serialize>(payload: &Payload, action: Action, response: Result<T, SqsError>) -> Result<Encoded, SqsError> {
    response.map(|response| encode_response(payload.protocol(), action.as_str(), &response))
}

/// Runs one action: decodes its request from `payload`, calls the engine (in the request's region), encodes the
/// response.
///
/// # Errors
/// Any [`SqsError`] from decoding or from the engine; the caller renders it in the request's protocol.
pub async fn dispatch(
    engine: &Engine,
    context: &RequestContext,
    action: Action,
    payload: &Payload,
) -> Result<Encoded, SqsError> {
    let regional;
    let engine = match context.region.as_deref() {
        Some(region) if region != engine.region() => {
            regional = engine.in_region(region);
            &regional
        }
        _ => engine,
    };
    authorize(engine, context, action, payload)?;
    // Fail-stop (a durable write refused while storage is failing, before anything is applied) is the engine's:
    // each of its durable write operations calls `Engine::check_storage` first, for in-process callers too.
    let encoded = run(engine, context, action, payload).await?;
    if action.is_durable_write() {
        engine.sync().await?;
    }
    Ok(encoded)
}

async fn run(
    engine: &Engine,
    context: &RequestContext,
    action: Action,
    payload: &Payload,
) -> Result<Encoded, SqsError> {
    match action {
        Action::CreateQueue => encode(payload, action, queues::create_queue(engine, context, payload.decode()?)),
        Action::GetQueueUrl => encode(payload, action, queues::get_queue_url(engine, context, payload.decode()?)),
        Action::ListQueues => encode(payload, action, queues::list_queues(engine, context, payload.decode()?)),
        Action::DeleteQueue => encode(payload, action, on_queue(engine, context, payload, queues::delete_queue)),
        Action::PurgeQueue => encode(payload, action, on_queue(engine, context, payload, queues::purge_queue)),
        Action::GetQueueAttributes => {
            encode(payload, action, on_queue(engine, context, payload, attributes::get_queue_attributes))
        }
        Action::SetQueueAttributes => {
            encode(payload, action, on_queue(engine, context, payload, attributes::set_queue_attributes))
        }
        Action::SendMessage => encode(
            payload,
            action,
            on_queue(engine, context, payload, |engine, url, request| {
                send::send_message(engine, context, url, request)
            }),
        ),
        Action::SendMessageBatch => {
            encode(payload, action, send::send_message_batch(engine, context, payload.decode()?))
        }
        Action::ReceiveMessage => {
            encode(payload, action, receive::receive_message(engine, context, payload.decode()?).await)
        }
        Action::DeleteMessage => encode(payload, action, on_queue(engine, context, payload, delete::delete_message)),
        Action::DeleteMessageBatch => {
            encode(payload, action, delete::delete_message_batch(engine, context, payload.decode()?))
        }
        Action::ChangeMessageVisibility => {
            encode(payload, action, on_queue(engine, context, payload, visibility::change_message_visibility))
        }
        Action::ChangeMessageVisibilityBatch => {
            encode(payload, action, visibility::change_message_visibility_batch(engine, context, payload.decode()?))
        }
        Action::TagQueue => encode(payload, action, on_queue(engine, context, payload, tags::tag_queue)),
        Action::UntagQueue => encode(payload, action, on_queue(engine, context, payload, tags::untag_queue)),
        Action::ListQueueTags => encode(payload, action, on_queue(engine, context, payload, tags::list_queue_tags)),
        Action::AddPermission => {
            encode(payload, action, on_queue(engine, context, payload, permissions::add_permission))
        }
        Action::RemovePermission => {
            encode(payload, action, on_queue(engine, context, payload, permissions::remove_permission))
        }
        Action::ListDeadLetterSourceQueues => {
            encode(payload, action, redrive::list_dead_letter_source_queues(engine, context, payload.decode()?))
        }
        Action::StartMessageMoveTask => {
            encode(payload, action, redrive::start_message_move_task(engine, payload.decode()?))
        }
        Action::ListMessageMoveTasks => {
            encode(payload, action, redrive::list_message_move_tasks(engine, payload.decode()?))
        }
        Action::CancelMessageMoveTask => {
            encode(payload, action, redrive::cancel_message_move_task(engine, payload.decode()?))
        }
    }
}

/// The one access check of every request from an authenticated caller: when the request is about a queue of
/// another account, that queue's policy must allow the caller's account for the action
/// ([`Engine::authorize`]). Requests that fail to decode pass here and fail in their handler.
fn authorize(engine: &Engine, context: &RequestContext, action: Action, payload: &Payload) -> Result<(), SqsError> {
    let Some(caller) = context.caller_account.as_deref() else { return Ok(()) };
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct AccessTarget {
        queue_url: Option<String>,
        queue_name: Option<String>,
        #[serde(rename = "QueueOwnerAWSAccountId")]
        queue_owner_aws_account_id: Option<String>,
        source_arn: Option<String>,
    }
    let Ok(target) = payload.decode::<AccessTarget>() else { return Ok(()) };
    let url = match action {
        // These act in the caller's own account.
        Action::CreateQueue | Action::ListQueues | Action::CancelMessageMoveTask => None,
        Action::GetQueueUrl => target
            .queue_owner_aws_account_id
            .zip(target.queue_name)
            .map(|(owner, name)| engine.queue_url_in(&context.base_url, &owner, &name)),
        Action::StartMessageMoveTask | Action::ListMessageMoveTasks => target.source_arn.and_then(|arn| {
            let mut parts = arn.splitn(6, ':').skip(4);
            let (account, name) = (parts.next()?, parts.next()?);
            Some(engine.queue_url_in(&context.base_url, account, name))
        }),
        _ => queue_url(context, target.queue_url).ok(),
    };
    match url {
        Some(url) => engine.authorize(caller, action.as_str(), &url),
        None => Ok(()),
    }
}

/// The name of the queue a request is about (from `QueueName`, `QueueUrl` or the request path), for fault
/// rules; `None` for requests about no single queue.
pub fn target_queue_name(payload: &Payload, context: &RequestContext) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct QueueTarget {
        queue_url: Option<String>,
        queue_name: Option<String>,
    }
    let target: Option<QueueTarget> = payload.decode().ok();
    let (url, name) = target.map_or((None, None), |target| (target.queue_url, target.queue_name));
    name.or_else(|| {
        let url = url.or_else(|| context.path_queue_url.clone())?;
        url.trim_end_matches('/').rsplit('/').next().map(str::to_owned)
    })
}

/// A request about one queue, named by its `QueueUrl` member or else by the request path.
trait QueueScoped {
    /// Takes the `QueueUrl` member out of the request.
    fn take_queue_url(&mut self) -> Option<String>;
}

/// The shape of every single action on one queue: decodes the request, resolves its queue URL (body, else
/// path), and runs `handler` on the engine with both.
fn on_queue<Request: QueueScoped + DeserializeOwned, Response>(
    engine: &Engine,
    context: &RequestContext,
    payload: &Payload,
    handler: impl FnOnce(&Engine, &str, Request) -> Result<Response, SqsError>,
) -> Result<Response, SqsError> {
    let mut request: Request = payload.decode()?;
    let url = queue_url(context, request.take_queue_url())?;
    handler(engine, &url, request)
}

/// A required member of a request, or `MissingParameter` naming it.
fn required<T>(value: Option<T>, name: &str) -> Result<T, SqsError> {
    value.ok_or_else(|| SqsError::missing_parameter(name))
}

/// The queue URL from the request body, or else from the request path.
fn queue_url(context: &RequestContext, from_body: Option<String>) -> Result<String, SqsError> {
    from_body
        .filter(|url| !url.is_empty())
        .or_else(|| context.path_queue_url.clone())
        .ok_or_else(|| SqsError::missing_parameter("QueueUrl"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use bytes::Bytes;

    #[tokio::test]
    async fn every_action_dispatches_to_a_real_handler() {
        let engine = Engine::default();
        let context = RequestContext::new("http://localhost");
        let payload = Payload::Json(Bytes::from_static(b"{}"));
        for action in Action::ALL {
            let outcome = dispatch(&engine, &context, *action, &payload).await;
            // An empty request reaches the handler, which asks for its first required parameter (ListQueues
            // has none, and lists nothing).
            match outcome {
                Ok(_) => assert_eq!(*action, Action::ListQueues),
                Err(error) => {
                    assert_eq!(error.code, ErrorCode::MissingRequiredParameterException, "{action}: {error}")
                }
            }
        }
    }
}
