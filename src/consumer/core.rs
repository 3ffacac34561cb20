//! The state a running consumer shares between its tasks: [`Core`] (type-independent: backend, settings,
//! registry, counters, settle batchers, the shutdown signal, the task set, FIFO groups) and [`Shared<T>`]
//! (adds the codec, the key source and the handler).

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::task::JoinSet;

use super::builder::Config;
use super::fifo::Groups;
use super::handler::{BatchHandler, Handler};
use super::health::{ConsumerHealth, Health};
use super::options::IdempotencyKeySource;
use super::registry::{EntryId, Registry};
use super::settle::Settler;
use super::stats::Counters;
use crate::backend::{ReceivedMessage, SqsBackend};
use crate::codec::Decode;
use crate::telemetry::{ConsumerMetrics, InFlightGuard};

/// The handler a consumer runs.
pub(crate) enum Mode<T> {
    Single(Arc<dyn Handler<T>>),
    Batch(Arc<dyn BatchHandler<T>>),
}

/// Everything a running consumer's tasks share that does not depend on the message type.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) backend: Arc<dyn SqsBackend>,
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) counters: Arc<Counters>,
    pub(crate) metrics: Arc<ConsumerMetrics>,
    pub(crate) acks: Settler,
    pub(crate) visibility: Settler,
    /// `true` once shutdown began: pollers stop, unstarted messages are released.
    pub(crate) stopping: watch::Sender<bool>,
    tasks: Mutex<JoinSet<()>>,
    pub(crate) groups: Groups,
    /// Receive health, and the error the consumer stopped on by itself.
    pub(crate) health: Health,
}

impl Core {
    pub(crate) fn new(
        backend: Arc<dyn SqsBackend>,
        config: Config,
        counters: Arc<Counters>,
        metrics: Arc<ConsumerMetrics>,
        acks: Settler,
        visibility: Settler,
    ) -> Self {
        Self {
            backend,
            config,
            registry: Registry::default(),
            counters,
            metrics,
            acks,
            visibility,
            stopping: watch::Sender::new(false),
            tasks: Mutex::default(),
            groups: Groups::default(),
            health: Health::default(),
        }
    }

    /// The consumer's health right now.
    pub(crate) fn health(&self) -> ConsumerHealth {
        self.health.snapshot(self.is_stopping(), self.registry.len())
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    // JoinSet operations cannot leave it inconsistent, so a poisoned lock is still usable.
    fn tasks(&self) -> MutexGuard<'_, JoinSet<()>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns a processing task, reaping finished ones.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks();
        while let Some(result) = tasks.try_join_next() {
            if let Err(error) = result {
                if error.is_panic() {
                    tracing::error!(error = %error, "a consumer task panicked");
                }
            }
        }
        tasks.spawn(task);
    }

    /// Takes the set of processing tasks (for shutdown).
    pub(crate) fn take_tasks(&self) -> JoinSet<()> {
        std::mem::take(&mut *self.tasks())
    }

    /// Aborts every processing task.
    pub(crate) fn abort_tasks(&self) {
        self.tasks().abort_all();
    }
}

/// [`Core`] plus what depends on the message type.
pub(crate) struct Shared<T> {
    pub(crate) core: Arc<Core>,
    pub(crate) codec: Arc<dyn Decode<T>>,
    pub(crate) key_source: IdempotencyKeySource<T>,
    pub(crate) mode: Mode<T>,
}

/// A received message the consumer holds, with its registry entry and its concurrency slot.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) id: EntryId,
    pub(crate) message: ReceivedMessage,
    /// The receive it came from (the parent of its `process` span, feature `otel`).
    pub(crate) origin: crate::otel::Origin,
    /// Freed when the message is settled (or given up).
    pub(crate) _slot: Option<OwnedSemaphorePermit>,
    /// Counts the message in the in-flight gauge for as long as it holds its slot.
    pub(crate) _in_flight: InFlightGuard,
}
