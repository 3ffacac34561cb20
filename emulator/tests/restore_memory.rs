//! Restoring a large data file costs little beyond the restored state: the bytes allocated at the peak of
//! opening the file and restoring the engine stay within 1.2x of what the restored engine holds afterwards.
//!
//! Every allocation of this test binary goes through dhat's heap profiler (testing mode), which counts current
//! and peak heap bytes exactly, independent of how an allocator keeps or returns pages. The data file is written
//! by a durable engine before the profiler starts.

use std::sync::Arc;

use sqskit_emulator::engine::{EventSink, SendMessageInput};
use sqskit_emulator::storage::SqliteStorage;
use sqskit_emulator::{Engine, EngineConfig, SystemClock};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const MESSAGES: usize = 20_000;
const QUEUES: usize = 4;

#[test]
fn restoring_peaks_within_1_2x_of_the_restored_state() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("open");
        let storage = Arc::new(storage);
        let sink: Arc<dyn EventSink> = Arc::clone(&storage) as Arc<dyn EventSink>;
        let engine =
            Engine::restore(EngineConfig::default(), Arc::new(SystemClock), Some(sink), snapshot).expect("engine");
        for queue in 0..QUEUES {
            engine.create_queue(&format!("q{queue}"), &[], &[]).expect("create");
        }
        let body = "m".repeat(256);
        for i in 0..MESSAGES {
            let input = SendMessageInput::with_body(format!("{i:08}{body}"));
            engine.send_message(&format!("q{}", i % QUEUES), input).expect("send");
        }
        engine.sync().await.expect("durable");
        storage.close();
    });

    let _profiler = dhat::Profiler::builder().testing().build();
    let baseline = dhat::HeapStats::get().curr_bytes;
    let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
    let sink: Arc<dyn EventSink> = Arc::new(storage);
    let engine = runtime.block_on(async {
        Engine::restore(EngineConfig::default(), Arc::new(SystemClock), Some(sink), snapshot).expect("restore")
    });
    let stats = dhat::HeapStats::get();
    let held = stats.curr_bytes - baseline;
    let peak = stats.max_bytes - baseline;
    let total: usize = engine.queue_metrics().iter().map(|queue| queue.counts.visible).sum();
    assert_eq!(total, MESSAGES);
    let ratio = peak as f64 / held as f64;
    println!("restored {MESSAGES} messages: {held} bytes held, {peak} bytes at the peak ({ratio:.3}x)");
    assert!(ratio <= 1.2, "restoring peaked at {ratio:.3}x the restored state ({peak} vs {held} bytes)");
}
