//! [`ProducerBuilder`]: the producer's options, checked once, and the start of its background task.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::batcher::{Batcher, BatcherConfig};
use super::validate::QueueRules;
use super::{GroupFn, KeyFn, Producer, Shared};
use crate::backend::{MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES, SqsBackend, metered};
use crate::codec::Encode;
use crate::error::{Error, Result};
use crate::offload::LargePayloads;
use crate::retry::RetryPolicy;
use crate::types::{IdempotencyKey, QueueAttributeName, QueueAttributes};

/// Configures and starts a [`Producer`].
pub struct ProducerBuilder<T> {
    backend: Arc<dyn SqsBackend>,
    queue_url: String,
    encoder: Arc<dyn Encode<T>>,
    key_fn: Option<KeyFn<T>>,
    group_fn: Option<GroupFn<T>>,
    type_fn: Option<GroupFn<T>>,
    config: BatcherConfig,
    buffer_capacity: usize,
    queue_attributes: Option<QueueAttributes>,
    payloads: Option<LargePayloads>,
}

impl<T> std::fmt::Debug for ProducerBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("queue_url", &self.queue_url)
            .field("config", &self.config)
            .field("buffer_capacity", &self.buffer_capacity)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> ProducerBuilder<T> {
    /// A builder for a producer that encodes values with `codec`.
    pub fn with_codec(backend: Arc<dyn SqsBackend>, queue_url: impl Into<String>, codec: impl Encode<T>) -> Self {
        Self {
            backend,
            queue_url: queue_url.into(),
            encoder: Arc::new(codec),
            key_fn: None,
            group_fn: None,
            type_fn: None,
            config: BatcherConfig::default(),
            buffer_capacity: 1024,
            queue_attributes: None,
            payloads: None,
        }
    }

    /// Replaces the codec.
    pub fn codec(mut self, codec: impl Encode<T>) -> Self {
        self.encoder = Arc::new(codec);
        self
    }

    /// Derives each message's idempotency key from its value (unless the send sets one).
    pub fn idempotency_key_fn(mut self, key: impl Fn(&T) -> Option<IdempotencyKey> + Send + Sync + 'static) -> Self {
        self.key_fn = Some(Arc::new(key));
        self
    }

    /// Derives each message's `MessageGroupId` from its value (unless the send sets one).
    pub fn group_id_fn(mut self, group: impl Fn(&T) -> Option<String> + Send + Sync + 'static) -> Self {
        self.group_fn = Some(Arc::new(group));
        self
    }

    /// Names each message's type for a [`Router`](crate::consumer::Router) on a queue carrying several types:
    /// the [`MESSAGE_TYPE_ATTRIBUTE`](crate::envelope::MESSAGE_TYPE_ATTRIBUTE) attribute, derived from the value
    /// (for example from an enum's variant), unless the send sets it
    /// ([`SendOptions::message_type`](super::SendOptions::message_type)).
    pub fn message_type_fn(mut self, message_type: impl Fn(&T) -> Option<String> + Send + Sync + 'static) -> Self {
        self.type_fn = Some(Arc::new(message_type));
        self
    }

    /// Names the type of every message this producer sends (see [`message_type_fn`](Self::message_type_fn)).
    pub fn message_type(self, message_type: impl Into<String>) -> Self {
        let message_type = message_type.into();
        self.message_type_fn(move |_| Some(message_type.clone()))
    }

    /// How long a message may wait for others to share its request (default 5 ms; zero sends at once).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }

    /// Entries per `SendMessageBatch` (1..=10, default 10; 1 disables batching).
    pub fn max_batch_entries(mut self, entries: usize) -> Self {
        self.config.max_batch_entries = entries;
        self
    }

    /// Bytes (bodies and attributes) per `SendMessageBatch` (at most and by default 1 MiB).
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.config.max_batch_bytes = bytes;
        self
    }

    /// Requests in flight at once (default 8); further batches wait for a free slot. This is the ceiling of
    /// the throttling-aware limit ([`crate::flow`]): throttled sends lower it, successful ones raise it back.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.config.max_in_flight = requests;
        self
    }

    /// FIFO queues only: whether one `SendMessageBatch` may carry several messages of one message group
    /// (default `false`).
    ///
    /// Off, a group has at most one message in flight, so a retried message is never overtaken by a later
    /// message of its group, whatever SQS answers; a group then sends one message per round trip (other
    /// groups share the request). On, a group sends up to a full batch per round trip, but SQS reports each
    /// entry separately and does not document that it fails the later entries of a group when an earlier
    /// one fails: if it stores a later entry while failing an earlier one with a retryable error, the retry
    /// stores the earlier one after it (the producer logs a warning). Whole-request failures, throttling
    /// and timeouts keep the order either way. See "FIFO order" in [`crate::producer`].
    pub fn fifo_same_group_per_request(mut self, allowed: bool) -> Self {
        self.config.same_group_per_request = allowed;
        self
    }

    /// Messages that may wait in the channel to the buffer task before `send` waits (default 1024).
    pub fn buffer_capacity(mut self, capacity: usize) -> Self {
        self.buffer_capacity = capacity;
        self
    }

    /// The retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Gives up on one request attempt after this long (default 35 s, above the backends' own timeouts); the
    /// attempt then fails with [`Error::Timeout`] and is retried like any timeout.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.config.attempt_timeout = timeout;
        self
    }

    /// Uses these queue attributes (`FifoQueue`, `ContentBasedDeduplication`, `MaximumMessageSize`) instead
    /// of asking SQS with `GetQueueAttributes` when building.
    pub fn queue_attributes(mut self, attributes: QueueAttributes) -> Self {
        self.queue_attributes = Some(attributes);
        self
    }

    /// Sends messages larger than the threshold (default: the queue's maximum size) through S3, as pointers
    /// AWS's extended clients read (see [`crate::offload`]). The upload runs in the sending task, before the
    /// message enters the batch buffer: concurrent `send`s upload concurrently, `send_all` one payload after
    /// another.
    pub fn large_payloads(mut self, payloads: LargePayloads) -> Self {
        self.payloads = Some(payloads);
        self
    }

    /// Checks the options, reads the queue's attributes and starts the buffer task.
    ///
    /// The read retries transient errors (throttling, 5xx, timeouts, dropped connections) under the
    /// producer's [retry policy](Self::retry), like its sends, so one throttled answer does not stop a
    /// program at start-up.
    ///
    /// # Errors
    /// [`Error::Config`] for out-of-range options (and invalid [`LargePayloads`] settings); [`Error::QueueCheck`] (naming the queue, with the
    /// service's error inside: [`Error::code`] gives its code) when the queue's attributes cannot be read: at
    /// once for a non-retryable error (for example `QueueDoesNotExist`), after the retry policy gave up for a
    /// transient one.
    pub async fn build(self) -> Result<Producer<T>> {
        let config = self.config;
        let config_error = |reason: String| Err(Error::Config { reason });
        if !(1..=MAX_BATCH_ENTRIES).contains(&config.max_batch_entries) {
            return config_error(format!("max_batch_entries must be 1 to 10, not {}", config.max_batch_entries));
        }
        if !(1..=MAX_MESSAGE_BYTES).contains(&config.max_batch_bytes) {
            return config_error(format!("max_batch_bytes must be 1 to 1048576, not {}", config.max_batch_bytes));
        }
        if config.max_in_flight == 0 || self.buffer_capacity == 0 {
            return config_error("max_in_flight and buffer_capacity must be at least 1".to_owned());
        }
        if let Some(payloads) = &self.payloads {
            payloads.validate()?;
        }
        let backend = metered(self.backend);
        let attributes = match self.queue_attributes {
            Some(attributes) => attributes,
            None => config
                .retry
                .retry(|| backend.get_queue_attributes(&self.queue_url, &[QueueAttributeName::All]))
                .await
                .map_err(|error| {
                    let error = Error::QueueCheck { queue_url: self.queue_url.clone(), source: Box::new(error) };
                    tracing::error!(%error, "producer not started");
                    error
                })?,
        };
        let max_message_size =
            attributes.maximum_message_size().unwrap_or(MAX_MESSAGE_BYTES).min(config.max_batch_bytes);
        let rules = QueueRules {
            queue_url: self.queue_url.clone(),
            fifo: attributes.is_fifo(),
            content_based_deduplication: attributes.content_based_deduplication(),
            max_message_size,
        };
        let (commands, receiver) = mpsc::channel(self.buffer_capacity);
        let batcher = Batcher::new(backend, self.queue_url, rules.fifo, config);
        let flow = batcher.flow();
        let pacer = batcher.pacer();
        let task = tokio::spawn(batcher.run(receiver));
        Ok(Producer {
            shared: Arc::new(Shared {
                rules,
                encoder: self.encoder,
                key_fn: self.key_fn,
                group_fn: self.group_fn,
                type_fn: self.type_fn,
                commands,
                task: Mutex::new(Some(task)),
                flow,
                pacer,
                payloads: self.payloads,
            }),
        })
    }
}
