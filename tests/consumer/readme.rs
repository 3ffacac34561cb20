//! The README's "Handler timeouts" and "Health and error handling" snippets: the code between
//! `// README: <name>` and `// README: end` below must appear verbatim (dedented) in README.md (checked here
//! and by `tests/readme.rs`), and runs here on the embedded backend.

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

/// The README's "Health and error handling" snippet; returns the shutdown report and what the readiness
/// check said while the consumer ran.
async fn readme_health(
    backend: Arc<dyn SqsBackend>,
    queue_url: &str,
    stop: impl std::future::Future<Output = ()>,
) -> sqskit::Result<(sqskit::ShutdownReport, bool)> {
    use sqskit::consumer::{Consumer, ConsumerErrorEvent, Delivery};
    // README: health and error handling
    let consumer = Consumer::<Order>::builder(backend, queue_url)
        .stop_after_receive_failures(10) // the default
        .on_error(|event: &ConsumerErrorEvent| eprintln!("SQS {} failed: {}", event.operation, event.error))
        .build() // reads the queue once: a wrong URL or a missing permission fails here
        .await?;
    let running = consumer.start(|order: Delivery<Order>| async move { process(&order).await });
    let check = running.health_check(); // cloneable, for the readiness endpoint
    let ready = move || check.health().is_ready(); // running, and the last receive succeeded
    tokio::select! {
        () = stop => {}
        // The queue was deleted, or access revoked: every receive failed 10 times in a row.
        error = running.failed() => eprintln!("consumer stopped: {error}"),
    }
    let was_ready = ready();
    let report = running.shutdown(Duration::from_secs(30)).await;
    // README: end
    Ok((report, was_ready))
}

#[tokio::test]
async fn the_health_snippet_runs() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await.unwrap();

    let missing = queue.replace("/orders", "/nowhere");
    let error = readme_health(backend.clone(), &missing, std::future::ready(())).await.expect_err("no such queue");
    assert!(error.is_queue_unusable(), "{error}");

    backend.send_message_batch(&queue, &[SendEntry::new("1", r#"{"items":["book"]}"#)]).await.unwrap();
    let probe = backend.clone();
    let url = queue.clone();
    let stop = async move {
        while crate::harness::counts(&probe, &url).await != (0, 0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (report, ready) = readme_health(backend, &queue, stop).await.unwrap();
    assert_eq!(report.completed, 1);
    assert!(report.error.is_none() && ready);
}
