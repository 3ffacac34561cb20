//! Queue management through the trait, and errors that must classify the same on every backend.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sqskit::backend::{ReceiveRequest, SendEntry};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Error, Fault, Producer, ServiceErrorCode};

use super::Order;
use crate::support::TestContext;

pub async fn queue_lifecycle_create_get_set_list_purge_delete(ctx: &TestContext) {
    let backend = &ctx.backend;
    let attributes = QueueAttributes::new().with(QueueAttributeName::VisibilityTimeout, "45");
    let tags = BTreeMap::from([("team".to_owned(), "payments".to_owned())]);

    let url = backend.create_queue("lifecycle", &attributes, &tags).await.expect("create");
    let again = backend.create_queue("lifecycle", &attributes, &tags).await.expect("create is idempotent");
    let found = backend.get_queue_url("lifecycle").await.expect("get url");
    let read = backend.get_queue_attributes(&url, &[QueueAttributeName::All]).await.expect("attributes");

    assert_eq!(again, url);
    assert_eq!(found, url);
    assert_eq!(read.visibility_timeout(), Some(Duration::from_secs(45)));
    assert!(read.queue_arn().is_some_and(|arn| arn.ends_with(":lifecycle")), "{read:?}");
    assert!(!read.is_fifo());

    let update = QueueAttributes::new().with(QueueAttributeName::VisibilityTimeout, "60");
    backend.set_queue_attributes(&url, &update).await.expect("set attributes");
    let read = backend.get_queue_attributes(&url, &[QueueAttributeName::VisibilityTimeout]).await.expect("read");
    assert_eq!(read.visibility_timeout(), Some(Duration::from_secs(60)));
    assert_eq!(read.len(), 1, "only the attribute asked for: {read:?}");

    ctx.create_queue("other").await;
    let listed = backend.list_queues(Some("life")).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&url));
    assert_eq!(backend.list_queues(None).await.expect("list all").len(), 2);

    backend.send_message_batch(&url, &[SendEntry::new("a", "x")]).await.expect("send");
    backend.purge_queue(&url).await.expect("purge");
    let counts = backend.get_queue_attributes(&url, &[QueueAttributeName::All]).await.expect("attributes");
    assert_eq!(counts.approximate_number_of_messages(), Some(0));

    backend.delete_queue(&url).await.expect("delete");
    let error = backend.get_queue_url("lifecycle").await.expect_err("deleted");
    assert_eq!(error.code(), Some(&ServiceErrorCode::QueueDoesNotExist));
}

pub async fn missing_queue_errors_classify_identically(ctx: &TestContext) {
    let url = ctx.create_queue("present").await.replace("present", "absent");

    let by_name = ctx.backend.get_queue_url("absent").await.expect_err("no such queue");
    let by_send = ctx.backend.send_message_batch(&url, &[SendEntry::new("a", "x")]).await.expect_err("no such queue");
    let by_receive = ctx.backend.receive_message(&url, &ReceiveRequest::new()).await.expect_err("no such queue");
    let by_producer = Producer::<Order>::builder(Arc::clone(&ctx.backend), &url).build().await.expect_err("no queue");
    // The producer's start-up names the queue around the service's error.
    let by_producer = match by_producer {
        Error::QueueCheck { queue_url, source } if queue_url == url => *source,
        other => panic!("expected the start-up check's error, got {other:?}"),
    };

    for error in [by_name, by_send, by_receive, by_producer] {
        match &error {
            Error::Service { code, message, fault, .. } => {
                assert_eq!(code, &ServiceErrorCode::QueueDoesNotExist, "{error:?}");
                assert_eq!(code.legacy_code(), "AWS.SimpleQueueService.NonExistentQueue");
                assert!(message.contains("does not exist"), "{message}");
                assert_eq!(*fault, Some(Fault::Sender), "{error:?}");
            }
            other => panic!("expected a service error, got {other:?}"),
        }
        assert!(!error.is_retryable());
    }
}
