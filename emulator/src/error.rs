//! The AWS SQS error table as data, and [`SqsError`], the one error type every action returns.
//!
//! Each [`ErrorCode`] carries what both wire protocols need: the JSON `__type` shape name, the legacy Query
//! code (also sent in the JSON `x-amzn-query-error` header), the fault side and the HTTP status. The
//! modeled codes and statuses come from the Smithy model (`aws.protocols#awsQueryError`); the unmodeled ones
//! (`InvalidParameterValue`, `MissingParameter`, ...) from SPEC.md §5.2. Nothing here knows about HTTP types.

use std::fmt;

/// Which side of the conversation caused an error, as AWS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request was wrong (4xx).
    Sender,
    /// The service failed (5xx).
    Receiver,
}

impl Fault {
    /// The fault as AWS spells it on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => ($namespace:literal, $legacy:literal, $fault:ident, $status:literal), )*) => {
        /// Every error the emulator can return, with its wire identities.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every error code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The Smithy shape name, used as the JSON `__type` (after the namespace).
            pub const fn shape_name(self) -> &'static str {
                match self { $(ErrorCode::$variant => stringify!($variant),)* }
            }

            /// The namespace the JSON `__type` is qualified with.
            pub const fn namespace(self) -> &'static str {
                match self { $(ErrorCode::$variant => $namespace,)* }
            }

            /// The legacy Query error code (`<Code>` in XML, first half of `x-amzn-query-error`).
            pub const fn query_code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $legacy,)* }
            }

            /// Whether the sender or the service is at fault.
            pub const fn fault(self) -> Fault {
                match self { $(ErrorCode::$variant => Fault::$fault,)* }
            }

            /// The HTTP status code AWS answers with.
            pub const fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }
        }
    };
}

error_codes! {
    /// Batch entry ids repeat within one request.
    BatchEntryIdsNotDistinct => ("com.amazonaws.sqs", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", Sender, 400),
    /// The messages of a batch add up to more than 1 MiB.
    BatchRequestTooLong => ("com.amazonaws.sqs", "AWS.SimpleQueueService.BatchRequestTooLong", Sender, 400),
    /// A batch request has no entries.
    EmptyBatchRequest => ("com.amazonaws.sqs", "AWS.SimpleQueueService.EmptyBatchRequest", Sender, 400),
    /// The queue URL's address is not valid for this endpoint.
    InvalidAddress => ("com.amazonaws.sqs", "InvalidAddress", Sender, 404),
    /// An unknown queue attribute name.
    InvalidAttributeName => ("com.amazonaws.sqs", "InvalidAttributeName", Sender, 400),
    /// A queue attribute value out of range or malformed.
    InvalidAttributeValue => ("com.amazonaws.sqs", "InvalidAttributeValue", Sender, 400),
    /// A batch entry id with characters outside `[A-Za-z0-9_-]` or longer than 80.
    InvalidBatchEntryId => ("com.amazonaws.sqs", "AWS.SimpleQueueService.InvalidBatchEntryId", Sender, 400),
    /// Deprecated: a malformed receipt handle (now reported as ReceiptHandleIsInvalid).
    InvalidIdFormat => ("com.amazonaws.sqs", "InvalidIdFormat", Sender, 400),
    /// A message body or attribute with characters SQS does not allow.
    InvalidMessageContents => ("com.amazonaws.sqs", "InvalidMessageContents", Sender, 400),
    /// The request was not made over HTTPS or not signed with SigV4.
    InvalidSecurity => ("com.amazonaws.sqs", "InvalidSecurity", Sender, 403),
    /// The caller lacks access to the KMS key.
    KmsAccessDenied => ("com.amazonaws.sqs", "KMS.AccessDeniedException", Sender, 400),
    /// The KMS key is disabled.
    KmsDisabled => ("com.amazonaws.sqs", "KMS.DisabledException", Sender, 400),
    /// The KMS key cannot be used this way.
    KmsInvalidKeyUsage => ("com.amazonaws.sqs", "KMS.InvalidKeyUsageException", Sender, 400),
    /// The KMS key is in an invalid state.
    KmsInvalidState => ("com.amazonaws.sqs", "KMS.InvalidStateException", Sender, 400),
    /// The KMS key does not exist.
    KmsNotFound => ("com.amazonaws.sqs", "KMS.NotFoundException", Sender, 400),
    /// The account is not subscribed to KMS.
    KmsOptInRequired => ("com.amazonaws.sqs", "KMS.OptInRequired", Sender, 403),
    /// KMS throttled the request.
    KmsThrottled => ("com.amazonaws.sqs", "KMS.ThrottlingException", Sender, 400),
    /// The message is not in flight.
    MessageNotInflight => ("com.amazonaws.sqs", "AWS.SimpleQueueService.MessageNotInflight", Sender, 400),
    /// A limit was exceeded (in-flight messages, permissions).
    OverLimit => ("com.amazonaws.sqs", "OverLimit", Sender, 403),
    /// The queue was purged less than 60 seconds ago.
    PurgeQueueInProgress => ("com.amazonaws.sqs", "AWS.SimpleQueueService.PurgeQueueInProgress", Sender, 403),
    /// A queue of this name was deleted less than 60 seconds ago.
    QueueDeletedRecently => ("com.amazonaws.sqs", "AWS.SimpleQueueService.QueueDeletedRecently", Sender, 400),
    /// The queue does not exist.
    QueueDoesNotExist => ("com.amazonaws.sqs", "AWS.SimpleQueueService.NonExistentQueue", Sender, 400),
    /// A queue of this name exists with different attributes.
    QueueNameExists => ("com.amazonaws.sqs", "QueueAlreadyExists", Sender, 400),
    /// The receipt handle is not one this queue issued.
    ReceiptHandleIsInvalid => ("com.amazonaws.sqs", "ReceiptHandleIsInvalid", Sender, 404),
    /// The request was throttled.
    RequestThrottled => ("com.amazonaws.sqs", "RequestThrottled", Sender, 403),
    /// A message move task or its source does not exist.
    ResourceNotFoundException => ("com.amazonaws.sqs", "ResourceNotFoundException", Sender, 404),
    /// More than 10 entries in a batch.
    TooManyEntriesInBatchRequest => ("com.amazonaws.sqs", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", Sender, 400),
    /// The action is not supported.
    UnsupportedOperation => ("com.amazonaws.sqs", "AWS.SimpleQueueService.UnsupportedOperation", Sender, 400),
    /// A parameter value is invalid (unmodeled by AWS).
    InvalidParameterValueException => ("com.amazon.coral.service", "InvalidParameterValue", Sender, 400),
    /// A required parameter is missing (unmodeled by AWS).
    MissingRequiredParameterException => ("com.amazon.coral.service", "MissingParameter", Sender, 400),
    /// The action named in the request does not exist.
    UnknownOperationException => ("com.amazon.coral.service", "InvalidAction", Sender, 400),
    /// The request body could not be parsed.
    SerializationException => ("com.amazon.coral.service", "MalformedInput", Sender, 400),
    /// The request is larger than the server accepts.
    RequestEntityTooLarge => ("com.amazon.coral.service", "RequestEntityTooLarge", Sender, 413),
    /// The request rate passed a quota (how SQS answers FIFO queues above 300 calls/s per action).
    ThrottlingException => ("com.amazon.coral.availability", "ThrottlingException", Sender, 400),
    /// The service failed while handling the request.
    InternalFailure => ("com.amazon.coral.service", "InternalError", Receiver, 500),
    /// The service is unavailable (also: the emulator's memory budget for stored messages is exhausted).
    ServiceUnavailable => ("com.amazon.coral.service", "ServiceUnavailable", Receiver, 503),
    // Authentication and authorization (SigV4 mode). Codes and statuses: the SQS API Reference, "Common Errors"
    // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html):
    // MissingAuthenticationToken 403, IncompleteSignature 400, InvalidClientTokenId 403, RequestExpired 400.
    // SignatureDoesNotMatch 403 and AccessDenied 403 as SQS answers them over Query (SPEC.md §5.2; e.g.
    // aws/aws-sdk-go#487 and aws/aws-sdk-php#642 show `403 SignatureDoesNotMatch` with "Signature expired: ...").
    // The JSON `__type` names are the coral shapes AWS JSON services use for the same failures.
    /// The request carries no authentication (no `Authorization` header, no presigned `X-Amz-Signature`).
    MissingAuthenticationTokenException => ("com.amazon.coral.service", "MissingAuthenticationToken", Sender, 403),
    /// The signature is malformed or lacks a part (credential, signed headers, date).
    IncompleteSignatureException => ("com.amazon.coral.service", "IncompleteSignature", Sender, 400),
    /// The access key id (or its session token) is not known.
    UnrecognizedClientException => ("com.amazon.coral.service", "InvalidClientTokenId", Sender, 403),
    /// The signature does not match, or its date is outside the 15-minute window.
    InvalidSignatureException => ("com.amazon.coral.service", "SignatureDoesNotMatch", Sender, 403),
    /// A presigned request used after it expired.
    RequestExpired => ("com.amazon.coral.service", "RequestExpired", Sender, 400),
    /// The caller's account may not use the queue.
    AccessDeniedException => ("com.amazon.coral.service", "AccessDenied", Sender, 403),
}

/// An SQS error: a code from the table plus the human-readable message AWS would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct SqsError {
    /// Which error this is.
    pub code: ErrorCode,
    /// The message sent to the client.
    pub message: String,
}

impl SqsError {
    /// An error with an explicit message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// `QueueDoesNotExist` with AWS's JSON-era text.
    pub fn queue_does_not_exist() -> Self {
        Self::new(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.")
    }

    /// `MissingParameter`: `The request must contain the parameter <name>.`
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            ErrorCode::MissingRequiredParameterException,
            format!("The request must contain the parameter {name}."),
        )
    }

    /// `InvalidParameterValue` with a free-form message.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValueException, message)
    }

    /// `InvalidParameterValue`: `Value <v> for parameter <name> is invalid. Reason: <reason>.`
    pub fn invalid_parameter_value(name: &str, value: impl fmt::Display, reason: &str) -> Self {
        Self::invalid_parameter(format!("Value {value} for parameter {name} is invalid. Reason: {reason}"))
    }

    /// An integer parameter outside its range, worded as AWS answers it:
    /// - `WaitTimeSeconds`: `... Reason: Must be >= 0 and <= 20, if provided.`
    ///   (<https://github.com/awsdocs/aws-doc-sdk-examples/issues/645>, <https://github.com/argoproj/argo-events/pull/260>);
    /// - `DelaySeconds`: `... Reason: DelaySeconds must be >= 0 and <= 900.`
    ///   (<https://github.com/aws-samples/amazon-sqs-dlq-replay-backoff/issues/8>);
    /// - others, `MaxNumberOfMessages` among them: `... Reason: Must be between 1 and 10, if provided.`
    ///   (<https://github.com/aws/aws-sdk-java/issues/197>, <https://github.com/h2ik/go-sqs-poller/pull/12>).
    pub fn out_of_range(name: &str, value: i64, min: i64, max: i64) -> Self {
        let reason = match name {
            "WaitTimeSeconds" => format!("Must be >= {min} and <= {max}, if provided."),
            "DelaySeconds" => format!("DelaySeconds must be >= {min} and <= {max}."),
            _ => format!("Must be between {min} and {max}, if provided."),
        };
        Self::invalid_parameter_value(name, value, &reason)
    }

    /// `InvalidAttributeName`: `Unknown Attribute <name>.`
    pub fn unknown_attribute(name: &str) -> Self {
        Self::new(ErrorCode::InvalidAttributeName, format!("Unknown Attribute {name}."))
    }

    /// `InvalidAttributeValue`: `Invalid value for the parameter <name>.`
    pub fn invalid_attribute_value(name: &str) -> Self {
        Self::new(ErrorCode::InvalidAttributeValue, format!("Invalid value for the parameter {name}."))
    }

    /// `ReceiptHandleIsInvalid` for a handle this queue never issued.
    pub fn receipt_handle_invalid(handle: &str) -> Self {
        Self::new(
            ErrorCode::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }

    /// `InternalFailure`: the service failed; details go to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalFailure, "We encountered an internal error. Please try again.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_matching_its_fault() {
        for code in ErrorCode::ALL {
            let status = code.http_status();
            match code.fault() {
                Fault::Sender => assert!((400..500).contains(&status), "{code:?}"),
                Fault::Receiver => assert!((500..600).contains(&status), "{code:?}"),
            }
        }
    }

    #[test]
    fn queue_does_not_exist_uses_the_legacy_query_code() {
        let code = ErrorCode::QueueDoesNotExist;
        assert_eq!(code.query_code(), "AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!(code.shape_name(), "QueueDoesNotExist");
        assert_eq!(code.http_status(), 400);
    }
}
