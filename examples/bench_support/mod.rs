//! What `consumer_bench` and `producer_bench` share (each includes it with
//! `#[path = "bench_support/mod.rs"] mod bench_support;`): the emulator they measure, a running one at
//! `--endpoint` or one started in this process, with an aws-sdk-sqs backend for it, and percentiles of sorted
//! latencies.

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use sqskit::backend::{AwsBackend, SqsBackend};
use sqskit_emulator::RunningEmulator;

/// The emulator a benchmark drives: a running one at an endpoint, or one started in this process.
pub struct BenchTarget {
    /// The endpoint's URL.
    pub endpoint: String,
    /// The in-process emulator, when no endpoint was given.
    emulator: Option<RunningEmulator>,
}

impl BenchTarget {
    /// `endpoint` if given; otherwise a fresh in-process emulator on a free port.
    ///
    /// # Errors
    /// When the in-process emulator does not start.
    pub async fn start(endpoint: Option<&str>) -> anyhow::Result<Self> {
        Ok(match endpoint {
            Some(endpoint) => Self { endpoint: endpoint.to_owned(), emulator: None },
            None => {
                let emulator = sqskit_emulator::Emulator::builder().port(0).start().await?;
                Self { endpoint: emulator.endpoint(), emulator: Some(emulator) }
            }
        })
    }

    /// An aws-sdk-sqs backend (AWS JSON 1.0 over HTTP) for the endpoint, in `us-east-1` with static dummy
    /// credentials whose access key is `access_key`.
    pub async fn aws_backend(&self, access_key: &str) -> Arc<dyn SqsBackend> {
        let credentials = aws_credential_types::Credentials::new(access_key, access_key, None, None, "static");
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region("us-east-1")
            .credentials_provider(credentials)
            .load()
            .await;
        Arc::new(AwsBackend::builder(&sdk_config).build())
    }

    /// Stops the in-process emulator, if there is one.
    ///
    /// # Errors
    /// When it does not shut down cleanly.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await?;
        }
        Ok(())
    }
}

/// The `p` quantile (0.0 to 1.0, nearest rank) of `sorted`; zero when it is empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}
