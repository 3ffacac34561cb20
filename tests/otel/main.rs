//! OpenTelemetry (feature `otel`): the spans of a producer's send and a consumer's processing, exported through
//! `tracing-opentelemetry` into OpenTelemetry's in-memory exporter, form the trace structure of the messaging
//! semantic conventions (names, kinds, parents, links, attributes); the W3C context travels in `traceparent` /
//! `tracestate`, and a message carrying only X-Ray's `AWSTraceHeader` joins the X-Ray trace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sqskit::backend::{EmbeddedBackend, SendEntry, SqsBackend};
use sqskit::consumer::{Consumer, Delivery, HandlerError, Outcome};
use sqskit::otel::ProcessParent;
use sqskit::telemetry::{TRACEPARENT_ATTRIBUTE, TRACESTATE_ATTRIBUTE};
use sqskit::{MessageAttribute, Producer, SendOptions};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The exporter behind the global subscriber (installed once per test binary; each test has its own queue and
/// looks only at its spans).
fn exporter() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        // README: otel
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;

        // Any exporter: OTLP (`opentelemetry-otlp`; a service would batch), stdout, the tests' in-memory one...
        let provider =
            opentelemetry_sdk::trace::SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("orders-service")));
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        // README: end
        (exporter, provider)
    })
}

/// The finished spans of queue `queue` (and, with them, every other span of their traces: the tests' own).
fn spans_of(queue: &str) -> Vec<SpanData> {
    let (exporter, provider) = exporter();
    provider.force_flush().unwrap();
    exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|span| attribute(span, "messaging.destination.name") == Some(queue.to_owned().into()))
        .collect()
}

fn all_spans() -> Vec<SpanData> {
    exporter().0.get_finished_spans().unwrap()
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<_> = spans.iter().filter(|span| span.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "one span {name:?} expected among {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

fn links(span: &SpanData) -> Vec<(TraceId, SpanId)> {
    span.links.links.iter().map(|link| (link.span_context.trace_id(), link.span_context.span_id())).collect()
}

fn ids(span: &SpanData) -> (TraceId, SpanId) {
    (span.span_context.trace_id(), span.span_context.span_id())
}

/// The common attributes of every sqskit span.
fn assert_messaging(span: &SpanData, queue: &str, queue_url: &str, operation: &str) {
    assert_eq!(attribute(span, "messaging.system"), Some("aws_sqs".into()), "{}", span.name);
    assert_eq!(attribute(span, "messaging.destination.name"), Some(queue.to_owned().into()));
    assert_eq!(attribute(span, "aws.sqs.queue.url"), Some(queue_url.to_owned().into()));
    assert_eq!(attribute(span, "messaging.operation.type"), Some(operation.to_owned().into()), "{}", span.name);
    if operation != "settle" {
        assert_eq!(attribute(span, "messaging.operation.name"), Some(operation.to_owned().into()));
    }
    assert_eq!(attribute(span, "error.type"), None, "{} did not fail", span.name);
}

/// A remote parent with a trace state, as an incoming request of the producing service would have.
fn incoming_request() -> SpanContext {
    SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        "congo=t61rcWkgMzE".parse::<TraceState>().unwrap(),
    )
}

/// Sends one order from inside a `checkout` span (child of [`incoming_request`]) and processes it with a handler
/// that opens a `charge` span; returns the message as the handler saw it.
async fn send_and_process(queue: &str, parent: ProcessParent) -> (String, Delivery<u32>) {
    exporter();
    let (backend, queue_url, producer) = queue_with_producer(queue).await;
    let checkout = tracing::info_span!("checkout");
    checkout.set_parent(Context::new().with_remote_span_context(incoming_request())).unwrap();
    let receipt = producer.send(&42).instrument(checkout).await.unwrap();
    producer.close().await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = Consumer::<u32>::builder(backend, &queue_url)
        .wait_time(Duration::from_millis(50))
        .process_span_parent(parent)
        .build()
        .await
        .unwrap();
    let running = consumer.start(move |delivery: Delivery<u32>| {
        let tx = tx.clone();
        async move {
            let sent = tracing::info_span!("charge").in_scope(|| tx.send(delivery).is_ok());
            if sent { Outcome::Ack } else { Outcome::Retry }
        }
    });
    let delivery = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert_eq!(running.shutdown(Duration::from_secs(5)).await.completed, 1);
    (receipt.message_id.as_str().to_owned(), delivery)
}

/// The spans of one send and one processing, by role.
struct Trace {
    checkout: SpanData,
    create: SpanData,
    send: SpanData,
    receive: SpanData,
    process: SpanData,
    charge: SpanData,
}

fn trace_of(queue: &str) -> Trace {
    let spans = spans_of(queue);
    let create = one(&spans, &format!("create {queue}")).clone();
    let send = one(&spans, &format!("send {queue}")).clone();
    let process = one(&spans, &format!("process {queue}")).clone();
    // Empty receives come and go while the consumer polls: the one that received the message links to it.
    let receives: Vec<_> = spans
        .iter()
        .filter(|span| span.name == format!("receive {queue}") && links(span).contains(&ids(&create)))
        .collect();
    assert_eq!(receives.len(), 1, "one receive links to the message's creation context");
    let others = all_spans();
    let checkout =
        others.iter().find(|span| span.name == "checkout" && span.span_context.span_id() == create.parent_span_id);
    let charge =
        others.iter().find(|span| span.name == "charge" && span.parent_span_id == process.span_context.span_id());
    Trace {
        checkout: checkout.expect("the create span is a child of the caller's span").clone(),
        create,
        send,
        receive: receives[0].clone(),
        process,
        charge: charge.expect("the handler's span is a child of the process span").clone(),
    }
}

/// An embedded backend with queue `queue` and a producer of numbers to it.
async fn queue_with_producer(queue: &str) -> (Arc<dyn SqsBackend>, String, Producer<u32>) {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue_url = backend.create_queue(queue, &Default::default(), &Default::default()).await.unwrap();
    let producer = Producer::<u32>::builder(backend.clone(), &queue_url).build().await.unwrap();
    (backend, queue_url, producer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_and_its_processing_follow_the_messaging_conventions() {
    let queue = "otel-linked";
    let (message_id, delivery) = send_and_process(queue, ProcessParent::Receive).await;
    let trace = trace_of(queue);
    let queue_url = attribute(&trace.create, "aws.sqs.queue.url").unwrap().as_str().into_owned();
    assert!(queue_url.ends_with("/otel-linked"), "{queue_url}");

    // Producer: `create` (PRODUCER, child of the caller's span, in its trace) and `send` (CLIENT, linked to it).
    let incoming = incoming_request();
    assert_eq!(trace.checkout.span_context.trace_id(), incoming.trace_id());
    assert_eq!(trace.create.span_kind, SpanKind::Producer);
    assert_eq!(trace.create.span_context.trace_id(), incoming.trace_id());
    assert_messaging(&trace.create, queue, &queue_url, "create");
    assert_eq!(attribute(&trace.create, "messaging.message.id"), Some(message_id.clone().into()));
    assert_eq!(attribute(&trace.create, "messaging.batch.message_count"), None, "one message");
    assert_eq!(trace.send.span_kind, SpanKind::Client);
    assert_messaging(&trace.send, queue, &queue_url, "send");
    assert_eq!(attribute(&trace.send, "messaging.batch.message_count"), Some(Value::I64(1)));
    assert_eq!(links(&trace.send), vec![ids(&trace.create)]);

    // The message carries the create span's context, trace state included.
    let attributes = &delivery.meta().attributes;
    let traceparent = attributes.get(TRACEPARENT_ATTRIBUTE).and_then(MessageAttribute::as_text).unwrap();
    assert_eq!(traceparent, format!("00-{}-{}-01", incoming.trace_id(), trace.create.span_context.span_id()));
    assert_eq!(attributes.get(TRACESTATE_ATTRIBUTE).and_then(MessageAttribute::as_text), Some("congo=t61rcWkgMzE"));

    // Consumer: `receive` (CLIENT), `process` (CONSUMER) its child, linked to the creation context.
    assert_eq!(trace.receive.span_kind, SpanKind::Client);
    assert_messaging(&trace.receive, queue, &queue_url, "receive");
    assert_eq!(attribute(&trace.receive, "messaging.batch.message_count"), Some(Value::I64(1)));
    assert_eq!(trace.process.span_kind, SpanKind::Consumer);
    assert_messaging(&trace.process, queue, &queue_url, "process");
    assert_eq!(attribute(&trace.process, "messaging.message.id"), Some(message_id.into()));
    assert_eq!(trace.process.parent_span_id, trace.receive.span_context.span_id());
    assert_eq!(trace.process.span_context.trace_id(), trace.receive.span_context.trace_id());
    assert_ne!(
        trace.process.span_context.trace_id(),
        incoming.trace_id(),
        "by default the traces are linked, not joined"
    );
    assert_eq!(links(&trace.process), vec![ids(&trace.create)]);
    let link = &trace.process.links.links[0].span_context;
    assert!(link.is_remote() && link.is_sampled());
    assert_eq!(link.trace_state().get("congo"), Some("t61rcWkgMzE"));
    assert_eq!(trace.charge.span_context.trace_id(), trace.process.span_context.trace_id());
    assert_eq!(trace.process.status, Status::Unset);

    // Settling: the acknowledgement's `DeleteMessageBatch`.
    let spans = spans_of(queue);
    let ack = one(&spans, &format!("ack {queue}"));
    assert_eq!(ack.span_kind, SpanKind::Client);
    assert_messaging(ack, queue, &queue_url, "settle");
    assert_eq!(attribute(ack, "messaging.operation.name"), Some("ack".into()));
    assert_eq!(attribute(ack, "messaging.batch.message_count"), Some(Value::I64(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_message_as_parent_producer_and_consumer_share_one_trace() {
    let queue = "otel-joined";
    send_and_process(queue, ProcessParent::Message).await;
    let trace = trace_of(queue);
    let incoming = incoming_request().trace_id();
    for span in [&trace.checkout, &trace.create, &trace.process, &trace.charge] {
        assert_eq!(span.span_context.trace_id(), incoming, "{} is in the producer's trace", span.name);
    }
    assert_eq!(trace.process.parent_span_id, trace.create.span_context.span_id());
    assert!(trace.process.parent_span_is_remote);
    assert_eq!(links(&trace.process), vec![ids(&trace.receive), ids(&trace.create)]);
    assert_ne!(trace.receive.span_context.trace_id(), incoming, "the receive span has a trace of its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_with_only_an_aws_trace_header_joins_the_x_ray_trace() {
    exporter();
    let queue = "otel-xray";
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue_url = backend.create_queue(queue, &Default::default(), &Default::default()).await.unwrap();
    // As an X-Ray instrumented service (or SNS with active tracing) sends it: no W3C attributes.
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let mut entry = SendEntry::new("1", "7");
    entry.trace_header = Some(header.to_owned());
    let sent = backend.send_message_batch(&queue_url, &[entry]).await.unwrap();
    assert!(sent.is_complete_success());

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = Consumer::<u32>::builder(backend, &queue_url)
        .wait_time(Duration::from_millis(50))
        .process_span_parent(ProcessParent::Message)
        .build()
        .await
        .unwrap();
    let running = consumer.start(move |delivery: Delivery<u32>| {
        let tx = tx.clone();
        async move {
            tx.send(delivery)?;
            Ok::<(), HandlerError>(())
        }
    });
    let delivery = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert_eq!(delivery.aws_trace_header(), Some(header));
    assert_eq!(delivery.trace_context(), None, "no traceparent");
    assert_eq!(running.shutdown(Duration::from_secs(5)).await.completed, 1);

    let spans = spans_of(queue);
    let process = one(&spans, &format!("process {queue}"));
    let xray_trace = TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap();
    let xray_parent = SpanId::from_hex("53995c3f42cd8ad8").unwrap();
    assert_eq!(process.span_context.trace_id(), xray_trace);
    assert_eq!(process.parent_span_id, xray_parent);
    assert!(process.span_context.is_sampled());
    assert!(links(process).contains(&(xray_trace, xray_parent)));
    let receive = spans
        .iter()
        .find(|span| span.name == format!("receive {queue}") && links(span).contains(&(xray_trace, xray_parent)));
    assert!(receive.is_some(), "the receive span links to the X-Ray context");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_carry_an_error_type() {
    exporter();
    let queue = "otel-failures";
    let (backend, queue_url, producer) = queue_with_producer(queue).await;
    producer.send(&1).await.unwrap();

    // A handler asking for a retry fails its processing.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = Consumer::<u32>::builder(backend.clone(), &queue_url)
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let running = consumer.start(move |delivery: Delivery<u32>| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(delivery.receive_count());
            Outcome::Retry
        }
    });
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    running.shutdown(Duration::from_secs(5)).await;

    // A send to a queue deleted meanwhile fails with SQS's error code.
    backend.delete_queue(&queue_url).await.unwrap();
    let error = producer.send(&2).await.expect_err("the queue is gone");
    producer.close().await;

    let spans = spans_of(queue);
    let process = spans.iter().find(|span| span.name == format!("process {queue}")).expect("a process span");
    assert_eq!(attribute(process, "error.type"), Some("retry".into()));
    let nack = spans.iter().find(|span| span.name == format!("nack {queue}")).expect("the retry's visibility change");
    assert_eq!(attribute(nack, "messaging.operation.type"), Some("settle".into()));
    assert_eq!(attribute(nack, "error.type"), None);
    assert!(matches!(process.status, Status::Error { .. }), "{:?}", process.status);
    let code = error.code().expect("a service error").shape_name().to_owned();
    let failed_create: Vec<_> = spans
        .iter()
        .filter(|span| span.name == format!("create {queue}") && attribute(span, "error.type").is_some())
        .collect();
    assert_eq!(failed_create.len(), 1);
    assert_eq!(attribute(failed_create[0], "error.type"), Some(code.clone().into()));
    assert_eq!(attribute(failed_create[0], "messaging.message.id"), None);
    let failed_send =
        spans.iter().find(|span| span.name == format!("send {queue}") && attribute(span, "error.type").is_some());
    assert_eq!(attribute(failed_send.expect("a failed send span"), "error.type"), Some(code.into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_never_pushes_a_message_over_the_attribute_limit() {
    exporter();
    let (backend, queue_url, producer) = queue_with_producer("otel-crowded").await;
    let with = |count: usize| {
        (0..count)
            .fold(SendOptions::new(), |options, i| options.attribute(format!("a{i}"), MessageAttribute::string("x")))
    };
    let request = || {
        let span = tracing::info_span!("request");
        span.set_parent(Context::new().with_remote_span_context(incoming_request())).unwrap();
        span
    };
    producer.send_with(&10, with(10)).instrument(request()).await.expect("no room: no context, and no failure");
    producer.send_with(&9, with(9)).instrument(request()).await.expect("room for the traceparent only");
    producer.send_with(&8, with(8)).instrument(request()).await.expect("room for both");
    producer.close().await;

    let received = backend
        .receive_message(
            &queue_url,
            &sqskit::backend::ReceiveRequest {
                max_messages: 10,
                message_attribute_names: vec!["All".to_owned()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(received.len(), 3);
    for message in received {
        let has = |name: &str| message.attributes.get(name).is_some();
        let expected = match message.body.as_str() {
            "10" => (false, false),
            "9" => (true, false),
            "8" => (true, true),
            other => panic!("unexpected body {other}"),
        };
        assert_eq!((has(TRACEPARENT_ATTRIBUTE), has(TRACESTATE_ATTRIBUTE)), expected, "message {}", message.body);
        assert!(message.attributes.len() <= 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_record_is_processed_in_a_span_of_the_invocation_linked_to_its_producer() {
    use sqskit::lambda::{SqsLambda, sqs_event};

    exporter();
    let queue = "otel-lambda";
    let (backend, queue_url, producer) = queue_with_producer(queue).await;
    producer.send(&5).instrument(tracing::info_span!("checkout")).await.unwrap();
    producer.close().await;
    let request = sqskit::backend::ReceiveRequest {
        message_attribute_names: vec!["All".to_owned()],
        system_attribute_names: vec![sqskit::types::SystemAttributeName::parse("All")],
        ..Default::default()
    };
    let messages = backend.receive_message(&queue_url, &request).await.unwrap();
    assert_eq!(messages.len(), 1);
    let event = sqs_event(&format!("arn:aws:sqs:us-east-1:000000000000:{queue}"), "us-east-1", &messages);

    let function = SqsLambda::builder(|order: Delivery<u32>| async move {
        tracing::info_span!("fulfil").in_scope(|| if *order == 5 { Outcome::Ack } else { Outcome::Retry })
    })
    .build();
    let invocation = tracing::info_span!("invocation");
    let invocation_id = invocation.context().span().span_context().span_id();
    let response = function.handle(event).instrument(invocation).await;
    assert!(response.batch_item_failures.is_empty());

    let spans = spans_of(queue);
    let create = one(&spans, &format!("create {queue}"));
    let process = one(&spans, &format!("process {queue}"));
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, invocation_id, "a child of the invocation's span");
    assert_eq!(links(process), vec![ids(create)]);
    assert_eq!(attribute(process, "messaging.message.id"), Some(messages[0].message_id.as_str().to_owned().into()));
    assert_eq!(attribute(process, "messaging.operation.type"), Some("process".into()));
    assert_eq!(attribute(process, "aws.sqs.queue.url"), None, "a Lambda event names the queue's ARN only");
    assert_eq!(attribute(process, "error.type"), None);
    let fulfil = all_spans()
        .into_iter()
        .find(|span| span.name == "fulfil" && span.parent_span_id == process.span_context.span_id());
    assert!(fulfil.is_some(), "the handler's span is a child of the process span");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_handler_links_every_message_and_its_sends_continue_from_its_span() {
    exporter();
    let (queue, onward) = ("otel-batch", "otel-onward");
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue_url = backend.create_queue(queue, &Default::default(), &Default::default()).await.unwrap();
    let onward_url = backend.create_queue(onward, &Default::default(), &Default::default()).await.unwrap();
    let producer = Producer::<u32>::builder(backend.clone(), &queue_url).build().await.unwrap();
    assert!(producer.send_all([1, 2, 3]).instrument(tracing::info_span!("checkout")).await.is_complete_success());
    producer.close().await;

    let forward = Producer::<u32>::builder(backend.clone(), &onward_url).build().await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = Consumer::<u32>::builder(backend, &queue_url)
        .concurrency(10) // one poller: the three messages come in one receive
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let handler_forward = forward.clone();
    let running = consumer.start_batch(move |batch: Vec<Delivery<u32>>| {
        let (tx, forward) = (tx.clone(), handler_forward.clone());
        async move {
            let mut outcomes = Vec::new();
            for delivery in batch {
                let sent = forward.send(&(*delivery * 10)).await.is_ok();
                let _ = tx.send(());
                outcomes.push(if sent { Outcome::Ack } else { Outcome::Retry });
            }
            outcomes
        }
    });
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    }
    running.shutdown(Duration::from_secs(5)).await;
    forward.close().await;

    let spans = spans_of(queue);
    let creates: Vec<_> = spans.iter().filter(|span| span.name == format!("create {queue}")).map(ids).collect();
    assert_eq!(creates.len(), 3, "send_all makes one create span per message");
    let processes: Vec<_> = spans.iter().filter(|span| span.name == format!("process {queue}")).collect();
    let mut linked: Vec<_> = processes.iter().flat_map(|span| links(span)).collect();
    linked.sort_by_key(|(trace, span)| (trace.to_string(), span.to_string()));
    let mut expected = creates.clone();
    expected.sort_by_key(|(trace, span)| (trace.to_string(), span.to_string()));
    assert_eq!(linked, expected, "each batch call links to each of its messages' creation contexts");
    for process in &processes {
        let count = attribute(process, "messaging.batch.message_count").expect("a batch size");
        assert_eq!(count, Value::I64(process.links.links.len() as i64));
        assert_eq!(attribute(process, "messaging.message.id"), None, "a batch has no single message id");
    }

    // The handler's sends are children of its process span, in its trace.
    let forwarded: Vec<_> =
        spans_of(onward).into_iter().filter(|span| span.name == format!("create {onward}")).collect();
    assert_eq!(forwarded.len(), 3);
    for create in forwarded {
        let parent = processes.iter().find(|process| process.span_context.span_id() == create.parent_span_id);
        let parent = parent.expect("the onward create span is a child of the batch's process span");
        assert_eq!(create.span_context.trace_id(), parent.span_context.trace_id());
    }
}
