//! Failures that surface: `build()` checks the queue (a missing one fails at once, a throttled check is
//! retried), a queue deleted (or access revoked) while the consumer runs stops it with the error after N
//! failed receives, `run_until` returns that error, `health()` follows failures and recovery, and the
//! `on_error` hook hears of every failed request of the consumer's own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::consumer::{Consumer, ConsumerErrorEvent, ConsumerOperation, ConsumerState, Delivery, Heartbeat, Outcome};
use sqskit::retry::RetryPolicy;
use sqskit::{Error, Fault, Producer, ServiceErrorCode};
use tokio::sync::watch;

use crate::harness::{Probe, eventually, send_bodies, until_empty};
use crate::support::TestContext;

/// Fast retries, so failures pile up in milliseconds.
fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().initial_backoff(Duration::from_millis(5)).max_backoff(Duration::from_millis(20))
}

fn acking() -> impl Fn(Delivery<u32>) -> std::future::Ready<Outcome> + Send + Sync + 'static {
    |_| std::future::ready(Outcome::Ack)
}

type Events = Arc<Mutex<Vec<ConsumerErrorEvent>>>;

fn recorder(events: &Events) -> impl Fn(&ConsumerErrorEvent) + Send + Sync + 'static {
    let events = events.clone();
    move |event| events.lock().unwrap().push(event.clone())
}

/// The URL of a queue that does not exist, next to `existing` (same endpoint and account).
fn missing_next_to(existing: &str) -> String {
    let (prefix, _) = existing.rsplit_once('/').expect("a queue URL");
    format!("{prefix}/nowhere")
}

pub async fn a_missing_queue_fails_build_at_once(ctx: &TestContext) {
    let queue = ctx.create_queue("present").await;
    let missing = missing_next_to(&queue);
    let before = ctx.calls();
    let started = tokio::time::Instant::now();

    let error =
        Consumer::<u32>::builder(ctx.backend.clone(), &missing).build().await.map(drop).expect_err("no such queue");

    assert!(started.elapsed() < Duration::from_secs(2), "not retried: {:?}", started.elapsed());
    assert!(matches!(&error, Error::QueueCheck { queue_url, .. } if *queue_url == missing), "{error:?}");
    assert_eq!(error.code(), Some(&ServiceErrorCode::QueueDoesNotExist));
    assert!(error.is_queue_unusable() && !error.is_retryable());
    assert!(error.to_string().starts_with(&format!("cannot start on queue {missing}: SQS error ")), "{error}");
    let after = ctx.calls();
    assert_eq!(after.queue_management - before.queue_management, 1, "one check, no retry");
    assert_eq!(after.receive_message, before.receive_message, "nothing was received");

    // A missing dead-letter queue is found at start-up too.
    let error = Consumer::<u32>::builder(ctx.backend.clone(), &queue)
        .dead_letter_queue(&missing)
        .build()
        .await
        .map(drop)
        .expect_err("no such dead-letter queue");
    assert!(matches!(&error, Error::QueueCheck { queue_url, .. } if *queue_url == missing), "{error:?}");

    // The producer's start-up says the same.
    let error =
        Producer::<u32>::builder(ctx.backend.clone(), &missing).build().await.map(drop).expect_err("no such queue");
    assert_eq!(error.code(), Some(&ServiceErrorCode::QueueDoesNotExist));
}

pub async fn throttled_start_up_is_retried(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let dlq = ctx.create_queue("startup-dlq").await;
    let queue = ctx.create_queue("startup").await;
    send_bodies(&backend, &queue, (0..3).map(|i| i.to_string()).collect()).await;
    let before = ctx.calls().queue_management;

    // Two throttled checks of the queue, then one of the dead-letter queue: all retried.
    probe.throttle_next_attribute_reads(3);
    let consumer = Consumer::<u32>::builder(backend.clone(), &queue)
        .dead_letter_queue(&dlq)
        .api_retry(fast_retry())
        .build()
        .await
        .expect("throttling at start-up is retried");
    assert_eq!(probe.refused_attribute_reads(), 3);
    assert_eq!(ctx.calls().queue_management - before, 2, "the queue and the dead-letter queue, once each");
    let running = consumer.start(acking());
    until_empty(&backend, &queue).await;
    assert_eq!(running.shutdown(Duration::from_secs(5)).await.completed, 3);

    // The producer's attribute read too.
    probe.throttle_next_attribute_reads(2);
    let producer = Producer::<u32>::builder(backend.clone(), &queue)
        .retry(fast_retry())
        .build()
        .await
        .expect("throttling at start-up is retried");
    assert_eq!(probe.refused_attribute_reads(), 5);
    producer.close().await;

    // Throttled for longer than the policy allows: the last error, naming the queue.
    probe.throttle_next_attribute_reads(1_000);
    let error = Consumer::<u32>::builder(backend.clone(), &queue)
        .api_retry(fast_retry().max_attempts(Some(3)))
        .build()
        .await
        .map(drop)
        .expect_err("throttled throughout");
    assert_eq!(error.code(), Some(&ServiceErrorCode::RequestThrottled));
    assert!(matches!(&error, Error::QueueCheck { queue_url, .. } if *queue_url == queue), "{error:?}");
    assert_eq!(probe.refused_attribute_reads(), 8);
    probe.throttle_next_attribute_reads(0);
}

pub async fn a_queue_deleted_while_running_stops_the_consumer_with_the_error(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("doomed").await;
    send_bodies(&backend, &queue, (0..5).map(|i| i.to_string()).collect()).await;
    let events = Events::default();
    // One poller, so that the count is exact (several pollers share one count of consecutive failures).
    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .pollers(1)
        .wait_time(Duration::ZERO)
        .api_retry(fast_retry())
        .stop_after_receive_failures(3)
        .on_error(recorder(&events))
        .build()
        .await
        .unwrap()
        .start(acking());
    eventually("the five messages to complete", || running.stats().completed == 5).await;
    assert!(running.health().is_ready());

    backend.delete_queue(&queue).await.unwrap();
    let error = tokio::time::timeout(Duration::from_secs(10), running.failed()).await.expect("the consumer stops");

    assert!(
        matches!(&error, Error::ConsumerStopped { failures: 3, queue_url, .. } if *queue_url == queue),
        "{error:?}"
    );
    assert_eq!(error.code(), Some(&ServiceErrorCode::QueueDoesNotExist));
    let health = running.health();
    assert!(matches!(health.state, ConsumerState::Failed(_)) && !health.is_ready(), "{health:?}");
    assert_eq!(health.consecutive_receive_failures, 3);
    let receives: Vec<(ConsumerOperation, Option<ServiceErrorCode>, u32)> = events
        .lock()
        .unwrap()
        .iter()
        .map(|event| (event.operation, event.error.code().cloned(), event.consecutive_failures))
        .collect();
    let missing = Some(ServiceErrorCode::QueueDoesNotExist);
    assert_eq!(
        receives,
        [1, 2, 3].map(|n| (ConsumerOperation::Receive, missing.clone(), n)),
        "each failed receive was reported"
    );

    // It no longer polls.
    let receives = ctx.calls().receive_message;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ctx.calls().receive_message, receives, "a stopped consumer polls no more");
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.completed, 5);
    assert!(matches!(report.error, Some(Error::ConsumerStopped { .. })), "{:?}", report.error);
}

pub async fn run_until_returns_the_error_when_access_is_revoked(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("revoked").await;
    send_bodies(&backend, &queue, (0..4).map(|i| i.to_string()).collect()).await;
    let handled = Arc::new(AtomicUsize::new(0));
    let consumer = Consumer::<u32>::builder(backend.clone(), &queue)
        .wait_time(Duration::ZERO)
        .api_retry(fast_retry())
        .stop_after_receive_failures(4)
        .build()
        .await
        .unwrap();
    let handler = {
        let handled = handled.clone();
        move |_: Delivery<u32>| {
            handled.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Outcome::Ack)
        }
    };
    let run = tokio::spawn(consumer.run_until(handler, std::future::pending(), Duration::from_secs(5)));
    eventually("the four messages to be handled", || handled.load(Ordering::SeqCst) == 4).await;
    until_empty(&backend, &queue).await;

    // Throttling never stops a consumer, however long it lasts...
    let throttled = Error::service("RequestThrottled", "Rate exceeded", None, Some(Fault::Sender));
    probe.fail_receives(Some(throttled));
    eventually("ten throttled receives", || probe.refused_receives() >= 10).await;
    assert!(!run.is_finished());
    // ...a revoked permission does.
    let denied = Error::service("AccessDenied", "Access to the resource is denied.", None, Some(Fault::Sender));
    probe.fail_receives(Some(denied));
    let result = tokio::time::timeout(Duration::from_secs(10), run).await.expect("run_until returns").unwrap();

    let error = result.expect_err("the consumer stopped on the error");
    assert!(matches!(&error, Error::ConsumerStopped { failures: 4, .. }), "{error:?}");
    assert_eq!(error.code(), Some(&ServiceErrorCode::AccessDenied));
    assert!(error.to_string().contains("stopped after 4 consecutive failed receives"), "{error}");
}

pub async fn health_reflects_receive_failures_and_recovery(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("health").await;
    let unavailable = Error::service("ServiceUnavailable", "injected", None, Some(Fault::Receiver));
    probe.fail_receives(Some(unavailable));
    let events = Events::default();
    let (open_gate, gate) = watch::channel(false);
    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .wait_time(Duration::ZERO)
        .api_retry(fast_retry())
        .stop_after_receive_failures(2)
        .on_error(recorder(&events))
        .build()
        .await
        .unwrap()
        .start(move |_: Delivery<u32>| {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|open| *open).await;
                Outcome::Ack
            }
        });
    let check = running.health_check();

    // Failing: transient errors, counted, never stopping the consumer.
    eventually("five failed receives", || check.health().consecutive_receive_failures >= 5).await;
    let health = check.health();
    assert!(matches!(health.state, ConsumerState::Running), "{health:?}");
    assert!(!health.is_ready());
    assert_eq!(health.last_receive, None, "no receive succeeded yet");
    let code = health.last_receive_error.as_ref().and_then(Error::code).cloned();
    assert_eq!(code, Some(ServiceErrorCode::ServiceUnavailable));
    assert!(events.lock().unwrap().iter().all(|event| event.operation == ConsumerOperation::Receive));

    // Recovered: ready, a recent receive, and the messages it holds.
    probe.fail_receives(None);
    // One snapshot: a receive refused just before the switch may still report its failure after another
    // poller's success, and the next success clears it again.
    eventually("the consumer ready again, its failures cleared", || {
        let health = check.health();
        health.is_ready() && health.consecutive_receive_failures == 0 && health.last_receive_error.is_none()
    })
    .await;
    let health = running.health();
    assert!(health.last_receive.is_some_and(|at| at.elapsed() < Duration::from_secs(5)));
    send_bodies(&backend, &queue, (0..3).map(|i| i.to_string()).collect()).await;
    eventually("three messages held", || check.health().in_flight == 3).await;

    open_gate.send_replace(true);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.completed, 3);
    assert!(report.error.is_none());
    assert!(matches!(check.health().state, ConsumerState::ShuttingDown));
}

pub async fn on_error_reports_failed_settlements_and_heartbeats(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("hooked").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let events = Events::default();
    let (open_gate, gate) = watch::channel(false);
    // Every held message is due at every tick; nothing is retried, so a failed delete is final at once.
    let heartbeat = Heartbeat::default().interval(Duration::from_millis(20)).threshold(Duration::from_millis(29_999));
    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .heartbeat(heartbeat)
        .api_retry(RetryPolicy::never())
        .on_error(recorder(&events))
        .build()
        .await
        .unwrap()
        .start(move |_: Delivery<u32>| {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|open| *open).await;
                Outcome::Ack
            }
        });
    let seen = |operation: ConsumerOperation| {
        let events = events.clone();
        move || events.lock().unwrap().iter().any(|event| event.operation == operation)
    };
    eventually("the message to be held", || running.in_flight() == 1).await;
    probe.fail_visibility(true);
    eventually("a failed heartbeat to be reported", seen(ConsumerOperation::Heartbeat)).await;
    probe.fail_visibility(false);
    probe.fail_next_deletes(1);
    open_gate.send_replace(true);
    eventually("a failed delete to be reported", seen(ConsumerOperation::Delete)).await;

    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.settle_failures, 1);
    let events = events.lock().unwrap();
    let deletes = events.iter().filter(|event| event.operation == ConsumerOperation::Delete).count();
    assert_eq!(deletes, 1, "one message given up: {events:?}");
    // The hook hears the error the delete really met (the probe's ServiceUnavailable), not a summary.
    let delete = events.iter().find(|event| event.operation == ConsumerOperation::Delete).unwrap();
    assert_eq!(delete.error.code(), Some(&ServiceErrorCode::ServiceUnavailable), "{delete:?}");
    assert!(events.iter().all(|event| event.queue_url == queue && event.operation != ConsumerOperation::Receive));
}
