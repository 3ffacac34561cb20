//! Throughput of large messages (2 MiB by default) through the S3 offload path (`sqskit::offload`): a
//! `Producer` with `large_payloads` sends N messages (upload + pointer), a `Consumer` receives them (fetch) and
//! acknowledges them (delete of message and object), against the emulator over HTTP (aws-sdk-sqs) and an S3
//! server (moto_server). Compared in the same run with the raw S3 floor: the same N PUT + GET + DELETE of the
//! objects through aws-sdk-s3 with the same concurrency and no SQS at all. Prints a markdown table of medians.
//!
//! Run (starts an in-process emulator and moto_server from tests/servers/.venv-moto on a free port):
//!     bash tests/servers/setup.sh
//!     cargo run --release --example offload_bench
//! Options: --messages N (40 per round), --size BYTES (2097152), --rounds R (5, raw and offload alternating so
//!          both see the same machine load), --concurrency C (16 sends, handlers and raw loops), --endpoint URL
//!          (a running emulator), --s3-endpoint URL (a running S3 server instead of moto_server).

#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use bench_support::BenchTarget;
use sqskit::Producer;
use sqskit::consumer::{Consumer, Delivery, Outcome};
use sqskit::offload::{LargePayloads, S3PayloadStore};
use tokio::task::JoinSet;

struct Options {
    endpoint: Option<String>,
    s3_endpoint: Option<String>,
    messages: usize,
    size: usize,
    rounds: usize,
    concurrency: usize,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options =
        Options { endpoint: None, s3_endpoint: None, messages: 40, size: 2 * 1024 * 1024, rounds: 5, concurrency: 16 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--endpoint" => options.endpoint = Some(value()?),
            "--s3-endpoint" => options.s3_endpoint = Some(value()?),
            "--messages" => options.messages = value()?.parse()?,
            "--size" => options.size = value()?.parse()?,
            "--rounds" => options.rounds = value()?.parse()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    if options.messages == 0 || options.rounds == 0 || options.concurrency == 0 || options.size == 0 {
        bail!("--messages, --size, --rounds and --concurrency must be positive");
    }
    Ok(options)
}

/// A moto_server child, killed on drop.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts moto_server from the test venv on a free port and waits until it answers.
fn start_moto() -> anyhow::Result<(Moto, String)> {
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/.venv-moto/bin/moto_server");
    if !binary.is_file() {
        bail!("{} not found: run `bash tests/servers/setup.sh` or pass --s3-endpoint", binary.display());
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let moto = Moto(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("moto_server did not start within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((moto, format!("http://127.0.0.1:{port}")))
}

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("bench", "bench", None, None, "static"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Blob {
    id: usize,
    data: String,
}

/// N objects put, read back and deleted by `concurrency` loops: what the offload path asks of S3, without SQS.
async fn raw_round(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    body: &Arc<String>,
    options: &Options,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut loops = JoinSet::new();
    for _ in 0..options.concurrency {
        let (s3, bucket, body, next, total) =
            (s3.clone(), bucket.to_owned(), body.clone(), next.clone(), options.messages);
        loops.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(());
                }
                let key = format!("raw-{i}-{}", uuid::Uuid::new_v4());
                s3.put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(ByteStream::from(body.as_bytes().to_vec()))
                    .send()
                    .await?;
                let object = s3.get_object().bucket(&bucket).key(&key).send().await?;
                let bytes = object.body.collect().await?.into_bytes();
                anyhow::ensure!(bytes.len() == body.len(), "short read");
                s3.delete_object().bucket(&bucket).key(&key).send().await?;
            }
        });
    }
    while let Some(result) = loops.join_next().await {
        result??;
    }
    Ok(started.elapsed())
}

/// N messages through a producer and a consumer with large payloads; returns (send phase, end to end).
async fn offload_round(
    target: &BenchTarget,
    payloads: &LargePayloads,
    round: usize,
    body: &Arc<String>,
    options: &Options,
) -> anyhow::Result<(Duration, Duration)> {
    let backend = target.aws_backend("bench").await;
    let queue = backend.create_queue(&format!("offload-{round}"), &Default::default(), &Default::default()).await?;
    let producer = Producer::<Blob>::builder(backend.clone(), &queue).large_payloads(payloads.clone()).build().await?;
    let consumer = Consumer::<Blob>::builder(backend.clone(), &queue)
        .large_payloads(payloads.clone())
        .concurrency(options.concurrency)
        .build()
        .await?;
    let size = options.size;
    let running = consumer.start(move |blob: Delivery<Blob>| async move {
        if blob.body().data.len() == size { Outcome::Ack } else { Outcome::DeadLetter("wrong size".to_owned()) }
    });
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = JoinSet::new();
    for _ in 0..options.concurrency {
        let (producer, body, next, total) = (producer.clone(), body.clone(), next.clone(), options.messages);
        senders.spawn(async move {
            loop {
                let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if id >= total {
                    return anyhow::Ok(());
                }
                producer.send(&Blob { id, data: body.as_str().to_owned() }).await?;
            }
        });
    }
    while let Some(result) = senders.join_next().await {
        result??;
    }
    let sent = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    while running.stats().completed < options.messages as u64 {
        if Instant::now() > deadline {
            bail!("only {} of {} messages acknowledged after 10 minutes", running.stats().completed, options.messages);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let report = running.shutdown(Duration::from_secs(30)).await;
    let total = started.elapsed();
    producer.close().await;
    anyhow::ensure!(report.stats.poison == 0 && report.stats.payload_failures == 0, "failures: {:?}", report.stats);
    backend.delete_queue(&queue).await?;
    Ok((sent, total))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let target = BenchTarget::start(options.endpoint.as_deref()).await?;
    let (_moto, s3_endpoint) = match &options.s3_endpoint {
        Some(endpoint) => (None, endpoint.clone()),
        None => {
            let (moto, endpoint) = start_moto()?;
            (Some(moto), endpoint)
        }
    };
    let s3 = s3_client(&s3_endpoint);
    let bucket = "offload-bench";
    s3.create_bucket().bucket(bucket).send().await.context("create the bucket")?;
    let payloads = LargePayloads::new(S3PayloadStore::new(s3.clone()), bucket);
    // The JSON body is the data plus a few bytes of framing.
    let body = Arc::new("x".repeat(options.size));

    let (mut raw, mut sent, mut end_to_end) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..options.rounds {
        let raw_time = raw_round(&s3, bucket, &body, &options).await?;
        let (send_time, total_time) = offload_round(&target, &payloads, round, &body, &options).await?;
        let rate = |time: Duration| options.messages as f64 / time.as_secs_f64();
        eprintln!(
            "round {}: raw S3 {:.1} msg/s, offload send {:.1} msg/s, offload end to end {:.1} msg/s",
            round + 1,
            rate(raw_time),
            rate(send_time),
            rate(total_time)
        );
        raw.push(rate(raw_time));
        sent.push(rate(send_time));
        end_to_end.push(rate(total_time));
    }
    let left = s3.list_objects_v2().bucket(bucket).send().await?.key_count().unwrap_or(0);
    let mib = options.size as f64 / (1024.0 * 1024.0);
    let (raw, sent, end_to_end) = (median(raw), median(sent), median(end_to_end));
    println!(
        "{} messages of {} bytes per round, concurrency {}, {} rounds (medians)\n",
        options.messages, options.size, options.concurrency, options.rounds
    );
    println!("| path | messages/s | MiB/s | vs raw S3 |");
    println!("|---|---:|---:|---:|");
    println!("| raw S3: PUT + GET + DELETE per object (no SQS) | {raw:.1} | {:.1} | 1.00 |", raw * mib);
    println!("| offload, send only (upload + SendMessageBatch) | {sent:.1} | {:.1} | {:.2} |", sent * mib, sent / raw);
    println!(
        "| offload, end to end (send, receive + fetch, ack + delete) | {end_to_end:.1} | {:.1} | {:.2} |",
        end_to_end * mib,
        end_to_end / raw
    );
    println!("\nobjects left in the bucket: {left}");
    target.shutdown().await?;
    Ok(())
}
