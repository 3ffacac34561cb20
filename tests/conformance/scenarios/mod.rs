//! Scenario bodies, written only against `Arc<dyn SqsBackend>` and the typed `Producer`.

pub mod batches;
pub mod common;
pub mod dead_letter;
pub mod delays;
pub mod fifo_dedup;
pub mod fifo_order;
pub mod fifo_producer;
pub mod fifo_queues;
pub mod idempotency;
pub mod integrity;
pub mod long_polling;
pub mod message_attributes;
pub mod message_validation;
pub mod queue_attributes;
pub mod queue_lifecycle;
pub mod queues;
pub mod send_receive;
pub mod visibility;

use serde::{Deserialize, Serialize};
use sqskit::backend::{ReceiveRequest, ReceivedMessage};

use crate::support::TestContext;

/// The message type the scenarios send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: u32,
    pub customer: String,
}

impl Order {
    pub fn new(id: u32) -> Self {
        Self { id, customer: format!("customer-{}", id % 3) }
    }
}

/// Short-polls until the queue returns nothing; returns every message received (with all attributes).
pub async fn drain(ctx: &TestContext, queue_url: &str) -> Vec<ReceivedMessage> {
    let request = ReceiveRequest::new().max_messages(10).wait_time(std::time::Duration::ZERO).all_attributes();
    let mut all = Vec::new();
    for _ in 0..1000 {
        let batch = ctx.backend.receive_message(queue_url, &request).await.expect("receive");
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
    panic!("queue {queue_url} never drained");
}
