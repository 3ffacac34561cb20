//! Durable mode when the disk fails: the data directory sits on a tiny tmpfs that a filler file fills up, so
//! SQLite's commits fail with "database or disk is full" (a real fault, no hook in the emulator).
//!
//! The emulator is fail-stop (ARCHITECTURE.md, "Storage failures"): the send whose commit failed is applied
//! in memory, so it is never answered with an error; it waits until a retry of the commit succeeds. Meanwhile
//! every new durable write is refused, before being applied, with a retryable 503 `ServiceUnavailable`, and
//! `/health` and `/metrics` report the failure. Once space is freed the held-back commit goes through, the
//! waiting send is answered with success, and after a restart exactly the acknowledged messages are there.
//!
//! A second test breaks only SQLite (the message log still works): the emulator goes on, durable, and reports
//! itself degraded.
//!
//! The full-disk test needs root (to mount the tmpfs); skips with a message elsewhere, and fails instead under CI (`CI=true` or
//! `SQSKIT_REQUIRE_STORAGE_FAULT_TESTS` set), where `.ci/run` runs as root.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ACCOUNT, expect_service_error, raw_request, sdk_client, start_emulator, stop_emulator};
use sqskit_emulator::Emulator;

/// A tmpfs mounted for the test, unmounted when dropped.
struct TinyFs {
    dir: tempfile::TempDir,
}

impl TinyFs {
    /// Mounts a tmpfs of `size` (e.g. "4m"), or says why it cannot.
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !output.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn required() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
        || std::env::var_os("SQSKIT_REQUIRE_STORAGE_FAULT_TESTS").is_some()
}

/// Fills the file system with `filler` until a write fails, leaving it full.
fn fill(filler: &Path) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(filler).expect("create the filler");
    let block = vec![0u8; 4096];
    while file.write_all(&block).and_then(|()| file.sync_all()).is_ok() {}
}

async fn health(endpoint: &str) -> (u16, String) {
    let response = raw_request(endpoint, "GET", "/health", &[], Vec::new()).await;
    (response.status, String::from_utf8_lossy(&response.body).into_owned())
}

async fn storage_failing_gauge(endpoint: &str) -> String {
    gauge(endpoint, "sqskit_storage_failing").await
}

/// The sample line of the unlabelled gauge `name` in `/metrics`.
async fn gauge(endpoint: &str, name: &str) -> String {
    let response = raw_request(endpoint, "GET", "/metrics", &[], Vec::new()).await;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    text.lines()
        .find(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ')))
        .unwrap_or_default()
        .to_owned()
}

/// The value of `sqskit_storage_backlog_events` in `/metrics`.
async fn backlog(endpoint: &str) -> u64 {
    let line = gauge(endpoint, "sqskit_storage_backlog_events").await;
    line.rsplit(' ').next().and_then(|value| value.parse().ok()).unwrap_or_else(|| panic!("no backlog: {line:?}"))
}

/// Waits (10 s at most) until the backlog is 0: the data file holds everything the log has.
async fn backlog_drains(endpoint: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while backlog(endpoint).await > 0 {
        assert!(Instant::now() < deadline, "the backlog stayed at {}", backlog(endpoint).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET /health/ready`: its status and JSON detail.
async fn readiness(endpoint: &str) -> (u16, serde_json::Value) {
    let response = raw_request(endpoint, "GET", "/health/ready", &[], Vec::new()).await;
    (response.status, serde_json::from_slice(&response.body).expect("readiness JSON"))
}

/// When only SQLite fails (here its `log_state` table is renamed away by a second connection, so every
/// transaction of the applier fails at its end; a real fault, no hook), the message log still makes every write
/// durable: nothing is refused and nothing acknowledged is lost, but the log cannot recycle what SQLite lacks.
/// The server stays ready and says it is degraded (`/health`, `/health/ready`, `/metrics`); once the table is
/// back the applier catches up and the report clears. Needs no root, so it never skips.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_file_that_cannot_be_updated_degrades_storage_without_refusing_or_losing_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let emulator = start_emulator(Emulator::builder().data_dir(&data)).await;
    let endpoint = emulator.endpoint();
    let sqs = sdk_client(&endpoint).await;
    sqs.create_queue().queue_name("q").send().await.expect("create");
    let url = format!("{endpoint}/{ACCOUNT}/q");
    sqs.send_message().queue_url(&url).message_body("before").send().await.expect("send");
    assert_eq!(gauge(&endpoint, "sqskit_storage_degraded").await, "sqskit_storage_degraded 0");
    backlog_drains(&endpoint).await;

    let other = rusqlite::Connection::open(data.join("sqskit.db")).expect("open the data file");
    other.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
    other.execute_batch("ALTER TABLE log_state RENAME TO log_state_away;").expect("move the table away");
    // Queues live in SQLite: this one's creation is what the applier fails to write.
    sqs.create_queue().queue_name("created-while-degraded").send().await.expect("writes are not refused");
    let deadline = Instant::now() + Duration::from_secs(10);
    let detail = loop {
        let (status, detail) = readiness(&endpoint).await;
        if detail["storage"] == "degraded" {
            assert_eq!(status, 200, "degraded storage keeps the server ready: {detail}");
            break detail;
        }
        assert!(Instant::now() < deadline, "never reported degraded: {detail}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(detail["ready"], true, "{detail}");
    let reason = detail["storage_degraded"].as_str().expect("the reason");
    assert!(reason.contains("data file cannot be updated") && reason.contains("log_state"), "{reason}");
    let (status, text) = health(&endpoint).await;
    assert_eq!((status, text.starts_with("ok, storage degraded: ")), (200, true), "{text}");
    assert_eq!(gauge(&endpoint, "sqskit_storage_degraded").await, "sqskit_storage_degraded 1");
    assert_eq!(storage_failing_gauge(&endpoint).await, "sqskit_storage_failing 0");
    // Durable writes go on, and are acknowledged; the backlog the data file lacks grows with them.
    let before = backlog(&endpoint).await;
    assert!(before > 0, "the queue created while degraded is not in the data file");
    sqs.send_message().queue_url(&url).message_body("while degraded").send().await.expect("send while degraded");
    assert!(backlog(&endpoint).await > before, "the send is durable in the log and not in the data file");

    other.execute_batch("ALTER TABLE log_state_away RENAME TO log_state;").expect("bring the table back");
    let deadline = Instant::now() + Duration::from_secs(10);
    while readiness(&endpoint).await.1["storage"] != "restored" {
        assert!(Instant::now() < deadline, "the degraded report never cleared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(health(&endpoint).await, (200, "ok".to_owned()));
    assert_eq!(gauge(&endpoint, "sqskit_storage_degraded").await, "sqskit_storage_degraded 0");
    backlog_drains(&endpoint).await;
    drop(other);
    stop_emulator(emulator).await;

    let emulator = start_emulator(Emulator::builder().data_dir(&data)).await;
    let sqs = sdk_client(&emulator.endpoint()).await;
    sqs.get_queue_url().queue_name("created-while-degraded").send().await.expect("the queue survived the restart");
    let url = format!("{}/{ACCOUNT}/q", emulator.endpoint());
    let received = sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.expect("receive");
    let mut bodies: Vec<&str> = received.messages().iter().filter_map(|message| message.body()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["before", "while degraded"]);
    stop_emulator(emulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_new_writes_holds_the_failed_one_and_recovers_when_space_returns() {
    let fs = match TinyFs::mount("4m") {
        Ok(fs) => fs,
        Err(reason) if !required() => {
            eprintln!("SKIPPED: a tiny tmpfs is needed for the storage fault test ({reason}); run as root");
            return;
        }
        Err(reason) => panic!("the storage fault test must run here: {reason}"),
    };
    let data: PathBuf = fs.path().join("data");
    let filler = fs.path().join("filler");
    let emulator = start_emulator(Emulator::builder().data_dir(&data)).await;
    let endpoint = emulator.endpoint();
    let sqs = sdk_client(&endpoint).await;
    sqs.create_queue().queue_name("q").send().await.expect("create");
    let url = format!("{endpoint}/{ACCOUNT}/q");
    let body = |i: usize| format!("{i:05}-{}", "x".repeat(60_000));

    let mut acknowledged = BTreeSet::new();
    for i in 0..3 {
        sqs.send_message().queue_url(&url).message_body(body(i)).send().await.expect("send with room");
        acknowledged.insert(i);
    }
    fill(&filler);

    // Sends until one cannot be committed: it stays unanswered rather than failing.
    let mut stuck = None;
    for i in 3..100 {
        let send = sqs.send_message().queue_url(&url).message_body(body(i)).send();
        let mut send = tokio::spawn(send);
        match tokio::time::timeout(Duration::from_secs(2), &mut send).await {
            Ok(answer) => {
                answer.expect("join").expect("a send is either acknowledged or held, never failed");
                acknowledged.insert(i);
            }
            Err(_) => {
                stuck = Some((i, send));
                break;
            }
        }
    }
    let (stuck_index, stuck_send) = stuck.expect("the full disk held a send back");

    // Fail-stop: reported, and new durable writes refused (503, retryable) without being applied.
    let (status, text) = health(&endpoint).await;
    assert_eq!(status, 503, "health while failing: {text}");
    assert!(text.contains("storage failing"), "{text}");
    assert_eq!(storage_failing_gauge(&endpoint).await, "sqskit_storage_failing 1");
    let refused = sqs.send_message().queue_url(&url).message_body("refused").send().await.expect_err("refused");
    expect_service_error(refused, 503, "ServiceUnavailable", "cannot write to its data directory");
    let refused =
        sqs.create_queue().queue_name("refused").send().await.expect_err("queue creation refused while failing");
    expect_service_error(refused, 503, "ServiceUnavailable", "the request was not applied");
    // Reads still work.
    sqs.get_queue_attributes().queue_url(&url).send().await.expect("reads are served");
    assert!(!stuck_send.is_finished(), "the held send was answered while storage was failing");

    // Space comes back: the held commit goes through and the send is answered with success.
    std::fs::remove_file(&filler).expect("free the space");
    let answered = tokio::time::timeout(Duration::from_secs(10), stuck_send)
        .await
        .expect("the held send is answered once storage recovers")
        .expect("join");
    answered.expect("the held send is acknowledged, not failed");
    acknowledged.insert(stuck_index);
    let deadline = Instant::now() + Duration::from_secs(5);
    while health(&endpoint).await.0 != 200 {
        assert!(Instant::now() < deadline, "health never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(storage_failing_gauge(&endpoint).await, "sqskit_storage_failing 0");
    let last = stuck_index + 1;
    sqs.send_message().queue_url(&url).message_body(body(last)).send().await.expect("writes resume");
    acknowledged.insert(last);
    stop_emulator(emulator).await;

    // After a restart: exactly the acknowledged messages, nothing refused, no hole.
    let emulator = start_emulator(Emulator::builder().data_dir(&data)).await;
    let sqs = sdk_client(&emulator.endpoint()).await;
    let url = format!("{}/{ACCOUNT}/q", emulator.endpoint());
    let mut stored = BTreeSet::new();
    loop {
        let received = sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.expect("receive");
        let messages = received.messages();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let text = message.body().unwrap_or_default();
            assert_ne!(text, "refused", "a refused send was stored");
            let index: usize = text[..5].parse().expect("index");
            assert!(stored.insert(index), "message {index} stored twice");
        }
    }
    assert_eq!(stored, acknowledged, "stored messages after the restart");
    assert!(sqs.get_queue_url().queue_name("refused").send().await.is_err(), "the refused CreateQueue was applied");
    stop_emulator(emulator).await;
}
