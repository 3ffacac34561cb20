//! Testing against faults and time: an in-process emulator on a virtual clock, a throttling rule, and a
//! 12-hour visibility timeout that passes in an instant.
//!
//! Run: `cargo run -p sqskit-emulator --example time_and_faults`

use std::time::Duration;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use sqskit_emulator::faults::FaultRule;
use sqskit_emulator::{Emulator, ManualClock};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new();
    let emulator = Emulator::builder().port(0).clock(clock.clone()).fault_seed(42).start().await?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region("us-east-1")
        .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "example"))
        // Show every injected fault instead of letting the SDK retry it away.
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let created = sqs
        .create_queue()
        .queue_name("orders")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "43200")
        .send()
        .await?;
    let queue = created.queue_url().unwrap_or_default().to_owned();

    // Half of all SendMessage calls on "orders" are throttled, reproducibly (seed 42).
    let rule: FaultRule =
        serde_json::from_str(r#"{"queue":"orders","action":"SendMessage","kind":"throttle","probability":0.5}"#)?;
    emulator.faults().add(rule)?;
    let mut throttled = 0;
    for i in 0..20 {
        if let Err(error) = sqs.send_message().queue_url(&queue).message_body(format!("order {i}")).send().await {
            println!("send {i}: {}", error.code().unwrap_or("?"));
            throttled += 1;
        }
    }
    println!("{throttled} of 20 sends were throttled");
    emulator.faults().reset(None);

    // A message received with a 12-hour visibility timeout comes back when 12 virtual hours pass.
    let received = sqs.receive_message().queue_url(&queue).send().await?;
    println!("received {} message(s)", received.messages().len());
    clock.advance(Duration::from_secs(12 * 3600));
    let again = sqs.receive_message().queue_url(&queue).send().await?;
    println!("after 12 virtual hours: {} message(s) visible again", again.messages().len());

    emulator.shutdown().await?;
    Ok(())
}
