//! The command-line arguments `order_producer` and `order_consumer` share: which SQS to talk to, which queues to
//! use and whether to create them. Each binary flattens [`QueueArgs`] into its own arguments. Also how both
//! report a failure: one line on stderr and a non-zero exit status ([`failed`]).

use std::process::ExitCode;
use std::sync::Arc;

use sqskit::backend::SqsBackend;

use super::queues::{self, QueueSpec, Queues};

/// Where the orders go: the endpoint, the orders queue and its dead-letter queue.
#[derive(Debug, Clone, clap::Args)]
pub struct QueueArgs {
    /// SQS endpoint, e.g. http://127.0.0.1:9324 for sqskit-emulator [default: real AWS, from the aws-config
    /// environment].
    #[arg(long, env = "AWS_ENDPOINT_URL_SQS")]
    pub endpoint: Option<String>,
    /// The orders queue: a name or a URL.
    #[arg(long, default_value = "orders")]
    pub queue: String,
    /// The dead-letter queue for orders that can never succeed [default: the queue's name + "-dlq"].
    #[arg(long)]
    pub dlq: Option<String>,
    /// Create the queue and its dead-letter queue, with a redrive policy, if they do not exist.
    #[arg(long)]
    pub create_queues: bool,
    /// maxReceiveCount of the redrive policy set by --create-queues.
    #[arg(long, default_value_t = 5)]
    pub max_receive_count: u32,
    /// Orders travel inside SNS notifications, as SQS receives them from an SNS topic without raw message
    /// delivery (the producer wraps them, the consumer opens them); both sides must agree.
    #[arg(long)]
    pub sns: bool,
    /// Orders larger than the queue takes travel through this S3 bucket, as AWS's extended clients send them
    /// (the S3 endpoint from the usual aws-config environment, e.g. AWS_ENDPOINT_URL_S3 for an S3-compatible
    /// server); both programs must name the same bucket.
    #[arg(long, value_name = "NAME")]
    pub s3_bucket: Option<String>,
}

impl QueueArgs {
    /// How to find (or create) the queues.
    pub fn spec(&self) -> QueueSpec {
        QueueSpec {
            queue: self.queue.clone(),
            dead_letter: self.dlq.clone(),
            create: self.create_queues,
            max_receive_count: self.max_receive_count,
        }
    }

    /// How orders travel (`--sns`).
    pub fn shape(&self) -> super::worker::Shape {
        if self.sns { super::worker::Shape::Sns } else { super::worker::Shape::Raw }
    }

    /// The large-payload settings for `--s3-bucket`, if given; see [`queues::s3_payloads`].
    pub async fn payloads(&self) -> Option<sqskit::offload::LargePayloads> {
        match &self.s3_bucket {
            Some(bucket) => Some(queues::s3_payloads(bucket).await),
            None => None,
        }
    }

    /// A backend for the endpoint (or real AWS); see [`queues::connect`].
    ///
    /// # Errors
    /// Without an endpoint: when no region is configured.
    pub async fn connect(&self) -> anyhow::Result<Arc<dyn SqsBackend>> {
        queues::connect(self.endpoint.as_deref()).await
    }

    /// Finds (or, with `--create-queues`, creates) the queues through `backend`.
    ///
    /// # Errors
    /// When the orders queue does not exist and `--create-queues` is off, or a request fails.
    pub async fn resolve(&self, backend: &Arc<dyn SqsBackend>) -> anyhow::Result<Queues> {
        queues::resolve(backend, &self.spec()).await
    }

    /// [`connect`](Self::connect), then [`resolve`](Self::resolve) through the new backend.
    ///
    /// # Errors
    /// As both.
    pub async fn open(&self) -> anyhow::Result<(Arc<dyn SqsBackend>, Queues)> {
        let backend = self.connect().await?;
        let queues = self.resolve(&backend).await?;
        Ok((backend, queues))
    }
}

/// The line a program prints when it stops on `error`: `<program>: <error>: <cause>: ...` (the whole chain of
/// causes on one line, without a backtrace).
pub fn failure_message(program: &str, error: &anyhow::Error) -> String {
    format!("{program}: {error:#}")
}

/// Prints [`failure_message`] to stderr and returns the exit status of a failed run (1).
pub fn failed(program: &str, error: &anyhow::Error) -> ExitCode {
    eprintln!("{}", failure_message(program, error));
    ExitCode::FAILURE
}
