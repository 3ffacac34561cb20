//! What a handler decides about a message ([`Outcome`]), how handler errors map onto outcomes
//! ([`Classify`], [`ErrorClass`], [`HandlerError`], [`IntoOutcome`]), and per-message outcomes of a batch
//! handler ([`BatchOutcomes`]).
//!
//! These types only describe decisions; applying them to SQS (deletes, visibility changes, dead-lettering)
//! is the consumer's settlement step.

use std::fmt;
use std::time::Duration;

/// What should happen to a message once its handler has run.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use sqskit::consumer::{IntoOutcome, Outcome};
///
/// assert_eq!(().into_outcome(), Outcome::Ack);
/// assert_eq!(Outcome::RetryAfter(Duration::from_secs(5)).into_outcome(), Outcome::RetryAfter(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Processed: delete the message (batched with other acknowledgements).
    Ack,
    /// Try again later, after a delay computed from the message's receive count by the consumer's backoff
    /// policy (applied by changing the message's visibility timeout; SQS redelivers it afterwards, and its
    /// redrive policy moves it to a dead-letter queue after `maxReceiveCount` receives).
    Retry,
    /// Try again after exactly this delay (capped at what SQS allows: 12 h since the receive).
    RetryAfter(Duration),
    /// A permanent failure: send the message to the consumer's dead-letter queue now, then delete it. Without
    /// a configured dead-letter queue the message is left for the queue's redrive policy.
    DeadLetter(String),
    /// Give the message back at once (visibility timeout 0), for another consumer or a later receive.
    Release,
}

impl Outcome {
    /// A short, stable name for logs and spans (`ack`, `retry`, `retry_after`, `dead_letter`, `release`).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Outcome::Ack => "ack",
            Outcome::Retry => "retry",
            Outcome::RetryAfter(_) => "retry_after",
            Outcome::DeadLetter(_) => "dead_letter",
            Outcome::Release => "release",
        }
    }

    /// Whether the message is done with on this queue (acknowledged or dead-lettered), so that, on a FIFO
    /// queue, the next message of its group may be processed.
    pub const fn lets_group_continue(&self) -> bool {
        matches!(self, Outcome::Ack | Outcome::DeadLetter(_))
    }
}

/// Whether a failure may go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Worth another attempt later (a timeout, an unavailable dependency): the message is retried with
    /// backoff.
    Transient,
    /// No retry will fix it (invalid data, a rejected business rule): the message is dead-lettered.
    Permanent,
}

/// Classifies a handler's error, so that `Result<(), E>` can be returned from a handler.
///
/// Implement it for your own error type; [`HandlerError`] implements it for any error.
///
/// # Examples
/// ```
/// use sqskit::consumer::{Classify, ErrorClass, IntoOutcome, Outcome};
///
/// #[derive(Debug)]
/// enum OrderError { Unavailable, Invalid }
///
/// impl std::fmt::Display for OrderError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
/// }
///
/// impl Classify for OrderError {
///     fn classify(&self) -> ErrorClass {
///         match self {
///             OrderError::Unavailable => ErrorClass::Transient,
///             OrderError::Invalid => ErrorClass::Permanent,
///         }
///     }
/// }
///
/// assert_eq!(Err::<(), _>(OrderError::Unavailable).into_outcome(), Outcome::Retry);
/// assert_eq!(Err::<(), _>(OrderError::Invalid).into_outcome(), Outcome::DeadLetter("Invalid".to_owned()));
/// ```
pub trait Classify {
    /// Transient or permanent.
    fn classify(&self) -> ErrorClass;
}

impl Classify for crate::Error {
    /// Retryable SQS errors ([`crate::Error::is_retryable`]) are transient, the rest permanent.
    fn classify(&self) -> ErrorClass {
        if self.is_retryable() { ErrorClass::Transient } else { ErrorClass::Permanent }
    }
}

impl Classify for std::convert::Infallible {
    fn classify(&self) -> ErrorClass {
        match *self {}
    }
}

/// A ready-made handler error: any error, marked transient (the default, so `?` works on any
/// `std::error::Error`) or permanent.
///
/// It deliberately does not implement `std::error::Error` itself, so that `From<E>` can cover every error
/// type (the same trade-off `anyhow::Error` makes).
///
/// # Examples
/// ```
/// use sqskit::consumer::{HandlerError, IntoOutcome, Outcome};
///
/// fn parse(amount: &str) -> Result<u32, HandlerError> {
///     let value: u32 = amount.parse().map_err(HandlerError::permanent)?;
///     Ok(value)
/// }
///
/// assert!(matches!(parse("x").map(|_| ()).into_outcome(), Outcome::DeadLetter(_)));
/// let io: Result<(), HandlerError> = Err(std::io::Error::other("reset").into());
/// assert_eq!(io.into_outcome(), Outcome::Retry);
/// ```
pub struct HandlerError {
    class: ErrorClass,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl HandlerError {
    /// A transient failure: retried with backoff.
    pub fn transient(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self { class: ErrorClass::Transient, source: source.into() }
    }

    /// A permanent failure: dead-lettered.
    pub fn permanent(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self { class: ErrorClass::Permanent, source: source.into() }
    }

    /// The underlying error.
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.source.as_ref()
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        Self::transient(error)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError").field("class", &self.class).field("source", &self.source).finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl Classify for HandlerError {
    fn classify(&self) -> ErrorClass {
        self.class
    }
}

/// What a handler may return: an [`Outcome`], `()` (ack), or a `Result` whose error is [`Classify`]
/// (`Ok` acks; a transient error retries with backoff; a permanent one dead-letters).
pub trait IntoOutcome {
    /// The outcome this value stands for. Errors are logged here, inside the message's `process` span.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Outcome::Ack
    }
}

impl<E: Classify + fmt::Display> IntoOutcome for Result<(), E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(()) => Outcome::Ack,
            Err(error) => error_outcome(&error),
        }
    }
}

impl<E: Classify + fmt::Display> IntoOutcome for Result<Outcome, E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(outcome) => outcome,
            Err(error) => error_outcome(&error),
        }
    }
}

fn error_outcome<E: Classify + fmt::Display>(error: &E) -> Outcome {
    match error.classify() {
        ErrorClass::Transient => {
            tracing::warn!(error = %error, "handler failed (transient); the message will be retried");
            Outcome::Retry
        }
        ErrorClass::Permanent => {
            tracing::warn!(error = %error, "handler failed (permanent); the message will be dead-lettered");
            Outcome::DeadLetter(error.to_string())
        }
    }
}

/// The outcomes of a batch handler, one per delivery, in the order the deliveries were given.
///
/// Missing outcomes (a shorter list) count as [`Outcome::Retry`]; extra ones are ignored. On a FIFO queue,
/// once a message of a group does not let its group continue ([`Outcome::lets_group_continue`]), the later
/// messages of that group in the batch are released whatever their outcome, so that SQS redelivers the
/// group in order; return [`Outcome::Ack`] only for a prefix of each group.
///
/// # Examples
/// ```
/// use sqskit::consumer::{BatchOutcomes, Outcome};
///
/// let mut outcomes = BatchOutcomes::all(Outcome::Ack, 3);
/// outcomes.set(1, Outcome::Retry);
/// assert_eq!(outcomes.get(1), Some(&Outcome::Retry));
/// assert_eq!(outcomes.len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcomes(Vec<Outcome>);

impl BatchOutcomes {
    /// The same outcome for `count` deliveries.
    pub fn all(outcome: Outcome, count: usize) -> Self {
        Self(vec![outcome; count])
    }

    /// Sets the outcome of delivery `index` (growing the list with [`Outcome::Retry`] if needed).
    pub fn set(&mut self, index: usize, outcome: Outcome) {
        if index >= self.0.len() {
            self.0.resize(index + 1, Outcome::Retry);
        }
        self.0[index] = outcome;
    }

    /// The outcome of delivery `index`.
    pub fn get(&self, index: usize) -> Option<&Outcome> {
        self.0.get(index)
    }

    /// How many outcomes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The outcomes, in delivery order.
    pub fn into_vec(self) -> Vec<Outcome> {
        self.0
    }
}

impl From<Vec<Outcome>> for BatchOutcomes {
    fn from(outcomes: Vec<Outcome>) -> Self {
        Self(outcomes)
    }
}

impl FromIterator<Outcome> for BatchOutcomes {
    fn from_iter<I: IntoIterator<Item = Outcome>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_map_through_the_error_class() {
        let transient: Result<(), HandlerError> = Err(HandlerError::transient("later"));
        let permanent: Result<(), HandlerError> = Err(HandlerError::permanent("never"));
        assert_eq!(transient.into_outcome(), Outcome::Retry);
        assert_eq!(permanent.into_outcome(), Outcome::DeadLetter("never".to_owned()));
        assert_eq!(Ok::<(), HandlerError>(()).into_outcome(), Outcome::Ack);
        assert_eq!(Ok::<Outcome, HandlerError>(Outcome::Release).into_outcome(), Outcome::Release);
    }

    #[test]
    fn sqs_errors_classify_by_retryability() {
        assert_eq!(crate::Error::Timeout { detail: "t".to_owned() }.classify(), ErrorClass::Transient);
        assert_eq!(crate::Error::Config { reason: "r".to_owned() }.classify(), ErrorClass::Permanent);
    }

    #[test]
    fn only_ack_and_dead_letter_let_a_group_continue() {
        assert!(Outcome::Ack.lets_group_continue());
        assert!(Outcome::DeadLetter(String::new()).lets_group_continue());
        assert!(!Outcome::Retry.lets_group_continue());
        assert!(!Outcome::Release.lets_group_continue());
        assert!(!Outcome::RetryAfter(Duration::ZERO).lets_group_continue());
    }
}
