//! Several message types on one queue: a [`Router`] reads each message's type with a [`Discriminator`] and
//! hands the message, decoded into that type, to the handler registered for it; messages of a type nobody
//! handles follow one [`UnknownType`] policy.
//!
//! The router is itself a [`Handler`] of [`Payload`] (the body after its [envelope](crate::envelope) was
//! opened, not yet decoded), so it runs wherever a handler runs: in a [`Consumer`](super::Consumer) (build one
//! with [`Router::consumer`]), or in the Lambda adapter (`sqskit::lambda`, feature `lambda`). It adds no
//! ordering of its own: on a FIFO queue the consumer runs a group's messages one after another whatever their
//! types, so the order of a group is kept across types.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use super::builder::ConsumerBuilder;
use super::delivery::{Delivery, MessageMeta};
use super::handler::Handler;
use super::outcome::Outcome;
use crate::backend::SqsBackend;
use crate::codec::{Decode, JsonCodec};
use crate::envelope::{EnvelopeMeta, MESSAGE_TYPE_ATTRIBUTE};
use crate::error::Result;
use crate::telemetry;

/// A message body after its envelope was opened, not yet decoded: what a [`Router`] receives, to decode with
/// the codec of the message's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(pub String);

impl Payload {
    /// The payload text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The codec of [`Payload`]: takes the (opened) body as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayloadCodec;

impl Decode<Payload> for PayloadCodec {
    fn decode(&self, body: &str) -> Result<Payload> {
        Ok(Payload(body.to_owned()))
    }
}

/// Where a message's type comes from, in this order:
///
/// 1. an EventBridge event's `detail-type`;
/// 2. in an SNS notification, the notification's own message attribute named [`attribute`](Self::attribute)
///    (an attribute given to SNS `Publish`);
/// 3. the SQS message attribute of that name (what [`SendOptions::message_type`](crate::producer::SendOptions::message_type)
///    sets; also what SNS raw message delivery turns the published attributes into);
/// 4. with [`sns_subject`](Self::sns_subject), an SNS notification's `Subject`.
///
/// A message with none of these has no type and follows the router's [`UnknownType`] policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discriminator {
    attribute: String,
    sns_subject: bool,
}

impl Default for Discriminator {
    /// The [`MESSAGE_TYPE_ATTRIBUTE`] attribute (`sqskit.message-type`); the SNS subject not used.
    fn default() -> Self {
        Self { attribute: MESSAGE_TYPE_ATTRIBUTE.to_owned(), sns_subject: false }
    }
}

impl Discriminator {
    /// Reads the type from the message attribute `name` (in the SNS notification or on the SQS message).
    pub fn attribute(name: impl Into<String>) -> Self {
        Self { attribute: name.into(), sns_subject: false }
    }

    /// Falls back to an SNS notification's `Subject` when no attribute names the type.
    pub fn sns_subject(mut self) -> Self {
        self.sns_subject = true;
        self
    }

    /// The message's type, if it has one.
    pub fn message_type<'a>(&self, meta: &'a MessageMeta) -> Option<&'a str> {
        let sqs_attribute = || meta.attributes.get(&self.attribute).and_then(|a| a.as_text());
        match &meta.envelope {
            EnvelopeMeta::EventBridge(event) => Some(event.detail_type.as_str()),
            EnvelopeMeta::Sns(sns) => sns
                .attributes
                .get(&self.attribute)
                .and_then(|a| a.as_text())
                .or_else(sqs_attribute)
                .or(if self.sns_subject { sns.subject.as_deref() } else { None }),
            _ => sqs_attribute(),
        }
    }
}

/// What a [`Router`] does with a message whose type has no handler (or that has no type at all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownType {
    /// [`Outcome::DeadLetter`] with a reason naming the type (the default): to the consumer's dead-letter
    /// queue, or left for the queue's redrive policy when it has none.
    #[default]
    DeadLetter,
    /// [`Outcome::Release`]: back to the queue at once, for another consumer that knows the type (each
    /// receive counts toward the redrive policy's `maxReceiveCount`).
    Release,
    /// [`Outcome::Ack`]: dropped, counted in [`RouterStats::unknown`] and the
    /// [`ROUTER_MESSAGES`](crate::telemetry::ROUTER_MESSAGES) metric (`outcome="unknown"`), logged at info.
    Ack,
}

/// Counts of what a [`Router`] did (shared: take it with [`Router::stats`] before starting the consumer).
#[derive(Debug, Clone, Default)]
pub struct RouterStats {
    counts: Arc<[AtomicU64; 3]>,
}

impl RouterStats {
    const ROUTED: usize = 0;
    const UNKNOWN: usize = 1;
    const UNDECODABLE: usize = 2;

    fn bump(&self, which: usize) {
        self.counts[which].fetch_add(1, Ordering::Relaxed);
    }

    /// Messages handed to the handler of their type.
    pub fn routed(&self) -> u64 {
        self.counts[Self::ROUTED].load(Ordering::Relaxed)
    }

    /// Messages without a handler for their type (or without a type).
    pub fn unknown(&self) -> u64 {
        self.counts[Self::UNKNOWN].load(Ordering::Relaxed)
    }

    /// Messages of a known type that its codec could not decode (dead-lettered as poison).
    pub fn undecodable(&self) -> u64 {
        self.counts[Self::UNDECODABLE].load(Ordering::Relaxed)
    }
}

/// One route: decodes the payload into its type and runs its handler; `Err` with the codec's error when the
/// payload does not decode.
#[async_trait]
trait Route: Send + Sync {
    async fn dispatch(&self, delivery: Delivery<Payload>) -> std::result::Result<Outcome, crate::Error>;
}

struct TypedRoute<T, C, H> {
    codec: C,
    handler: H,
    _type: PhantomData<fn() -> T>,
}

#[async_trait]
impl<T, C, H> Route for TypedRoute<T, C, H>
where
    T: Send + 'static,
    C: Decode<T>,
    H: Handler<T>,
{
    async fn dispatch(&self, delivery: Delivery<Payload>) -> std::result::Result<Outcome, crate::Error> {
        let body = self.codec.decode(delivery.as_str())?;
        Ok(self.handler.handle(delivery.with_body(body)).await)
    }
}

/// Dispatches each message to the handler of its type.
///
/// # Examples
/// ```
/// use serde::Deserialize;
/// use sqskit::consumer::{Delivery, Outcome, Router, UnknownType};
///
/// #[derive(Deserialize)]
/// struct OrderPlaced { id: u32 }
/// #[derive(Deserialize)]
/// struct OrderCancelled { id: u32, reason: String }
///
/// let router = Router::new()
///     .route("OrderPlaced", |placed: Delivery<OrderPlaced>| async move {
///         println!("placed {}", placed.id);
///         Outcome::Ack
///     })
///     .route("OrderCancelled", |cancelled: Delivery<OrderCancelled>| async move {
///         println!("cancelled {}: {}", cancelled.id, cancelled.reason);
///         Outcome::Ack
///     })
///     .on_unknown(UnknownType::Release);
/// assert_eq!(router.types().count(), 2);
/// ```
pub struct Router {
    name: String,
    routes: HashMap<String, Arc<dyn Route>>,
    discriminator: Discriminator,
    unknown: UnknownType,
    stats: RouterStats,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.name)
            .field("types", &self.routes.keys().collect::<Vec<_>>())
            .field("discriminator", &self.discriminator)
            .field("unknown", &self.unknown)
            .finish_non_exhaustive()
    }
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// A router without routes, with the default [`Discriminator`] and [`UnknownType::DeadLetter`].
    pub fn new() -> Self {
        Self {
            name: "default".to_owned(),
            routes: HashMap::new(),
            discriminator: Discriminator::default(),
            unknown: UnknownType::default(),
            stats: RouterStats::default(),
        }
    }

    /// A consumer builder of [`Payload`]s for this router's queue (decoding is the router's job).
    pub fn consumer(backend: Arc<dyn SqsBackend>, queue_url: impl Into<String>) -> ConsumerBuilder<Payload> {
        super::Consumer::builder_with_codec(backend, queue_url, PayloadCodec)
    }

    /// The router's name: the `router` label of its metrics (default `default`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Handles messages of `message_type` with `handler`, decoding them from JSON. A later route for the same
    /// type replaces an earlier one.
    pub fn route<T: DeserializeOwned + Send + 'static>(
        self,
        message_type: impl Into<String>,
        handler: impl Handler<T>,
    ) -> Self {
        self.route_with_codec(message_type, JsonCodec, handler)
    }

    /// Handles messages of `message_type` with `handler`, decoding them with `codec`. A payload the codec
    /// rejects is dead-lettered ([`Outcome::DeadLetter`]) with the codec's reason.
    pub fn route_with_codec<T: Send + 'static>(
        mut self,
        message_type: impl Into<String>,
        codec: impl Decode<T>,
        handler: impl Handler<T>,
    ) -> Self {
        let route = TypedRoute { codec, handler, _type: PhantomData };
        self.routes.insert(message_type.into(), Arc::new(route));
        self
    }

    /// Where types come from (default [`Discriminator::default`]).
    pub fn discriminator(mut self, discriminator: Discriminator) -> Self {
        self.discriminator = discriminator;
        self
    }

    /// What to do with messages of unknown types (default [`UnknownType::DeadLetter`]).
    pub fn on_unknown(mut self, policy: UnknownType) -> Self {
        self.unknown = policy;
        self
    }

    /// The types with a route.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// The router's counts (a shared handle that stays valid after the router was moved into a consumer).
    pub fn stats(&self) -> RouterStats {
        self.stats.clone()
    }

    fn count(&self, outcome: &'static str) {
        metrics::counter!(
            telemetry::ROUTER_MESSAGES,
            telemetry::LABEL_ROUTER => self.name.clone(),
            telemetry::LABEL_OUTCOME => outcome
        )
        .increment(1);
    }

    fn unknown(&self, message_type: Option<&str>, delivery: &Delivery<Payload>) -> Outcome {
        self.stats.bump(RouterStats::UNKNOWN);
        self.count("unknown");
        let described = message_type.map_or_else(|| "no message type".to_owned(), |t| format!("message type `{t}`"));
        let message_id = delivery.message_id();
        match self.unknown {
            UnknownType::DeadLetter => {
                tracing::warn!(%message_id, "{described} has no handler; dead-lettering the message");
                Outcome::DeadLetter(format!("no handler for {described}"))
            }
            UnknownType::Release => {
                tracing::info!(%message_id, "{described} has no handler; releasing the message");
                Outcome::Release
            }
            UnknownType::Ack => {
                tracing::info!(%message_id, "{described} has no handler; acknowledging (dropping) the message");
                Outcome::Ack
            }
        }
    }
}

#[async_trait]
impl Handler<Payload> for Router {
    async fn handle(&self, delivery: Delivery<Payload>) -> Outcome {
        let message_type = self.discriminator.message_type(delivery.meta()).map(str::to_owned);
        let Some(route) = message_type.as_deref().and_then(|t| self.routes.get(t)).cloned() else {
            return self.unknown(message_type.as_deref(), &delivery);
        };
        let message_id = delivery.message_id().clone();
        match route.dispatch(delivery).await {
            Ok(outcome) => {
                self.stats.bump(RouterStats::ROUTED);
                self.count("routed");
                outcome
            }
            Err(error) => {
                self.stats.bump(RouterStats::UNDECODABLE);
                self.count("undecodable");
                let message_type = message_type.as_deref().unwrap_or_default();
                let reason = format!("could not decode a `{message_type}` message: {error}");
                tracing::warn!(%message_id, %reason, "poison message; dead-lettering it");
                Outcome::DeadLetter(reason)
            }
        }
    }
}
