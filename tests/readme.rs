//! Every Rust snippet in README.md is compiled (and run) by a test, so that none can rot.
//!
//! # How
//! A snippet lives in a test under `tests/` (any file, any depth), between a line `// README: <name>` and a
//! line `// README: end`, inside a function that gives it what it needs (a backend, a queue URL, ...). The
//! check below reads README.md and every test source and requires that
//! - each fenced block of README.md whose info string starts with `rust` equals one of the marked blocks
//!   (dedented by the marker's indentation, surrounding blank lines ignored), and
//! - each marked block appears in README.md as such a block (a stale copy fails too).
//!
//! README.md's TOML snippets (emulator configuration) must parse as the emulator's `--config` file.
//!
//! To add a snippet to the README: write it in a test between the markers, then paste it into README.md as a
//! ```` ```rust,ignore ```` block (README.md itself is not a doc-test: hidden `# ` lines would show on the
//! rendered page). The producer and consumer snippets live in `tests/order_demo.rs`; the others here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqskit::SqsBackend;
use sqskit::backend::SendEntry;
use sqskit::monitor::{Alert, Metric, QueueMonitor, Threshold};

const START: &str = "// README: ";
const END: &str = "// README: end";

/// The fenced blocks of `markdown` whose info string starts with `language`.
fn fenced_blocks(markdown: &str, language: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(bool, Vec<&str>)> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().starts_with(language), Vec::new())),
            (Some((wanted, lines)), Some(_)) => {
                if *wanted {
                    blocks.push(lines.join("\n").trim_matches('\n').to_owned());
                }
                current = None;
            }
            (Some((_, lines)), None) => lines.push(line),
            (None, None) => {}
        }
    }
    blocks
}

/// The fenced Rust blocks of `markdown`.
fn rust_blocks(markdown: &str) -> Vec<String> {
    fenced_blocks(markdown, "rust")
}

/// The marked blocks of one source file: `(name, dedented code)`.
fn marked_blocks(source: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let Some(name) = trimmed.strip_prefix(START) else { continue };
        if trimmed == END {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|line| line.trim() != END)
            .map(|line| line.get(indent..).unwrap_or_else(|| line.trim_start()))
            .collect();
        blocks.push((name.trim().to_owned(), body.join("\n").trim_matches('\n').to_owned()));
    }
    blocks
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_rust_snippet_in_the_readme_is_compiled_by_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("tests"), &mut files);
    let mut compiled = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let relative = file.strip_prefix(root).unwrap().display().to_string();
        compiled.extend(marked_blocks(&source).into_iter().map(|(name, code)| (relative.clone(), name, code)));
    }
    let in_readme = rust_blocks(&readme);
    assert!(in_readme.len() >= 5, "README.md's Rust snippets were not found: {in_readme:#?}");

    let uncompiled: Vec<&String> =
        in_readme.iter().filter(|block| !compiled.iter().any(|(_, _, code)| code == *block)).collect();
    assert!(
        uncompiled.is_empty(),
        "README.md has Rust snippets that no test compiles; put each one verbatim between `{START}<name>` and \
         `{END}` in a test under tests/ (see tests/readme.rs):\n\n{}",
        uncompiled.iter().map(|block| block.as_str()).collect::<Vec<_>>().join("\n\n-----\n\n")
    );
    let stale: Vec<String> = compiled
        .iter()
        .filter(|(_, _, code)| !in_readme.contains(code))
        .map(|(file, name, code)| format!("{file}: {name}\n{code}"))
        .collect();
    assert!(stale.is_empty(), "marked snippets that README.md does not contain (update it):\n\n{}", stale.join("\n\n"));
}

#[test]
fn every_toml_snippet_in_the_readme_is_a_valid_emulator_config() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = fenced_blocks(&readme, "toml");
    assert!(!blocks.is_empty(), "README.md's TOML snippets were not found");
    for block in blocks {
        if let Err(error) = sqskit_emulator::config::ConfigFile::parse(&block, "README.md") {
            panic!("README.md has a TOML snippet the emulator rejects: {error}\n\n{block}");
        }
    }
}

#[test]
fn the_snippet_scanner_finds_rust_blocks_and_markers() {
    let markdown = "text\n```rust,ignore\nlet a = 1;\n\nlet b = 2;\n```\n```sh\nls\n```\n```rust\nfn f() {}\n```\n";
    assert_eq!(rust_blocks(markdown), ["let a = 1;\n\nlet b = 2;", "fn f() {}"]);
    let source = "fn g() {\n    // README: demo\n    let a = 1;\n        indented();\n    // README: end\n}\n";
    assert_eq!(marked_blocks(source), [("demo".to_owned(), "let a = 1;\n    indented();".to_owned())]);
}

static PAGED: AtomicUsize = AtomicUsize::new(0);

fn page_someone(alert: Alert) {
    assert!(alert.is_raised(), "{alert:?}");
    PAGED.fetch_add(1, Ordering::Relaxed);
}

async fn readme_monitor(
    backend: Arc<dyn SqsBackend>,
    queue_url: String,
    dlq_url: String,
) -> sqskit::Result<tokio::task::JoinHandle<()>> {
    // README: monitor
    let monitor = QueueMonitor::builder(backend, &queue_url)
        .dead_letter_queue(&dlq_url)
        .threshold(Threshold::above(Metric::Backlog, 10_000).recover_at(1_000))
        .threshold(Threshold::above(Metric::DeadLetterBacklog, 0))
        .on_alert(page_someone)
        .build()
        .await?; // reads both queues once: a missing queue or permission stops here
    let task = monitor.spawn(); // polls every 60 s until the task is aborted
    // README: end
    Ok(task)
}

#[tokio::test(start_paused = true)]
async fn the_readme_monitor_snippet_runs() {
    let backend: Arc<dyn SqsBackend> = Arc::new(sqskit::EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await.unwrap();
    let dlq = backend.create_queue("orders-dlq", &Default::default(), &Default::default()).await.unwrap();
    backend.send_message_batch(&dlq, &[SendEntry::new("1", "dead")]).await.unwrap();
    let task = readme_monitor(backend, queue, dlq).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(PAGED.load(Ordering::Relaxed), 1, "the dead-letter threshold was raised once");
    task.abort();
}

async fn readme_sdk_client() -> aws_sdk_sqs::Client {
    // README: aws sdk
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9324")
        .region("us-east-1")
        .test_credentials()
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    // README: end
    sqs
}

#[tokio::test]
async fn the_readme_sdk_snippet_builds_a_client_for_the_emulator() {
    let sqs = readme_sdk_client().await;
    assert_eq!(sqs.config().region().map(|region| region.as_ref()), Some("us-east-1"));
}

async fn readme_emulator_in_a_test() -> anyhow::Result<()> {
    // README: emulator in a test
    use sqskit_emulator::{Emulator, ManualClock};

    let clock = ManualClock::new();
    let emulator = Emulator::builder().port(0).clock(clock.clone()).start().await?;
    // ... point a client at emulator.endpoint() ...
    clock.advance(std::time::Duration::from_secs(31)); // visibility timeouts, delays, long polls follow
    emulator.shutdown().await?;
    // README: end
    Ok(())
}

#[tokio::test]
async fn the_readme_emulator_snippet_runs() {
    readme_emulator_in_a_test().await.unwrap();
}

async fn readme_flow_control(backend: Arc<dyn SqsBackend>, queue_url: String) -> sqskit::Result<(usize, usize)> {
    use sqskit::consumer::Delivery;
    use sqskit::{Consumer, Producer};
    // README: flow control
    let producer = Producer::<u64>::builder(backend.clone(), &queue_url)
        .max_in_flight(8) // the ceiling: throttled sends halve the requests in flight, successes add one back
        .build()
        .await?;
    let consumer = Consumer::<u64>::builder(backend, &queue_url)
        .concurrency(32) // receives ask for up to 10 messages whenever this many slots allow
        .pollers(4) // the ceiling: throttled receives park pollers, successful ones bring them back
        .build()
        .await?;
    producer.send(&42).await?;
    let running = consumer.start(|_: Delivery<u64>| async { Ok::<(), sqskit::consumer::HandlerError>(()) });
    let requests_in_flight = producer.in_flight_limit(); // 8 unless SQS throttles
    let active_pollers = running.stats().active_pollers; // 4 unless SQS throttles
    // README: end
    running.shutdown(Duration::from_secs(5)).await;
    producer.close().await;
    Ok((requests_in_flight, active_pollers as usize))
}

#[tokio::test]
async fn the_readme_flow_control_snippet_runs() {
    let backend: Arc<dyn SqsBackend> = Arc::new(sqskit::EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await.unwrap();
    let (requests, pollers) = readme_flow_control(backend, queue).await.unwrap();
    assert_eq!((requests, pollers), (8, 4), "without throttling the limits stay at their ceilings");
}
