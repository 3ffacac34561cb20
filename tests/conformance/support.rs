//! The backend rows of the conformance suite: each builds a [`TestContext`] whose `backend` is an
//! `Arc<dyn SqsBackend>` (wrapped in a `CountingBackend`), so scenarios are written once against the trait.
//!
//! - `embedded()`: `EmbeddedBackend` over an engine driven by a `ManualClock`.
//! - `aws_over_http()`: `AwsBackend` (aws-sdk-sqs, SDK retries off) talking JSON 1.0 over HTTP to an
//!   in-process emulator sharing a `ManualClock`.
//! - `query_over_http()`: the test-only `QueryBackend` (`query_backend/`) talking the legacy Query protocol
//!   (form-encoded requests, XML responses) to the same kind of emulator.
//!
//! Both HTTP rows go through a small pass-through proxy that can damage the MD5 digests of responses, JSON or
//! XML, for the integrity scenarios.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "query_backend/mod.rs"]
pub mod query_backend;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use sqskit::backend::{AwsBackend, CallCounts, CountingBackend, EmbeddedBackend, SqsBackend};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit_emulator::{Emulator, Engine, EngineConfig, ManualClock, RunningEmulator};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use query_backend::QueryBackend;

/// The whole-request timeout of the HTTP rows.
const HTTP_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// How a row damages digests for the integrity scenarios.
enum Corruptor {
    Embedded(EmbeddedBackend),
    Proxy(Arc<AtomicUsize>),
}

/// One backend row's fixtures.
pub struct TestContext {
    /// The backend under test, counted.
    pub backend: Arc<dyn SqsBackend>,
    counting: Arc<CountingBackend>,
    clock: ManualClock,
    corruptor: Corruptor,
    emulator: Option<RunningEmulator>,
    proxy: Option<JoinHandle<()>>,
}

impl TestContext {
    /// The embedded row.
    pub async fn embedded() -> Self {
        let clock = ManualClock::new();
        let engine = Engine::new(EngineConfig::default(), Arc::new(clock.clone()));
        let embedded = EmbeddedBackend::with_engine(engine);
        let counting = Arc::new(CountingBackend::new(Arc::new(embedded.clone())));
        Self {
            backend: counting.clone(),
            counting,
            clock,
            corruptor: Corruptor::Embedded(embedded),
            emulator: None,
            proxy: None,
        }
    }

    /// The SDK-over-HTTP row (JSON 1.0).
    pub async fn aws_over_http() -> Self {
        Self::over_http(|endpoint| async move {
            let sdk_config = aws_config::defaults(BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .region("us-east-1")
                .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "static"))
                .load()
                .await;
            let aws = AwsBackend::builder(&sdk_config).operation_timeout(HTTP_OPERATION_TIMEOUT).build();
            Arc::new(aws) as Arc<dyn SqsBackend>
        })
        .await
    }

    /// The Query-over-HTTP row (form-encoded requests, XML responses).
    pub async fn query_over_http() -> Self {
        Self::over_http(|endpoint| async move {
            Arc::new(QueryBackend::new(endpoint, HTTP_OPERATION_TIMEOUT)) as Arc<dyn SqsBackend>
        })
        .await
    }

    /// A row whose backend, built by `backend` from an endpoint URL, talks HTTP to an in-process emulator on a
    /// `ManualClock`, through the digest-damaging proxy.
    async fn over_http<F>(backend: impl FnOnce(String) -> F) -> Self
    where
        F: Future<Output = Arc<dyn SqsBackend>>,
    {
        let clock = ManualClock::new();
        let emulator = Emulator::builder().port(0).clock(clock.clone()).start().await.expect("start emulator");
        let corrupt = Arc::new(AtomicUsize::new(0));
        let (proxy_url, proxy) = start_proxy(emulator.endpoint(), corrupt.clone()).await;
        let counting = Arc::new(CountingBackend::new(backend(proxy_url).await));
        Self {
            backend: counting.clone(),
            counting,
            clock,
            corruptor: Corruptor::Proxy(corrupt),
            emulator: Some(emulator),
            proxy: Some(proxy),
        }
    }

    /// Moves the emulator's virtual time forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Requests made through the backend so far.
    pub fn calls(&self) -> CallCounts {
        self.counting.counts()
    }

    /// Damages the body digest of the next `count` messages the backend reports.
    pub fn corrupt_next_checksums(&self, count: usize) {
        match &self.corruptor {
            Corruptor::Embedded(backend) => backend.corrupt_next_checksums(count),
            Corruptor::Proxy(counter) => counter.store(count, Ordering::SeqCst),
        }
    }

    /// Creates a standard queue and returns its URL.
    pub async fn create_queue(&self, name: &str) -> String {
        self.create_queue_with(name, QueueAttributes::new()).await
    }

    /// Creates a queue with attributes and returns its URL.
    pub async fn create_queue_with(&self, name: &str, attributes: QueueAttributes) -> String {
        self.backend.create_queue(name, &attributes, &BTreeMap::new()).await.expect("create queue")
    }

    /// Creates a FIFO queue (name must end in `.fifo`) and returns its URL.
    pub async fn create_fifo_queue(&self, name: &str) -> String {
        self.create_queue_with(name, QueueAttributes::new().with(QueueAttributeName::FifoQueue, "true")).await
    }

    /// Stops the emulator and the proxy, if any.
    pub async fn finish(self) {
        if let Some(proxy) = self.proxy {
            proxy.abort();
        }
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await.expect("emulator shut down cleanly");
        }
    }
}

/// A pass-through HTTP proxy to `upstream` that damages response digests while `corrupt` is above zero.
async fn start_proxy(upstream: String, corrupt: Arc<AtomicUsize>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let client: HttpClient<HttpConnector, Full<Bytes>> = HttpClient::builder(TokioExecutor::new()).build_http();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let client = client.clone();
            let upstream = upstream.clone();
            let corrupt = corrupt.clone();
            tokio::spawn(async move {
                let service =
                    service_fn(move |request| forward(request, client.clone(), upstream.clone(), corrupt.clone()));
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (url, task)
}

async fn forward(
    request: Request<Incoming>,
    client: HttpClient<HttpConnector, Full<Bytes>>,
    upstream: String,
    corrupt: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = Request::builder().method(parts.method).uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let response = match client.request(outgoing.body(Full::new(body)).expect("request")).await {
        Ok(response) => response,
        Err(error) => {
            let mut response = Response::new(Full::new(Bytes::from(error.to_string())));
            *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            return Ok(response);
        }
    };
    let (mut parts, body) = response.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = damage_digests(body, &corrupt);
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Flips a digit of `MD5OfMessageBody` (send results) or `MD5OfBody` (received messages), once per pending
/// corruption, in a JSON or an XML (Query) response.
fn damage_digests(body: Bytes, corrupt: &AtomicUsize) -> Bytes {
    if corrupt.load(Ordering::SeqCst) == 0 {
        return body;
    }
    let take = || corrupt.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if body.starts_with(b"<") {
        return damage_xml_digests(body, take);
    }
    let Ok(mut json) = serde_json::from_slice::<Value>(&body) else { return body };
    let damage = |object: &mut Value, key: &str| {
        if let Some(Value::String(digest)) = object.get_mut(key) {
            if take() {
                let flipped = if digest.starts_with('0') { "1" } else { "0" };
                digest.replace_range(0..1, flipped);
            }
        }
    };
    for (list, key) in [("Successful", "MD5OfMessageBody"), ("Messages", "MD5OfBody")] {
        if let Some(Value::Array(items)) = json.get_mut(list) {
            for item in items {
                damage(item, key);
            }
        }
    }
    Bytes::from(serde_json::to_vec(&json).expect("json"))
}

/// The XML side of [`damage_digests`]: flips the first digit inside each `<MD5OfMessageBody>` and `<MD5OfBody>`
/// element, in document order, while `take` allows.
fn damage_xml_digests(body: Bytes, take: impl Fn() -> bool) -> Bytes {
    let mut digit_positions: Vec<usize> = ["<MD5OfMessageBody>", "<MD5OfBody>"]
        .into_iter()
        .flat_map(|tag| body.windows(tag.len()).enumerate().filter(move |(_, window)| *window == tag.as_bytes()))
        .map(|(at, window)| at + window.len())
        .collect();
    digit_positions.sort_unstable();
    let mut damaged = body.to_vec();
    for at in digit_positions {
        if !take() {
            break;
        }
        damaged[at] = if damaged[at] == b'0' { b'1' } else { b'0' };
    }
    Bytes::from(damaged)
}
