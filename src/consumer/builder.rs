//! [`ConsumerBuilder`]: every knob of a [`Consumer`], validated once in [`ConsumerBuilder::build`] into the
//! type-independent [`Config`] the running consumer shares.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::Consumer;
use super::delivery::MessageMeta;
use super::health::{ConsumerErrorEvent, DEFAULT_STOP_AFTER_RECEIVE_FAILURES, ErrorHook};
use super::idempotency_store::IdempotencyStore;
use super::options::{Heartbeat, IdempotencyKeySource, MAX_VISIBILITY, MAX_WAIT, PoisonAction, ResolvedHeartbeat};
use super::timeout::{HandlerLimits, confirmed_margin};
use crate::backend::{MAX_BATCH_ENTRIES, SqsBackend};
use crate::codec::{Decode, JsonCodec};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::offload::LargePayloads;
use crate::retry::{Jitter, RetryPolicy};
use crate::types::{IdempotencyKey, QueueAttributeName, SystemAttributeName};

/// The idempotency settings of a consumer.
#[derive(Debug, Clone)]
pub(crate) struct Idempotency {
    pub(crate) store: Arc<dyn IdempotencyStore>,
    pub(crate) completed_ttl: Duration,
}

/// The validated, type-independent settings of a consumer.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) queue_url: String,
    pub(crate) fifo: bool,
    pub(crate) envelope: Envelope,
    pub(crate) concurrency: usize,
    pub(crate) pollers: usize,
    /// How many messages a poller tries to ask for at once: 10, or the concurrency if smaller. Not the
    /// concurrency's share per poller: pollers take only free slots, so a full receive never overcommits,
    /// and dividing (32 slots / 4 pollers = 8) made every receive of the default consumer ask for 8.
    pub(crate) receive_batch: usize,
    pub(crate) receive_batch_wait: Duration,
    pub(crate) wait_time: Duration,
    pub(crate) visibility_timeout: Duration,
    pub(crate) message_attribute_names: Vec<String>,
    pub(crate) system_attribute_names: Vec<SystemAttributeName>,
    pub(crate) heartbeat: Option<ResolvedHeartbeat>,
    pub(crate) handler_limits: HandlerLimits,
    pub(crate) retry_backoff: RetryPolicy,
    pub(crate) api_retry: RetryPolicy,
    pub(crate) ack_linger: Duration,
    pub(crate) max_settle_requests: usize,
    pub(crate) dead_letter_queue: Option<String>,
    pub(crate) poison: PoisonAction,
    pub(crate) idempotency: Option<Idempotency>,
    pub(crate) settle_timeout: Duration,
    pub(crate) max_receive_backoff: Duration,
    pub(crate) stop_after_receive_failures: u32,
    pub(crate) on_error: ErrorHook,
    /// What a message's `process` span is the child of (feature `otel`).
    pub(crate) process_parent: crate::otel::ProcessParent,
    /// Where offloaded payloads are fetched from and deleted (see [`crate::offload`]).
    pub(crate) payloads: Option<LargePayloads>,
}

/// Configures a [`Consumer`]; see [`Consumer::builder`].
pub struct ConsumerBuilder<T> {
    backend: Arc<dyn SqsBackend>,
    queue_url: String,
    codec: Arc<dyn Decode<T>>,
    envelope: Envelope,
    key_source: IdempotencyKeySource<T>,
    concurrency: usize,
    pollers: Option<usize>,
    receive_batch_wait: Duration,
    wait_time: Duration,
    visibility_timeout: Duration,
    message_attribute_names: Vec<String>,
    system_attribute_names: Vec<SystemAttributeName>,
    heartbeat: Option<Heartbeat>,
    handler_timeout: Option<Duration>,
    handler_grace: Option<Duration>,
    retry_backoff: RetryPolicy,
    api_retry: RetryPolicy,
    ack_linger: Duration,
    max_settle_requests: usize,
    dead_letter_queue: Option<String>,
    poison: Option<PoisonAction>,
    store: Option<Arc<dyn IdempotencyStore>>,
    completed_ttl: Duration,
    settle_timeout: Duration,
    check_queue: bool,
    stop_after_receive_failures: u32,
    on_error: ErrorHook,
    process_parent: crate::otel::ProcessParent,
    payloads: Option<LargePayloads>,
    _type: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ConsumerBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerBuilder")
            .field("queue_url", &self.queue_url)
            .field("envelope", &self.envelope)
            .field("concurrency", &self.concurrency)
            .field("pollers", &self.pollers)
            .field("wait_time", &self.wait_time)
            .field("visibility_timeout", &self.visibility_timeout)
            .field("heartbeat", &self.heartbeat)
            .field("handler_timeout", &self.handler_timeout)
            .field("dead_letter_queue", &self.dead_letter_queue)
            .field("poison", &self.poison)
            .field("idempotency", &self.store.is_some())
            .field("check_queue", &self.check_queue)
            .field("stop_after_receive_failures", &self.stop_after_receive_failures)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> ConsumerBuilder<T> {
    pub(crate) fn new(backend: Arc<dyn SqsBackend>, queue_url: String) -> Self {
        Self::with_codec(backend, queue_url, Arc::new(JsonCodec))
    }
}

impl<T: Send + 'static> ConsumerBuilder<T> {
    pub(crate) fn with_codec(backend: Arc<dyn SqsBackend>, queue_url: String, codec: Arc<dyn Decode<T>>) -> Self {
        Self {
            backend,
            queue_url,
            codec,
            envelope: Envelope::Raw,
            key_source: IdempotencyKeySource::AttributeOrDeduplicationId,
            concurrency: 32,
            pollers: None,
            receive_batch_wait: Duration::from_millis(5),
            wait_time: MAX_WAIT,
            visibility_timeout: Duration::from_secs(30),
            message_attribute_names: vec!["All".to_owned()],
            system_attribute_names: Vec::new(),
            heartbeat: Some(Heartbeat::default()),
            handler_timeout: None,
            handler_grace: None,
            retry_backoff: RetryPolicy::default()
                .initial_backoff(Duration::from_secs(2))
                .max_backoff(Duration::from_secs(15 * 60))
                .jitter(Jitter::Full),
            api_retry: RetryPolicy::default(),
            ack_linger: Duration::from_millis(10),
            max_settle_requests: 16,
            dead_letter_queue: None,
            poison: None,
            store: None,
            completed_ttl: Duration::from_secs(60 * 60),
            settle_timeout: Duration::from_secs(10),
            check_queue: true,
            stop_after_receive_failures: DEFAULT_STOP_AFTER_RECEIVE_FAILURES,
            on_error: ErrorHook::default(),
            process_parent: crate::otel::ProcessParent::default(),
            payloads: None,
            _type: PhantomData,
        }
    }

    /// Decodes bodies with `codec` instead of JSON.
    pub fn codec(mut self, codec: impl Decode<T>) -> Self {
        self.codec = Arc::new(codec);
        self
    }

    /// The envelope bodies come in (default [`Envelope::Raw`]): with [`Envelope::Sns`] or
    /// [`Envelope::EventBridge`] the codec decodes the SNS `Message` or the EventBridge `detail`, and the
    /// envelope's fields are on [`MessageMeta::envelope`]; a body that is not a valid envelope is poison (see
    /// [`poison`](Self::poison)). See [`crate::envelope`] for what is decoded.
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }

    /// At most this many messages are held at once: being handled, waiting for their FIFO group, or being
    /// received (default 32; may be far above 10). Pollers ask only for as many messages as there are free
    /// slots, so nothing is prefetched beyond this.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// How many receive loops run at once (default: one per 10 slots of concurrency, at most 16). This is
    /// the ceiling of the throttling-aware limit on active pollers ([`crate::flow`]): throttled receives park
    /// pollers, successful ones bring them back (see [`ConsumerStats::active_pollers`](super::ConsumerStats)).
    pub fn pollers(mut self, pollers: usize) -> Self {
        self.pollers = Some(pollers);
        self
    }

    /// How long a poller that has fewer free slots than a full receive (10, or the whole concurrency if
    /// smaller) waits for more slots to free up before it receives anyway (default 5 ms). Under load this
    /// makes receives fuller (fewer requests per message); it never delays a receive by more than this.
    pub fn receive_batch_wait(mut self, wait: Duration) -> Self {
        self.receive_batch_wait = wait;
        self
    }

    /// The long-poll wait of each receive (default and maximum: 20 s). With zero (short polling), a poller
    /// pauses 20 ms after an empty receive.
    pub fn wait_time(mut self, wait_time: Duration) -> Self {
        self.wait_time = wait_time;
        self
    }

    /// The visibility timeout requested on every receive (default 30 s; whole seconds, rounded up). The
    /// heartbeat keeps longer handlers' messages invisible.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// Which message attributes to receive (default `All`). The `traceparent` and `tracestate` attributes are
    /// always added, and the idempotency attribute when an idempotency store is configured.
    pub fn message_attribute_names(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.message_attribute_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// What each message's `process` span is the child of: the `receive` span that received it (the default,
    /// as OpenTelemetry's messaging conventions recommend; the producer's span is linked), or the message's
    /// creation context, so that producer and consumer share one trace (see [`crate::otel`]).
    #[cfg(feature = "otel")]
    pub fn process_span_parent(mut self, parent: crate::otel::ProcessParent) -> Self {
        self.process_parent = parent;
        self
    }

    /// System attributes to receive besides those the consumer always asks for (`ApproximateReceiveCount`,
    /// `SentTimestamp`, `AWSTraceHeader`; on FIFO queues `MessageGroupId`, `MessageDeduplicationId` and
    /// `SequenceNumber`): for example `ApproximateFirstReceiveTimestamp`, or `All`.
    pub fn system_attribute_names(mut self, names: impl IntoIterator<Item = SystemAttributeName>) -> Self {
        self.system_attribute_names = names.into_iter().collect();
        self
    }

    /// Visibility heartbeat settings (on by default, see [`Heartbeat::default`]).
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Turns the visibility heartbeat off: a handler running longer than the visibility timeout lets its
    /// message be redelivered.
    pub fn without_heartbeat(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// How long a handler may run (default 15 minutes, shortened if needed to fit the limit below). At the
    /// timeout the handler's [`Delivery::cancellation`](super::Delivery::cancellation) token is cancelled; a
    /// handler that still runs after the [grace period](Self::handler_grace) is dropped. Either way, unless
    /// the handler returned an outcome in time, its message is put back like [`Outcome::Retry`](super::Outcome::Retry)
    /// (with the [retry backoff](Self::retry_backoff); the queue's redrive policy counts the attempt) and its
    /// idempotency lease is abandoned.
    ///
    /// The timeout plus the grace period must fit within how long the consumer keeps a message invisible:
    /// the heartbeat's [`max_total`](Heartbeat::max_total) (1 hour by default), or the visibility timeout
    /// without a heartbeat, less 2 s (a tenth of it at most) to settle. So a message never becomes visible
    /// again while its handler runs. A message that waited behind its FIFO group gets only what is left of
    /// that time.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = Some(timeout);
        self
    }

    /// How long a handler whose token was cancelled (at its timeout) may still run before it is dropped
    /// (default 10 s, at most a quarter of the limit described in [`handler_timeout`](Self::handler_timeout)).
    /// A handler that honours the token returns within it, and its own outcome applies.
    pub fn handler_grace(mut self, grace: Duration) -> Self {
        self.handler_grace = Some(grace);
        self
    }

    /// How [`Outcome::Retry`](super::Outcome::Retry) delays grow with the message's receive count: the delay
    /// after receive `n` is [`RetryPolicy::backoff`]`(n)` (default: 2 s doubling up to 15 min, full jitter).
    /// Only the policy's backoff and jitter settings are used here.
    pub fn retry_backoff(mut self, policy: RetryPolicy) -> Self {
        self.retry_backoff = policy;
        self
    }

    /// Retries of the consumer's own requests (receives, deletes, visibility changes, dead-letter sends) that
    /// fail with a retryable error (default [`RetryPolicy::default`]). They all draw from the policy's one
    /// [`RetryBudget`](crate::retry::RetryBudget), and successes refill it (throttled requests cost nothing:
    /// they are slowed down by [flow control](crate::flow) instead). Receives never give up (a
    /// consumer keeps polling), but with the budget spent a poller waits 10 s between failed receives
    /// instead of backing off from 100 ms.
    pub fn api_retry(mut self, policy: RetryPolicy) -> Self {
        self.api_retry = policy;
        self
    }

    /// How long an acknowledgement (or visibility change) waits for others to fill a batch of 10 before it
    /// is sent anyway (default 10 ms).
    pub fn ack_linger(mut self, linger: Duration) -> Self {
        self.ack_linger = linger;
        self
    }

    /// At most this many delete (and, separately, visibility) batch requests in flight (default 16).
    pub fn max_settle_requests(mut self, max: usize) -> Self {
        self.max_settle_requests = max;
        self
    }

    /// The queue that [`Outcome::DeadLetter`](super::Outcome::DeadLetter) and poison messages are sent to
    /// (a FIFO queue for a FIFO source: the group id is kept and the message id becomes the deduplication id).
    pub fn dead_letter_queue(mut self, queue_url: impl Into<String>) -> Self {
        self.dead_letter_queue = Some(queue_url.into());
        self
    }

    /// What to do with messages that cannot be decoded or fail their MD5 check (default: dead-letter them
    /// when a dead-letter queue is configured, else leave them for the queue's redrive policy).
    pub fn poison(mut self, action: PoisonAction) -> Self {
        self.poison = Some(action);
        self
    }

    /// Deduplicates processing through `store`: a message whose key was completed is acknowledged without
    /// running the handler; one whose key is being processed elsewhere is deferred until that lease ends.
    pub fn idempotency(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where idempotency keys come from (default
    /// [`IdempotencyKeySource::AttributeOrDeduplicationId`]). Messages without a key are processed without
    /// deduplication.
    pub fn idempotency_key_source(mut self, source: IdempotencyKeySource<T>) -> Self {
        self.key_source = source;
        self
    }

    /// Derives idempotency keys with `key` (shorthand for [`IdempotencyKeySource::Custom`]).
    pub fn idempotency_key(
        mut self,
        key: impl Fn(&T, &MessageMeta) -> Option<IdempotencyKey> + Send + Sync + 'static,
    ) -> Self {
        self.key_source = IdempotencyKeySource::Custom(Arc::new(key));
        self
    }

    /// How long a completed key is remembered (default 1 hour).
    pub fn idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.completed_ttl = ttl;
        self
    }

    /// Reads messages whose payload AWS's extended clients (or a sqskit producer with
    /// [`large_payloads`](crate::ProducerBuilder::large_payloads)) stored in S3: the payload is fetched before
    /// decoding, and its object deleted once SQS confirmed the message's deletion (unless
    /// [`LargePayloads::keep_payloads`]). A missing object makes the message poison; an unavailable store puts
    /// it back for later. See [`crate::offload`].
    pub fn large_payloads(mut self, payloads: LargePayloads) -> Self {
        self.payloads = Some(payloads);
        self
    }

    /// During shutdown, how long pending acknowledgements and visibility changes may take to be flushed
    /// (default 10 s).
    pub fn settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// Whether [`build`](Self::build) checks the queue (and the dead-letter queue) with one
    /// `GetQueueAttributes` request each (default `true`). Turn it off only for credentials that may receive
    /// but not call `sqs:GetQueueAttributes`: a wrong queue then shows only once the consumer runs (it stops
    /// after [`stop_after_receive_failures`](Self::stop_after_receive_failures) failed receives).
    pub fn check_queue(mut self, check: bool) -> Self {
        self.check_queue = check;
        self
    }

    /// The running consumer stops by itself after this many consecutive receives failed with an error
    /// saying the queue cannot be used ([`Error::is_queue_unusable`]: it does not exist or was deleted, access
    /// is denied, the credentials are invalid or expired, the KMS key cannot be used); default 10. The count
    /// is shared by all pollers (a success or another kind of failure on any of them resets it), so with one
    /// poller it takes about the sum of 10 [`api_retry`](Self::api_retry) backoffs (seconds), with 16 pollers
    /// failing together one or two. Then
    /// [`RunningConsumer::failed`](super::RunningConsumer::failed) completes and
    /// [`Consumer::run_until`](super::Consumer::run_until) returns an [`Error::ConsumerStopped`]. Transient
    /// failures (throttling, 5xx, timeouts) never stop a consumer. At least 1.
    pub fn stop_after_receive_failures(mut self, failures: u32) -> Self {
        self.stop_after_receive_failures = failures;
        self
    }

    /// Calls `hook` for every failure of the consumer's own requests: each failed receive (whether the
    /// poller tries again or the consumer stops), each acknowledgement or visibility change that finally
    /// failed, each failed heartbeat request. Failures are logged as warnings either way; the hook lets a
    /// service count them, alert, or flip a readiness flag. It runs on the consumer's tasks: keep it short
    /// and never block in it.
    pub fn on_error(mut self, hook: impl Fn(&ConsumerErrorEvent) + Send + Sync + 'static) -> Self {
        self.on_error = ErrorHook::new(hook);
        self
    }

    /// Checks the settings and the queue, and builds the consumer.
    ///
    /// Unless [turned off](Self::check_queue), it reads the queue's attributes once (and the dead-letter
    /// queue's, when one is configured), retrying transient errors (throttling, 5xx, timeouts, dropped
    /// connections) under the [`api_retry`](Self::api_retry) policy, so that one throttled answer does not
    /// stop a program while a wrong URL or a missing permission stops it at once.
    ///
    /// # Errors
    /// [`Error::Config`] for out-of-range settings: zero concurrency or pollers, a wait above 20 s, a
    /// visibility timeout outside 1 s..=12 h, a heartbeat whose interval is zero or whose threshold is not
    /// below the visibility timeout, a zero handler timeout, a handler timeout and grace period that do
    /// not fit within the heartbeat's `max_total` (the visibility timeout without a heartbeat), or
    /// `stop_after_receive_failures(0)`.
    ///
    /// [`Error::QueueCheck`] (naming the queue, with the service's error inside: [`Error::code`] gives its
    /// code) when the queue or the dead-letter queue cannot be read: at once for a non-retryable error such
    /// as `QueueDoesNotExist` or `AccessDenied`, after the retry policy gave up for a transient one.
    pub async fn build(self) -> Result<Consumer<T>> {
        let config = self.config()?;
        if self.check_queue {
            let backend = crate::backend::metered(self.backend.clone());
            let queues = std::iter::once(&config.queue_url).chain(config.dead_letter_queue.as_ref());
            for queue_url in queues {
                let check = config
                    .api_retry
                    .retry(|| backend.get_queue_attributes(queue_url, &[QueueAttributeName::QueueArn]))
                    .await;
                if let Err(error) = check {
                    let error = Error::QueueCheck { queue_url: queue_url.clone(), source: Box::new(error) };
                    tracing::error!(%error, "consumer not started");
                    return Err(error);
                }
            }
        }
        Ok(Consumer { backend: self.backend, codec: self.codec, key_source: self.key_source, config })
    }

    fn config(&self) -> Result<Config> {
        let invalid = |reason: String| Err(Error::Config { reason });
        if self.concurrency == 0 {
            return invalid("consumer concurrency must be at least 1".to_owned());
        }
        let pollers = self.pollers.unwrap_or_else(|| self.concurrency.div_ceil(MAX_BATCH_ENTRIES).clamp(1, 16));
        if pollers == 0 {
            return invalid("a consumer needs at least one poller".to_owned());
        }
        if self.wait_time > MAX_WAIT {
            return invalid(format!("wait time {:?} is above SQS's maximum of 20 s", self.wait_time));
        }
        let visibility =
            Duration::from_secs(u64::from(crate::types::wire_seconds(self.visibility_timeout).unsigned_abs()));
        if visibility.is_zero() || visibility > MAX_VISIBILITY {
            return invalid(format!("visibility timeout {:?} must be within 1 s..=12 h", self.visibility_timeout));
        }
        let hold = self.heartbeat.as_ref().map_or(visibility, |heartbeat| heartbeat.hold(visibility));
        let handler_limits =
            HandlerLimits::resolve(self.handler_timeout, self.handler_grace, hold, self.heartbeat.is_some())?;
        let extension_room = handler_limits.grace + confirmed_margin(visibility);
        let heartbeat =
            self.heartbeat.as_ref().map(|heartbeat| heartbeat.resolve(visibility, extension_room)).transpose()?;
        if self.stop_after_receive_failures == 0 {
            return invalid("stop_after_receive_failures must be at least 1".to_owned());
        }
        if self.max_settle_requests == 0 {
            return invalid("max_settle_requests must be at least 1".to_owned());
        }
        let mut message_attribute_names = self.message_attribute_names.clone();
        let wants_all = message_attribute_names.iter().any(|name| name == "All" || name == ".*");
        if self.store.is_some() && !wants_all {
            message_attribute_names.push(crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE.to_owned());
        }
        if !wants_all {
            message_attribute_names.push(crate::telemetry::TRACEPARENT_ATTRIBUTE.to_owned());
            message_attribute_names.push(crate::telemetry::TRACESTATE_ATTRIBUTE.to_owned());
        }
        if let Some(payloads) = &self.payloads {
            payloads.validate()?;
            if !wants_all {
                message_attribute_names.extend(
                    [crate::offload::RESERVED_ATTRIBUTE_NAME, crate::offload::LEGACY_RESERVED_ATTRIBUTE_NAME]
                        .map(str::to_owned),
                );
            }
        }
        let poison = self.poison.unwrap_or(if self.dead_letter_queue.is_some() {
            PoisonAction::DeadLetter
        } else {
            PoisonAction::LeaveForRedrive
        });
        Ok(Config {
            fifo: self.queue_url.ends_with(".fifo"),
            envelope: self.envelope,
            queue_url: self.queue_url.clone(),
            concurrency: self.concurrency,
            pollers,
            receive_batch: self.concurrency.min(MAX_BATCH_ENTRIES),
            receive_batch_wait: self.receive_batch_wait,
            wait_time: self.wait_time,
            visibility_timeout: visibility,
            message_attribute_names,
            system_attribute_names: super::poller::system_attribute_names(
                self.queue_url.ends_with(".fifo"),
                &self.system_attribute_names,
            ),
            heartbeat,
            handler_limits,
            retry_backoff: self.retry_backoff.clone(),
            api_retry: self.api_retry.clone(),
            ack_linger: self.ack_linger,
            max_settle_requests: self.max_settle_requests,
            dead_letter_queue: self.dead_letter_queue.clone(),
            poison,
            idempotency: self.store.clone().map(|store| Idempotency { store, completed_ttl: self.completed_ttl }),
            settle_timeout: self.settle_timeout,
            max_receive_backoff: Duration::from_secs(10),
            stop_after_receive_failures: self.stop_after_receive_failures,
            on_error: self.on_error.clone(),
            process_parent: self.process_parent,
            payloads: self.payloads.clone(),
        })
    }
}
