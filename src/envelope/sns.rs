//! SNS notifications as SQS receives them from a subscription without raw message delivery.
//!
//! The shape, from AWS's documentation (samples kept in `tests/fixtures/envelopes/`):
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html> (the JSON document an SQS
//! subscriber receives), <https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html> (each field:
//! `Subject` absent when none was published; `MessageId` kept when SNS retries) and
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html> (the same message
//! with and without raw delivery; message attributes as `"Name": {"Type": ..., "Value": ...}`). Binary
//! attribute values are base64 text in the JSON. Notifications from FIFO topics also carry `SequenceNumber`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{EnvelopeError, EnvelopeMeta, Opened, malformed, time};
use crate::codec::Encode;
use crate::error::{Error, Result};
use crate::types::{AttributeValue, MessageAttribute, MessageAttributes};

const KIND: &str = "SNS notification";

/// What the SNS envelope says about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnsMeta {
    /// The SNS message id (`MessageId`): the same on every delivery of one publish, also when SNS retries,
    /// so it is a natural idempotency key.
    pub message_id: String,
    /// The topic the message was published to (`TopicArn`).
    pub topic_arn: String,
    /// The `Subject` given at publish time, when there was one.
    pub subject: Option<String>,
    /// When the notification was published (`Timestamp`).
    pub timestamp: SystemTime,
    /// `SequenceNumber` (FIFO topics only).
    pub sequence_number: Option<String>,
    /// The notification's `MessageAttributes` (not the SQS message's own attributes).
    pub attributes: MessageAttributes,
    /// `SignatureVersion`, as received (not verified).
    pub signature_version: Option<String>,
    /// `Signature`, as received (not verified).
    pub signature: Option<String>,
    /// `SigningCertURL`, as received.
    pub signing_cert_url: Option<String>,
    /// `UnsubscribeURL`, as received.
    pub unsubscribe_url: Option<String>,
}

/// The notification document.
#[derive(Debug, Deserialize, Serialize)]
struct Notification<'a> {
    #[serde(rename = "Type", borrow)]
    message_type: Cow<'a, str>,
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "SequenceNumber", default, skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
    #[serde(rename = "TopicArn")]
    topic_arn: String,
    #[serde(rename = "Subject", default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(rename = "Message", borrow)]
    message: Cow<'a, str>,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "SignatureVersion", default, skip_serializing_if = "Option::is_none")]
    signature_version: Option<String>,
    #[serde(rename = "Signature", default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    #[serde(rename = "SigningCertURL", default, skip_serializing_if = "Option::is_none")]
    signing_cert_url: Option<String>,
    #[serde(rename = "UnsubscribeURL", default, skip_serializing_if = "Option::is_none")]
    unsubscribe_url: Option<String>,
    #[serde(rename = "MessageAttributes", default, skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<String, WireAttribute>,
}

/// One message attribute in the notification: `{"Type": "String", "Value": "..."}`.
#[derive(Debug, Deserialize, Serialize)]
struct WireAttribute {
    #[serde(rename = "Type")]
    data_type: String,
    #[serde(rename = "Value")]
    value: String,
}

/// Opens an SNS notification.
pub(super) fn open(body: &str) -> Result<Opened<'_>, EnvelopeError> {
    let notification: Notification<'_> = serde_json::from_str(body).map_err(|error| malformed(KIND, &error))?;
    if notification.message_type != "Notification" {
        return Err(EnvelopeError::NotANotification { message_type: notification.message_type.into_owned() });
    }
    let timestamp = time::parse("Timestamp", &notification.timestamp)?;
    let mut attributes = MessageAttributes::new();
    for (name, wire) in notification.message_attributes {
        let value = if wire.data_type.starts_with("Binary") {
            let bytes = STANDARD.decode(wire.value.as_bytes()).map_err(|error| EnvelopeError::InvalidAttribute {
                name: name.clone(),
                reason: format!("a {} value must be base64: {error}", wire.data_type),
            })?;
            AttributeValue::Binary(bytes)
        } else {
            AttributeValue::Text(wire.value)
        };
        attributes.insert(name, MessageAttribute::with_type(wire.data_type, value));
    }
    let meta = SnsMeta {
        message_id: notification.message_id,
        topic_arn: notification.topic_arn,
        subject: notification.subject,
        timestamp,
        sequence_number: notification.sequence_number,
        attributes,
        signature_version: notification.signature_version,
        signature: notification.signature,
        signing_cert_url: notification.signing_cert_url,
        unsubscribe_url: notification.unsubscribe_url,
    };
    Ok(Opened { payload: Cow::Owned(notification.message.into_owned()), meta: EnvelopeMeta::Sns(Box::new(meta)) })
}

/// Wraps encoded values in an SNS notification, as SNS delivers them to an SQS subscriber without raw message
/// delivery: for tests and local runs of consumers configured with [`Envelope::Sns`](super::Envelope::Sns).
///
/// Each notification gets a new `MessageId` (a v4 UUID) and the current time as `Timestamp`. It carries no
/// `Signature`, `SignatureVersion`, `SigningCertURL` or `UnsubscribeURL` (it is not signed by SNS, and sqskit
/// does not verify signatures), so it is never mistaken for a genuine one.
///
/// # Examples
/// ```
/// use sqskit::codec::{Encode, JsonCodec};
/// use sqskit::envelope::{Envelope, SnsEncoder};
/// use sqskit::MessageAttribute;
///
/// let encoder = SnsEncoder::new(JsonCodec, "arn:aws:sns:us-east-1:123456789012:orders")
///     .subject("order")
///     .attribute("sqskit.message-type", MessageAttribute::string("OrderPlaced"));
/// let body = encoder.encode(&serde_json::json!({"id": 7}))?;
/// let opened = Envelope::Sns.open(&body)?;
/// assert_eq!(opened.payload, r#"{"id":7}"#);
/// assert_eq!(opened.meta.sns().and_then(|sns| sns.subject.as_deref()), Some("order"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SnsEncoder<C> {
    inner: C,
    topic_arn: String,
    subject: Option<String>,
    attributes: MessageAttributes,
}

impl<C> SnsEncoder<C> {
    /// Encodes the `Message` with `inner`, as published to `topic_arn`.
    pub fn new(inner: C, topic_arn: impl Into<String>) -> Self {
        Self { inner, topic_arn: topic_arn.into(), subject: None, attributes: MessageAttributes::new() }
    }

    /// The `Subject` of every notification.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// A message attribute of every notification (inside the envelope, like one given to SNS `Publish`).
    pub fn attribute(mut self, name: impl Into<String>, attribute: MessageAttribute) -> Self {
        self.attributes.insert(name, attribute);
        self
    }
}

impl<T: ?Sized, C: Encode<T>> Encode<T> for SnsEncoder<C> {
    fn encode(&self, value: &T) -> Result<String> {
        let message = self.inner.encode(value)?;
        let message_attributes = self
            .attributes
            .iter()
            .map(|(name, attribute)| {
                let value = match &attribute.value {
                    AttributeValue::Text(text) => text.clone(),
                    AttributeValue::Binary(bytes) => STANDARD.encode(bytes),
                };
                (name.to_owned(), WireAttribute { data_type: attribute.data_type.clone(), value })
            })
            .collect();
        let notification = Notification {
            message_type: Cow::Borrowed("Notification"),
            message_id: uuid::Uuid::new_v4().to_string(),
            sequence_number: None,
            topic_arn: self.topic_arn.clone(),
            subject: self.subject.clone(),
            message: Cow::Owned(message),
            timestamp: time::format(SystemTime::now(), true),
            signature_version: None,
            signature: None,
            signing_cert_url: None,
            unsubscribe_url: None,
            message_attributes,
        };
        serde_json::to_string(&notification).map_err(Error::encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_err(body: &str) -> String {
        match open(body) {
            Ok(opened) => panic!("expected an error, opened {opened:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn binary_attributes_are_base64_decoded() {
        let body = r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"2021-02-16T21:41:19.978Z",
            "MessageAttributes":{"Blob":{"Type":"Binary","Value":"AQID"},"Count":{"Type":"Number","Value":"5"}}}"#;
        let opened = open(body).expect("valid");
        let sns = opened.meta.sns().expect("sns");
        assert_eq!(sns.attributes.get("Blob"), Some(&MessageAttribute::binary(vec![1, 2, 3])));
        assert_eq!(sns.attributes.get("Count"), Some(&MessageAttribute::number(5)));
    }

    #[test]
    fn malformed_notifications_say_what_is_wrong() {
        assert!(open_err("not json").starts_with("not a valid SNS notification"));
        assert!(open_err(r#"{"Type":"Notification","TopicArn":"t"}"#).contains("missing field `MessageId`"));
        let confirmation = r#"{"Type":"SubscriptionConfirmation","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"2021-02-16T21:41:19.978Z"}"#;
        assert_eq!(
            open_err(confirmation),
            "an SNS SubscriptionConfirmation message, not a Notification: confirm the subscription at its SubscribeURL"
        );
        let bad_time = r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"soon"}"#;
        assert_eq!(open_err(bad_time), "Timestamp `soon` is not an RFC 3339 timestamp");
        let bad_binary = r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"2021-02-16T21:41:19.978Z",
            "MessageAttributes":{"Blob":{"Type":"Binary","Value":"%%%"}}}"#;
        assert!(
            open_err(bad_binary).starts_with("SNS message attribute `Blob` is invalid: a Binary value must be base64")
        );
        let no_value = r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"2021-02-16T21:41:19.978Z",
            "MessageAttributes":{"Blob":{"Type":"String"}}}"#;
        assert!(open_err(no_value).contains("missing field `Value`"));
    }
}
