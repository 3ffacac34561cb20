//! The whole order flow offline, in one command: a producer and a consumer on an embedded SQS at the same
//! time, 10% injected failures, a consumer crash and restart, duplicates sent on purpose and two poison
//! orders; it ends by checking that every order was charged and shipped exactly once and that the poison
//! orders are in the dead-letter queue, and exits non-zero if not.
//!
//!     cargo run --example order_demo
//!     cargo run --example order_demo -- --sns   # orders inside SNS notifications, as from an SNS topic
//!
//! The same flow as separate processes against an emulator or real SQS: `order_producer` and
//! `order_consumer` (see `examples/orders/run_10k.sh`).

#[allow(dead_code)]
#[path = "orders/mod.rs"]
mod orders;

use std::process::ExitCode;

use orders::demo::{DemoConfig, run};
use orders::worker::Shape;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let sns = std::env::args().skip(1).any(|arg| arg == "--sns");
    let config = DemoConfig { shape: if sns { Shape::Sns } else { Shape::Raw }, ..DemoConfig::default() };
    println!(
        "sqskit order demo: {} orders ({} of them poison) and {} duplicates through an embedded SQS{}, {:.0}% \
         injected failures\n",
        config.orders,
        config.poison,
        config.duplicates,
        if sns { " inside SNS notifications" } else { "" },
        config.faults.failure_rate * 100.0
    );
    let outcome = run(&config).await?;
    println!("{}", outcome.summary);
    Ok(if outcome.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
