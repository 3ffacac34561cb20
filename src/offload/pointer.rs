//! The pointer an offloaded message carries as its body, and the receipt handles the extended clients hand to
//! their callers, both exactly as AWS's libraries write them.
//!
//! - Body: Jackson's default typing of `software.amazon.payloadoffloading.PayloadS3Pointer`, a two-element array
//!   `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"B","s3Key":"K"}]`
//!   (`PayloadS3Pointer.toJson`,
//!   <https://github.com/awslabs/payload-offloading-java-common-lib-for-aws/blob/master/src/main/java/software/amazon/payloadoffloading/PayloadS3Pointer.java>).
//!   Version 1 of the Java client wrote the class name `com.amazon.sqs.javamessaging.MessageS3Pointer`, which the
//!   Python client still writes in its legacy mode (`LEGACY_MESSAGE_POINTER_CLASS`,
//!   <https://github.com/awslabs/amazon-sqs-python-extended-client-lib/blob/main/src/sqs_extended_client/client.py>);
//!   both are read. The Python reader accepts any two-element array whose second element is an object.
//! - Receipt handle: `-..s3BucketName..-B-..s3BucketName..--..s3Key..-K-..s3Key..-<SQS handle>`
//!   (`embedS3PointerInReceiptHandle`, `getOrigReceiptHandle`, `S3_BUCKET_NAME_MARKER`, `S3_KEY_MARKER` in
//!   <https://github.com/awslabs/amazon-sqs-java-extended-client-lib/blob/master/src/main/java/com/amazon/sqs/javamessaging/AmazonSQSExtendedClientUtil.java>
//!   and `SQSExtendedClientConstants.java`; the same in the Python client). Their receive replaces each offloaded
//!   message's handle with this, so that `DeleteMessage` (which gets only a handle) can delete the S3 object
//!   too; their `DeleteMessage(Batch)` and `ChangeMessageVisibility(Batch)` strip the prefix before calling SQS.

use serde::{Deserialize, Serialize};

/// The pointer class the current Java and Python clients write.
pub const POINTER_CLASS: &str = "software.amazon.payloadoffloading.PayloadS3Pointer";

/// The pointer class version 1 of the Java client wrote (the Python client's legacy mode still writes it).
pub const LEGACY_POINTER_CLASS: &str = "com.amazon.sqs.javamessaging.MessageS3Pointer";

/// Opens and closes the bucket name in an extended client's receipt handle.
pub const S3_BUCKET_NAME_MARKER: &str = "-..s3BucketName..-";

/// Opens and closes the object key in an extended client's receipt handle.
pub const S3_KEY_MARKER: &str = "-..s3Key..-";

/// Where an offloaded payload lives: an S3 bucket and object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PayloadPointer {
    /// The bucket.
    #[serde(rename = "s3BucketName")]
    pub bucket: String,
    /// The object key.
    #[serde(rename = "s3Key")]
    pub key: String,
}

impl PayloadPointer {
    /// A pointer to `key` in `bucket`.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self { bucket: bucket.into(), key: key.into() }
    }

    /// The message body the extended clients write for this pointer (with the current class name).
    pub fn to_body(&self) -> String {
        // Serializing two strings cannot fail; the fallback keeps this total without a panic.
        serde_json::to_string(&(POINTER_CLASS, self)).unwrap_or_default()
    }

    /// Reads a pointer body: a two-element JSON array, a class name (either spelling, or any string as the
    /// Python client accepts) and an object with non-empty `s3BucketName` and `s3Key`.
    ///
    /// # Errors
    /// A description of what is wrong, for a poison reason.
    pub fn from_body(body: &str) -> Result<Self, String> {
        let (class, pointer): (String, PayloadPointer) = serde_json::from_str(body).map_err(|error| {
            format!("the body is not an S3 payload pointer ([\"{POINTER_CLASS}\",{{\"s3BucketName\":…,\"s3Key\":…}}]): {error}")
        })?;
        if class.is_empty() {
            return Err("the S3 payload pointer names no class".to_owned());
        }
        if pointer.bucket.is_empty() || pointer.key.is_empty() {
            return Err("the S3 payload pointer has an empty bucket name or key".to_owned());
        }
        Ok(pointer)
    }

    /// The receipt handle an extended client gives its callers for a message with this pointer.
    pub fn embed_in_receipt_handle(&self, receipt_handle: &str) -> String {
        format!(
            "{S3_BUCKET_NAME_MARKER}{}{S3_BUCKET_NAME_MARKER}{S3_KEY_MARKER}{}{S3_KEY_MARKER}{receipt_handle}",
            self.bucket, self.key
        )
    }
}

impl std::fmt::Display for PayloadPointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// A receipt handle as an extended client hands it out: the pointer it carries, if any, and the handle SQS
/// issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedReceiptHandle {
    /// The payload named in the handle (`None`: a plain SQS handle).
    pub pointer: Option<PayloadPointer>,
    /// The handle SQS issued, to use with SQS itself.
    pub sqs_handle: String,
}

impl ExtendedReceiptHandle {
    /// Splits a handle: one carrying both markers (as the extended clients test, `isS3ReceiptHandle`) yields
    /// the bucket and key between each marker's first two occurrences and the SQS handle after the second key
    /// marker; any other handle is returned as it is.
    pub fn parse(handle: &str) -> Self {
        let plain = || Self { pointer: None, sqs_handle: handle.to_owned() };
        if !(handle.contains(S3_BUCKET_NAME_MARKER) && handle.contains(S3_KEY_MARKER)) {
            return plain();
        }
        let Some((bucket, _)) = between(handle, S3_BUCKET_NAME_MARKER) else { return plain() };
        let Some((key, rest)) = between(handle, S3_KEY_MARKER) else { return plain() };
        Self { pointer: Some(PayloadPointer::new(bucket, key)), sqs_handle: rest.to_owned() }
    }
}

/// The text between the first two occurrences of `marker`, and what follows the second.
fn between<'a>(text: &'a str, marker: &str) -> Option<(&'a str, &'a str)> {
    let start = text.find(marker)? + marker.len();
    let length = text[start..].find(marker)?;
    Some((&text[start..start + length], &text[start + length + marker.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_java_and_python_pointer_byte_for_byte() {
        let pointer = PayloadPointer::new("my-bucket", "0d9a3a5e-2a8b-4a61-9e36-0c7b8a0f5d11");
        assert_eq!(
            pointer.to_body(),
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"my-bucket","s3Key":"0d9a3a5e-2a8b-4a61-9e36-0c7b8a0f5d11"}]"#
        );
        assert_eq!(PayloadPointer::from_body(&pointer.to_body()), Ok(pointer));
    }

    #[test]
    fn python_spacing_and_the_legacy_class_are_read() {
        // json.dumps writes ", " and ": " separators.
        let python = r#"["com.amazon.sqs.javamessaging.MessageS3Pointer", {"s3BucketName": "b", "s3Key": "k"}]"#;
        assert_eq!(PayloadPointer::from_body(python), Ok(PayloadPointer::new("b", "k")));
    }

    #[test]
    fn malformed_pointers_are_refused_with_a_reason() {
        for body in
            ["{}", "[\"x\"]", r#"["c",{"s3BucketName":"","s3Key":"k"}]"#, r#"["",{"s3BucketName":"b","s3Key":"k"}]"#]
        {
            let error = PayloadPointer::from_body(body).expect_err(body);
            assert!(error.contains("pointer"), "{error}");
        }
    }

    #[test]
    fn receipt_handles_round_trip_as_the_extended_clients_write_them() {
        let pointer = PayloadPointer::new("bucket", "key-1");
        let handle = pointer.embed_in_receipt_handle("AQEB+abc==");
        assert_eq!(handle, "-..s3BucketName..-bucket-..s3BucketName..--..s3Key..-key-1-..s3Key..-AQEB+abc==");
        let parsed = ExtendedReceiptHandle::parse(&handle);
        assert_eq!(parsed.pointer, Some(pointer));
        assert_eq!(parsed.sqs_handle, "AQEB+abc==");
        let plain = ExtendedReceiptHandle::parse("AQEB+abc==");
        assert_eq!(plain, ExtendedReceiptHandle { pointer: None, sqs_handle: "AQEB+abc==".to_owned() });
    }
}
