//! Queue attributes: the typed settings of a queue, their names, AWS's ranges and defaults, and validation of
//! the string name/value pairs that both protocols deliver.

use std::str::FromStr;
use std::time::Duration;

use crate::documents::{self, RedriveAllowPolicy, RedrivePolicy};
use crate::error::SqsError;

/// Every queue attribute name SQS knows (the model's `QueueAttributeName` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueAttributeName {
    /// Every attribute that applies to the queue.
    All,
    /// Visible messages (read-only).
    ApproximateNumberOfMessages,
    /// Delayed messages (read-only).
    ApproximateNumberOfMessagesDelayed,
    /// In-flight messages (read-only).
    ApproximateNumberOfMessagesNotVisible,
    /// FIFO: derive deduplication ids from the body.
    ContentBasedDeduplication,
    /// Creation time in epoch seconds (read-only).
    CreatedTimestamp,
    /// FIFO: `queue` or `messageGroup`.
    DeduplicationScope,
    /// Default delay of new messages.
    DelaySeconds,
    /// Whether the queue is FIFO (set at creation only).
    FifoQueue,
    /// FIFO: `perQueue` or `perMessageGroupId`.
    FifoThroughputLimit,
    /// How long SQS reuses a KMS data key.
    KmsDataKeyReusePeriodSeconds,
    /// The KMS key for server-side encryption.
    KmsMasterKeyId,
    /// Last attribute change in epoch seconds (read-only).
    LastModifiedTimestamp,
    /// Largest message accepted, in bytes.
    MaximumMessageSize,
    /// How long messages are kept.
    MessageRetentionPeriod,
    /// The access policy document.
    Policy,
    /// The queue's ARN (read-only).
    QueueArn,
    /// Default long-poll wait of receives.
    ReceiveMessageWaitTimeSeconds,
    /// Which queues may use this one as a dead-letter queue.
    RedriveAllowPolicy,
    /// Where messages go after too many receives.
    RedrivePolicy,
    /// SQS-managed server-side encryption.
    SqsManagedSseEnabled,
    /// Default visibility timeout of receives.
    VisibilityTimeout,
}

impl QueueAttributeName {
    /// Names in the order `All` reports them.
    pub const ALL_NAMES: [QueueAttributeName; 21] = [
        Self::QueueArn,
        Self::ApproximateNumberOfMessages,
        Self::ApproximateNumberOfMessagesNotVisible,
        Self::ApproximateNumberOfMessagesDelayed,
        Self::CreatedTimestamp,
        Self::LastModifiedTimestamp,
        Self::VisibilityTimeout,
        Self::MaximumMessageSize,
        Self::MessageRetentionPeriod,
        Self::DelaySeconds,
        Self::ReceiveMessageWaitTimeSeconds,
        Self::Policy,
        Self::RedrivePolicy,
        Self::RedriveAllowPolicy,
        Self::KmsMasterKeyId,
        Self::KmsDataKeyReusePeriodSeconds,
        Self::SqsManagedSseEnabled,
        Self::FifoQueue,
        Self::ContentBasedDeduplication,
        Self::DeduplicationScope,
        Self::FifoThroughputLimit,
    ];

    /// The name as AWS spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::ApproximateNumberOfMessages => "ApproximateNumberOfMessages",
            Self::ApproximateNumberOfMessagesDelayed => "ApproximateNumberOfMessagesDelayed",
            Self::ApproximateNumberOfMessagesNotVisible => "ApproximateNumberOfMessagesNotVisible",
            Self::ContentBasedDeduplication => "ContentBasedDeduplication",
            Self::CreatedTimestamp => "CreatedTimestamp",
            Self::DeduplicationScope => "DeduplicationScope",
            Self::DelaySeconds => "DelaySeconds",
            Self::FifoQueue => "FifoQueue",
            Self::FifoThroughputLimit => "FifoThroughputLimit",
            Self::KmsDataKeyReusePeriodSeconds => "KmsDataKeyReusePeriodSeconds",
            Self::KmsMasterKeyId => "KmsMasterKeyId",
            Self::LastModifiedTimestamp => "LastModifiedTimestamp",
            Self::MaximumMessageSize => "MaximumMessageSize",
            Self::MessageRetentionPeriod => "MessageRetentionPeriod",
            Self::Policy => "Policy",
            Self::QueueArn => "QueueArn",
            Self::ReceiveMessageWaitTimeSeconds => "ReceiveMessageWaitTimeSeconds",
            Self::RedriveAllowPolicy => "RedriveAllowPolicy",
            Self::RedrivePolicy => "RedrivePolicy",
            Self::SqsManagedSseEnabled => "SqsManagedSseEnabled",
            Self::VisibilityTimeout => "VisibilityTimeout",
        }
    }

    /// Whether the attribute exists only on FIFO queues.
    pub const fn is_fifo_only(self) -> bool {
        matches!(self, Self::ContentBasedDeduplication | Self::DeduplicationScope | Self::FifoThroughputLimit)
    }

    /// Whether the attribute can be set by CreateQueue / SetQueueAttributes.
    pub const fn is_settable(self) -> bool {
        !matches!(
            self,
            Self::All
                | Self::ApproximateNumberOfMessages
                | Self::ApproximateNumberOfMessagesDelayed
                | Self::ApproximateNumberOfMessagesNotVisible
                | Self::CreatedTimestamp
                | Self::LastModifiedTimestamp
                | Self::QueueArn
        )
    }
}

impl FromStr for QueueAttributeName {
    type Err = SqsError;

    fn from_str(name: &str) -> Result<Self, SqsError> {
        std::iter::once(Self::All)
            .chain(Self::ALL_NAMES)
            .find(|candidate| candidate.as_str() == name)
            .ok_or_else(|| SqsError::unknown_attribute(name))
    }
}

/// FIFO deduplication scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeduplicationScope {
    /// Deduplication ids are unique per queue.
    Queue,
    /// Deduplication ids are unique per message group.
    MessageGroup,
}

/// FIFO throughput limit mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoThroughputLimit {
    /// The quota applies to the whole queue.
    PerQueue,
    /// The quota applies to each message group (high-throughput mode).
    PerMessageGroupId,
}

/// The settable attributes of a queue, typed, with AWS's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Default delay of new messages (0..=900 s).
    pub delay: Duration,
    /// Largest message accepted, in bytes (1,024..=1,048,576).
    pub maximum_message_size: usize,
    /// How long messages are kept (60 s..=14 days).
    pub message_retention_period: Duration,
    /// Default long-poll wait (0..=20 s).
    pub receive_message_wait_time: Duration,
    /// Default visibility timeout (0..=12 h).
    pub visibility_timeout: Duration,
    /// Access policy document, if any.
    pub policy: Option<String>,
    /// Dead-letter routing, if any.
    pub redrive_policy: Option<RedrivePolicy>,
    /// Who may use this queue as a dead-letter queue, if restricted.
    pub redrive_allow_policy: Option<RedriveAllowPolicy>,
    /// KMS key id, if SSE-KMS is on.
    pub kms_master_key_id: Option<String>,
    /// KMS data key reuse period (60..=86,400 s).
    pub kms_data_key_reuse_period: Duration,
    /// SQS-managed SSE.
    pub sqs_managed_sse_enabled: bool,
    /// Whether the queue is FIFO.
    pub fifo_queue: bool,
    /// FIFO content-based deduplication.
    pub content_based_deduplication: bool,
    /// FIFO deduplication scope.
    pub deduplication_scope: DeduplicationScope,
    /// FIFO throughput limit.
    pub fifo_throughput_limit: FifoThroughputLimit,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            maximum_message_size: 1_048_576,
            message_retention_period: Duration::from_secs(345_600),
            receive_message_wait_time: Duration::ZERO,
            visibility_timeout: Duration::from_secs(30),
            policy: None,
            redrive_policy: None,
            redrive_allow_policy: None,
            kms_master_key_id: None,
            kms_data_key_reuse_period: Duration::from_secs(300),
            sqs_managed_sse_enabled: true,
            fifo_queue: false,
            content_based_deduplication: false,
            deduplication_scope: DeduplicationScope::Queue,
            fifo_throughput_limit: FifoThroughputLimit::PerQueue,
        }
    }
}

fn parse_seconds(name: QueueAttributeName, value: &str, min: u64, max: u64) -> Result<Duration, SqsError> {
    parse_integer(name, value, min, max).map(Duration::from_secs)
}

fn parse_integer(name: QueueAttributeName, value: &str, min: u64, max: u64) -> Result<u64, SqsError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| SqsError::invalid_attribute_value(name.as_str()))
}

fn parse_bool(name: QueueAttributeName, value: &str) -> Result<bool, SqsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SqsError::invalid_attribute_value(name.as_str())),
    }
}

fn invalid_document(name: QueueAttributeName, reason: &documents::DocumentError) -> SqsError {
    SqsError::new(
        crate::error::ErrorCode::InvalidAttributeValue,
        format!("Invalid value for the parameter {}. Reason: {reason}", name.as_str()),
    )
}

impl QueueSettings {
    /// Applies one attribute given as strings, validating name and value as AWS does. An empty `Policy`,
    /// `RedrivePolicy` or `RedriveAllowPolicy` removes it. Cross-queue checks (does the dead-letter target
    /// exist?) are the engine's job.
    ///
    /// # Errors
    /// `InvalidAttributeName` for unknown or read-only names, `InvalidAttributeValue` for bad values.
    pub fn apply(&mut self, name: &str, value: &str) -> Result<QueueAttributeName, SqsError> {
        let attribute: QueueAttributeName = name.parse()?;
        if !attribute.is_settable() {
            return Err(SqsError::unknown_attribute(name));
        }
        use QueueAttributeName as N;
        match attribute {
            N::DelaySeconds => self.delay = parse_seconds(attribute, value, 0, 900)?,
            N::MaximumMessageSize => {
                self.maximum_message_size = parse_integer(attribute, value, 1_024, 1_048_576)? as usize;
            }
            N::MessageRetentionPeriod => {
                self.message_retention_period = parse_seconds(attribute, value, 60, 1_209_600)?;
            }
            N::ReceiveMessageWaitTimeSeconds => {
                self.receive_message_wait_time = parse_seconds(attribute, value, 0, 20)?;
            }
            N::VisibilityTimeout => self.visibility_timeout = parse_seconds(attribute, value, 0, 43_200)?,
            N::KmsDataKeyReusePeriodSeconds => {
                self.kms_data_key_reuse_period = parse_seconds(attribute, value, 60, 86_400)?;
            }
            N::KmsMasterKeyId => {
                self.kms_master_key_id = (!value.is_empty()).then(|| value.to_owned());
                // One kind of server-side encryption at a time: SSE-KMS replaces SSE-SQS.
                if self.kms_master_key_id.is_some() {
                    self.sqs_managed_sse_enabled = false;
                }
            }
            N::SqsManagedSseEnabled => {
                self.sqs_managed_sse_enabled = parse_bool(attribute, value)?;
                if self.sqs_managed_sse_enabled {
                    self.kms_master_key_id = None;
                }
            }
            N::Policy => {
                if value.is_empty() {
                    self.policy = None;
                } else {
                    documents::validate_access_policy(value).map_err(|e| invalid_document(attribute, &e))?;
                    self.policy = Some(value.to_owned());
                }
            }
            N::RedrivePolicy => {
                self.redrive_policy = if value.is_empty() {
                    None
                } else {
                    let policy = RedrivePolicy::parse(value).map_err(|e| invalid_document(attribute, &e))?;
                    if !(1..=1000).contains(&policy.max_receive_count) {
                        return Err(SqsError::invalid_parameter_value(
                            "RedrivePolicy",
                            value,
                            "Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
                        ));
                    }
                    Some(policy)
                };
            }
            N::RedriveAllowPolicy => {
                self.redrive_allow_policy = if value.is_empty() {
                    None
                } else {
                    Some(RedriveAllowPolicy::parse(value).map_err(|e| invalid_document(attribute, &e))?)
                };
            }
            N::FifoQueue => self.fifo_queue = parse_bool(attribute, value)?,
            N::ContentBasedDeduplication => self.content_based_deduplication = parse_bool(attribute, value)?,
            N::DeduplicationScope => {
                self.deduplication_scope = match value {
                    "queue" => DeduplicationScope::Queue,
                    "messageGroup" => DeduplicationScope::MessageGroup,
                    _ => return Err(SqsError::invalid_attribute_value(name)),
                };
            }
            N::FifoThroughputLimit => {
                self.fifo_throughput_limit = match value {
                    "perQueue" => FifoThroughputLimit::PerQueue,
                    "perMessageGroupId" => FifoThroughputLimit::PerMessageGroupId,
                    _ => return Err(SqsError::invalid_attribute_value(name)),
                };
            }
            N::All
            | N::ApproximateNumberOfMessages
            | N::ApproximateNumberOfMessagesDelayed
            | N::ApproximateNumberOfMessagesNotVisible
            | N::CreatedTimestamp
            | N::LastModifiedTimestamp
            | N::QueueArn => return Err(SqsError::unknown_attribute(name)),
        }
        Ok(attribute)
    }

    /// Every settable attribute that has a value, as name/value strings that [`QueueSettings::apply`] accepts
    /// (what storage keeps).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = QueueAttributeName::ALL_NAMES
            .into_iter()
            .filter(|name| name.is_settable())
            .filter_map(|name| self.render(name).map(|value| (name.as_str().to_owned(), value)))
            .collect();
        if self.kms_master_key_id.is_none() {
            let period = self.kms_data_key_reuse_period.as_secs().to_string();
            pairs.push((QueueAttributeName::KmsDataKeyReusePeriodSeconds.as_str().to_owned(), period));
        }
        pairs
    }

    /// The current value of a settable attribute as AWS renders it, or `None` when the attribute does not apply
    /// (an optional attribute that is not set, or a FIFO attribute of a standard queue).
    pub fn render(&self, attribute: QueueAttributeName) -> Option<String> {
        use QueueAttributeName as N;
        if attribute.is_fifo_only() && !self.fifo_queue {
            return None;
        }
        let secs = |d: Duration| Some(d.as_secs().to_string());
        match attribute {
            N::DelaySeconds => secs(self.delay),
            N::MaximumMessageSize => Some(self.maximum_message_size.to_string()),
            N::MessageRetentionPeriod => secs(self.message_retention_period),
            N::ReceiveMessageWaitTimeSeconds => secs(self.receive_message_wait_time),
            N::VisibilityTimeout => secs(self.visibility_timeout),
            N::Policy => self.policy.clone(),
            N::RedrivePolicy => self.redrive_policy.as_ref().map(RedrivePolicy::render),
            N::RedriveAllowPolicy => self.redrive_allow_policy.as_ref().map(RedriveAllowPolicy::render),
            N::KmsMasterKeyId => self.kms_master_key_id.clone(),
            N::KmsDataKeyReusePeriodSeconds => {
                self.kms_master_key_id.as_ref().and_then(|_| secs(self.kms_data_key_reuse_period))
            }
            N::SqsManagedSseEnabled => Some(self.sqs_managed_sse_enabled.to_string()),
            N::FifoQueue => self.fifo_queue.then(|| "true".to_owned()),
            N::ContentBasedDeduplication => Some(self.content_based_deduplication.to_string()),
            N::DeduplicationScope => Some(
                match self.deduplication_scope {
                    DeduplicationScope::Queue => "queue",
                    DeduplicationScope::MessageGroup => "messageGroup",
                }
                .to_owned(),
            ),
            N::FifoThroughputLimit => Some(
                match self.fifo_throughput_limit {
                    FifoThroughputLimit::PerQueue => "perQueue",
                    FifoThroughputLimit::PerMessageGroupId => "perMessageGroupId",
                }
                .to_owned(),
            ),
            N::All
            | N::ApproximateNumberOfMessages
            | N::ApproximateNumberOfMessagesDelayed
            | N::ApproximateNumberOfMessagesNotVisible
            | N::CreatedTimestamp
            | N::LastModifiedTimestamp
            | N::QueueArn => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn names_round_trip() {
        for name in QueueAttributeName::ALL_NAMES {
            assert_eq!(name.as_str().parse::<QueueAttributeName>().expect("known"), name);
        }
        assert_eq!("Bogus".parse::<QueueAttributeName>().unwrap_err().code, ErrorCode::InvalidAttributeName);
    }

    #[test]
    fn ranges_follow_aws() {
        let mut settings = QueueSettings::default();
        for (name, ok, bad) in [
            ("DelaySeconds", "900", "901"),
            ("MaximumMessageSize", "1024", "1023"),
            ("MaximumMessageSize", "1048576", "1048577"),
            ("MessageRetentionPeriod", "60", "59"),
            ("MessageRetentionPeriod", "1209600", "1209601"),
            ("ReceiveMessageWaitTimeSeconds", "20", "21"),
            ("VisibilityTimeout", "43200", "43201"),
            ("VisibilityTimeout", "0", "-1"),
        ] {
            assert!(settings.apply(name, ok).is_ok(), "{name}={ok}");
            assert_eq!(settings.apply(name, bad).unwrap_err().code, ErrorCode::InvalidAttributeValue, "{name}={bad}");
        }
    }

    #[test]
    fn pairs_round_trip_through_apply() {
        let mut settings = QueueSettings::default();
        for (name, value) in [("VisibilityTimeout", "45"), ("Policy", r#"{"Statement":[]}"#), ("FifoQueue", "true")] {
            settings.apply(name, value).expect("valid");
        }
        settings.apply("ContentBasedDeduplication", "true").expect("valid");

        let mut restored = QueueSettings::default();
        for (name, value) in settings.to_pairs() {
            restored.apply(&name, &value).expect("rendered values are valid");
        }

        assert_eq!(restored, settings);
    }

    #[test]
    fn read_only_names_cannot_be_set() {
        let mut settings = QueueSettings::default();
        assert_eq!(settings.apply("QueueArn", "x").unwrap_err().code, ErrorCode::InvalidAttributeName);
    }

    #[test]
    fn empty_policy_removes_it() {
        let mut settings = QueueSettings::default();
        settings.apply("Policy", r#"{"Version":"2012-10-17"}"#).expect("valid");
        assert!(settings.render(QueueAttributeName::Policy).is_some());
        settings.apply("Policy", "").expect("valid");
        assert_eq!(settings.render(QueueAttributeName::Policy), None);
    }
}
