//! Where the orders go: connecting to SQS (real AWS through the standard aws-config environment, or any
//! emulator at an endpoint), finding or creating the orders queue and its dead-letter queue with a redrive
//! policy, counting what a queue holds, and reading back what the dead-letter queue holds.
//!
//! Every request here retries transient errors (throttling, 5xx, timeouts, dropped connections) under
//! [`setup_retry`], the producer's and consumer's own default policy, so that one throttled answer does not
//! stop a program before it has sent or received anything; a non-retryable error (a missing queue, a denied
//! permission) is returned at once, with what to do about it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use sqskit::backend::{AwsBackend, ReceiveRequest, SqsBackend};
use sqskit::consumer::DEAD_LETTER_REASON_ATTRIBUTE;
use sqskit::envelope::Envelope;
use sqskit::offload::{LargePayloads, S3PayloadStore};
use sqskit::retry::RetryPolicy;
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Error, ServiceErrorCode};

use super::model::Order;

/// A backend for `endpoint` (an emulator, or any SQS-compatible URL) or, without one, for real AWS as the
/// aws-config environment says (`AWS_REGION`, `AWS_PROFILE`, credentials, `AWS_ENDPOINT_URL_SQS`, ...).
///
/// With an endpoint, a missing region defaults to `us-east-1` and missing credentials to dummy ones, which
/// an emulator accepts.
///
/// # Errors
/// Without an endpoint: when no region is configured.
pub async fn connect(endpoint: Option<&str>) -> anyhow::Result<Arc<dyn SqsBackend>> {
    let Some(endpoint) = endpoint else {
        return Ok(Arc::new(AwsBackend::from_env().await?));
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(RegionProviderChain::default_provider().or_else("us-east-1"));
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none() {
        loader = loader.test_credentials();
    }
    Ok(Arc::new(AwsBackend::builder(&loader.load().await).build()))
}

/// Large-payload settings over `bucket`, with an S3 client from the aws-config environment (`AWS_REGION`,
/// credentials, `AWS_ENDPOINT_URL_S3`, ...). With `AWS_ENDPOINT_URL_S3` set (an S3-compatible server such as
/// moto_server), addressing is path-style, a missing region is `us-east-1` and missing credentials are dummy
/// ones, as for an emulator.
pub async fn s3_payloads(bucket: &str) -> LargePayloads {
    let custom = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(RegionProviderChain::default_provider().or_else("us-east-1"));
    if custom && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none() {
        loader = loader.test_credentials();
    }
    let config = aws_sdk_s3::config::Builder::from(&loader.load().await).force_path_style(custom).build();
    LargePayloads::new(S3PayloadStore::new(aws_sdk_s3::Client::from_conf(config)), bucket)
}

/// The orders queue and, when there is one, its dead-letter queue.
#[derive(Debug, Clone)]
pub struct Queues {
    /// The orders queue's URL.
    pub orders: String,
    /// The dead-letter queue's URL.
    pub dead_letter: Option<String>,
}

/// How to find the queues.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    /// The orders queue: a name or a URL.
    pub queue: String,
    /// The dead-letter queue: a name or a URL (default: the orders queue's name + `-dlq`).
    pub dead_letter: Option<String>,
    /// Create both, with a redrive policy, when missing (and set the policy when they exist).
    pub create: bool,
    /// The redrive policy's `maxReceiveCount`.
    pub max_receive_count: u32,
}

/// How the requests of this module retry transient errors: [`RetryPolicy::default`] (50 ms initial backoff
/// doubling to 5 s, full jitter, for at most 30 s), the policy the examples' producer and consumer use for
/// their own requests.
pub fn setup_retry() -> RetryPolicy {
    RetryPolicy::default()
}

/// Finds (or, if asked, creates) the queues of `spec`, retrying transient errors under [`setup_retry`].
///
/// # Errors
/// At once when the orders queue does not exist and `create` is off (the message says so and how to fix
/// it), or a request fails with a non-retryable error; after the retries when a transient error persists.
pub async fn resolve(backend: &Arc<dyn SqsBackend>, spec: &QueueSpec) -> anyhow::Result<Queues> {
    let name = queue_name(&spec.queue);
    let dead_letter = spec.dead_letter.clone().unwrap_or_else(|| format!("{name}-dlq"));
    if spec.create {
        let orders =
            create_with_dead_letter_queue(backend, name, queue_name(&dead_letter), spec.max_receive_count).await?;
        return Ok(Queues { orders: orders.0, dead_letter: Some(orders.1) });
    }
    let orders = match url_of(backend, &spec.queue).await {
        Ok(url) => url,
        Err(error) if is_missing(&error) => {
            return Err(anyhow::Error::new(error).context(format!(
                "queue {} does not exist (pass --create-queues to create it, or check --queue, --endpoint and the \
                 region)",
                spec.queue
            )));
        }
        Err(error) => {
            return Err(anyhow::Error::new(error).context(format!("could not look up queue {}", spec.queue)));
        }
    };
    let dead_letter = match url_of(backend, &dead_letter).await {
        Ok(url) => Some(url),
        Err(error) if is_missing(&error) => None,
        Err(error) => {
            return Err(
                anyhow::Error::new(error).context(format!("could not look up the dead-letter queue {dead_letter}"))
            );
        }
    };
    Ok(Queues { orders, dead_letter })
}

/// Creates `dead_letter` and `name` (or finds them) and sets `name`'s redrive policy: after
/// `max_receive_count` receives, SQS moves a message to `dead_letter`. Returns both URLs. Each request retries
/// transient errors under [`setup_retry`] (all of them are idempotent: `CreateQueue` with the same attributes
/// returns the existing queue).
///
/// # Errors
/// When a request fails with a non-retryable error, or a transient one persists beyond the retries.
pub async fn create_with_dead_letter_queue(
    backend: &Arc<dyn SqsBackend>,
    name: &str,
    dead_letter: &str,
    max_receive_count: u32,
) -> anyhow::Result<(String, String)> {
    let none = BTreeMap::new();
    let retry = setup_retry();
    let no_attributes = QueueAttributes::new();
    let dlq = retry
        .retry(|| backend.create_queue(dead_letter, &no_attributes, &none))
        .await
        .with_context(|| format!("could not create the dead-letter queue {dead_letter}"))?;
    let arn = retry
        .retry(|| backend.get_queue_attributes(&dlq, &[QueueAttributeName::QueueArn]))
        .await
        .with_context(|| format!("could not read the ARN of {dlq}"))?;
    let arn = arn.queue_arn().context("the dead-letter queue has no ARN")?.to_owned();
    let queue = retry
        .retry(|| backend.create_queue(name, &no_attributes, &none))
        .await
        .with_context(|| format!("could not create the queue {name}"))?;
    // Set rather than passed to CreateQueue, so that an existing queue gets the policy too.
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"{max_receive_count}"}}"#);
    let redrive = QueueAttributes::new().with(QueueAttributeName::RedrivePolicy, policy);
    retry
        .retry(|| backend.set_queue_attributes(&queue, &redrive))
        .await
        .with_context(|| format!("could not set the redrive policy of {queue}"))?;
    Ok((queue, dlq))
}

/// The last path segment of a queue URL, or the name itself.
pub fn queue_name(queue: &str) -> &str {
    queue.trim_end_matches('/').rsplit('/').next().unwrap_or(queue)
}

/// The URL of `queue` (a name or a URL, which is checked), retrying transient errors under [`setup_retry`].
async fn url_of(backend: &Arc<dyn SqsBackend>, queue: &str) -> Result<String, Error> {
    let retry = setup_retry();
    if queue.starts_with("http://") || queue.starts_with("https://") {
        retry.retry(|| backend.get_queue_attributes(queue, &[QueueAttributeName::QueueArn])).await?;
        Ok(queue.to_owned())
    } else {
        retry.retry(|| backend.get_queue_url(queue)).await
    }
}

fn is_missing(error: &Error) -> bool {
    error.code() == Some(&ServiceErrorCode::QueueDoesNotExist)
}

/// Messages a queue holds: visible, in flight, delayed. Retries transient errors under [`setup_retry`].
///
/// # Errors
/// When the request fails with a non-retryable error, or a transient one persists beyond the retries.
pub async fn depth(backend: &Arc<dyn SqsBackend>, queue: &str) -> anyhow::Result<(u64, u64, u64)> {
    let names = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ];
    let attributes = setup_retry().retry(|| backend.get_queue_attributes(queue, &names)).await?;
    Ok((
        attributes.approximate_number_of_messages().unwrap_or_default(),
        attributes.approximate_number_of_messages_not_visible().unwrap_or_default(),
        attributes.approximate_number_of_messages_delayed().unwrap_or_default(),
    ))
}

/// An order found in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The order.
    pub order_id: String,
    /// Copies of it in the dead-letter queue.
    pub copies: u32,
    /// Why: the consumer's reason when it dead-lettered the order itself; `None` when SQS's redrive policy
    /// moved it after too many receives.
    pub reason: Option<String>,
}

/// Reads every order in the dead-letter queue. Messages stay there: each is received once, with a
/// visibility timeout of `hold`, so one pass sees each message once. Receives retry transient errors under
/// [`setup_retry`].
///
/// # Errors
/// When a receive fails with a non-retryable error, or a transient one persists beyond the retries.
pub async fn dead_letters(backend: &Arc<dyn SqsBackend>, dlq: &str, hold: Duration) -> anyhow::Result<Vec<DeadLetter>> {
    let mut found: BTreeMap<String, DeadLetter> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let request =
        ReceiveRequest::new().max_messages(10).wait_time(Duration::ZERO).visibility_timeout(hold).all_attributes();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let retry = setup_retry();
    loop {
        let messages = retry.retry(|| backend.receive_message(dlq, &request)).await?;
        let fresh: Vec<_> = messages.into_iter().filter(|m| seen.insert(m.message_id.clone())).collect();
        if fresh.is_empty() {
            // A short poll may miss messages on real SQS (it samples servers): stop once none is visible.
            if depth(backend, dlq).await?.0 == 0 || tokio::time::Instant::now() > deadline {
                break;
            }
            continue;
        }
        for message in fresh {
            // Raw or SNS-shaped (see `worker::Shape`): the envelope is detected.
            let order_id = Envelope::Auto
                .open(&message.body)
                .ok()
                .and_then(|opened| serde_json::from_str::<Order>(&opened.payload).ok())
                .map(|order| order.order_id)
                .unwrap_or_else(|| format!("(undecodable message {})", message.message_id));
            let reason =
                message.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).and_then(|a| a.as_text()).map(str::to_owned);
            let entry = found.entry(order_id.clone()).or_insert(DeadLetter { order_id, copies: 0, reason: None });
            entry.copies += 1;
            entry.reason = entry.reason.take().or(reason);
        }
    }
    Ok(found.into_values().collect())
}
