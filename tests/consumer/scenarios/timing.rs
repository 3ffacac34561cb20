//! Time-driven behaviour on virtual SQS time: retry delays grow with the receive count, and the heartbeat
//! keeps a long handler's message invisible.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::consumer::{Consumer, Delivery, HandlerError, Heartbeat, Outcome};
use sqskit::retry::{Jitter, RetryPolicy};
use tokio::sync::watch;

use crate::harness::{Probe, counts, eventually, receive_now, send_bodies, until_empty};
use crate::support::TestContext;

const VISIBILITY: Duration = Duration::from_secs(30);

pub async fn retry_backoff_grows_with_the_receive_count(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("backoff").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let receive_counts = Arc::new(Mutex::new(Vec::new()));
    let backoff = RetryPolicy::default()
        .initial_backoff(Duration::from_secs(10))
        .max_backoff(Duration::from_secs(1_000))
        .jitter(Jitter::None);

    // One-second long polls: the emulator does not wake a waiting long poll when a visibility change
    // shortens a message's invisibility (real SQS does), so polls must end with each clock advance.
    let consumer =
        Consumer::<u32>::builder(backend.clone(), &queue).retry_backoff(backoff).wait_time(Duration::from_secs(1));
    let running = consumer.build().unwrap().start({
        let receive_counts = receive_counts.clone();
        move |delivery: Delivery<u32>| {
            receive_counts.lock().unwrap().push(delivery.receive_count());
            std::future::ready(Err::<(), _>(HandlerError::transient(std::io::Error::other("downstream unavailable"))))
        }
    });
    for (attempt, delay) in [(1, 10), (2, 20), (3, 40)] {
        eventually(&format!("attempt {attempt} to be retried"), || probe.visibility_timeouts().len() == attempt).await;
        assert_eq!(probe.visibility_timeouts()[attempt - 1], Duration::from_secs(delay));
        ctx.advance(Duration::from_secs(delay - 1));
        assert_eq!(counts(&backend, &queue).await, (0, 1), "hidden until its retry delay has passed");
        ctx.advance(Duration::from_secs(1));
    }
    eventually("the fourth attempt", || receive_counts.lock().unwrap().len() == 4).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*receive_counts.lock().unwrap(), [1, 2, 3, 4]);
    assert!(report.stats.retried >= 3);
}

pub async fn heartbeats_keep_a_handler_three_times_the_visibility_timeout_invisible(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("heartbeat").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let started = Arc::new(AtomicUsize::new(0));
    let (finish, finished) = watch::channel(false);
    // Extend whenever less than 29.9 s are left: about every 100 ms of real time.
    let heartbeat = Heartbeat::default().interval(Duration::from_millis(10)).threshold(Duration::from_millis(29_900));

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .visibility_timeout(VISIBILITY)
        .heartbeat(heartbeat)
        .build()
        .unwrap()
        .start({
            let started = started.clone();
            move |_: Delivery<u32>| {
                started.fetch_add(1, Ordering::SeqCst);
                let mut finished = finished.clone();
                async move {
                    let _ = finished.wait_for(|done| *done).await;
                    Outcome::Ack
                }
            }
        });
    eventually("the handler to start", || started.load(Ordering::SeqCst) == 1).await;
    for step in 1..=9 {
        ctx.advance(Duration::from_secs(10));
        // The second request completing after this point was sent after the advance.
        let done = probe.visibility_requests_done();
        eventually("a heartbeat after the advance", || probe.visibility_requests_done() >= done + 2).await;
        assert!(receive_now(&backend, &queue).await.is_empty(), "redelivered after {} s", step * 10);
    }
    finish.send_replace(true);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(started.load(Ordering::SeqCst), 1, "never redelivered during 90 s (3 x the visibility timeout)");
    assert_eq!(report.completed, 1);
    assert!(report.stats.extended >= 18, "extended {} times", report.stats.extended);
}
