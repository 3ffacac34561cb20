//! The handler traits ([`Handler`], [`BatchHandler`]), implemented for plain async closures, and the
//! panic guard that turns a crashed handler into a message left for redelivery instead of a dead consumer.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;

use super::delivery::Delivery;
use super::outcome::{BatchOutcomes, IntoOutcome, Outcome};

/// Processes one message at a time (the consumer runs up to `concurrency` of them at once).
///
/// Implemented for every `Fn(Delivery<T>) -> impl Future<Output = R>` where `R` is an [`IntoOutcome`]
/// (an [`Outcome`], `()` or a `Result<(), E>` with a [`Classify`](super::Classify) error).
///
/// # Examples
/// ```
/// use sqskit::consumer::{Delivery, Handler, Outcome};
///
/// struct Printer;
///
/// #[async_trait::async_trait]
/// impl Handler<String> for Printer {
///     async fn handle(&self, delivery: Delivery<String>) -> Outcome {
///         println!("{}", *delivery);
///         Outcome::Ack
///     }
/// }
/// # let _ = Printer;
/// ```
#[async_trait]
pub trait Handler<T>: Send + Sync + 'static {
    /// Handles one delivery. A panic leaves the message in flight, so SQS redelivers it after its
    /// visibility timeout.
    async fn handle(&self, delivery: Delivery<T>) -> Outcome;
}

#[async_trait]
impl<T, F, Fut, R> Handler<T> for F
where
    T: Send + 'static,
    F: Fn(Delivery<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoOutcome,
{
    async fn handle(&self, delivery: Delivery<T>) -> Outcome {
        (self)(delivery).await.into_outcome()
    }
}

/// Processes the messages of one receive together, returning one outcome per message.
///
/// Implemented for every `Fn(Vec<Delivery<T>>) -> impl Future<Output = R>` where `R: Into<BatchOutcomes>`
/// (for example a `Vec<Outcome>`).
///
/// # Examples
/// ```
/// use sqskit::consumer::{BatchOutcomes, Delivery, Outcome};
///
/// async fn store_all(batch: Vec<Delivery<u32>>) -> BatchOutcomes {
///     batch.iter().map(|d| if **d > 0 { Outcome::Ack } else { Outcome::Retry }).collect()
/// }
/// # let _ = store_all;
/// ```
#[async_trait]
pub trait BatchHandler<T>: Send + Sync + 'static {
    /// Handles a batch (never empty). A panic leaves every message of the batch in flight.
    async fn handle_batch(&self, deliveries: Vec<Delivery<T>>) -> BatchOutcomes;
}

#[async_trait]
impl<T, F, Fut, R> BatchHandler<T> for F
where
    T: Send + 'static,
    F: Fn(Vec<Delivery<T>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Into<BatchOutcomes>,
{
    async fn handle_batch(&self, deliveries: Vec<Delivery<T>>) -> BatchOutcomes {
        (self)(deliveries).await.into()
    }
}

/// Drives several futures to completion inside one task: cheaper than a task each for the (at most 10)
/// messages of one receive, while each still settles, and frees its slot, on its own.
pub(crate) struct JoinAll<F> {
    pending: Vec<Pin<Box<F>>>,
}

impl<F: Future> JoinAll<F> {
    pub(crate) fn new(futures: impl IntoIterator<Item = F>) -> Self {
        Self { pending: futures.into_iter().map(Box::pin).collect() }
    }
}

impl<F: Future> Future for JoinAll<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let pending = &mut self.get_mut().pending;
        pending.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if pending.is_empty() { Poll::Ready(()) } else { Poll::Pending }
    }
}

/// Runs a future, turning a panic while polling it into `Err` with the panic's message. Takes an `Unpin`
/// future (the handlers' boxed futures are), so no further allocation is needed.
pub(crate) struct CatchUnwind<F> {
    inner: F,
}

impl<F: Future + Unpin> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        Self { inner: future }
    }
}

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().inner;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn catch_unwind_reports_panics_and_passes_values() {
        assert_eq!(CatchUnwind::new(Box::pin(async { 7 })).await, Ok(7));
        let crashed = CatchUnwind::new(Box::pin(async {
            tokio::task::yield_now().await;
            panic!("boom")
        }))
        .await;
        assert_eq!(crashed, Err("boom".to_owned()));
    }
}
