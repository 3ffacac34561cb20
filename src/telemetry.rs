//! Telemetry: every metric name, label name and span name sqskit emits, in one place, and the W3C trace
//! context attribute.
//!
//! # Metrics
//! sqskit records through the [`metrics`] facade and installs no recorder: pick an exporter (for example
//! `metrics-exporter-prometheus`) and install it in the application; without one, recording costs next to
//! nothing. Names follow Prometheus conventions (`_total` counters, `_seconds` durations). The `queue` label is
//! the queue's name (the last segment of its URL), not the whole URL.
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | [`MESSAGES_SENT`] `sqskit_messages_sent_total` | counter | `queue` | messages a producer got a `MessageId` for (retries count once) |
//! | [`MESSAGES_SEND_FAILED`] `sqskit_messages_send_failed_total` | counter | `queue` | messages a producer finally failed to send (after retries) |
//! | [`MESSAGES_RECEIVED`] `sqskit_messages_received_total` | counter | `queue` | messages a consumer received |
//! | [`MESSAGES_ACKED`] `sqskit_messages_acked_total` | counter | `queue` | messages acknowledged by their handler whose delete SQS confirmed |
//! | [`MESSAGES_RETRIED`] `sqskit_messages_retried_total` | counter | `queue` | messages put back with a retry delay (`Outcome::Retry`, `RetryAfter`), confirmed by SQS |
//! | [`MESSAGES_DEAD_LETTERED`] `sqskit_messages_dead_lettered_total` | counter | `queue` | messages the consumer moved to its dead-letter queue |
//! | [`HANDLER_DURATION`] `sqskit_handler_duration_seconds` | histogram | `queue` | handler latency, per call (a batch handler's call counts once) |
//! | [`HANDLER_TIMEOUTS`] `sqskit_handler_timeouts_total` | counter | `queue` | handler calls that reached the handler timeout (their cancellation token fired) |
//! | [`HANDLERS_DROPPED`] `sqskit_handlers_dropped_total` | counter | `queue` | timed-out handler calls dropped at the end of their grace period (messages retried) |
//! | [`MESSAGE_AGE`] `sqskit_message_age_seconds` | histogram | `queue` | time from `SentTimestamp` to receive (SQS's clock against ours) |
//! | [`RECEIVE_COUNT`] `sqskit_message_receive_count` | histogram | `queue` | `ApproximateReceiveCount` of each received message |
//! | [`MESSAGES_IN_FLIGHT`] `sqskit_messages_in_flight` | gauge | `queue` | messages a consumer holds: received, not yet settled or given up |
//! | [`HEARTBEAT_EXTENSIONS`] `sqskit_heartbeat_extensions_total` | counter | `queue` | visibility extensions made by the heartbeat (one per message) |
//! | [`API_CALLS`] `sqskit_api_calls_total` | counter | `action`, `outcome` | SQS requests made by producers, consumers and monitors; `outcome` is `ok` or `error` |
//! | [`BATCH_SIZE`] `sqskit_batch_size` | histogram | `action` | entries per `SendMessageBatch`, `DeleteMessageBatch`, `ChangeMessageVisibilityBatch`; messages per `ReceiveMessage` |
//! | [`FLOW_LIMIT`] `sqskit_flow_limit` | gauge | `queue`, `limit` | the current throttling-aware limit ([`crate::flow`]): `limit` is `producer_requests` (requests in flight), `producer_rate` (requests started per second while paced, 0 while unpaced: [`RatePacer`](crate::flow::RatePacer)) or `consumer_pollers` (active receive loops) |
//! | [`REQUESTS_THROTTLED`] `sqskit_requests_throttled_total` | counter | `queue`, `limit` | throttled answers ([`Error::is_throttling`](crate::Error::is_throttling)) seen by that limit's requests |
//! | [`ROUTER_MESSAGES`] `sqskit_router_messages_total` | counter | `router`, `outcome` | messages a [`Router`](crate::consumer::Router) saw; `outcome` is `routed` (handed to the handler of their type), `unknown` (no handler for the type, or no type) or `undecodable` (dead-lettered: the type's codec rejected the payload) |
//! | [`LAMBDA_RECORDS`] `sqskit_lambda_records_total` | counter | `queue`, `outcome` | records of Lambda SQS events (feature `lambda`); `outcome` is `processed`, `duplicate` (a completed idempotency key), `failed`, `poison` (reported as failed too) or `skipped` (after an earlier failure of its FIFO group or batch) |
//! | [`QUEUE_MESSAGES`] `sqskit_queue_messages` | gauge | `queue`, `state` | a [`QueueMonitor`](crate::monitor::QueueMonitor)'s last reading; `state` is `visible`, `in_flight`, `delayed` or `dead_letter` |
//!
//! API calls and batch sizes are counted for the requests sqskit's producers, consumers and monitors make
//! (they wrap their backend); requests an application makes directly on a backend are not counted.
//!
//! # Spans
//! [`tracing`] spans (fields in parentheses; `outcome` and counts are recorded when known):
//! [`SPAN_SEND`] (`queue`, `batch_size`, `outcome`), [`SPAN_RECEIVE`] (`queue`, `max_messages`, `received`),
//! [`SPAN_PROCESS`] (`queue`, `message_id`, `receive_count`, `group_id`, `traceparent`, `aws_trace_header`,
//! `outcome`; a batch handler's span has `batch_size` instead of the message fields), [`SPAN_SETTLE`]
//! (`queue`, `operation`, `batch_size`, `outcome`), [`SPAN_HEARTBEAT`] (`queue`, `batch_size`) and
//! [`SPAN_MONITOR`] (`queue`). With the feature `otel`, a producer also makes a [`SPAN_CREATE`] span per message,
//! and the send, receive, create and process spans carry OpenTelemetry's messaging semantic conventions, parents
//! and links: see `sqskit::otel`.
//!
//! # Trace context
//! A producer puts a W3C `traceparent` ([`TraceContext`](crate::trace_context::TraceContext)) in the
//! [`TRACEPARENT_ATTRIBUTE`] message attribute, and a consumer hands it to the handler; see
//! [`trace_context`](crate::trace_context).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

/// Counter: messages a producer sent (SQS returned their `MessageId`). Label `queue`.
pub const MESSAGES_SENT: &str = "sqskit_messages_sent_total";
/// Counter: messages a producer finally failed to send. Label `queue`.
pub const MESSAGES_SEND_FAILED: &str = "sqskit_messages_send_failed_total";
/// Counter: messages a consumer received. Label `queue`.
pub const MESSAGES_RECEIVED: &str = "sqskit_messages_received_total";
/// Counter: messages acknowledged by their handler and deleted. Label `queue`.
pub const MESSAGES_ACKED: &str = "sqskit_messages_acked_total";
/// Counter: messages put back with a retry delay. Label `queue`.
pub const MESSAGES_RETRIED: &str = "sqskit_messages_retried_total";
/// Counter: messages the consumer moved to its dead-letter queue. Label `queue`.
pub const MESSAGES_DEAD_LETTERED: &str = "sqskit_messages_dead_lettered_total";
/// Histogram (seconds): handler latency per call. Label `queue`.
pub const HANDLER_DURATION: &str = "sqskit_handler_duration_seconds";
/// Counter: handler calls that reached the consumer's handler timeout. Label `queue`.
pub const HANDLER_TIMEOUTS: &str = "sqskit_handler_timeouts_total";
/// Counter: timed-out handler calls dropped after their grace period. Label `queue`.
pub const HANDLERS_DROPPED: &str = "sqskit_handlers_dropped_total";
/// Histogram (seconds): age of a message when received, from its `SentTimestamp`. Label `queue`.
pub const MESSAGE_AGE: &str = "sqskit_message_age_seconds";
/// Histogram: `ApproximateReceiveCount` of each received message. Label `queue`.
pub const RECEIVE_COUNT: &str = "sqskit_message_receive_count";
/// Gauge: messages a consumer holds (received, not yet settled). Label `queue`.
pub const MESSAGES_IN_FLIGHT: &str = "sqskit_messages_in_flight";
/// Counter: visibility extensions made by the heartbeat. Label `queue`.
pub const HEARTBEAT_EXTENSIONS: &str = "sqskit_heartbeat_extensions_total";
/// Counter: SQS requests. Labels `action` (the SQS action name) and `outcome` (`ok` or `error`).
pub const API_CALLS: &str = "sqskit_api_calls_total";
/// Histogram: entries per batch request, messages per receive. Label `action`.
pub const BATCH_SIZE: &str = "sqskit_batch_size";
/// Gauge: a queue monitor's last reading. Labels `queue` and `state`.
pub const QUEUE_MESSAGES: &str = "sqskit_queue_messages";

/// Gauge: the current throttling-aware limit. Labels `queue` and `limit` ([`FLOW_PRODUCER_REQUESTS`],
/// [`FLOW_PRODUCER_RATE`] or [`FLOW_CONSUMER_POLLERS`]).
pub const FLOW_LIMIT: &str = "sqskit_flow_limit";
/// Counter: throttled answers to a producer's sends or a consumer's receives. Labels `queue` and `limit`.
pub const REQUESTS_THROTTLED: &str = "sqskit_requests_throttled_total";
/// Value of the `limit` label: a producer's requests in flight.
pub const FLOW_PRODUCER_REQUESTS: &str = "producer_requests";
/// Value of the `limit` label: a producer's paced request rate (requests per second; 0 while unpaced).
pub const FLOW_PRODUCER_RATE: &str = "producer_rate";
/// Value of the `limit` label: a consumer's active pollers.
pub const FLOW_CONSUMER_POLLERS: &str = "consumer_pollers";

/// Counter: messages a [`Router`](crate::consumer::Router) saw. Labels `router` (its name) and `outcome`
/// (`routed`, `unknown`, `undecodable`).
pub const ROUTER_MESSAGES: &str = "sqskit_router_messages_total";

/// Counter: records of Lambda SQS events. Labels `queue` and `outcome` (`processed`, `duplicate`, `failed`,
/// `poison`, `skipped`).
pub const LAMBDA_RECORDS: &str = "sqskit_lambda_records_total";

/// Label: the queue's name.
pub const LABEL_QUEUE: &str = "queue";
/// Label: a router's name.
pub const LABEL_ROUTER: &str = "router";
/// Label: the SQS action, as AWS names it (`SendMessageBatch`, `ReceiveMessage`, ...).
pub const LABEL_ACTION: &str = "action";
/// Label of [`FLOW_LIMIT`] and [`REQUESTS_THROTTLED`]: which limit.
pub const LABEL_LIMIT: &str = "limit";
/// Label: `ok` or `error`.
pub const LABEL_OUTCOME: &str = "outcome";
/// Label of [`QUEUE_MESSAGES`]: `visible`, `in_flight`, `delayed` or `dead_letter`.
pub const LABEL_STATE: &str = "state";

/// Span: one message a producer sends, from the call until SQS accepted it or the send failed (feature `otel`
/// only: the message's creation context, see `sqskit::otel`).
pub const SPAN_CREATE: &str = "sqskit.create";
/// Span: one `SendMessageBatch` request of a producer.
pub const SPAN_SEND: &str = "sqskit.send";
/// Span: one `ReceiveMessage` request of a consumer.
pub const SPAN_RECEIVE: &str = "sqskit.receive";
/// Span: processing one message (or one batch, with a batch handler).
pub const SPAN_PROCESS: &str = "sqskit.process";
/// Span: one `DeleteMessageBatch` or `ChangeMessageVisibilityBatch` request settling outcomes.
pub const SPAN_SETTLE: &str = "sqskit.settle";
/// Span: one heartbeat `ChangeMessageVisibilityBatch` request.
pub const SPAN_HEARTBEAT: &str = "sqskit.heartbeat";
/// Span: one queue monitor poll.
pub const SPAN_MONITOR: &str = "sqskit.monitor";

/// The message attribute carrying the W3C `traceparent`. It counts toward SQS's limit of 10 message
/// attributes per message.
pub const TRACEPARENT_ATTRIBUTE: &str = "traceparent";

/// The message attribute carrying the W3C `tracestate` (feature `otel`; sent only when not empty). It counts
/// toward SQS's limit of 10 message attributes per message.
pub const TRACESTATE_ATTRIBUTE: &str = "tracestate";

/// The queue's name: the last path segment of its URL (the whole string when it has no `/`).
pub fn queue_name(queue_url: &str) -> &str {
    queue_url.trim_end_matches('/').rsplit('/').next().unwrap_or(queue_url)
}

/// A duration as the seconds a histogram records.
pub(crate) fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// A producer's metric handles (registered once, with the recorder installed at build time).
#[derive(Debug, Clone)]
pub(crate) struct ProducerMetrics {
    pub(crate) sent: Counter,
    pub(crate) send_failed: Counter,
}

impl ProducerMetrics {
    pub(crate) fn new(queue_url: &str) -> Self {
        let queue = queue_name(queue_url).to_owned();
        Self {
            sent: counter!(MESSAGES_SENT, LABEL_QUEUE => queue.clone()),
            send_failed: counter!(MESSAGES_SEND_FAILED, LABEL_QUEUE => queue),
        }
    }
}

/// The metric handles of one throttling-aware limit ([`FLOW_LIMIT`], [`REQUESTS_THROTTLED`]).
#[derive(Debug, Clone)]
pub(crate) struct FlowMetrics {
    pub(crate) limit: Gauge,
    pub(crate) throttled: Counter,
}

impl FlowMetrics {
    pub(crate) fn new(queue_url: &str, limit: &'static str) -> Self {
        let queue = queue_name(queue_url).to_owned();
        Self {
            limit: gauge!(FLOW_LIMIT, LABEL_QUEUE => queue.clone(), LABEL_LIMIT => limit),
            throttled: counter!(REQUESTS_THROTTLED, LABEL_QUEUE => queue, LABEL_LIMIT => limit),
        }
    }

    /// The gauge of a producer's paced rate ([`FLOW_LIMIT`] with `limit` [`FLOW_PRODUCER_RATE`]).
    pub(crate) fn producer_rate(queue_url: &str) -> Gauge {
        gauge!(FLOW_LIMIT, LABEL_QUEUE => queue_name(queue_url).to_owned(), LABEL_LIMIT => FLOW_PRODUCER_RATE)
    }
}

/// A consumer's metric handles (registered once, when it starts).
#[derive(Debug, Clone)]
pub(crate) struct ConsumerMetrics {
    pub(crate) received: Counter,
    pub(crate) acked: Counter,
    pub(crate) retried: Counter,
    pub(crate) dead_lettered: Counter,
    pub(crate) handler_duration: Histogram,
    pub(crate) handler_timeouts: Counter,
    pub(crate) handlers_dropped: Counter,
    pub(crate) message_age: Histogram,
    pub(crate) receive_count: Histogram,
    pub(crate) in_flight: Gauge,
    pub(crate) heartbeat_extensions: Counter,
}

impl ConsumerMetrics {
    pub(crate) fn new(queue_url: &str) -> Arc<Self> {
        let queue = queue_name(queue_url).to_owned();
        let label = || [(LABEL_QUEUE, queue.clone())];
        Arc::new(Self {
            received: counter!(MESSAGES_RECEIVED, &label()),
            acked: counter!(MESSAGES_ACKED, &label()),
            retried: counter!(MESSAGES_RETRIED, &label()),
            dead_lettered: counter!(MESSAGES_DEAD_LETTERED, &label()),
            handler_duration: histogram!(HANDLER_DURATION, &label()),
            handler_timeouts: counter!(HANDLER_TIMEOUTS, &label()),
            handlers_dropped: counter!(HANDLERS_DROPPED, &label()),
            message_age: histogram!(MESSAGE_AGE, &label()),
            receive_count: histogram!(RECEIVE_COUNT, &label()),
            in_flight: gauge!(MESSAGES_IN_FLIGHT, &label()),
            heartbeat_extensions: counter!(HEARTBEAT_EXTENSIONS, &label()),
        })
    }

    /// Records a received message: the count, its receive count and (when `SentTimestamp` is known) its age.
    pub(crate) fn record_received(&self, receive_count: Option<u32>, sent_at: Option<SystemTime>) {
        self.received.increment(1);
        if let Some(count) = receive_count {
            self.receive_count.record(f64::from(count));
        }
        if let Some(sent_at) = sent_at {
            // A message "from the future" (clock skew) counts as age zero.
            self.message_age.record(seconds(SystemTime::now().duration_since(sent_at).unwrap_or_default()));
        }
    }
}

/// Counts a message in [`MESSAGES_IN_FLIGHT`] for as long as it lives.
#[derive(Debug)]
pub(crate) struct InFlightGuard(Gauge);

impl InFlightGuard {
    pub(crate) fn new(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge.clone())
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Counts one SQS request in [`API_CALLS`] and, for batch actions, its size in [`BATCH_SIZE`].
pub(crate) fn record_api_call(action: &'static str, ok: bool, batch_size: Option<usize>) {
    let outcome = if ok { "ok" } else { "error" };
    counter!(API_CALLS, LABEL_ACTION => action, LABEL_OUTCOME => outcome).increment(1);
    if let Some(size) = batch_size {
        histogram!(BATCH_SIZE, LABEL_ACTION => action).record(size as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_come_from_urls() {
        assert_eq!(queue_name("http://sqskit.embedded/000000000000/orders"), "orders");
        assert_eq!(queue_name("https://sqs.eu-west-1.amazonaws.com/1234/jobs.fifo/"), "jobs.fifo");
        assert_eq!(queue_name("plain"), "plain");
    }
}
