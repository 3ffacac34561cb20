//! OpenTelemetry (feature `otel`): sqskit's [`tracing`] spans follow OpenTelemetry's messaging semantic
//! conventions, and producers and consumers carry the trace context from one to the other, so that an
//! application that exports its `tracing` spans through
//! [`tracing-opentelemetry`](https://docs.rs/tracing-opentelemetry) gets sqskit's spans, parented and linked,
//! without further wiring. Without the feature, the spans are the plain ones listed in
//! [`telemetry`](crate::telemetry) and none of this module's dependencies are built.
//!
//! # Spans
//! Every span carries `messaging.system = "aws_sqs"`, `messaging.destination.name` (the queue's name, the last
//! segment of its URL), `aws.sqs.queue.url` (not on a Lambda record's span), `messaging.operation.type` and `messaging.operation.name`, set
//! when the span is created (sampling decisions may use them), and, when the operation failed, `error.type`
//! with the span status `Error`. Span names are `{operation} {queue}`.
//!
//! | span | kind | when | parent | links | more attributes |
//! | --- | --- | --- | --- | --- | --- |
//! | `create orders` | `PRODUCER` | one per message handed to [`Producer::send`](crate::Producer::send) (or `send_all`), until SQS accepted it or the send failed | the caller's current span | | `messaging.message.id` |
//! | `send orders` | `CLIENT` | one per `SendMessageBatch` request (retries are new requests) | none (the producer's buffer task) | each message's creation context | `messaging.batch.message_count` |
//! | `receive orders` | `CLIENT` | one per `ReceiveMessage` request of a consumer | none (a poller) | each received message's creation context | `messaging.batch.message_count` (0 for an empty receive) |
//! | `process orders` | `CONSUMER` | one per handler call: a message, or a batch for a batch handler; in a Lambda function (`sqskit::lambda`, feature `lambda`), one per record, a child of the current span (the invocation's), without `aws.sqs.queue.url` (the event names the queue's ARN) | the `receive` span that received the message (default), or the message's creation context ([`ProcessParent::Message`]) | the message's creation context (each message's, for a batch); with `ProcessParent::Message`, the `receive` span too | `messaging.message.id`, or `messaging.batch.message_count` for a batch |
//! | `ack orders`, `nack orders` | `CLIENT` | one per `DeleteMessageBatch` (`ack`) or `ChangeMessageVisibilityBatch` (`nack`: a retry or a release) request settling handled messages (operation type `settle`) | none | | `messaging.batch.message_count` |
//!
//! The message's **creation context** is the context a producer propagated with it: the `traceparent` and
//! `tracestate` message attributes (W3C Trace Context), or else the `AWSTraceHeader` system attribute (the AWS
//! X-Ray header `Root=1-{8 hex: epoch seconds}-{24 hex};Parent={16 hex};Sampled={0|1}`, whose root is the W3C
//! trace id, the 8 and 24 digits joined, and whose parent is the span id; read with `opentelemetry-aws`). When a
//! message carries both and they differ, both are linked.
//!
//! `error.type` values (low cardinality, as the conventions ask): for an SQS error, its code as AWS's API
//! reference spells it (`QueueDoesNotExist`, `ThrottlingException`, ...); otherwise `transport`, `timeout`,
//! `encode`, `decode`, `invalid_message`, `checksum_mismatch`, `shutdown` or `_OTHER`. A `process` span
//! records the failure of the processing: `retry`, `retry_after`, `dead_letter`, `timed_out`, `lost`,
//! `panicked`, `poison` (undecodable, or damaged in transit), and in a Lambda function `in_progress` (its
//! idempotency key is being processed elsewhere) and `store_unavailable` (an acknowledged, released or
//! duplicate message is no failure). A settle span whose messages were all given up after
//! retries has `error.type` `failed`.
//!
//! # Propagation
//! A producer injects the context of the message's `create` span into the `traceparent` (and, when the trace
//! state is not empty, `tracestate`) message attributes, W3C Trace Context format. Those count toward SQS's
//! limit of 10 message attributes: when the message has no room left, the context is not injected (and when it
//! has room for one, `tracestate` is left out), with a debug log; turning tracing on never makes a send fail.
//! A context the caller chose is left as it is and no `create` span is made for it (the conventions' "custom
//! creation context"): a `traceparent` attribute set by hand, or
//! [`SendOptions::trace_context`](crate::SendOptions::trace_context). When no OpenTelemetry layer is installed,
//! propagation falls back to [`TraceContext`](crate::trace_context::TraceContext)'s ambient context.
//!
//! A consumer asks SQS for `traceparent`, `tracestate` and `AWSTraceHeader`. While a handler runs, its
//! `process` span is the current span: the handler's own spans are its children, and its sends continue the
//! trace from there.
//!
//! # Sources
//! - Messaging spans (span names, operation types, span kinds, trace structure, links, "Message creation
//!   context as parent of Process span", attributes):
//!   <https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/>. Operation types `create`,
//!   `send`, `receive`, `process`, `settle`; span kinds `create` → `PRODUCER`, `send` → `PRODUCER` when its
//!   context is the creation context, otherwise `CLIENT`, `receive` → `CLIENT`, `process` → `CONSUMER`.
//!   "Process" and "Receive" spans SHOULD link to each message's creation context; a single message's
//!   "Process" span MAY use the creation context as its parent, which is not recommended by default when
//!   processing happens in the scope of another span (then that span is linked instead). A library that
//!   usually sends in batches SHOULD make a "Create" span per message and a "Send" span per batch that links
//!   them; a custom creation context SHOULD NOT be modified, and no "Create" span made for it.
//! - AWS SQS attributes (`messaging.system` `aws_sqs`, `aws.sqs.queue.url`, `messaging.message.id`,
//!   `error.type`): <https://opentelemetry.io/docs/specs/semconv/messaging/sqs/>.
//! - `messaging.batch.message_count` is set on batch operations only
//!   (<https://opentelemetry.io/docs/specs/semconv/registry/attributes/messaging/>).
//! - W3C Trace Context (`traceparent`, `tracestate`): <https://www.w3.org/TR/trace-context/>.
//! - X-Ray tracing header: <https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader>;
//!   trace id format <https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-traceids>.

mod spans;

#[cfg(feature = "otel")]
mod propagation;

#[cfg(feature = "lambda")]
pub(crate) use spans::lambda_process_span;
pub(crate) use spans::{
    Creation, Origin, batch_process_span, inject_current, process_outcome, process_span, receive_done, receive_span,
    record_error, send_span, settle_outcome, settle_span,
};

#[cfg(feature = "otel")]
pub use propagation::message_creation_contexts;

/// The `messaging.system` of every span: `aws_sqs`.
#[cfg(feature = "otel")]
pub const MESSAGING_SYSTEM: &str = "aws_sqs";

/// What a message's `process` span is the child of (the conventions leave the choice to the instrumentation,
/// and ask it to document it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub enum ProcessParent {
    /// The consumer's `receive` span that received the message; the message's creation context is linked.
    /// The conventions' default: the producer's and the consumer's traces stay apart, joined by links.
    #[default]
    Receive,
    /// The message's creation context (when it has one), so that the producer and the consumer share one
    /// trace; the creation context and the `receive` span are linked. A batch handler's span keeps the
    /// `receive` span as its parent (a span has one parent; a batch has many creation contexts).
    Message,
}
