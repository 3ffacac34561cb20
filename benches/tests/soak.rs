//! The CI version of the soak test (issue #12): one minute of the soak's mixed workload against an in-process
//! sqskit-emulator over real HTTP, with the `sqskit-loadgen` binary as a child process sampling this process's
//! memory and file descriptors. The 30-minute version is `benches/scripts/run-soak.sh`; BENCHMARKS.md has its
//! figures.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqskit_emulator::Emulator;

/// Length of the run in seconds.
const DURATION_SECS: u64 = 60;

/// Seconds between samples: the first sample, at 10 s, is the baseline of the growth check, so start-up and the
/// first allocations of every code path are behind it.
const SAMPLE_INTERVAL_SECS: u64 = 10;

/// Requests per second. A debug build of the emulator in this process manages several thousand per second on one
/// core of the 2-core CI machine, and the debug load generator needs about 15 % of the other; 500 stays well
/// under both even when other jobs take half the machine, so a missed rate or a timeout here means a fault, not
/// a slow machine. Between the first sample and the last (50 s) that is 25,000 requests and about 30,000
/// messages.
const RATE: u64 = 500;

/// Message bodies of 1 KiB, not the benchmarks' 256 bytes: a leak of stored messages then shows four times as
/// clearly, at no extra CPU.
const BODY_BYTES: usize = 1024;

/// The most this process's RSS may grow from the first sample (10 s) to the last (60 s), in MiB.
///
/// At steady state the emulator holds a bounded queue (the workload deletes what it sends; the depth stays in
/// the tens) and one short-lived queue at a time, so its live memory does not grow; what RSS still shows is the
/// allocator keeping freed pages and growing its arenas: 0.4 MiB over this minute when it was calibrated.
/// Against that, a leak of the stored messages themselves (30,000 bodies of 1 KiB plus about 350 bytes of
/// bookkeeping each) adds about 40 MiB, and any leak of more than about 700 bytes per request (a receipt
/// handle, a request record, a connection buffer) more than 16 MiB. 16 MiB is therefore 40 times the noise and
/// under half of a message leak.
const MAX_RSS_GROWTH_MIB: u64 = 16;

/// The actions the workload must have called, so that a passing run cannot be an empty one.
const ACTIONS: [&str; 9] = [
    "CreateQueue",
    "DeleteQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
];

/// Runs the one-minute soak and fails on any error, on lost messages, on RSS growth beyond [`MAX_RSS_GROWTH_MIB`],
/// on more than eight new file descriptors, or on a run that did not exercise every action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_minute_soak_has_no_errors_and_bounded_growth() {
    let emulator = Emulator::builder().port(0).start().await.expect("emulator starts");
    let started = Instant::now();

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_sqskit-loadgen"))
        .args(["--scenario", "soak", "--endpoint", &emulator.endpoint(), "--json"])
        .args(["--duration", &DURATION_SECS.to_string(), "--sample-interval", &SAMPLE_INTERVAL_SECS.to_string()])
        .args(["--rate", &RATE.to_string(), "--concurrency", "8", "--body-bytes", &BODY_BYTES.to_string()])
        .args(["--server-pid", &std::process::id().to_string()])
        .args(["--max-errors", "0", "--max-rss-growth-mib", &MAX_RSS_GROWTH_MIB.to_string()])
        .kill_on_drop(true)
        .output()
        .await
        .expect("the load generator runs");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");

    assert!(output.status.success(), "the soak failed ({}):\n{stderr}", output.status);
    let report: Value = serde_json::from_str(&stdout).expect("one JSON report on stdout");
    assert_eq!(report["passed"], true);
    assert_eq!(report["total"]["errors"], 0);
    let samples = report["samples"].as_array().expect("samples");
    assert_eq!(samples.len() as u64, DURATION_SECS / SAMPLE_INTERVAL_SECS, "one sample per interval");
    assert!(samples.iter().all(|sample| sample["rss_mib"].is_number() && sample["fds"].is_number()));
    let growth = report["rss_growth_mib"].as_f64().expect("growth was measured");
    assert!(growth <= MAX_RSS_GROWTH_MIB as f64, "{growth} MiB");
    for action in ACTIONS {
        let requests = report["actions"]
            .as_array()
            .and_then(|actions| actions.iter().find(|entry| entry["action"] == action))
            .and_then(|entry| entry["requests"].as_u64());
        assert!(requests.is_some_and(|requests| requests > 0), "{action} was never called");
    }
    let achieved = report["requests_per_sec"].as_f64().expect("a rate");
    // Well under capacity the pacer keeps the rate exactly; 20 % short would take seconds of stalls.
    assert!(achieved >= 0.8 * RATE as f64, "{achieved} req/s of {RATE}: the run did not do the work it claims");
    assert!(report["queues_churned"].as_u64().is_some_and(|churned| churned >= 30), "about one queue a second");
    assert!(report["final_depth"]["visible"].is_u64(), "the final depth was read");
    println!("soak test took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(DURATION_SECS + 30), "{elapsed:?}");
    emulator.shutdown().await.expect("stops");
}
