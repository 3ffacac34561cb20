//! Set-up shared by the offload tests: moto_server's S3 with a fresh bucket, the two SQS backends, and helpers
//! to look into the bucket and the queue.

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use sqskit::backend::{AwsBackend, CountingBackend, EmbeddedBackend, ReceiveRequest, ReceivedMessage, SqsBackend};
use sqskit::offload::{LargePayloads, S3PayloadStore};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit_emulator::{Emulator, RunningEmulator};

use crate::servers::MotoServer;

/// A moto_server with an S3 client and one bucket.
pub struct S3 {
    pub moto: MotoServer,
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

/// An S3 client for `endpoint` (path-style addressing, as an S3-compatible server on an IP address needs).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl S3 {
    /// Starts moto_server and creates a bucket, or `None` when moto_server is missing (see `servers`).
    pub async fn start() -> Option<Self> {
        let moto = MotoServer::start()?;
        let client = s3_client(&moto.endpoint());
        let bucket = "sqskit-payloads".to_owned();
        client.create_bucket().bucket(&bucket).send().await.expect("create the bucket");
        Some(Self { moto, client, bucket })
    }

    /// Large-payload settings over this bucket.
    pub fn payloads(&self) -> LargePayloads {
        LargePayloads::new(S3PayloadStore::new(self.client.clone()), &self.bucket)
    }

    /// The keys in the bucket, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let listed = self.client.list_objects_v2().bucket(&self.bucket).send().await.expect("list the bucket");
        let mut keys: Vec<String> =
            listed.contents().iter().filter_map(|object| object.key().map(str::to_owned)).collect();
        keys.sort();
        keys
    }

    /// The object `key` as text.
    pub async fn object(&self, key: &str) -> String {
        let object = self.client.get_object().bucket(&self.bucket).key(key).send().await.expect("get the object");
        String::from_utf8(object.body.collect().await.expect("read the object").to_vec()).expect("utf-8")
    }

    /// Deletes the object `key`.
    pub async fn delete(&self, key: &str) {
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.expect("delete the object");
    }
}

/// Which SQS backend a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Row {
    /// `EmbeddedBackend`, the emulator's engine in process.
    Embedded,
    /// `AwsBackend` (aws-sdk-sqs) against the emulator over HTTP.
    AwsHttp,
}

/// A backend (wrapped in a call counter) and what keeps it alive.
pub struct Sqs {
    pub backend: Arc<dyn SqsBackend>,
    pub counting: Arc<CountingBackend>,
    pub emulator: Option<RunningEmulator>,
}

impl Sqs {
    pub async fn start(row: Row) -> Self {
        let (inner, emulator): (Arc<dyn SqsBackend>, _) = match row {
            Row::Embedded => (Arc::new(EmbeddedBackend::new()), None),
            Row::AwsHttp => {
                let emulator = Emulator::builder().port(0).start().await.expect("start the emulator");
                (Arc::new(aws_backend(&emulator.endpoint()).await), Some(emulator))
            }
        };
        let counting = Arc::new(CountingBackend::new(inner));
        Self { backend: counting.clone(), counting, emulator }
    }

    /// Creates a queue (standard, or FIFO when the name ends in `.fifo`) and returns its URL.
    pub async fn queue(&self, name: &str) -> String {
        let mut attributes = QueueAttributes::new();
        if name.ends_with(".fifo") {
            attributes.insert(QueueAttributeName::FifoQueue, "true");
        }
        self.backend.create_queue(name, &attributes, &Default::default()).await.expect("create the queue")
    }

    /// Receives what is visible, leaving it visible (visibility timeout 0), with every attribute.
    pub async fn peek(&self, queue_url: &str) -> Vec<ReceivedMessage> {
        let request =
            ReceiveRequest::new().all_attributes().visibility_timeout(Duration::ZERO).wait_time(Duration::ZERO);
        self.backend.receive_message(queue_url, &request).await.expect("receive")
    }

    /// Visible plus in-flight messages.
    pub async fn depth(&self, queue_url: &str) -> u64 {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ];
        let attributes = self.backend.get_queue_attributes(queue_url, &names).await.expect("queue attributes");
        names.iter().map(|name| attributes.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)).sum()
    }
}

/// An `AwsBackend` for an emulator endpoint.
pub async fn aws_backend(endpoint: &str) -> AwsBackend {
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region("us-east-1")
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .load()
        .await;
    AwsBackend::builder(&sdk_config).build()
}

/// An order as the examples send it, padded to about `bytes` bytes of JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub id: String,
    pub total_cents: u64,
    #[serde(default)]
    pub pad: String,
}

impl Order {
    pub fn padded(id: &str, bytes: usize) -> Self {
        Self { id: id.to_owned(), total_cents: 4200, pad: "p".repeat(bytes) }
    }
}

/// 2 MiB: twice what SQS takes in one message.
pub const TWO_MIB: usize = 2 * 1024 * 1024;

/// Waits up to 30 s for `condition`.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
