//! sqskit's own vocabulary for SQS values: identifiers, message attributes, system and queue attribute
//! names. Neither `aws-sdk-sqs` nor emulator types appear here, so the backend trait does not depend on them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype! {
    /// The id SQS assigns to a message (`MessageId`).
    MessageId
}

string_newtype! {
    /// The handle of one receive of a message (`ReceiptHandle`): needed to delete it or change its visibility.
    ReceiptHandle
}

string_newtype! {
    /// An application-level key naming one logical message, stable across resends (an order id, an event id).
    ///
    /// On FIFO queues sqskit derives the `MessageDeduplicationId` from it, so SQS drops a resend within its
    /// 5-minute window; on every queue it travels in the
    /// [`IDEMPOTENCY_KEY_ATTRIBUTE`](crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE) message attribute for
    /// consumer-side deduplication.
    IdempotencyKey
}

/// The value of a message attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    /// Text, for the `String` and `Number` data types (`StringValue`).
    Text(String),
    /// Bytes, for the `Binary` data types (`BinaryValue`).
    Binary(Vec<u8>),
}

/// A message attribute: a data type (`String`, `Number`, `Binary`, optionally with a `.label` suffix such as
/// `Number.float`) and a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageAttribute {
    /// The data type, exactly as sent.
    pub data_type: String,
    /// The value.
    pub value: AttributeValue,
}

impl MessageAttribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        Self { data_type: "String".to_owned(), value: AttributeValue::Text(value.into()) }
    }

    /// A `Number` attribute (sent as text; SQS accepts up to 38 significant digits).
    pub fn number(value: impl fmt::Display) -> Self {
        Self { data_type: "Number".to_owned(), value: AttributeValue::Text(value.to_string()) }
    }

    /// A `Binary` attribute.
    pub fn binary(value: impl Into<Vec<u8>>) -> Self {
        Self { data_type: "Binary".to_owned(), value: AttributeValue::Binary(value.into()) }
    }

    /// An attribute with an explicit data type such as `String.json` or `Binary.png`.
    pub fn with_type(data_type: impl Into<String>, value: AttributeValue) -> Self {
        Self { data_type: data_type.into(), value }
    }

    /// The text value, for `String` and `Number` types.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            AttributeValue::Text(text) => Some(text),
            AttributeValue::Binary(_) => None,
        }
    }

    /// Bytes the attribute's data type and value count toward the message size (the name is counted by the
    /// caller).
    pub(crate) fn payload_len(&self) -> usize {
        let value_len = match &self.value {
            AttributeValue::Text(text) => text.len(),
            AttributeValue::Binary(bytes) => bytes.len(),
        };
        self.data_type.len() + value_len
    }
}

/// Message attributes by name, kept sorted (the order SQS hashes them in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageAttributes(BTreeMap<String, MessageAttribute>);

impl MessageAttributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an attribute.
    pub fn insert(&mut self, name: impl Into<String>, attribute: MessageAttribute) -> Option<MessageAttribute> {
        self.0.insert(name.into(), attribute)
    }

    /// Adds an attribute, builder style.
    pub fn with(mut self, name: impl Into<String>, attribute: MessageAttribute) -> Self {
        self.insert(name, attribute);
        self
    }

    /// The attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&MessageAttribute> {
        self.0.get(name)
    }

    /// Removes the attribute called `name`.
    pub fn remove(&mut self, name: &str) -> Option<MessageAttribute> {
        self.0.remove(name)
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MessageAttribute)> {
        self.0.iter().map(|(name, attribute)| (name.as_str(), attribute))
    }

    /// Bytes these attributes count toward the message size: names, data types and values (SPEC §8).
    pub fn size(&self) -> usize {
        self.0.iter().map(|(name, attribute)| name.len() + attribute.payload_len()).sum()
    }
}

impl FromIterator<(String, MessageAttribute)> for MessageAttributes {
    fn from_iter<I: IntoIterator<Item = (String, MessageAttribute)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl IntoIterator for MessageAttributes {
    type Item = (String, MessageAttribute);
    type IntoIter = std::collections::btree_map::IntoIter<String, MessageAttribute>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident => $text:literal, )* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )*
            /// A name sqskit does not know, exactly as given.
            Other(String),
        }

        impl $name {
            /// The name as AWS spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(other) => other,
                }
            }

            /// Parses AWS's spelling; unknown names become `Other`.
            pub fn parse(name: &str) -> Self {
                match name {
                    $( $text => $name::$variant, )*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self::parse(name)
            }
        }
    };
}

named_enum! {
    /// A system attribute of a received message (`MessageSystemAttributeName`).
    SystemAttributeName {
        /// Every system attribute that applies.
        All => "All",
        /// Who sent the message.
        SenderId => "SenderId",
        /// When it was sent, in epoch milliseconds.
        SentTimestamp => "SentTimestamp",
        /// How many times it has been received.
        ApproximateReceiveCount => "ApproximateReceiveCount",
        /// When it was first received, in epoch milliseconds.
        ApproximateFirstReceiveTimestamp => "ApproximateFirstReceiveTimestamp",
        /// FIFO sequence number.
        SequenceNumber => "SequenceNumber",
        /// FIFO deduplication id.
        MessageDeduplicationId => "MessageDeduplicationId",
        /// Message group id.
        MessageGroupId => "MessageGroupId",
        /// X-Ray trace header.
        AwsTraceHeader => "AWSTraceHeader",
        /// The queue a dead-lettered message came from.
        DeadLetterQueueSourceArn => "DeadLetterQueueSourceArn",
    }
}

named_enum! {
    /// A queue attribute name (`QueueAttributeName`).
    QueueAttributeName {
        /// Every attribute.
        All => "All",
        /// Access policy JSON.
        Policy => "Policy",
        /// Default visibility timeout in seconds.
        VisibilityTimeout => "VisibilityTimeout",
        /// Largest message in bytes.
        MaximumMessageSize => "MaximumMessageSize",
        /// Retention in seconds.
        MessageRetentionPeriod => "MessageRetentionPeriod",
        /// Visible messages.
        ApproximateNumberOfMessages => "ApproximateNumberOfMessages",
        /// In-flight messages.
        ApproximateNumberOfMessagesNotVisible => "ApproximateNumberOfMessagesNotVisible",
        /// Creation time, epoch seconds.
        CreatedTimestamp => "CreatedTimestamp",
        /// Last attribute change, epoch seconds.
        LastModifiedTimestamp => "LastModifiedTimestamp",
        /// The queue's ARN.
        QueueArn => "QueueArn",
        /// Delayed messages.
        ApproximateNumberOfMessagesDelayed => "ApproximateNumberOfMessagesDelayed",
        /// Default delay in seconds.
        DelaySeconds => "DelaySeconds",
        /// Default long-poll wait in seconds.
        ReceiveMessageWaitTimeSeconds => "ReceiveMessageWaitTimeSeconds",
        /// Redrive policy JSON (dead-letter target and maxReceiveCount).
        RedrivePolicy => "RedrivePolicy",
        /// Which queues may use this one as their dead-letter queue.
        RedriveAllowPolicy => "RedriveAllowPolicy",
        /// Whether the queue is FIFO.
        FifoQueue => "FifoQueue",
        /// FIFO content-based deduplication.
        ContentBasedDeduplication => "ContentBasedDeduplication",
        /// KMS key id.
        KmsMasterKeyId => "KmsMasterKeyId",
        /// KMS data key reuse period.
        KmsDataKeyReusePeriodSeconds => "KmsDataKeyReusePeriodSeconds",
        /// FIFO deduplication scope.
        DeduplicationScope => "DeduplicationScope",
        /// FIFO throughput limit.
        FifoThroughputLimit => "FifoThroughputLimit",
        /// SQS-managed encryption.
        SqsManagedSseEnabled => "SqsManagedSseEnabled",
    }
}

/// Queue attributes by name, with typed accessors for the ones sqskit uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueAttributes(BTreeMap<QueueAttributeName, String>);

impl QueueAttributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets an attribute, builder style.
    pub fn with(mut self, name: QueueAttributeName, value: impl Into<String>) -> Self {
        self.0.insert(name, value.into());
        self
    }

    /// Sets an attribute.
    pub fn insert(&mut self, name: QueueAttributeName, value: impl Into<String>) -> Option<String> {
        self.0.insert(name, value.into())
    }

    /// The raw value of an attribute.
    pub fn get(&self, name: &QueueAttributeName) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// All attributes, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&QueueAttributeName, &str)> {
        self.0.iter().map(|(name, value)| (name, value.as_str()))
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn number(&self, name: &QueueAttributeName) -> Option<u64> {
        self.get(name).and_then(|value| value.parse().ok())
    }

    /// Whether the queue is FIFO (`FifoQueue=true`).
    pub fn is_fifo(&self) -> bool {
        self.get(&QueueAttributeName::FifoQueue).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Whether FIFO content-based deduplication is on.
    pub fn content_based_deduplication(&self) -> bool {
        self.get(&QueueAttributeName::ContentBasedDeduplication).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// `MaximumMessageSize` in bytes.
    pub fn maximum_message_size(&self) -> Option<usize> {
        self.number(&QueueAttributeName::MaximumMessageSize).and_then(|n| usize::try_from(n).ok())
    }

    /// The default visibility timeout.
    pub fn visibility_timeout(&self) -> Option<Duration> {
        self.number(&QueueAttributeName::VisibilityTimeout).map(Duration::from_secs)
    }

    /// `ApproximateNumberOfMessages` (visible messages).
    pub fn approximate_number_of_messages(&self) -> Option<u64> {
        self.number(&QueueAttributeName::ApproximateNumberOfMessages)
    }

    /// `ApproximateNumberOfMessagesNotVisible` (in-flight messages).
    pub fn approximate_number_of_messages_not_visible(&self) -> Option<u64> {
        self.number(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }

    /// `ApproximateNumberOfMessagesDelayed`.
    pub fn approximate_number_of_messages_delayed(&self) -> Option<u64> {
        self.number(&QueueAttributeName::ApproximateNumberOfMessagesDelayed)
    }

    /// The queue's ARN.
    pub fn queue_arn(&self) -> Option<&str> {
        self.get(&QueueAttributeName::QueueArn)
    }
}

impl FromIterator<(QueueAttributeName, String)> for QueueAttributes {
    fn from_iter<I: IntoIterator<Item = (QueueAttributeName, String)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Whole seconds for the wire, rounding up so that a requested duration is never shortened (SQS counts
/// visibility, delay and wait times in seconds).
pub(crate) fn wire_seconds(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(QueueAttributeName::parse("FifoQueue"), QueueAttributeName::FifoQueue);
        assert_eq!(QueueAttributeName::parse("Novel").as_str(), "Novel");
        assert_eq!(SystemAttributeName::AwsTraceHeader.as_str(), "AWSTraceHeader");
    }

    #[test]
    fn wire_seconds_round_up() {
        assert_eq!(wire_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(wire_seconds(Duration::from_secs(20)), 20);
        assert_eq!(wire_seconds(Duration::ZERO), 0);
    }

    #[test]
    fn attribute_size_counts_names_types_and_values() {
        let attributes = MessageAttributes::new()
            .with("a", MessageAttribute::string("xyz"))
            .with("bb", MessageAttribute::binary(vec![1, 2]));
        assert_eq!(attributes.size(), (1 + 6 + 3) + (2 + 6 + 2));
    }
}
