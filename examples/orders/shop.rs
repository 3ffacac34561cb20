//! The work behind one order: reserve inventory, take the payment, ship; each step simulated with latency
//! and injected failures, and each idempotent on the order id. Knows nothing about SQS: it returns a
//! [`StepError`] that says whether a retry may help, and the consumer turns that into a retry or a
//! dead letter.
//!
//! Why every step is idempotent although the consumer already deduplicates messages: the consumer's
//! idempotency store skips a message whose order *completed*, but it cannot know how far an attempt that
//! crashed, timed out or was retried got. The payment gateway may take the money and then time out; a consumer
//! may crash between charging and acknowledging; its in-memory store dies with the process. In each case
//! the order is processed again, and only the payment provider's own idempotency key (the order id) stops
//! a second charge.

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::Rng;
use sqskit::consumer::{Classify, ErrorClass};

use super::ledger::{Ledger, Recorded};
use super::model::{Order, RECALLED_PRODUCT, UNREACHABLE_PRODUCT};

/// Injected trouble: each attempt at an order fails with probability `failure_rate` in one of its three
/// steps (chosen at random), and each step takes `latency`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability that an attempt fails (0.0..=1.0).
    pub failure_rate: f64,
    /// Time each step takes.
    pub latency: Duration,
}

/// The three steps of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Reserve the items.
    Inventory,
    /// Charge the customer.
    Payment,
    /// Hand the parcel to the carrier.
    Shipping,
}

/// Why a step failed, and whether trying again may help.
#[derive(Debug)]
pub struct StepError {
    step: Step,
    class: ErrorClass,
    reason: String,
}

impl StepError {
    fn transient(step: Step, reason: impl Into<String>) -> Self {
        Self { step, class: ErrorClass::Transient, reason: reason.into() }
    }

    fn permanent(step: Step, reason: impl Into<String>) -> Self {
        Self { step, class: ErrorClass::Permanent, reason: reason.into() }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.step, self.reason)
    }
}

/// Transient errors are retried with the consumer's backoff; permanent ones are dead-lettered at once.
impl Classify for StepError {
    fn classify(&self) -> ErrorClass {
        self.class
    }
}

/// What the shop did, for summaries.
#[derive(Debug, Default)]
pub struct ShopStats {
    /// Attempts at an order (handler runs).
    pub attempts: AtomicU64,
    /// Attempts that failed because of an injected fault.
    pub injected_failures: AtomicU64,
    /// Attempts that failed because of a poison order.
    pub poison_failures: AtomicU64,
}

/// Inventory, payments and shipping, sharing one [`Ledger`].
#[derive(Debug)]
pub struct Shop {
    faults: Faults,
    ledger: Arc<Ledger>,
    reservations: Mutex<HashSet<String>>,
    completions: Option<Mutex<File>>,
    /// Counters.
    pub stats: ShopStats,
}

impl Shop {
    /// A shop with these faults, recording charges and shipments in `ledger`.
    pub fn new(faults: Faults, ledger: Arc<Ledger>) -> Self {
        Self { faults, ledger, reservations: Mutex::default(), completions: None, stats: ShopStats::default() }
    }

    /// Appends `<order id> <process id>` to `path` each time an attempt at an order runs to completion (all
    /// three steps succeeded): the journal that shows how many times each order's handler completed, across
    /// processes sharing the file (each line is one `O_APPEND` write).
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn journal_completions(mut self, path: &Path) -> anyhow::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        self.completions = Some(Mutex::new(file));
        Ok(self)
    }

    /// The payment provider's and carrier's books.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// One attempt at an order: inventory, then payment, then shipping.
    ///
    /// # Errors
    /// The first step that failed.
    pub async fn process(&self, order: &Order) -> Result<(), StepError> {
        self.stats.attempts.fetch_add(1, Ordering::Relaxed);
        let fault = self.pick_fault();
        let result = async {
            self.reserve(order, fault).await?;
            self.pay(order, fault).await?;
            self.ship(order, fault).await
        }
        .await;
        if result.is_err() {
            let counter = if fault.is_some() { &self.stats.injected_failures } else { &self.stats.poison_failures };
            counter.fetch_add(1, Ordering::Relaxed);
        } else if let Some(journal) = &self.completions {
            let line = format!("{} {}\n", order.order_id, std::process::id());
            journal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write_all(line.as_bytes())
                .map_err(|error| StepError::transient(Step::Shipping, format!("completion journal: {error}")))?;
        }
        result
    }

    fn pick_fault(&self) -> Option<Step> {
        let mut rng = rand::rng();
        rng.random_bool(self.faults.failure_rate.clamp(0.0, 1.0)).then(|| match rng.random_range(0..3) {
            0 => Step::Inventory,
            1 => Step::Payment,
            _ => Step::Shipping,
        })
    }

    async fn reserve(&self, order: &Order, fault: Option<Step>) -> Result<(), StepError> {
        tokio::time::sleep(self.faults.latency).await;
        for item in &order.items {
            if item.product_id == RECALLED_PRODUCT || item.quantity == 0 {
                return Err(StepError::permanent(Step::Inventory, format!("{} cannot be sold", item.product_id)));
            }
            if item.product_id == UNREACHABLE_PRODUCT {
                return Err(StepError::transient(Step::Inventory, "the warehouse does not answer"));
            }
        }
        if fault == Some(Step::Inventory) {
            return Err(StepError::transient(Step::Inventory, "inventory service timed out (injected)"));
        }
        // Reserving twice for one order is a no-op: the reservation is keyed by the order id.
        self.reservations.lock().unwrap_or_else(PoisonError::into_inner).insert(order.order_id.clone());
        Ok(())
    }

    async fn pay(&self, order: &Order, fault: Option<Step>) -> Result<(), StepError> {
        tokio::time::sleep(self.faults.latency).await;
        // The order id is the payment's idempotency key: a second request is answered with the first charge.
        let recorded = self
            .ledger
            .charge(&order.order_id, order.total_price_cents)
            .map_err(|error| StepError::transient(Step::Payment, error.to_string()))?;
        if fault == Some(Step::Payment) {
            // The nastiest failure: the money was taken, but the answer was lost. Only the idempotency key
            // keeps the retry from charging again.
            let taken = if recorded == Recorded::New { "taken" } else { "already taken" };
            return Err(StepError::transient(
                Step::Payment,
                format!("gateway timed out after the payment was {taken} (injected)"),
            ));
        }
        Ok(())
    }

    async fn ship(&self, order: &Order, fault: Option<Step>) -> Result<(), StepError> {
        tokio::time::sleep(self.faults.latency).await;
        if fault == Some(Step::Shipping) {
            return Err(StepError::transient(Step::Shipping, "carrier API unavailable (injected)"));
        }
        self.ledger.ship(&order.order_id).map_err(|error| StepError::transient(Step::Shipping, error.to_string()))?;
        Ok(())
    }
}
