//! The spans of sqskit's producers and consumers. Without the feature `otel` they are the plain `tracing`
//! spans listed in [`telemetry`](crate::telemetry); with it they also carry the OpenTelemetry messaging
//! conventions' fields (`otel.name`, `otel.kind`, `messaging.*`, `error.type`, read by `tracing-opentelemetry`),
//! their parents and their links (see the [module docs](super)).

use tracing::Span;

use super::ProcessParent;
use crate::backend::{ReceivedMessage, SendEntry};
use crate::error::Error;
use crate::telemetry::{self, queue_name};
use crate::trace_context::TraceContext;
use crate::types::{MessageAttributes, MessageId, SystemAttributeName};

#[cfg(feature = "otel")]
use opentelemetry::trace::{SpanContext, TraceContextExt};
#[cfg(feature = "otel")]
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[cfg(feature = "otel")]
use super::MESSAGING_SYSTEM;
#[cfg(feature = "otel")]
use super::propagation::{self, message_creation_contexts};

/// A span named `$span` with sqskit's own fields (`[...]`, the fields of [`telemetry`](crate::telemetry)), and,
/// with the feature `otel`, the messaging conventions' fields of operation `$operation` of type `$type` on queue
/// `$name` (URL `$url`) with span kind `$kind`, then the operation's own conventions fields (`{...}`), then
/// `error.type` and `otel.status_code`, recorded on failure.
macro_rules! messaging_span {
    ($span:expr, $name:expr, $url:expr, $kind:literal, $type:expr, $operation:expr, [$($fields:tt)*], {$($otel:tt)*}) => {{
        #[cfg(feature = "otel")]
        let span = tracing::info_span!(
            $span,
            $($fields)*
            "otel.name" = %format_args!("{} {}", $operation, $name),
            "otel.kind" = $kind,
            "messaging.system" = MESSAGING_SYSTEM,
            "messaging.operation.type" = $type,
            "messaging.operation.name" = $operation,
            "messaging.destination.name" = $name,
            "aws.sqs.queue.url" = $url,
            $($otel)*
            "error.type" = tracing::field::Empty,
            "otel.status_code" = tracing::field::Empty,
        );
        #[cfg(not(feature = "otel"))]
        let span = tracing::info_span!($span, $($fields)*);
        span
    }};
}

/// The consumer-side span a message came from: its `receive` span's context (feature `otel`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    #[cfg(feature = "otel")]
    receive: Option<SpanContext>,
}

/// The `create` span of one message a producer sends, from the call until SQS accepted it or the send failed
/// (feature `otel`; nothing without it).
#[derive(Debug)]
pub(crate) struct Creation {
    #[cfg(feature = "otel")]
    span: Span,
}

impl Creation {
    /// Starts the span of one message sent to `queue_url`, as a child of the current span; none when the caller
    /// chose the message's trace context (`custom_context`).
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    pub(crate) fn start(queue_url: &str, custom_context: bool) -> Self {
        #[cfg(feature = "otel")]
        {
            if custom_context {
                return Self { span: Span::none() };
            }
            let name = queue_name(queue_url);
            let span = messaging_span!(telemetry::SPAN_CREATE, name, queue_url, "producer", "create", "create",
                [queue = name,], {"messaging.message.id" = tracing::field::Empty,});
            Self { span }
        }
        #[cfg(not(feature = "otel"))]
        Self {}
    }

    /// Runs `f` inside the span (the message's trace context is taken from the current span).
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "otel")]
        return self.span.in_scope(f);
        #[cfg(not(feature = "otel"))]
        f()
    }

    /// Ends the span with the message's id, or with the error it finally failed with.
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    pub(crate) fn finish(self, result: Result<&MessageId, &Error>) {
        #[cfg(feature = "otel")]
        match result {
            Ok(id) => {
                self.span.record("messaging.message.id", id.as_str());
            }
            Err(error) => record_error(&self.span, error),
        }
    }
}

/// Puts the current span's context into `attributes` (using at most `room` of them); `false` when there is
/// no OpenTelemetry context (no layer installed, or no valid span), or no room (feature `otel`).
#[cfg_attr(not(feature = "otel"), allow(unused_variables))]
pub(crate) fn inject_current(attributes: &mut MessageAttributes, room: usize) -> bool {
    #[cfg(feature = "otel")]
    return propagation::inject(&Span::current().context(), attributes, room);
    #[cfg(not(feature = "otel"))]
    false
}

/// The span of one `SendMessageBatch` request, linked to each message's creation context.
pub(crate) fn send_span(queue_url: &str, entries: &[SendEntry], batch_id: u64) -> Span {
    let name = queue_name(queue_url);
    let span = messaging_span!(telemetry::SPAN_SEND, name, queue_url, "client", "send", "send",
        [queue = name, batch_size = entries.len(), batch_id, outcome = tracing::field::Empty,],
        {"messaging.batch.message_count" = count(entries.len()),});
    #[cfg(feature = "otel")]
    link_creations(&span, entries.iter().map(|entry| (&entry.attributes, entry.trace_header.as_deref())));
    span
}

/// The span of one `ReceiveMessage` request asking for up to `wanted` messages.
pub(crate) fn receive_span(queue_url: &str, wanted: usize) -> Span {
    let name = queue_name(queue_url);
    messaging_span!(telemetry::SPAN_RECEIVE, name, queue_url, "client", "receive", "receive",
        [queue = name, max_messages = wanted, received = tracing::field::Empty,],
        {"messaging.batch.message_count" = tracing::field::Empty,})
}

/// Records a successful receive on its span (count; links to the messages' creation contexts) and returns
/// what the messages' `process` spans need of it.
pub(crate) fn receive_done(span: &Span, messages: &[ReceivedMessage]) -> Origin {
    span.record("received", messages.len());
    #[cfg(feature = "otel")]
    {
        span.record("messaging.batch.message_count", count(messages.len()));
        link_creations(span, messages.iter().map(|message| (&message.attributes, aws_trace_header(message))));
        let receive = span.context().span().span_context().clone();
        Origin { receive: receive.is_valid().then_some(receive) }
    }
    #[cfg(not(feature = "otel"))]
    Origin {}
}

/// The span of one message's handler call in a consumer of `queue_url`. `trace` is the message's
/// `traceparent`, parsed.
pub(crate) fn process_span(
    queue_url: &str,
    message: &ReceivedMessage,
    trace: Option<TraceContext>,
    origin: &Origin,
    parent: ProcessParent,
) -> Span {
    one_process_span((queue_name(queue_url), Some(queue_url)), message, trace, origin, parent)
}

/// The span of one record's handler call in a Lambda function fed by queue `queue` (its name: the event gives
/// the queue's ARN, not its URL). Its parent is the current span (the invocation's, if any); the message's
/// creation context is linked (a push-based "Process" span of the conventions).
#[cfg(feature = "lambda")]
pub(crate) fn lambda_process_span(queue: &str, message: &ReceivedMessage) -> Span {
    let trace = message
        .attributes
        .get(telemetry::TRACEPARENT_ATTRIBUTE)
        .and_then(|value| value.as_text())
        .and_then(|text| TraceContext::parse(text).ok());
    one_process_span((queue, None), message, trace, &Origin::default(), ProcessParent::Receive)
}

#[cfg_attr(not(feature = "otel"), allow(unused_variables))]
fn one_process_span(
    (name, queue_url): (&str, Option<&str>),
    message: &ReceivedMessage,
    trace: Option<TraceContext>,
    origin: &Origin,
    parent: ProcessParent,
) -> Span {
    let span = messaging_span!(telemetry::SPAN_PROCESS, name, queue_url, "consumer", "process", "process",
        [
            queue = name,
            message_id = %message.message_id,
            receive_count = message.receive_count().unwrap_or(1),
            group_id = message.group_id(),
            traceparent = trace.map(tracing::field::display),
            aws_trace_header = aws_trace_header(message),
            outcome = tracing::field::Empty,
        ],
        {"messaging.message.id" = message.message_id.as_str(),});
    #[cfg(feature = "otel")]
    if !span.is_disabled() {
        let creation = message_creation_contexts(&message.attributes, aws_trace_header(message));
        match (parent, creation.first()) {
            (ProcessParent::Message, Some(first)) => {
                set_parent(&span, first);
                if let Some(receive) = &origin.receive {
                    span.add_link(receive.clone());
                }
            }
            _ => {
                if let Some(receive) = &origin.receive {
                    set_parent(&span, receive);
                }
            }
        }
        for context in creation {
            span.add_link(context);
        }
    }
    span
}

/// The span of one batch handler call over `messages`, received through `origin`.
#[cfg_attr(not(feature = "otel"), allow(unused_variables))]
pub(crate) fn batch_process_span<'a>(
    queue_url: &str,
    messages: impl ExactSizeIterator<Item = &'a ReceivedMessage>,
    origin: Option<&Origin>,
) -> Span {
    let name = queue_name(queue_url);
    let span = messaging_span!(telemetry::SPAN_PROCESS, name, queue_url, "consumer", "process", "process",
        [queue = name, batch_size = messages.len(), outcome = tracing::field::Empty,],
        {"messaging.batch.message_count" = count(messages.len()),});
    #[cfg(feature = "otel")]
    {
        if let Some(receive) = origin.and_then(|origin| origin.receive.as_ref()) {
            set_parent(&span, receive);
        }
        link_creations(&span, messages.map(|message| (&message.attributes, aws_trace_header(message))));
    }
    span
}

/// The span of one `DeleteMessageBatch` (`ack`) or `ChangeMessageVisibilityBatch` (`nack`) request settling
/// `batch_size` messages.
pub(crate) fn settle_span(queue_url: &str, action: &'static str, batch_size: usize) -> Span {
    let name = queue_name(queue_url);
    #[cfg(feature = "otel")]
    let operation = if action == "DeleteMessageBatch" { "ack" } else { "nack" };
    messaging_span!(telemetry::SPAN_SETTLE, name, queue_url, "client", "settle", operation,
        [queue = name, operation = action, batch_size, outcome = tracing::field::Empty,],
        {"messaging.batch.message_count" = count(batch_size),})
}

/// Records a settle request's outcome (`ok`, `partial`, `failed`) on the current span; `failed` (every message
/// of the request given up after retries) also sets `error.type` and the span status (feature `otel`).
pub(crate) fn settle_outcome(outcome: &str) {
    let span = Span::current();
    span.record("outcome", outcome);
    if cfg!(feature = "otel") && outcome == "failed" {
        span.record("error.type", outcome);
        span.record("otel.status_code", "error");
    }
}

/// Outcomes of a handler call that are failures of the processing (`error.type` on its span).
const FAILED_OUTCOMES: [&str; 9] = [
    "retry",
    "retry_after",
    "dead_letter",
    "timed_out",
    "lost",
    "panicked",
    "poison",
    "in_progress",
    "store_unavailable",
];

/// Records a handler call's outcome on the current (`process`) span; a failure also sets `error.type` and the
/// span status (feature `otel`).
pub(crate) fn process_outcome(outcome: &str) {
    let span = Span::current();
    span.record("outcome", outcome);
    if cfg!(feature = "otel") && FAILED_OUTCOMES.contains(&outcome) {
        span.record("error.type", outcome);
        span.record("otel.status_code", "error");
    }
}

/// Records a failed request on its span: `error.type` and the span status (feature `otel`).
#[cfg_attr(not(feature = "otel"), allow(unused_variables))]
pub(crate) fn record_error(span: &Span, error: &Error) {
    #[cfg(feature = "otel")]
    {
        span.record("error.type", error_type(error));
        span.record("otel.status_code", "error");
    }
}

/// A low-cardinality name for an error: the SQS error code, or the kind of failure.
#[cfg(feature = "otel")]
fn error_type(error: &Error) -> &str {
    if let Some(code) = error.code() {
        return code.shape_name();
    }
    match error {
        Error::Transport { .. } => "transport",
        Error::Timeout { .. } => "timeout",
        Error::Encode { .. } => "encode",
        Error::Decode { .. } => "decode",
        Error::InvalidMessage { .. } => "invalid_message",
        Error::ChecksumMismatch { .. } => "checksum_mismatch",
        Error::Shutdown => "shutdown",
        _ => "_OTHER",
    }
}

/// A count as an `i64` (`tracing-opentelemetry` exports unsigned values as strings; the conventions want an int).
#[cfg(feature = "otel")]
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Links `span` to the creation context of each message (its attributes and X-Ray trace header); nothing on a
/// span no subscriber records (parsing every message's context would be wasted).
#[cfg(feature = "otel")]
fn link_creations<'a>(span: &Span, messages: impl Iterator<Item = (&'a MessageAttributes, Option<&'a str>)>) {
    if span.is_disabled() {
        return;
    }
    for (attributes, trace_header) in messages {
        for context in message_creation_contexts(attributes, trace_header) {
            span.add_link(context);
        }
    }
}

#[cfg(feature = "otel")]
fn set_parent(span: &Span, parent: &SpanContext) {
    let context = opentelemetry::Context::new().with_remote_span_context(parent.clone());
    // Fails only without an OpenTelemetry layer (nothing to parent) or on a span already started (not here:
    // the span was just made).
    let _ = span.set_parent(context);
}

fn aws_trace_header(message: &ReceivedMessage) -> Option<&str> {
    message.system_attributes.get(&SystemAttributeName::AwsTraceHeader).map(String::as_str)
}

#[cfg(all(test, feature = "otel"))]
mod tests {
    use super::*;
    use crate::error::ServiceErrorCode;

    #[test]
    fn error_types_have_low_cardinality() {
        let service = Error::Service {
            code: ServiceErrorCode::parse("AWS.SimpleQueueService.NonExistentQueue"),
            message: "no such queue".to_owned(),
            request_id: Some("unique-per-request".to_owned()),
            fault: None,
        };
        assert_eq!(error_type(&service), "QueueDoesNotExist");
        assert_eq!(error_type(&Error::Timeout { detail: "35 s, message 17".to_owned() }), "timeout");
        assert_eq!(error_type(&Error::Shutdown), "shutdown");
    }
}
