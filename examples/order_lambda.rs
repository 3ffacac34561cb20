//! The order handler of `order_consumer` as an AWS Lambda function behind an SQS event source mapping (feature
//! `lambda`): the same `Shop::process` handler, the same idempotency key (the order id), answering each batch
//! with a partial batch response, so only the orders that failed come back.
//!
//! Deployed (for example with `cargo lambda build --release --example order_lambda`), it serves the Lambda
//! Runtime API. Turn on `ReportBatchItemFailures` on the event source mapping, and give the queue a redrive
//! policy: poison orders reach the dead-letter queue through it. Add `--sns` when the queue is fed by an SNS
//! topic without raw message delivery.
//!
//! Locally, without AWS, on an event file:
//!
//!     # an event with 10 orders received from an embedded SQS (real bodies, attributes, MD5s)
//!     cargo run --example order_lambda -- --make-event /tmp/orders.json --orders 10
//!     # runs the function on it and prints the SQSBatchResponse
//!     cargo run --example order_lambda -- --event /tmp/orders.json --failure-rate 0.3
//!     # AWS's documented sample event: both records are poison ("Test message." is not an order)
//!     cargo run --example order_lambda -- --event tests/fixtures/lambda/sqs-event-standard.json
//!
//! The ledger and the idempotency store live in the function's memory here (one container's); a fleet of
//! containers shares them through the `redis` or `dynamodb` stores, as `order_consumer --store` does.

#[allow(dead_code)]
#[path = "orders/mod.rs"]
mod orders;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use orders::ledger::Ledger;
use orders::model::order_book;
use orders::shop::{Faults, Shop};
use orders::worker::{self, Shape};
use sqskit::backend::{EmbeddedBackend, ReceiveRequest, SqsBackend};
use sqskit::consumer::InMemoryIdempotencyStore;
use sqskit::lambda::{SqsEvent, batch_response, sqs_event};
use sqskit::types::QueueAttributeName;

/// Runs the order handler as a Lambda function, or locally on an event file.
#[derive(Debug, Parser)]
struct Args {
    /// Process this SQS event file (JSON, as Lambda sends it) and print the SQSBatchResponse, instead of
    /// serving the Lambda Runtime API.
    #[arg(long, conflicts_with = "make_event")]
    event: Option<PathBuf>,
    /// Write an SQS event with `--orders` orders received from an embedded SQS to this file, and exit.
    #[arg(long)]
    make_event: Option<PathBuf>,
    /// Orders in the event written by `--make-event` (at most 10 per batch by default in Lambda; any number
    /// here).
    #[arg(long, default_value_t = 10)]
    orders: u64,
    /// Orders come inside SNS notifications (the queue is subscribed to a topic without raw message delivery).
    #[arg(long)]
    sns: bool,
    /// Probability that an attempt at an order fails in one of its steps (injected).
    #[arg(long, default_value_t = 0.0)]
    failure_rate: f64,
    /// Time each step takes, in milliseconds.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(status) => status,
        Err(error) => orders::cli::failed("order_lambda", &error),
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let shape = if args.sns { Shape::Sns } else { Shape::Raw };
    if let Some(path) = &args.make_event {
        let event = make_event(args.orders, shape).await?;
        std::fs::write(path, serde_json::to_string_pretty(&event)?)
            .with_context(|| format!("could not write {}", path.display()))?;
        println!("order_lambda: wrote an event with {} records to {}", event.records.len(), path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let faults = Faults { failure_rate: args.failure_rate, latency: Duration::from_millis(args.latency_ms) };
    let shop = Arc::new(Shop::new(faults, Arc::new(Ledger::in_memory())));
    let function = worker::lambda_function(shop.clone(), shape, Arc::new(InMemoryIdempotencyStore::new()));
    let Some(path) = &args.event else {
        function.run().await.map_err(|error| anyhow::anyhow!("{error} (run locally with --event FILE, see --help)"))?;
        return Ok(ExitCode::SUCCESS);
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
    let event: SqsEvent =
        serde_json::from_str(&text).with_context(|| format!("{} is not an SQS event", path.display()))?;
    let results = function.process(event, None).await;
    for (message_id, failure) in &results {
        match failure {
            None => eprintln!("  {message_id}: processed"),
            Some(failure) => eprintln!("  {message_id}: reported as failed: {failure:?}"),
        }
    }
    let ledger = shop.ledger().snapshot();
    eprintln!("  ledger: {} orders charged, {} shipped", ledger.charges.len(), ledger.shipments.len());
    println!("{}", serde_json::to_string_pretty(&batch_response(&results))?);
    Ok(ExitCode::SUCCESS)
}

/// `count` orders sent to, and received from, an embedded SQS, as the event Lambda would deliver.
async fn make_event(count: u64, shape: Shape) -> anyhow::Result<SqsEvent> {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await?;
    let arn = backend.get_queue_attributes(&queue, &[QueueAttributeName::QueueArn]).await?;
    let arn = arn.queue_arn().context("the queue has no ARN")?.to_owned();
    let producer = worker::producer_shaped(backend.clone(), &queue, shape).await?;
    let sent = worker::send_orders(&producer, order_book(count, 0), 64, || {}).await;
    producer.close().await;
    anyhow::ensure!(sent.failed.is_empty(), "could not send: {:?}", sent.failed);
    let mut received = Vec::new();
    while (received.len() as u64) < count {
        let request =
            ReceiveRequest::new().max_messages(10).all_attributes().visibility_timeout(Duration::from_secs(60));
        let batch = backend.receive_message(&queue, &request).await?;
        anyhow::ensure!(!batch.is_empty(), "the queue ran dry after {} messages", received.len());
        received.extend(batch);
    }
    Ok(sqs_event(&arn, "us-east-1", &received))
}
