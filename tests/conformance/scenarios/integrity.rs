//! MD5 verification: a digest that does not match the bytes is an error, never accepted silently.

use std::sync::Arc;
use std::time::Duration;

use sqskit::backend::{ReceiveRequest, SendEntry};
use sqskit::error::ChecksumField;
use sqskit::types::{MessageAttribute, MessageAttributes};
use sqskit::{Error, Producer};

use crate::support::TestContext;

pub async fn md5_mismatch_on_send_fails_the_message_without_retry(ctx: &TestContext) {
    let url = ctx.create_queue("damaged-send").await;
    let producer = Producer::<String>::builder(Arc::clone(&ctx.backend), &url).build().await.expect("producer");
    ctx.corrupt_next_checksums(1);

    let damaged = producer.send(&"payload".to_owned()).await.expect_err("digest mismatch");
    let healthy = producer.send(&"payload".to_owned()).await;
    producer.close().await;

    match &damaged {
        Error::ChecksumMismatch { field, expected, actual, message_id } => {
            assert_eq!(*field, ChecksumField::MessageBody);
            assert_ne!(actual.as_deref(), Some(expected.as_str()));
            assert!(message_id.is_some());
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    assert!(!damaged.is_retryable());
    healthy.expect("the next send verifies fine");
    assert_eq!(ctx.calls().send_message_batch, 2, "the damaged send was not retried");
}

pub async fn md5_mismatch_on_receive_marks_the_message(ctx: &TestContext) {
    let url = ctx.create_queue("damaged-receive").await;
    ctx.backend
        .send_message_batch(&url, &[SendEntry::new("a", "one"), SendEntry::new("b", "two")])
        .await
        .expect("send");
    let request = ReceiveRequest::new().max_messages(10).wait_time(Duration::ZERO);
    ctx.corrupt_next_checksums(1);

    let received = ctx.backend.receive_message(&url, &request).await.expect("receive");

    assert_eq!(received.len(), 2);
    let damaged: Vec<_> = received.iter().filter(|m| m.checksum_error.is_some()).collect();
    assert_eq!(damaged.len(), 1, "exactly the damaged message is flagged");
    let error = damaged[0].check_integrity().expect_err("flagged");
    assert!(
        matches!(&error, Error::ChecksumMismatch { field: ChecksumField::MessageBody, message_id: Some(id), .. }
            if *id == damaged[0].message_id),
        "{error:?}"
    );
    assert!(received.iter().filter(|m| m.checksum_error.is_none()).all(|m| m.check_integrity().is_ok()));
}

pub async fn selected_attribute_subsets_verify(ctx: &TestContext) {
    let url = ctx.create_queue("subsets").await;
    let mut entry = SendEntry::new("a", "with attributes");
    entry.attributes = MessageAttributes::new()
        .with("order.id", MessageAttribute::string("A-1001"))
        .with("order.total", MessageAttribute::number(5))
        .with("blob", MessageAttribute::binary(vec![1, 2, 3]));
    ctx.backend.send_message_batch(&url, &[entry]).await.expect("send");
    let mut request = ReceiveRequest::new().wait_time(Duration::ZERO).visibility_timeout(Duration::ZERO);

    request.message_attribute_names = vec!["order.*".to_owned()];
    let prefixed = ctx.backend.receive_message(&url, &request).await.expect("receive");
    request.message_attribute_names = vec!["blob".to_owned()];
    let named = ctx.backend.receive_message(&url, &request).await.expect("receive");
    request.message_attribute_names = Vec::new();
    let none = ctx.backend.receive_message(&url, &request).await.expect("receive");

    let names =
        |m: &sqskit::backend::ReceivedMessage| m.attributes.iter().map(|(n, _)| n.to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&prefixed[0]), ["order.id", "order.total"]);
    assert_eq!(names(&named[0]), ["blob"]);
    assert!(none[0].attributes.is_empty());
    assert_eq!(none[0].md5_of_message_attributes, None, "no digest when no attribute is returned");
    for message in prefixed.iter().chain(&named).chain(&none) {
        message.check_integrity().expect("the digest covers exactly the returned attributes");
    }
}
