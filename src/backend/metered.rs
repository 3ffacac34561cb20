//! [`Metered`]: wraps a backend and counts every request in [`API_CALLS`](crate::telemetry::API_CALLS) (by
//! action and outcome) and batch sizes in [`BATCH_SIZE`](crate::telemetry::BATCH_SIZE). Producers,
//! consumers and queue monitors wrap their backend in it, so API calls are counted in this one place.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    BatchOutcome, DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SentMessage, SqsBackend, VisibilityEntry,
};
use crate::error::Result;
use crate::telemetry::record_api_call;
use crate::types::{QueueAttributeName, QueueAttributes};

/// A backend whose requests are counted in the crate's metrics.
#[derive(Debug, Clone)]
pub(crate) struct Metered {
    inner: Arc<dyn SqsBackend>,
}

impl Metered {
    /// Wraps `inner`. Only sqskit's own components wrap, and never a backend they got from another one, so
    /// nothing is counted twice.
    pub(crate) fn wrap(inner: Arc<dyn SqsBackend>) -> Arc<dyn SqsBackend> {
        Arc::new(Self { inner })
    }
}

fn observe<T>(action: &'static str, batch_size: Option<usize>, result: Result<T>) -> Result<T> {
    record_api_call(action, result.is_ok(), batch_size);
    result
}

#[async_trait]
impl SqsBackend for Metered {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        observe("CreateQueue", None, self.inner.create_queue(name, attributes, tags).await)
    }

    async fn get_queue_url(&self, name: &str) -> Result<String> {
        observe("GetQueueUrl", None, self.inner.get_queue_url(name).await)
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>> {
        observe("ListQueues", None, self.inner.list_queues(prefix).await)
    }

    async fn delete_queue(&self, queue_url: &str) -> Result<()> {
        observe("DeleteQueue", None, self.inner.delete_queue(queue_url).await)
    }

    async fn purge_queue(&self, queue_url: &str) -> Result<()> {
        observe("PurgeQueue", None, self.inner.purge_queue(queue_url).await)
    }

    async fn get_queue_attributes(&self, queue_url: &str, names: &[QueueAttributeName]) -> Result<QueueAttributes> {
        observe("GetQueueAttributes", None, self.inner.get_queue_attributes(queue_url, names).await)
    }

    async fn set_queue_attributes(&self, queue_url: &str, attributes: &QueueAttributes) -> Result<()> {
        observe("SetQueueAttributes", None, self.inner.set_queue_attributes(queue_url, attributes).await)
    }

    async fn send_message_batch(&self, queue_url: &str, entries: &[SendEntry]) -> Result<BatchOutcome<SentMessage>> {
        let result = self.inner.send_message_batch(queue_url, entries).await;
        observe("SendMessageBatch", Some(entries.len()), result)
    }

    async fn receive_message(&self, queue_url: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>> {
        let result = self.inner.receive_message(queue_url, request).await;
        let received = result.as_ref().ok().map(Vec::len);
        observe("ReceiveMessage", received, result)
    }

    async fn delete_message_batch(&self, queue_url: &str, entries: &[DeleteEntry]) -> Result<BatchOutcome<()>> {
        let result = self.inner.delete_message_batch(queue_url, entries).await;
        observe("DeleteMessageBatch", Some(entries.len()), result)
    }

    async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[VisibilityEntry],
    ) -> Result<BatchOutcome<()>> {
        let result = self.inner.change_message_visibility_batch(queue_url, entries).await;
        observe("ChangeMessageVisibilityBatch", Some(entries.len()), result)
    }
}
