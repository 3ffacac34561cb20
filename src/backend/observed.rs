//! [`Observed`]: the one [`SqsBackend`] wrapper. It implements every trait method once, describes each
//! request to a [`BackendObserver`] as a [`Call`] (before) and a [`Reply`] (after), and delegates to the
//! wrapped backend. Call counting ([`CallCounter`](super::CallCounter)), the crate's API metrics
//! (`ApiMetrics`) and test probes are observers, so adding an `SqsBackend` method touches this file once
//! (a [`Call`] variant and one delegating method) instead of every wrapper.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    BatchOutcome, DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SentMessage, SqsBackend, VisibilityEntry,
};
use crate::error::{Error, Result};
use crate::types::{QueueAttributeName, QueueAttributes};

/// One request made through an [`Observed`] backend: the SQS action and what it carries.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Call<'a> {
    /// `CreateQueue` for this queue name.
    CreateQueue {
        /// The queue name.
        name: &'a str,
    },
    /// `GetQueueUrl` for this queue name.
    GetQueueUrl {
        /// The queue name.
        name: &'a str,
    },
    /// `ListQueues`.
    ListQueues,
    /// `DeleteQueue`.
    DeleteQueue,
    /// `PurgeQueue`.
    PurgeQueue,
    /// `GetQueueAttributes`.
    GetQueueAttributes,
    /// `SetQueueAttributes`.
    SetQueueAttributes,
    /// `SendMessageBatch` with these entries.
    SendMessageBatch(&'a [SendEntry]),
    /// `ReceiveMessage` with this request.
    ReceiveMessage(&'a ReceiveRequest),
    /// `DeleteMessageBatch` with these entries.
    DeleteMessageBatch(&'a [DeleteEntry]),
    /// `ChangeMessageVisibilityBatch` with these entries.
    ChangeMessageVisibilityBatch(&'a [VisibilityEntry]),
}

impl Call<'_> {
    /// The SQS action name, e.g. `SendMessageBatch`.
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreateQueue { .. } => "CreateQueue",
            Self::GetQueueUrl { .. } => "GetQueueUrl",
            Self::ListQueues => "ListQueues",
            Self::DeleteQueue => "DeleteQueue",
            Self::PurgeQueue => "PurgeQueue",
            Self::GetQueueAttributes => "GetQueueAttributes",
            Self::SetQueueAttributes => "SetQueueAttributes",
            Self::SendMessageBatch(_) => "SendMessageBatch",
            Self::ReceiveMessage(_) => "ReceiveMessage",
            Self::DeleteMessageBatch(_) => "DeleteMessageBatch",
            Self::ChangeMessageVisibilityBatch(_) => "ChangeMessageVisibilityBatch",
        }
    }

    /// The number of entries of a batch request; `None` for every other request (a receive's batch size is
    /// only known from its [`Reply`]).
    pub fn batch_size(&self) -> Option<usize> {
        match self {
            Self::SendMessageBatch(entries) => Some(entries.len()),
            Self::DeleteMessageBatch(entries) => Some(entries.len()),
            Self::ChangeMessageVisibilityBatch(entries) => Some(entries.len()),
            _ => None,
        }
    }
}

/// What the wrapped backend answered to a [`Call`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Reply<'a> {
    /// The request succeeded (for batches: SQS accepted it; entries may still have failed one by one).
    Succeeded,
    /// A `ReceiveMessage` succeeded with these messages.
    Received(&'a [ReceivedMessage]),
    /// The whole request failed.
    Failed(&'a Error),
}

impl Reply<'_> {
    /// Whether the request succeeded.
    pub fn is_success(&self) -> bool {
        !matches!(self, Self::Failed(_))
    }
}

/// Sees every request made through an [`Observed`] backend.
pub trait BackendObserver: Send + Sync + fmt::Debug + 'static {
    /// Called before the request is passed on. An `Err` answers the call with that error without reaching
    /// the wrapped backend (for fault injection); [`BackendObserver::after`] is then not called.
    ///
    /// # Errors
    /// The error the call should fail with instead of being made.
    fn before(&self, call: &Call<'_>) -> Result<()> {
        let _ = call;
        Ok(())
    }

    /// Called with the wrapped backend's answer to `call`.
    fn after(&self, call: &Call<'_>, reply: Reply<'_>) {
        let _ = (call, reply);
    }
}

impl<O: BackendObserver> BackendObserver for Arc<O> {
    fn before(&self, call: &Call<'_>) -> Result<()> {
        O::before(self, call)
    }

    fn after(&self, call: &Call<'_>, reply: Reply<'_>) {
        O::after(self, call, reply);
    }
}

/// A backend result an observer can be shown as a [`Reply`].
trait Replied {
    fn reply(&self) -> Reply<'_>;
}

macro_rules! replied_as_success {
    ($($type:ty),* $(,)?) => {
        $(impl Replied for $type {
            fn reply(&self) -> Reply<'_> {
                Reply::Succeeded
            }
        })*
    };
}

replied_as_success!(String, Vec<String>, (), QueueAttributes, BatchOutcome<SentMessage>, BatchOutcome<()>);

impl Replied for Vec<ReceivedMessage> {
    fn reply(&self) -> Reply<'_> {
        Reply::Received(self)
    }
}

/// Wraps any [`SqsBackend`] and shows every request and its answer to an observer `O`.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use sqskit::backend::{BackendObserver, Call, EmbeddedBackend, Observed, SqsBackend};
///
/// #[derive(Debug)]
/// struct Log;
/// impl BackendObserver for Log {
///     fn before(&self, call: &Call<'_>) -> sqskit::Result<()> {
///         println!("{}", call.action());
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqskit::Error> {
/// let logged = Observed::wrap(Arc::new(EmbeddedBackend::new()), Log);
/// logged.create_queue("q", &Default::default(), &Default::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Observed<O> {
    inner: Arc<dyn SqsBackend>,
    observer: O,
}

impl<O: BackendObserver> Observed<O> {
    /// Passes every request to `inner` and shows it to `observer`.
    pub fn wrap(inner: Arc<dyn SqsBackend>, observer: O) -> Self {
        Self { inner, observer }
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }

    /// Shows `call` to the observer, runs `request` unless the observer refused it, and shows the answer.
    async fn observe<T: Replied>(&self, call: Call<'_>, request: impl Future<Output = Result<T>>) -> Result<T> {
        self.observer.before(&call)?;
        let result = request.await;
        let reply = match &result {
            Ok(value) => value.reply(),
            Err(error) => Reply::Failed(error),
        };
        self.observer.after(&call, reply);
        result
    }
}

#[async_trait]
impl<O: BackendObserver> SqsBackend for Observed<O> {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        self.observe(Call::CreateQueue { name }, self.inner.create_queue(name, attributes, tags)).await
    }

    async fn get_queue_url(&self, name: &str) -> Result<String> {
        self.observe(Call::GetQueueUrl { name }, self.inner.get_queue_url(name)).await
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>> {
        self.observe(Call::ListQueues, self.inner.list_queues(prefix)).await
    }

    async fn delete_queue(&self, queue_url: &str) -> Result<()> {
        self.observe(Call::DeleteQueue, self.inner.delete_queue(queue_url)).await
    }

    async fn purge_queue(&self, queue_url: &str) -> Result<()> {
        self.observe(Call::PurgeQueue, self.inner.purge_queue(queue_url)).await
    }

    async fn get_queue_attributes(&self, queue_url: &str, names: &[QueueAttributeName]) -> Result<QueueAttributes> {
        self.observe(Call::GetQueueAttributes, self.inner.get_queue_attributes(queue_url, names)).await
    }

    async fn set_queue_attributes(&self, queue_url: &str, attributes: &QueueAttributes) -> Result<()> {
        self.observe(Call::SetQueueAttributes, self.inner.set_queue_attributes(queue_url, attributes)).await
    }

    async fn send_message_batch(&self, queue_url: &str, entries: &[SendEntry]) -> Result<BatchOutcome<SentMessage>> {
        self.observe(Call::SendMessageBatch(entries), self.inner.send_message_batch(queue_url, entries)).await
    }

    async fn receive_message(&self, queue_url: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>> {
        self.observe(Call::ReceiveMessage(request), self.inner.receive_message(queue_url, request)).await
    }

    async fn delete_message_batch(&self, queue_url: &str, entries: &[DeleteEntry]) -> Result<BatchOutcome<()>> {
        self.observe(Call::DeleteMessageBatch(entries), self.inner.delete_message_batch(queue_url, entries)).await
    }

    async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[VisibilityEntry],
    ) -> Result<BatchOutcome<()>> {
        let request = self.inner.change_message_visibility_batch(queue_url, entries);
        self.observe(Call::ChangeMessageVisibilityBatch(entries), request).await
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::backend::EmbeddedBackend;

    /// Logs every call and reply; refuses `PurgeQueue`.
    #[derive(Debug, Default)]
    struct Log(Mutex<Vec<String>>);

    impl BackendObserver for Log {
        fn before(&self, call: &Call<'_>) -> Result<()> {
            self.0.lock().expect("log").push(format!("before {}", call.action()));
            match call {
                Call::PurgeQueue => Err(Error::Config { reason: "refused".to_owned() }),
                _ => Ok(()),
            }
        }

        fn after(&self, call: &Call<'_>, reply: Reply<'_>) {
            let reply = match reply {
                Reply::Received(messages) => format!("received {}", messages.len()),
                other => format!("success {}", other.is_success()),
            };
            self.0.lock().expect("log").push(format!("after {} {reply}", call.action()));
        }
    }

    #[tokio::test]
    async fn the_observer_sees_each_call_and_reply_and_a_refusal_never_reaches_the_backend() {
        let observed = Observed::wrap(Arc::new(EmbeddedBackend::new()), Log::default());
        let queue = observed.create_queue("q", &QueueAttributes::new(), &BTreeMap::new()).await.expect("queue");
        observed.send_message_batch(&queue, &[SendEntry::new("1", "a")]).await.expect("send");
        observed.receive_message(&queue, &ReceiveRequest::new()).await.expect("receive");
        assert!(observed.purge_queue(&queue).await.is_err());
        let names = [QueueAttributeName::ApproximateNumberOfMessagesNotVisible];
        let attributes = observed.get_queue_attributes(&queue, &names).await.expect("attributes");
        assert_eq!(attributes.approximate_number_of_messages_not_visible(), Some(1), "not purged");
        assert!(observed.get_queue_url("missing").await.is_err());

        let log = observed.observer().0.lock().expect("log").clone();
        assert_eq!(
            log,
            [
                "before CreateQueue",
                "after CreateQueue success true",
                "before SendMessageBatch",
                "after SendMessageBatch success true",
                "before ReceiveMessage",
                "after ReceiveMessage received 1",
                "before PurgeQueue",
                "before GetQueueAttributes",
                "after GetQueueAttributes success true",
                "before GetQueueUrl",
                "after GetQueueUrl success false",
            ]
        );
    }
}
