//! The README's "AWS Lambda" snippet: the code between `// README: lambda` and `// README: end` below must
//! appear verbatim (dedented) in README.md (checked by `tests/readme.rs`). It runs here outside Lambda, where
//! `run` must stop with a clear error instead of `lambda_runtime`'s panic.

use std::sync::Arc;

use sqskit::consumer::{HandlerError, IdempotencyStore, InMemoryIdempotencyStore};

#[derive(Debug, serde::Deserialize)]
struct Order {
    id: u32,
}

async fn process(order: &Order) -> Result<(), HandlerError> {
    if order.id == 0 {
        return Err(HandlerError::permanent("order 0 does not exist"));
    }
    Ok(())
}

async fn readme_lambda(store: Arc<dyn IdempotencyStore>) -> Result<(), sqskit::lambda::LambdaError> {
    use sqskit::consumer::Delivery;
    use sqskit::envelope::Envelope;
    use sqskit::lambda::SqsLambda;
    // README: lambda
    let function = SqsLambda::builder(|order: Delivery<Order>| async move { process(&order).await })
        .envelope(Envelope::Sns) // the queue is subscribed to an SNS topic
        .idempotency(store) // e.g. a DynamoDbIdempotencyStore shared by every container
        .build();
    function.run().await // serves the Lambda Runtime API; `function.handle(event)` runs one event locally
    // README: end
}

#[tokio::test]
async fn the_lambda_snippet_stops_with_a_clear_error_outside_lambda() {
    assert!(std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none(), "this test runs outside Lambda");
    let error = readme_lambda(Arc::new(InMemoryIdempotencyStore::new())).await.expect_err("not in Lambda");
    assert_eq!(
        error.to_string(),
        "not running in AWS Lambda: the environment variable AWS_LAMBDA_RUNTIME_API is not set"
    );
}
