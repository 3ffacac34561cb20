//! [`S3PayloadStore`]: payloads in Amazon S3 (or any S3-compatible server) through `aws-sdk-s3`.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::PayloadStore;
use crate::error::{Error, PayloadErrorKind, Result};

/// A [`PayloadStore`] over an `aws_sdk_s3::Client`. For an S3-compatible server on a custom endpoint
/// (`AWS_ENDPOINT_URL_S3`), build the client with `force_path_style(true)`.
#[derive(Debug, Clone)]
pub struct S3PayloadStore {
    client: Client,
}

impl S3PayloadStore {
    /// A store using `client` (its retries, timeouts and credentials apply to every object request).
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Classifies an S3 failure: a missing key is `NotFound`; throttling, 5xx, timeouts and transport failures are
/// `Unavailable` (retryable); other refusals (403, a missing bucket, a bad request) are `Rejected`.
fn payload_error<E>(bucket: &str, key: &str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let kind = match &error {
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default();
            let status = context.raw().status().as_u16();
            match code {
                "NoSuchKey" | "NotFound" => PayloadErrorKind::NotFound,
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestTimeout"
                | "InternalError"
                | "ServiceUnavailable" => PayloadErrorKind::Unavailable,
                _ if status >= 500 || status == 429 => PayloadErrorKind::Unavailable,
                _ => PayloadErrorKind::Rejected,
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PayloadErrorKind::Unavailable
        }
        _ => PayloadErrorKind::Rejected,
    };
    let detail = match &error {
        SdkError::ServiceError(context) => {
            format!("{}: {}", context.err().code().unwrap_or("?"), context.err().message().unwrap_or_default())
        }
        other => format!("{}", aws_sdk_s3::error::DisplayErrorContext(other)),
    };
    Error::payload(bucket, key, kind, Some(detail))
}

#[async_trait]
impl PayloadStore for S3PayloadStore {
    async fn put(&self, bucket: &str, key: &str, payload: String) -> Result<()> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/plain; charset=utf-8")
            .body(ByteStream::from(payload.into_bytes()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| payload_error(bucket, key, error))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<String> {
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| payload_error(bucket, key, error))?;
        let bytes = output.body.collect().await.map_err(|error| {
            Error::payload(bucket, key, PayloadErrorKind::Unavailable, Some(format!("reading the object: {error}")))
        })?;
        String::from_utf8(Vec::from(bytes.into_bytes())).map_err(|error| {
            Error::payload(
                bucket,
                key,
                PayloadErrorKind::Malformed,
                Some(format!("the object is not UTF-8 text: {error}")),
            )
        })
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| payload_error(bucket, key, error))
    }
}
