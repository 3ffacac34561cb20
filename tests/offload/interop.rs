//! Interoperability with AWS's Python extended client (`amazon-sqs-extended-client` 1.0.1, pinned in
//! `tests/offload/python/requirements-extended.txt`), through the emulator over HTTP and moto_server's S3: a
//! 2 MiB message sqskit sends is read by it (and deleted by sqskit with the receipt handle it hands out), and
//! one it sends (current and legacy marker attribute) is read by a sqskit consumer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqskit::Producer;
use sqskit::consumer::{Consumer, Delivery, Outcome};
use sqskit::offload::ExtendedReceiptHandle;
use tokio::process::Command;

use crate::support::{Order, Row, S3, Sqs, TWO_MIB, eventually};

/// The venv's python, or `None` (a skip with a note, or a failure when the tests are required).
fn python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/offload/python/.venv-extended/bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(
        !crate::servers::required(),
        "the Python extended client is required here (CI=true or SQSKIT_REQUIRE_STORE_TESTS=1) but its venv is \
         missing: install it with `bash tests/offload/python/setup.sh` (.ci/run does)"
    );
    eprintln!("the Python extended client is not installed: skipping (bash tests/offload/python/setup.sh installs it)");
    None
}

/// Runs `interop.py` with the endpoints of `sqs` and `s3`, returning its JSON output.
async fn run_python(python: &Path, sqs_endpoint: &str, s3: &S3, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/offload/python/interop.py");
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .env("AWS_ENDPOINT_URL_SQS", sqs_endpoint)
        .env("AWS_ENDPOINT_URL_S3", s3.moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run interop.py");
    assert!(
        output.status.success(),
        "interop.py {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("interop.py prints JSON")
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_extended_client_reads_what_sqskit_sends() {
    let Some(python) = python() else { return };
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::AwsHttp).await;
    let endpoint = sqs.emulator.as_ref().unwrap().endpoint();
    let queue = sqs.queue("to-python").await;
    let producer =
        Producer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    let order = Order::padded("from-sqskit", TWO_MIB);
    producer.send(&order).await.unwrap();
    let body = serde_json::to_string(&order).unwrap();

    let received = run_python(&python, &endpoint, &s3, &["receive", &queue, &s3.bucket, "1"]).await;
    let message = &received[0];
    assert_eq!(message["length"], body.len(), "{message}");
    assert_eq!(message["sha256"], sha256(&body), "Python read the payload sqskit stored");

    // The handle Python hands out carries the bucket and key; sqskit deletes message and object with it.
    let handle = message["receipt_handle"].as_str().unwrap();
    let parsed = ExtendedReceiptHandle::parse(handle);
    assert_eq!(parsed.pointer.as_ref().map(|p| p.bucket.as_str()), Some(s3.bucket.as_str()), "{handle}");
    assert_eq!(parsed.pointer.as_ref().map(|p| p.key.clone()), s3.keys().await.pop());
    s3.payloads().delete_message(sqs.backend.as_ref(), &queue, handle).await.expect("deleted with Python's handle");
    assert_eq!(sqs.depth(&queue).await, 0);
    assert!(s3.keys().await.is_empty());
    producer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqskit_reads_what_the_python_extended_client_sends() {
    let Some(python) = python() else { return };
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::AwsHttp).await;
    let endpoint = sqs.emulator.as_ref().unwrap().endpoint();
    let queue = sqs.queue("from-python").await;
    let mut sent = Vec::new();
    for legacy in [&[][..], &["legacy"][..]] {
        let mut args = vec!["send", queue.as_str(), s3.bucket.as_str()];
        let size = TWO_MIB.to_string();
        args.push(&size);
        args.extend_from_slice(legacy);
        sent.push(run_python(&python, &endpoint, &s3, &args).await);
    }
    assert_eq!(s3.keys().await.len(), 2, "Python stored both payloads in S3");
    let mut messages = Vec::new();
    while messages.len() < 2 {
        messages.extend(sqs.peek(&queue).await);
    }
    let legacy = messages.iter().filter(|m| m.attributes.get("SQSLargePayloadSize").is_some()).count();
    let current = messages.iter().filter(|m| m.attributes.get("ExtendedPayloadSize").is_some()).count();
    assert_eq!((current, legacy), (1, 1), "one message with each marker attribute");

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let consumer =
        Consumer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    let running = consumer.start(move |order: Delivery<Order>| {
        let sink = sink.clone();
        async move {
            let body = serde_json::to_string(order.body()).unwrap();
            sink.lock().unwrap().push((body.len(), sha256(&body)));
            Outcome::Ack
        }
    });
    eventually("both Python messages acknowledged", || running.stats().completed == 2).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.poison, 0);
    let seen = seen.lock().unwrap().clone();
    for expected in &sent {
        let pair = (expected["length"].as_u64().unwrap() as usize, expected["sha256"].as_str().unwrap().to_owned());
        assert!(seen.contains(&pair), "sqskit decoded the payload Python sent: {expected} not in {seen:?}");
    }
    assert!(s3.keys().await.is_empty(), "sqskit deleted Python's objects after acknowledging");
    assert_eq!(sqs.depth(&queue).await, 0);
}
