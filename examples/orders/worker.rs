//! Both ends of the queue, configured once for the examples and the demo: the [`Producer`] that sends
//! orders (idempotency key = order id; concurrent sends merge into `SendMessageBatch` requests) and the
//! [`Consumer`] that runs each order through the [`Shop`] (retry backoff, message-level deduplication with
//! an [`IdempotencyStore`], dead-lettering of orders that can never succeed).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use sqskit::backend::SqsBackend;
use sqskit::codec::JsonCodec;
use sqskit::consumer::{Consumer, Delivery, IdempotencyKeySource, IdempotencyStore, RunningConsumer};
use sqskit::envelope::{Envelope, SnsEncoder};
use sqskit::lambda::SqsLambda;
use sqskit::offload::LargePayloads;
use sqskit::retry::{Jitter, RetryPolicy};
use sqskit::{IdempotencyKey, Producer};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::model::Order;
use super::queues::Queues;
use super::shop::Shop;

/// How orders travel through the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Shape {
    /// As bare JSON bodies, sent by the producer straight to the queue.
    #[default]
    Raw,
    /// Inside SNS notifications, as SQS receives them from an SNS topic the queue subscribes to without raw
    /// message delivery (`Type`, `MessageId`, `TopicArn`, `Subject`, `Message`, `Timestamp`): the producer
    /// wraps each order as SNS would (sqskit does not publish to SNS), the consumer opens the envelope.
    Sns,
}

/// The topic named in the SNS-shaped orders' notifications.
pub const ORDERS_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:000000000000:orders";

/// A producer of orders on `queue`, keyed by order id: a re-sent order carries the same key, so consumers
/// can recognise it (and on a FIFO queue SQS itself drops it within 5 minutes).
///
/// `build()` reads the queue's attributes, retrying transient errors (throttling, 5xx, lost answers) under
/// the producer's retry policy itself.
///
/// # Errors
/// When the queue's attributes cannot be read (a non-retryable error, or a transient one beyond the retries).
pub async fn producer(backend: Arc<dyn SqsBackend>, queue: &str) -> anyhow::Result<Producer<Order>> {
    producer_shaped(backend, queue, Shape::Raw).await
}

/// [`producer`], sending orders in `shape`. SNS-shaped orders carry no SQS message attributes (SNS puts
/// none on the messages it delivers without raw delivery): consumers key them by order id, from the body.
///
/// # Errors
/// As [`producer`].
pub async fn producer_shaped(
    backend: Arc<dyn SqsBackend>,
    queue: &str,
    shape: Shape,
) -> anyhow::Result<Producer<Order>> {
    producer_with_payloads(backend, queue, shape, None).await
}

/// [`producer_shaped`], sending orders larger than the queue takes through S3 when `payloads` is given
/// (`--s3-bucket`).
///
/// # Errors
/// As [`producer`].
pub async fn producer_with_payloads(
    backend: Arc<dyn SqsBackend>,
    queue: &str,
    shape: Shape,
    payloads: Option<LargePayloads>,
) -> anyhow::Result<Producer<Order>> {
    let mut builder = Producer::<Order>::builder(backend, queue);
    if let Some(payloads) = payloads {
        builder = builder.large_payloads(payloads);
    }
    let builder = match shape {
        Shape::Raw => builder.idempotency_key_fn(|order| Some(IdempotencyKey::from(order.order_id.as_str()))),
        Shape::Sns => builder.codec(SnsEncoder::new(JsonCodec, ORDERS_TOPIC_ARN).subject("order")),
    };
    builder.build().await.with_context(|| format!("could not start the producer on {queue}"))
}

/// How sending went.
#[derive(Debug, Default)]
pub struct SendTally {
    /// Messages SQS accepted.
    pub sent: u64,
    /// Orders that could not be sent, with the error.
    pub failed: Vec<(String, String)>,
}

/// Sends `orders` with up to `concurrency` sends in flight (the producer batches them), calling `progress`
/// after each.
pub async fn send_orders(
    producer: &Producer<Order>,
    orders: Vec<Order>,
    concurrency: usize,
    progress: impl Fn() + Send + Sync + 'static,
) -> SendTally {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let progress = Arc::new(progress);
    let mut sends = JoinSet::new();
    for order in orders {
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let producer = producer.clone();
        let progress = progress.clone();
        sends.spawn(async move {
            let result = producer.send(&order).await;
            drop(permit);
            progress();
            result.map(|_| ()).map_err(|error| (order.order_id, error.to_string()))
        });
    }
    let mut tally = SendTally::default();
    while let Some(joined) = sends.join_next().await {
        match joined {
            Ok(Ok(())) => tally.sent += 1,
            Ok(Err(failure)) => tally.failed.push(failure),
            Err(error) => tally.failed.push(("(send task)".to_owned(), error.to_string())),
        }
    }
    tally
}

/// Consumer settings that the examples expose as flags.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Orders processed at once.
    pub concurrency: usize,
    /// Visibility timeout of each receive: how long a crashed worker's orders stay hidden.
    pub visibility_timeout: Duration,
    /// The first retry's delay cap (doubling per receive, full jitter).
    pub retry_initial: Duration,
    /// The largest retry delay.
    pub retry_max: Duration,
}

/// Starts a consumer of `queues.orders` that runs every order through `shop`.
///
/// - A transient step failure returns the order with a delay from the retry backoff; after the queue's
///   `maxReceiveCount` receives SQS moves it to the dead-letter queue.
/// - A permanent one (an order that can never succeed) is sent to the dead-letter queue at once.
/// - `store` records completed order ids: a duplicate of a completed order is acknowledged without running
///   the shop again, and a duplicate of an order in progress waits until that attempt ends.
///
/// `build()` checks the queues once (transient errors retried); the running consumer stops by itself if
/// the queue becomes unusable (deleted, access revoked): see [`RunningConsumer::failed`].
///
/// # Errors
/// When the settings are out of range, or the queue or its dead-letter queue cannot be used (for example
/// it does not exist).
pub async fn start(
    backend: Arc<dyn SqsBackend>,
    queues: &Queues,
    shop: Arc<Shop>,
    store: Arc<dyn IdempotencyStore>,
    settings: WorkerSettings,
) -> anyhow::Result<RunningConsumer> {
    start_shaped(backend, queues, shop, store, settings, Shape::Raw).await
}

/// [`start`], for orders that travel in `shape` (the consumer opens SNS envelopes for [`Shape::Sns`]; a body
/// that is not a valid notification is poison, dead-lettered with the reason).
///
/// # Errors
/// As [`start`].
pub async fn start_shaped(
    backend: Arc<dyn SqsBackend>,
    queues: &Queues,
    shop: Arc<Shop>,
    store: Arc<dyn IdempotencyStore>,
    settings: WorkerSettings,
    shape: Shape,
) -> anyhow::Result<RunningConsumer> {
    start_with_payloads(backend, queues, shop, store, settings, shape, None).await
}

/// [`start_shaped`], fetching orders the producer sent through S3 when `payloads` is given (`--s3-bucket`).
///
/// # Errors
/// As [`start`].
pub async fn start_with_payloads(
    backend: Arc<dyn SqsBackend>,
    queues: &Queues,
    shop: Arc<Shop>,
    store: Arc<dyn IdempotencyStore>,
    settings: WorkerSettings,
    shape: Shape,
    payloads: Option<LargePayloads>,
) -> anyhow::Result<RunningConsumer> {
    let backoff = RetryPolicy::default()
        .initial_backoff(settings.retry_initial)
        .max_backoff(settings.retry_max)
        .jitter(Jitter::Full);
    let envelope = match shape {
        Shape::Raw => Envelope::Raw,
        Shape::Sns => Envelope::Sns,
    };
    let mut builder = Consumer::<Order>::builder(backend, &queues.orders)
        .envelope(envelope)
        .concurrency(settings.concurrency)
        .visibility_timeout(settings.visibility_timeout)
        .retry_backoff(backoff)
        .idempotency(store)
        .idempotency_key(|order, _| Some(IdempotencyKey::from(order.order_id.as_str())));
    if let Some(dead_letter) = &queues.dead_letter {
        builder = builder.dead_letter_queue(dead_letter);
    }
    if let Some(payloads) = payloads {
        builder = builder.large_payloads(payloads);
    }
    let consumer =
        builder.build().await.with_context(|| format!("could not start the consumer on {}", queues.orders))?;
    Ok(consumer.start(move |order: Delivery<Order>| {
        let shop = shop.clone();
        async move { shop.process(&order).await }
    }))
}

/// The same handler as a Lambda function (`examples/order_lambda.rs`): every order through `shop`, keyed by
/// order id in `store`, from a queue whose orders travel in `shape`. Failures are reported in the partial
/// batch response; poison orders reach the dead-letter queue through the queue's redrive policy.
pub fn lambda_function(shop: Arc<Shop>, shape: Shape, store: Arc<dyn IdempotencyStore>) -> SqsLambda<Order> {
    SqsLambda::builder(move |order: Delivery<Order>| {
        let shop = shop.clone();
        async move { shop.process(&order).await }
    })
    .envelope(match shape {
        Shape::Raw => Envelope::Raw,
        Shape::Sns => Envelope::Sns,
    })
    .idempotency(store)
    .idempotency_key_source(IdempotencyKeySource::Custom(Arc::new(|order: &Order, _| {
        Some(IdempotencyKey::from(order.order_id.as_str()))
    })))
    .build()
}
