//! The README's "Handler timeouts" snippet: the code between `// README: <name>` and `// README: end` below
//! must appear verbatim (dedented) in README.md, and runs here on the embedded backend (the same check as
//! `tests/order_demo.rs` makes for the producer and consumer snippets).

use std::sync::Arc;
use std::time::Duration;

use sqskit::backend::{EmbeddedBackend, SendEntry, SqsBackend};
use sqskit::consumer::{HandlerError, RunningConsumer};

#[derive(Debug, serde::Deserialize)]
struct Order {
    items: Vec<String>,
}

async fn process(order: &Order) -> Result<(), HandlerError> {
    if order.items.is_empty() {
        return Err(HandlerError::permanent("an order without items"));
    }
    Ok(())
}

async fn readme_handler_timeouts(backend: Arc<dyn SqsBackend>, queue_url: &str) -> sqskit::Result<RunningConsumer> {
    use sqskit::consumer::{Consumer, Delivery, IntoOutcome, Outcome};
    // README: handler timeouts
    let consumer = Consumer::<Order>::builder(backend, queue_url)
        .handler_timeout(Duration::from_secs(120)) // the token fires after 2 minutes,
        .handler_grace(Duration::from_secs(10)) // and a handler still running 10 s later is dropped
        .build()
        .await?;
    let running = consumer.start(|order: Delivery<Order>| async move {
        tokio::select! {
            result = process(&order) => result.into_outcome(),
            // Timed out or shutting down: give the message back now rather than be dropped.
            () = order.cancelled() => Outcome::Release,
        }
    });
    // README: end
    Ok(running)
}

#[tokio::test]
async fn the_handler_timeouts_snippet_runs_and_matches_the_readme() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await.unwrap();
    let entry = SendEntry::new("1", r#"{"items":["book"]}"#);
    backend.send_message_batch(&queue, &[entry]).await.unwrap();

    let running = readme_handler_timeouts(backend.clone(), &queue).await.unwrap();
    crate::harness::eventually("the order to be acknowledged", || running.stats().completed == 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.completed, report.abandoned), (1, 0));

    let source = include_str!("readme.rs");
    let readme = include_str!("../../README.md");
    let start = "// README: handler timeouts\n";
    let block = source.split(start).nth(1).and_then(|rest| rest.split("    // README: end").next());
    let block =
        block.map(|b| b.lines().map(|line| line.strip_prefix("    ").unwrap_or(line)).collect::<Vec<_>>().join("\n"));
    let block = block.unwrap_or_default();
    assert!(!block.is_empty() && readme.contains(&block), "README.md must contain the snippet:\n{block}");
}
