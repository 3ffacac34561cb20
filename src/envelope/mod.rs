//! Envelopes: what wraps a message body on its way into SQS, opened before the codec runs.
//!
//! Most production queues are fed by an SNS topic or an EventBridge rule, not by a producer writing the body
//! directly. A consumer (or the Lambda adapter, `sqskit::lambda`) is configured with an [`Envelope`]; it opens
//! each body into a [payload](Opened::payload), which the codec decodes into `T`, and [metadata](EnvelopeMeta),
//! which the handler finds on its [`Delivery`](crate::consumer::Delivery).
//!
//! | Envelope | The body is | `T` decodes from | Metadata |
//! |---|---|---|---|
//! | [`Raw`](Envelope::Raw) (default) | the payload itself (also SNS with *raw message delivery*) | the body | none |
//! | [`Sns`](Envelope::Sns) | an SNS notification ([`sns`]) | its `Message` string | [`SnsMeta`] |
//! | [`EventBridge`](Envelope::EventBridge) | an EventBridge event ([`eventbridge`]) | its `detail` object | [`EventBridgeMeta`] |
//! | [`Auto`](Envelope::Auto) | any of the above, detected per message | as detected | as detected |
//!
//! **What is decoded and what is not.** SNS: `Type` (only `Notification` is accepted: a
//! `SubscriptionConfirmation` or `UnsubscribeConfirmation` is poison, named as such), `MessageId`, `TopicArn`,
//! `Subject`, `Message`, `Timestamp`, `SequenceNumber` (FIFO topics) and `MessageAttributes` (each
//! `{Type, Value}`: `String`, `String.Array` and `Number` kept as text, `Binary` decoded from base64) are
//! decoded; `SignatureVersion`, `Signature`, `SigningCertURL` and `UnsubscribeURL` are kept as text but the
//! signature is **not verified** (SNS delivers to SQS through the queue's access policy, not over HTTP; verify it
//! yourself if your queue accepts messages from untrusted senders). EventBridge: every top-level field of the
//! documented event structure (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`,
//! `resources`, `detail`, and `replay-name` when present). Anything else in either envelope is ignored.
//!
//! An EventBridge rule with an *input transformer* or *input path* on its SQS target delivers only what the
//! transformer builds, not the event: use [`Raw`](Envelope::Raw) for such a queue.
//!
//! A body that does not parse as the configured envelope is **poison** (an [`Error::Decode`] whose source is an
//! [`EnvelopeError`] saying what is wrong), handled like any body the codec rejects: never a panic.
//!
//! The producer side ([`SnsEncoder`], [`EventBridgeEncoder`]) wraps values the way SNS and EventBridge do, for
//! tests and local runs: publishing to SNS or EventBridge is out of scope for sqskit.

pub mod eventbridge;
pub mod sns;
mod time;

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::Error;

pub use eventbridge::{EventBridgeEncoder, EventBridgeMeta};
pub use sns::{SnsEncoder, SnsMeta};

/// The message attribute (type `String`) that names a message's type on a queue carrying several types (see
/// [`Router`](crate::consumer::Router)). Producers set it with
/// [`SendOptions::message_type`](crate::producer::SendOptions::message_type); in an SNS envelope it may
/// also be one of the notification's own `MessageAttributes`.
pub const MESSAGE_TYPE_ATTRIBUTE: &str = "sqskit.message-type";

/// Which envelope the bodies of a queue come in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Envelope {
    /// No envelope: the body is the payload (also what SNS delivers with raw message delivery on).
    #[default]
    Raw,
    /// An SNS notification as SQS receives it without raw message delivery.
    Sns,
    /// An EventBridge event, as an EventBridge rule with an SQS target delivers it.
    EventBridge,
    /// Detected per message: a JSON object with string `Type` and `TopicArn` members is opened as SNS, one
    /// with `detail-type` and `source` as EventBridge, anything else (other JSON, or not JSON) as raw. A body
    /// detected as SNS or EventBridge must then be a valid one: a broken envelope is poison, never passed on
    /// raw.
    Auto,
}

/// What an envelope wrapped around a message: nothing, an SNS notification's fields, or an EventBridge
/// event's.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub enum EnvelopeMeta {
    /// No envelope (raw).
    #[default]
    Raw,
    /// The message came through SNS.
    Sns(Box<SnsMeta>),
    /// The message is an EventBridge event.
    EventBridge(Box<EventBridgeMeta>),
}

impl EnvelopeMeta {
    /// The SNS metadata, when the message came through SNS.
    pub fn sns(&self) -> Option<&SnsMeta> {
        match self {
            EnvelopeMeta::Sns(meta) => Some(meta),
            _ => None,
        }
    }

    /// The EventBridge metadata, when the message is an EventBridge event.
    pub fn eventbridge(&self) -> Option<&EventBridgeMeta> {
        match self {
            EnvelopeMeta::EventBridge(meta) => Some(meta),
            _ => None,
        }
    }

    /// `raw`, `sns` or `eventbridge`, for logs.
    pub const fn kind(&self) -> &'static str {
        match self {
            EnvelopeMeta::Raw => "raw",
            EnvelopeMeta::Sns(_) => "sns",
            EnvelopeMeta::EventBridge(_) => "eventbridge",
        }
    }
}

/// An opened body: the payload for the codec and the envelope's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened<'a> {
    /// What the codec decodes: the body itself (raw), the SNS `Message`, or the EventBridge `detail` as JSON
    /// text.
    pub payload: Cow<'a, str>,
    /// The envelope's fields.
    pub meta: EnvelopeMeta,
}

/// Why a body is not a valid envelope of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is not a JSON object with the envelope's fields (serde_json's message says which field or
    /// where).
    #[error("not a valid {kind} envelope: {detail}")]
    Malformed {
        /// `SNS notification` or `EventBridge event`.
        kind: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An SNS message of another `Type` than `Notification`.
    #[error(
        "an SNS {message_type} message, not a Notification{}",
        if message_type == "SubscriptionConfirmation" { ": confirm the subscription at its SubscribeURL" } else { "" }
    )]
    NotANotification {
        /// The `Type` received.
        message_type: String,
    },
    /// An SNS message attribute whose value does not match its type.
    #[error("SNS message attribute `{name}` is invalid: {reason}")]
    InvalidAttribute {
        /// The attribute's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A timestamp that is not RFC 3339.
    #[error("{field} `{value}` is not an RFC 3339 timestamp")]
    InvalidTimestamp {
        /// The field (`Timestamp`, `time`).
        field: &'static str,
        /// The value received.
        value: String,
    },
}

impl From<EnvelopeError> for Error {
    /// An envelope error is a decoding error: the message is poison.
    fn from(error: EnvelopeError) -> Self {
        Error::decode(error)
    }
}

/// Just enough of a JSON object to tell the envelopes apart (every other member is skipped).
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "Type")]
    sns_type: Option<IgnoredAny>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<IgnoredAny>,
    #[serde(rename = "detail-type")]
    detail_type: Option<IgnoredAny>,
    source: Option<IgnoredAny>,
}

impl Envelope {
    /// Opens `body`.
    ///
    /// # Errors
    /// [`EnvelopeError`] when the body is not a valid envelope of this kind (for [`Auto`](Envelope::Auto):
    /// when it looks like an SNS notification or EventBridge event but is not a valid one).
    ///
    /// # Examples
    /// ```
    /// use sqskit::envelope::Envelope;
    ///
    /// let body = r#"{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:123456789012:orders",
    ///     "Message":"{\"id\":7}","Timestamp":"2024-05-01T10:00:00.000Z"}"#;
    /// let opened = Envelope::Auto.open(body)?;
    /// assert_eq!(opened.payload, r#"{"id":7}"#);
    /// assert_eq!(opened.meta.sns().map(|sns| sns.topic_arn.as_str()), Some("arn:aws:sns:us-east-1:123456789012:orders"));
    /// # Ok::<(), sqskit::envelope::EnvelopeError>(())
    /// ```
    pub fn open<'a>(&self, body: &'a str) -> Result<Opened<'a>, EnvelopeError> {
        match self {
            Envelope::Raw => Ok(Opened { payload: Cow::Borrowed(body), meta: EnvelopeMeta::Raw }),
            Envelope::Sns => sns::open(body),
            Envelope::EventBridge => eventbridge::open(body),
            Envelope::Auto => match detect(body) {
                Envelope::Sns => sns::open(body),
                Envelope::EventBridge => eventbridge::open(body),
                _ => Envelope::Raw.open(body),
            },
        }
    }
}

/// Which envelope a body looks like (`Raw` when it is not a JSON object with either's markers).
fn detect(body: &str) -> Envelope {
    if !body.trim_start().starts_with('{') {
        return Envelope::Raw;
    }
    match serde_json::from_str::<Probe>(body) {
        Ok(Probe { sns_type: Some(_), topic_arn: Some(_), .. }) => Envelope::Sns,
        Ok(Probe { detail_type: Some(_), source: Some(_), .. }) => Envelope::EventBridge,
        _ => Envelope::Raw,
    }
}

/// A serde_json error as an [`EnvelopeError::Malformed`].
fn malformed(kind: &'static str, error: &serde_json::Error) -> EnvelopeError {
    EnvelopeError::Malformed { kind, detail: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(detect("plain text"), Envelope::Raw);
        assert_eq!(detect(r#"{"id":1}"#), Envelope::Raw);
        assert_eq!(detect(r#"[1,2]"#), Envelope::Raw);
        assert_eq!(detect(r#"{"Type":"Notification","TopicArn":"a"}"#), Envelope::Sns);
        assert_eq!(detect(r#"{"detail-type":"x","source":"y"}"#), Envelope::EventBridge);
        // A raw JSON payload that happens to carry a `Type` member only is still raw.
        assert_eq!(detect(r#"{"Type":"OrderPlaced","id":1}"#), Envelope::Raw);
    }

    #[test]
    fn raw_passes_the_body_through() {
        let opened = Envelope::Raw.open("anything at all").expect("raw never fails");
        assert_eq!(opened.payload, "anything at all");
        assert_eq!(opened.meta, EnvelopeMeta::Raw);
    }
}
