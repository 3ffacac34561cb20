//! The crate's one error type, [`Error`], the SQS error codes it carries, and [`Error::is_retryable`], the
//! single place where sqskit decides whether a failure is worth another attempt.
//!
//! Both backends build service errors through [`ServiceErrorCode::parse`], from the legacy Query code (what
//! `aws-sdk-sqs` reports from `x-amzn-query-error`) or the JSON shape name, so an error classifies the same way
//! whichever backend produced it.

use std::fmt;
use std::sync::Arc;

use crate::types::MessageId;

/// A shared, cloneable error source (errors are cloned when one failed request fails many messages).
pub type SharedSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Which side of the conversation AWS blames for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The request was wrong; sending it again as it is will fail again.
    Sender,
    /// The service failed; the same request may succeed later.
    Receiver,
}

impl Fault {
    /// The fault from a batch entry's `SenderFault` flag.
    pub const fn from_sender_fault(sender_fault: bool) -> Self {
        if sender_fault { Fault::Sender } else { Fault::Receiver }
    }

    /// The fault of an error response: its `Type` field (`Sender`, `Receiver`) when it has one, else what the
    /// HTTP status says (5xx the service's, 4xx the caller's); `None` for a status that is no error.
    pub fn of_response(type_field: Option<&str>, status: u16) -> Option<Self> {
        match type_field {
            Some("Sender") => Some(Fault::Sender),
            Some("Receiver") => Some(Fault::Receiver),
            _ if status >= 500 => Some(Fault::Receiver),
            _ if status >= 400 => Some(Fault::Sender),
            _ => None,
        }
    }

    /// The fault as AWS spells it (`Sender`, `Receiver`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

macro_rules! service_error_codes {
    ($( $(#[$doc:meta])* $variant:ident => ($shape:literal, $legacy:literal $(, $alias:literal)*), )*) => {
        /// An SQS error code. Parsed from either spelling AWS uses: the JSON shape name (`QueueDoesNotExist`)
        /// or the legacy Query code (`AWS.SimpleQueueService.NonExistentQueue`); codes sqskit does not know are
        /// kept in [`ServiceErrorCode::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ServiceErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code not in the table above, exactly as received.
            Other(String),
        }

        impl ServiceErrorCode {
            /// The code of an error response that carried none (a proxy or load balancer answered, not SQS),
            /// from its HTTP status: 429 throttling, 500, 503 and 504 the service's transient failures, any
            /// other status kept as `Other("HTTP <status>")`.
            pub fn for_status(status: u16) -> Self {
                match status {
                    429 => Self::Throttling,
                    500 => Self::InternalError,
                    503 => Self::ServiceUnavailable,
                    504 => Self::RequestTimeout,
                    other => Self::Other(format!("HTTP {other}")),
                }
            }

            /// Parses a code as the SQS JSON protocol (`__type`, with or without its `namespace#` prefix), the
            /// `x-amzn-query-error` header (`Code;Fault`) or the Query protocol spells it.
            pub fn parse(code: &str) -> Self {
                let code = code.split(';').next().unwrap_or(code);
                let code = code.rsplit('#').next().unwrap_or(code).trim();
                // Codes spelled the same in both protocols repeat a pattern; that is expected.
                #[allow(unreachable_patterns)]
                match code {
                    $( $shape | $legacy $(| $alias)* => ServiceErrorCode::$variant, )*
                    other => ServiceErrorCode::Other(other.to_owned()),
                }
            }

            /// The legacy Query code (what `aws-sdk-sqs`'s `ProvideErrorMetadata::code()` returns).
            pub fn legacy_code(&self) -> &str {
                match self {
                    $( ServiceErrorCode::$variant => $legacy, )*
                    ServiceErrorCode::Other(code) => code,
                }
            }

            /// The JSON shape name (the `__type` after `#`).
            pub fn shape_name(&self) -> &str {
                match self {
                    $( ServiceErrorCode::$variant => $shape, )*
                    ServiceErrorCode::Other(code) => code,
                }
            }
        }
    };
}

service_error_codes! {
    /// The queue does not exist.
    QueueDoesNotExist => ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"),
    /// A queue of this name exists with different attributes.
    QueueNameExists => ("QueueNameExists", "QueueAlreadyExists"),
    /// A queue of this name was deleted less than 60 seconds ago.
    QueueDeletedRecently => ("QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently"),
    /// The queue was purged less than 60 seconds ago.
    PurgeQueueInProgress => ("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress"),
    /// An unknown queue attribute name.
    InvalidAttributeName => ("InvalidAttributeName", "InvalidAttributeName"),
    /// A queue attribute value out of range or malformed.
    InvalidAttributeValue => ("InvalidAttributeValue", "InvalidAttributeValue"),
    /// A body or attribute with characters SQS does not allow.
    InvalidMessageContents => ("InvalidMessageContents", "InvalidMessageContents"),
    /// A receipt handle the queue did not issue.
    ReceiptHandleIsInvalid => ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"),
    /// The message is not in flight.
    MessageNotInflight => ("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"),
    /// Deprecated form of [`ServiceErrorCode::ReceiptHandleIsInvalid`].
    InvalidIdFormat => ("InvalidIdFormat", "InvalidIdFormat"),
    /// A batch request without entries.
    EmptyBatchRequest => ("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"),
    /// More than 10 entries in a batch.
    TooManyEntriesInBatchRequest => ("TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
    /// Batch entry ids repeat.
    BatchEntryIdsNotDistinct => ("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
    /// A malformed batch entry id.
    InvalidBatchEntryId => ("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId"),
    /// The messages of a batch add up to more than the limit.
    BatchRequestTooLong => ("BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong"),
    /// The operation is not supported.
    UnsupportedOperation => ("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation"),
    /// A limit was reached (for example the in-flight message limit).
    OverLimit => ("OverLimit", "OverLimit"),
    /// SQS throttled the request.
    RequestThrottled => ("RequestThrottled", "RequestThrottled"),
    /// The queue URL's address is not valid for this endpoint.
    InvalidAddress => ("InvalidAddress", "InvalidAddress"),
    /// The request was not made over HTTPS or not signed.
    InvalidSecurity => ("InvalidSecurity", "InvalidSecurity"),
    /// A message move task or its source does not exist.
    ResourceNotFound => ("ResourceNotFoundException", "ResourceNotFoundException"),
    /// The caller may not use the queue's KMS key.
    KmsAccessDenied => ("KmsAccessDenied", "KMS.AccessDeniedException"),
    /// The queue's KMS key is disabled.
    KmsDisabled => ("KmsDisabled", "KMS.DisabledException"),
    /// The queue's KMS key cannot be used this way.
    KmsInvalidKeyUsage => ("KmsInvalidKeyUsage", "KMS.InvalidKeyUsageException"),
    /// The queue's KMS key is in an invalid state.
    KmsInvalidState => ("KmsInvalidState", "KMS.InvalidStateException"),
    /// The queue's KMS key does not exist.
    KmsNotFound => ("KmsNotFound", "KMS.NotFoundException"),
    /// The account is not subscribed to KMS.
    KmsOptInRequired => ("KmsOptInRequired", "KMS.OptInRequired"),
    /// KMS throttled the request.
    KmsThrottled => ("KmsThrottled", "KMS.ThrottlingException"),
    /// A parameter value is invalid (unmodeled by AWS).
    InvalidParameterValue => ("InvalidParameterValueException", "InvalidParameterValue"),
    /// A required parameter is missing (unmodeled by AWS).
    MissingParameter => ("MissingRequiredParameterException", "MissingParameter"),
    /// The action does not exist.
    InvalidAction => ("UnknownOperationException", "InvalidAction"),
    /// The request could not be parsed.
    MalformedInput => ("SerializationException", "MalformedInput"),
    /// The request is larger than the service accepts.
    RequestEntityTooLarge => ("RequestEntityTooLarge", "RequestEntityTooLarge"),
    /// The credentials may not perform this action.
    AccessDenied => ("AccessDeniedException", "AccessDenied"),
    /// The access key is unknown.
    InvalidClientTokenId => ("InvalidClientTokenId", "InvalidClientTokenId"),
    /// The request signature is wrong.
    SignatureDoesNotMatch => ("SignatureDoesNotMatch", "SignatureDoesNotMatch"),
    /// The request signature does not conform to AWS standards.
    IncompleteSignature => ("IncompleteSignature", "IncompleteSignature"),
    /// The request carried no access key id (no credentials).
    MissingAuthenticationToken => ("MissingAuthenticationToken", "MissingAuthenticationToken"),
    /// The session token of temporary credentials has expired.
    ExpiredToken => ("ExpiredToken", "ExpiredToken", "ExpiredTokenException"),
    /// The JSON protocol's answer to an unknown or invalid access key.
    UnrecognizedClient => ("UnrecognizedClientException", "UnrecognizedClientException"),
    /// Generic AWS throttling.
    Throttling => ("ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException"),
    /// The service failed while handling the request.
    InternalError => ("InternalFailure", "InternalError", "InternalServerError"),
    /// The service is unavailable.
    ServiceUnavailable => ("ServiceUnavailable", "ServiceUnavailable", "ServiceUnavailableException"),
    /// The service timed out handling the request.
    RequestTimeout => ("RequestTimeout", "RequestTimeout", "RequestTimeoutException"),
}

impl fmt::Display for ServiceErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.legacy_code())
    }
}

/// Which digest failed to match in a [`Error::ChecksumMismatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumField {
    /// `MD5OfMessageBody` / `MD5OfBody`.
    MessageBody,
    /// `MD5OfMessageAttributes`.
    MessageAttributes,
    /// `MD5OfMessageSystemAttributes`.
    MessageSystemAttributes,
}

impl ChecksumField {
    /// The response member AWS reports this digest in.
    pub const fn member_name(self) -> &'static str {
        match self {
            ChecksumField::MessageBody => "MD5OfMessageBody",
            ChecksumField::MessageAttributes => "MD5OfMessageAttributes",
            ChecksumField::MessageSystemAttributes => "MD5OfMessageSystemAttributes",
        }
    }
}

/// Everything that can go wrong in sqskit, grouped by what the caller can do about it.
///
/// Decide whether to try again with [`Error::is_retryable`]; sqskit's own retries use nothing else.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQS (or the emulator) answered with an error.
    #[error("SQS error {code}: {message}")]
    Service {
        /// The error code, identical on every backend.
        code: ServiceErrorCode,
        /// AWS's message text.
        message: String,
        /// The request id, when the service sent one (quote it to AWS support).
        request_id: Option<String>,
        /// Whose fault it was, when known (batch entries and the `x-amzn-query-error` header say).
        fault: Option<Fault>,
    },
    /// The request did not complete: connection refused or reset, DNS, TLS, an unreadable response. The
    /// request may or may not have reached SQS.
    #[error("transport error talking to SQS: {source}")]
    Transport {
        /// The underlying failure.
        source: SharedSource,
    },
    /// No answer within the configured timeout. The request may or may not have taken effect: a send may
    /// have been stored, so a retry may duplicate it unless the message carries an idempotency key on a FIFO
    /// queue.
    #[error("SQS request timed out: {detail}")]
    Timeout {
        /// What timed out.
        detail: String,
    },
    /// The codec could not encode a value; fix the value or the codec.
    #[error("could not encode the message: {source}")]
    Encode {
        /// The codec's error.
        source: SharedSource,
    },
    /// A message body could not be decoded: a poison message that no retry will fix.
    #[error("could not decode the message body: {source}")]
    Decode {
        /// The codec's error.
        source: SharedSource,
    },
    /// The message breaks an SQS rule (size, attributes, ids); it was rejected before any request was made.
    #[error("invalid message: {reason}")]
    InvalidMessage {
        /// What is wrong and what to do about it.
        reason: String,
    },
    /// A digest reported by SQS does not match the bytes: the message was damaged in transit. On a send the
    /// damaged message may have been stored; on a receive it must not be processed.
    #[error(
        "{} mismatch{}: expected {expected}, SQS reported {}",
        field.member_name(),
        message_id.as_ref().map(|id| format!(" for message {id}")).unwrap_or_default(),
        actual.as_deref().unwrap_or("nothing")
    )]
    ChecksumMismatch {
        /// Which digest.
        field: ChecksumField,
        /// The digest computed from the bytes (or `none` when no digest was expected).
        expected: String,
        /// The digest SQS reported, if any.
        actual: Option<String>,
        /// The message concerned, when known.
        message_id: Option<MessageId>,
    },
    /// The client is configured wrongly (missing region or credentials, bad option values).
    #[error("invalid configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The producer (or consumer) was closed before the operation could complete.
    #[error("sqskit is shutting down; the operation was not performed")]
    Shutdown,
    /// A producer or consumer could not start: checking its queue (or the consumer's dead-letter queue) at
    /// start-up failed with a non-retryable error, or with a retryable one for longer than the retry policy
    /// allows. Check the queue URL, the region and the credentials' permissions.
    #[error("cannot start on queue {queue_url}: {source}")]
    QueueCheck {
        /// The queue that was checked.
        queue_url: String,
        /// The error of the check.
        source: Box<Error>,
    },
    /// A running consumer stopped polling by itself: its last `failures` receives all failed with an error
    /// saying the queue cannot be used ([`Error::is_queue_unusable`]: deleted, access denied, credentials
    /// or KMS key unusable). Fix the cause, then start a new consumer.
    #[error(
        "the consumer of {queue_url} stopped after {failures} consecutive failed receives (the queue cannot be \
         used: check that it exists and that the credentials may receive from it): {source}"
    )]
    ConsumerStopped {
        /// The queue.
        queue_url: String,
        /// How many receives failed in a row.
        failures: u32,
        /// The last receive's error.
        source: Box<Error>,
    },
    /// A large payload kept in S3 (see [`crate::offload`]) could not be stored, read or deleted, or the pointer
    /// naming it is malformed.
    #[error("S3 payload s3://{bucket}/{key}: {kind}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Payload {
        /// The bucket (empty when a malformed pointer named none).
        bucket: String,
        /// The object key (empty when a malformed pointer named none).
        key: String,
        /// What went wrong.
        kind: PayloadErrorKind,
        /// S3's error, or what is wrong with the pointer.
        detail: Option<String>,
    },
}

/// Why a large payload in S3 could not be used (see [`Error::Payload`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadErrorKind {
    /// The object does not exist (`NoSuchKey`): deleted, expired by a lifecycle rule, or never stored. It will
    /// not appear by itself, so a consumer treats the message as poison.
    #[error("the object does not exist (deleted, expired, or never stored)")]
    NotFound,
    /// S3 could not be reached, timed out, throttled or failed (5xx): worth another attempt later.
    #[error("S3 is unavailable")]
    Unavailable,
    /// S3 refused the request (access denied, no such bucket, invalid key): not retried at once.
    #[error("S3 refused the request")]
    Rejected,
    /// The message's pointer, or the stored payload, cannot be read (not a pointer, not UTF-8).
    #[error("malformed pointer or payload")]
    Malformed,
}

impl Error {
    /// Whether the same operation may succeed if tried again later. This is the only retry classification
    /// in sqskit: throttling, server-side (Receiver) faults, timeouts and transport errors are retryable;
    /// sender faults, invalid messages, checksum mismatches, codec and configuration errors are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service { code, fault, .. } => {
                let transient = matches!(
                    code,
                    ServiceErrorCode::RequestThrottled
                        | ServiceErrorCode::Throttling
                        | ServiceErrorCode::KmsThrottled
                        | ServiceErrorCode::OverLimit
                        | ServiceErrorCode::InternalError
                        | ServiceErrorCode::ServiceUnavailable
                        | ServiceErrorCode::RequestTimeout
                );
                transient || *fault == Some(Fault::Receiver)
            }
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::QueueCheck { source, .. } => source.is_retryable(),
            Error::Payload { kind, .. } => *kind == PayloadErrorKind::Unavailable,
            Error::ConsumerStopped { .. }
            | Error::Encode { .. }
            | Error::Decode { .. }
            | Error::InvalidMessage { .. }
            | Error::ChecksumMismatch { .. }
            | Error::Config { .. }
            | Error::Shutdown => false,
        }
    }

    /// Whether the error says that the queue cannot be used as configured, by these credentials, until
    /// someone changes something: the queue does not exist (a wrong URL or region, or it was deleted), access
    /// is denied, the credentials are missing, invalid or expired, the signature is wrong, or the queue's KMS
    /// key cannot be used. None of these is [retryable](Error::is_retryable). A running consumer that meets
    /// only such errors on its receives stops (see
    /// [`ConsumerBuilder::stop_after_receive_failures`](crate::consumer::ConsumerBuilder::stop_after_receive_failures)).
    ///
    /// Sources: the errors common to every action
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html>:
    /// `AccessDeniedException`, `IncompleteSignature`, `InvalidClientTokenId`, `MissingAuthenticationToken`),
    /// `ReceiveMessage`'s own errors
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>:
    /// `QueueDoesNotExist`, `InvalidSecurity`, the `KMS.*` errors but `KMS.ThrottlingException`), and SQS's
    /// troubleshooting guide, which notes that a missing permission can also be reported as
    /// `QueueDoesNotExist` ("The specified queue does not exist or you do not have access to it",
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/troubleshooting-api-errors.html>).
    pub fn is_queue_unusable(&self) -> bool {
        let code = match self {
            Error::Service { code, .. } => code,
            Error::QueueCheck { source, .. } | Error::ConsumerStopped { source, .. } => {
                return source.is_queue_unusable();
            }
            _ => return false,
        };
        matches!(
            code,
            ServiceErrorCode::QueueDoesNotExist
                | ServiceErrorCode::AccessDenied
                | ServiceErrorCode::InvalidClientTokenId
                | ServiceErrorCode::SignatureDoesNotMatch
                | ServiceErrorCode::IncompleteSignature
                | ServiceErrorCode::MissingAuthenticationToken
                | ServiceErrorCode::ExpiredToken
                | ServiceErrorCode::UnrecognizedClient
                | ServiceErrorCode::InvalidSecurity
                | ServiceErrorCode::KmsAccessDenied
                | ServiceErrorCode::KmsDisabled
                | ServiceErrorCode::KmsInvalidKeyUsage
                | ServiceErrorCode::KmsInvalidState
                | ServiceErrorCode::KmsNotFound
                | ServiceErrorCode::KmsOptInRequired
        )
    }

    /// Whether SQS (or KMS, for an encrypted queue) refused the request because of its rate: the caller
    /// should not only retry but slow down. A subset of [`Error::is_retryable`], kept apart from 5xx and
    /// transport failures, which say nothing about the rate; sqskit's flow control ([`crate::flow`]) reduces
    /// its concurrency on these alone.
    ///
    /// The codes: `RequestThrottled` (SQS: "Exceeds the permitted request rate for the queue or for the
    /// recipient of the request",
    /// <https://docs.aws.amazon.com/botocore/latest/reference/services/sqs/client/exceptions/RequestThrottled.html>),
    /// `KmsThrottled` / `KMS.ThrottlingException` ("Amazon Web Services KMS throttles requests", the queue's
    /// KMS key over its request quota,
    /// <https://docs.aws.amazon.com/botocore/latest/reference/services/sqs/client/exceptions/KmsThrottled.html>),
    /// both listed among `ReceiveMessage`'s errors
    /// (<https://docs.rs/aws-sdk-sqs/latest/aws_sdk_sqs/operation/receive_message/enum.ReceiveMessageError.html>),
    /// and the generic AWS `ThrottlingException` / `Throttling` (what the emulator's FIFO quota answers; also
    /// `ThrottledException`, `TooManyRequestsException` and an HTTP 429 without a code, see
    /// [`ServiceErrorCode::for_status`]). Not `KmsDisabled`, although the SQS model's text for it reads "The
    /// request was denied due to request throttling" (a copy of `RequestThrottled`'s text): a disabled key is
    /// no rate problem. Not `OverLimit` either (too many messages in flight, not too many requests).
    pub fn is_throttling(&self) -> bool {
        matches!(
            self,
            Error::Service {
                code: ServiceErrorCode::RequestThrottled
                    | ServiceErrorCode::Throttling
                    | ServiceErrorCode::KmsThrottled,
                ..
            }
        )
    }

    /// The SQS error code, for [`Error::Service`] (and the service error inside an [`Error::QueueCheck`] or
    /// [`Error::ConsumerStopped`]).
    pub fn code(&self) -> Option<&ServiceErrorCode> {
        match self {
            Error::Service { code, .. } => Some(code),
            Error::QueueCheck { source, .. } | Error::ConsumerStopped { source, .. } => source.code(),
            _ => None,
        }
    }

    /// A service error from a code string in either AWS spelling.
    pub fn service(code: &str, message: impl Into<String>, request_id: Option<String>, fault: Option<Fault>) -> Self {
        Error::Service { code: ServiceErrorCode::parse(code), message: message.into(), request_id, fault }
    }

    /// An [`Error::Payload`] about the object `bucket`/`key`.
    pub fn payload(
        bucket: impl Into<String>,
        key: impl Into<String>,
        kind: PayloadErrorKind,
        detail: Option<String>,
    ) -> Self {
        Error::Payload { bucket: bucket.into(), key: key.into(), kind, detail }
    }

    /// An [`Error::InvalidMessage`].
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidMessage { reason: reason.into() }
    }

    /// An [`Error::Transport`] from any error.
    pub fn transport(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Transport { source: Arc::new(source) }
    }

    /// An [`Error::Encode`] from a codec's error.
    pub fn encode(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Encode { source: Arc::new(source) }
    }

    /// An [`Error::Decode`] from a codec's error.
    pub fn decode(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Decode { source: Arc::new(source) }
    }
}

/// `Result` with sqskit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse_to_the_same_code() {
        for (a, b) in [
            ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"),
            ("com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists"),
            ("com.amazon.coral.service#InvalidParameterValueException", "InvalidParameterValue"),
            ("InternalFailure", "InternalError;Receiver"),
            ("ThrottlingException", "Throttling"),
        ] {
            assert_eq!(ServiceErrorCode::parse(a), ServiceErrorCode::parse(b), "{a} vs {b}");
            assert!(!matches!(ServiceErrorCode::parse(a), ServiceErrorCode::Other(_)), "{a}");
        }
        assert_eq!(ServiceErrorCode::parse("Whatever"), ServiceErrorCode::Other("Whatever".to_owned()));
    }

    #[test]
    fn responses_without_a_code_are_classified_by_status() {
        assert_eq!(ServiceErrorCode::for_status(503), ServiceErrorCode::ServiceUnavailable);
        assert_eq!(ServiceErrorCode::for_status(500), ServiceErrorCode::InternalError);
        assert_eq!(ServiceErrorCode::for_status(429), ServiceErrorCode::Throttling);
        assert_eq!(ServiceErrorCode::for_status(418), ServiceErrorCode::Other("HTTP 418".to_owned()));
        assert_eq!(Fault::of_response(Some("Sender"), 500), Some(Fault::Sender));
        assert_eq!(Fault::of_response(None, 503), Some(Fault::Receiver));
        assert_eq!(Fault::of_response(None, 404), Some(Fault::Sender));
        assert_eq!(Fault::of_response(Some("Other"), 200), None);
    }

    #[test]
    fn legacy_code_round_trips() {
        let code = ServiceErrorCode::parse("QueueDoesNotExist");
        assert_eq!(code.legacy_code(), "AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!(ServiceErrorCode::parse(code.legacy_code()), code);
        assert_eq!(code.shape_name(), "QueueDoesNotExist");
    }

    #[test]
    fn throttling_is_classified_apart_from_other_retryable_errors() {
        let service = |code: &str| Error::service(code, "Rate exceeded", None, Some(Fault::Sender));
        for code in [
            "RequestThrottled",
            "ThrottlingException",
            "Throttling",
            "KmsThrottled",
            "KMS.ThrottlingException",
            "TooManyRequestsException",
            "com.amazonaws.sqs#RequestThrottled",
        ] {
            assert!(service(code).is_throttling(), "{code}");
            assert!(service(code).is_retryable(), "{code}");
        }
        let status_429 = Error::Service {
            code: ServiceErrorCode::for_status(429),
            message: String::new(),
            request_id: None,
            fault: None,
        };
        assert!(status_429.is_throttling());
        for retryable in [service("InternalError"), service("ServiceUnavailable"), service("OverLimit")] {
            assert!(retryable.is_retryable() && !retryable.is_throttling(), "{retryable}");
        }
        assert!(!Error::Timeout { detail: "t".to_owned() }.is_throttling());
        assert!(!Error::transport(std::io::Error::other("reset")).is_throttling());
        assert!(!service("AccessDenied").is_throttling());
    }

    #[test]
    fn retry_classification() {
        let service = |code: &str, fault| Error::service(code, "m", None, fault);
        assert!(service("RequestThrottled", Some(Fault::Sender)).is_retryable());
        assert!(service("ThrottlingException", None).is_retryable());
        assert!(service("InternalError", None).is_retryable());
        assert!(service("SomethingNew", Some(Fault::Receiver)).is_retryable());
        assert!(!service("SomethingNew", Some(Fault::Sender)).is_retryable());
        assert!(!service("AWS.SimpleQueueService.NonExistentQueue", Some(Fault::Sender)).is_retryable());
        assert!(!service("InvalidParameterValue", None).is_retryable());
        assert!(Error::Timeout { detail: "t".to_owned() }.is_retryable());
        assert!(Error::transport(std::io::Error::other("reset")).is_retryable());
        assert!(!Error::Shutdown.is_retryable());
        assert!(!Error::invalid("too big").is_retryable());
    }

    #[test]
    fn unusable_queue_classification() {
        let service = |code: &str| Error::service(code, "m", None, Some(Fault::Sender));
        for code in [
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
            "AccessDenied",
            "com.amazonaws.sqs#AccessDeniedException",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "ExpiredTokenException",
            "UnrecognizedClientException",
            "MissingAuthenticationToken",
            "KMS.AccessDeniedException",
            "KmsDisabled",
            "KMS.NotFoundException",
        ] {
            let error = service(code);
            assert!(error.is_queue_unusable() && !error.is_retryable(), "{code}");
        }
        for code in ["KMS.ThrottlingException", "RequestThrottled", "InvalidParameterValue", "OverLimit"] {
            assert!(!service(code).is_queue_unusable(), "{code}");
        }
        assert!(!Error::Timeout { detail: "t".to_owned() }.is_queue_unusable());
    }
}
