//! The order examples through the offload path, as separate processes: `order_producer --s3-bucket NAME
//! --pad-bytes 2097152` sends 2 MiB orders through moto_server's S3 (endpoint from `AWS_ENDPOINT_URL_S3`) and the
//! emulator over HTTP, and `order_consumer --s3-bucket NAME` processes and verifies them, leaving the bucket empty.

use std::process::Stdio;

use sqskit_emulator::Emulator;

use crate::example_binaries::{example_binaries, example_command};
use crate::support::{S3, TWO_MIB};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_examples_push_two_mib_orders_through_s3() {
    let Some(s3) = S3::start().await else { return };
    let bin = example_binaries();
    let emulator = Emulator::builder().port(0).start().await.expect("emulator");
    let command = |name: &str| {
        let mut command = example_command(&bin, name);
        command
            .env("AWS_ENDPOINT_URL_S3", s3.moto.endpoint())
            .args(["--endpoint", &emulator.endpoint(), "--queue", "orders", "--create-queues"])
            .args(["--s3-bucket", &s3.bucket])
            .stdin(Stdio::null());
        command
    };
    let produced = tokio::task::spawn_blocking({
        let mut producer = command("order_producer");
        producer.args(["--count", "4", "--pad-bytes", &TWO_MIB.to_string()]);
        move || producer.output().expect("run order_producer")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&produced.stdout);
    assert!(
        produced.status.success(),
        "order_producer failed: {stdout}\n{}",
        String::from_utf8_lossy(&produced.stderr)
    );
    assert!(stdout.contains("sent        4 messages"), "{stdout}");
    assert_eq!(s3.keys().await.len(), 4, "each 2 MiB order went to S3");

    let consumed = tokio::task::spawn_blocking({
        let mut consumer = command("order_consumer");
        consumer.args(["--exit-when-drained", "--expect-orders", "4", "--expect-poison", "0"]);
        move || consumer.output().expect("run order_consumer")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&consumed.stdout);
    assert!(
        consumed.status.success(),
        "order_consumer failed: {stdout}\n{}",
        String::from_utf8_lossy(&consumed.stderr)
    );
    assert!(s3.keys().await.is_empty(), "the consumer deleted every object after acknowledging: {stdout}");
}
