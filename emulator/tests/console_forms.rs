//! The console's forms over plain HTTP, as a browser posts them (session cookie, form token, form encoding):
//! FIFO sends with group and deduplication ids, receives with change of visibility, attribute edits, creating
//! a queue with an existing dead-letter queue, cancelling a running redrive, and AWS's errors when the engine
//! refuses. Runs without a browser; `tests/console.rs` drives the same pages in Chromium.
#![allow(clippy::unwrap_used)]

mod common;

use common::{RawResponse, TestEnv, raw_request};

/// A browser's session: its cookie and the form token of the page it loaded.
struct Session {
    cookie: String,
    csrf: String,
}

fn text(response: &RawResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// Loads `path` like a browser without a session and keeps the session it is given.
async fn open(env: &TestEnv, path: &str) -> Session {
    let page = raw_request(&env.endpoint, "GET", path, &[], Vec::new()).await;
    assert_eq!(page.status, 200, "{}", text(&page));
    let cookie = page.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let body = text(&page);
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    let csrf = body[start..start + body[start..].find('"').unwrap()].to_owned();
    Session { cookie, csrf }
}

async fn post(env: &TestEnv, session: &Session, path: &str, fields: &[(&str, &str)]) -> RawResponse {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("csrf", &session.csrf);
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    let headers = [("content-type", "application/x-www-form-urlencoded"), ("cookie", session.cookie.as_str())];
    raw_request(&env.endpoint, "POST", path, &headers, form.finish().into_bytes()).await
}

/// The AWS error code a refusal page shows.
fn error_code(response: &RawResponse) -> String {
    let page = text(response);
    let marker = "data-error-code=\"";
    let start = page.find(marker).unwrap_or_else(|| panic!("no error code: {page}")) + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

fn redirected_to(response: &RawResponse) -> &str {
    assert_eq!(response.status, 303, "{}", text(response));
    response.header("location").unwrap()
}

#[tokio::test]
async fn fifo_sends_receives_visibility_and_attribute_edits() {
    let env = TestEnv::start().await;
    let session = open(&env, "/ui/new-queue").await;
    let created = post(
        &env,
        &session,
        "/ui/queues",
        &[("name", "payments.fifo"), ("fifo", "true"), ("dead_letter_queue", "new"), ("max_receive_count", "5")],
    )
    .await;
    assert_eq!(redirected_to(&created), "/ui/queues/payments.fifo?notice=created");
    let dlq = env.attributes(&env.url_of("payments-dlq.fifo")).await;
    assert_eq!(dlq["FifoQueue"], "true", "the new dead-letter queue of a FIFO queue is FIFO");

    // A FIFO send needs a group id: refused with AWS's error, then accepted.
    let refused = post(&env, &session, "/ui/queues/payments.fifo/send", &[("body", "pay 10")]).await;
    assert_eq!(refused.status, 400);
    // The code as the JSON protocol names it (the Smithy shape), with AWS's message.
    assert_eq!(error_code(&refused), "MissingRequiredParameterException");
    let fields = [("body", "pay 10"), ("group_id", "alice"), ("deduplication_id", "d-1")];
    let sent = post(&env, &session, "/ui/queues/payments.fifo/send", &fields).await;
    assert_eq!(redirected_to(&sent), "/ui/queues/payments.fifo?notice=sent");
    // The same deduplication id within 5 minutes stores nothing new, as on AWS.
    post(&env, &session, "/ui/queues/payments.fifo/send", &fields).await;
    assert_eq!(env.counts(&env.url_of("payments.fifo")).await, (1, 0, 0));

    // Receive, then change the visibility of the received message through its receipt handle.
    let received = post(&env, &session, "/ui/queues/payments.fifo/receive", &[("visibility_timeout", "600")]).await;
    assert_eq!(received.status, 200);
    let page = text(&received);
    assert!(page.contains("data-received="), "{page}");
    let marker = "name=\"receipt_handle\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let handle = page[start..start + page[start..].find('"').unwrap()].to_owned();
    assert_eq!(env.counts(&env.url_of("payments.fifo")).await, (0, 1, 0));
    let changed = post(
        &env,
        &session,
        "/ui/queues/payments.fifo/change-visibility",
        &[("receipt_handle", &handle), ("visibility_timeout", "0")],
    )
    .await;
    assert_eq!(redirected_to(&changed), "/ui/queues/payments.fifo?notice=visibility");
    assert_eq!(env.counts(&env.url_of("payments.fifo")).await, (1, 0, 0));
    let bad_handle =
        post(&env, &session, "/ui/queues/payments.fifo/delete-message", &[("receipt_handle", "nonsense")]).await;
    assert!(text(&bad_handle).contains("ReceiptHandleIsInvalid"), "{}", text(&bad_handle));

    // Edit attributes: only the changed ones are set; an out-of-range value gets AWS's error.
    let edited = post(&env, &session, "/ui/queues/payments.fifo/attributes", &[("VisibilityTimeout", "45")]).await;
    assert_eq!(redirected_to(&edited), "/ui/queues/payments.fifo?notice=attributes");
    assert_eq!(env.attributes(&env.url_of("payments.fifo")).await["VisibilityTimeout"], "45");
    let out_of_range =
        post(&env, &session, "/ui/queues/payments.fifo/attributes", &[("VisibilityTimeout", "99999")]).await;
    assert_eq!(out_of_range.status, 400);
    assert!(text(&out_of_range).contains("InvalidAttributeValue"), "{}", text(&out_of_range));

    // Deleting needs the confirmation box.
    let unconfirmed = post(&env, &session, "/ui/queues/payments.fifo/delete", &[]).await;
    assert_eq!(unconfirmed.status, 400);
    let deleted = post(&env, &session, "/ui/queues/payments.fifo/delete", &[("confirm", "yes")]).await;
    assert_eq!(redirected_to(&deleted), "/ui");
    let gone = raw_request(&env.endpoint, "GET", "/ui/queues/payments.fifo", &[], Vec::new()).await;
    assert_eq!(gone.status, 404);
    env.shutdown().await;
}

#[tokio::test]
async fn an_existing_dead_letter_queue_and_a_cancelled_redrive() {
    let env = TestEnv::start().await;
    let dlq = env.create_queue("orders-dlq").await;
    let session = open(&env, "/ui/new-queue").await;
    let created = post(
        &env,
        &session,
        "/ui/queues",
        &[("name", "orders"), ("dead_letter_queue", "orders-dlq"), ("max_receive_count", "1")],
    )
    .await;
    redirected_to(&created);
    for n in 0..5 {
        env.send(&dlq, &format!("dead {n}")).await;
    }
    // A slow redrive (one message a second on the manual clock) is still running when it is cancelled.
    let started = post(&env, &session, "/ui/queues/orders-dlq/redrive", &[("rate", "1")]).await;
    assert_eq!(redirected_to(&started), "/ui/queues/orders-dlq/redrive");
    let watch = text(&raw_request(&env.endpoint, "GET", "/ui/queues/orders-dlq/redrive", &[], Vec::new()).await);
    assert!(watch.contains("data-task-status=\"RUNNING\"") && watch.contains("http-equiv=\"refresh\""), "{watch}");
    let marker = "name=\"task_handle\" value=\"";
    let start = watch.find(marker).unwrap() + marker.len();
    let handle = watch[start..start + watch[start..].find('"').unwrap()].to_owned();
    // A second redrive while one runs is refused in AWS's words.
    let second = post(&env, &session, "/ui/queues/orders-dlq/redrive", &[]).await;
    assert!(text(&second).contains("InvalidParameterValue"), "{}", text(&second));
    // Another queue's page cannot cancel it.
    let elsewhere = post(&env, &session, "/ui/queues/orders/redrive/cancel", &[("task_handle", &handle)]).await;
    assert!(text(&elsewhere).contains("ResourceNotFoundException"), "{}", text(&elsewhere));
    let cancelled = post(&env, &session, "/ui/queues/orders-dlq/redrive/cancel", &[("task_handle", &handle)]).await;
    assert_eq!(redirected_to(&cancelled), "/ui/queues/orders-dlq?notice=redrive-cancelled");
    let page = text(&raw_request(&env.endpoint, "GET", "/ui/queues/orders-dlq", &[], Vec::new()).await);
    assert!(!page.contains("data-task-status=\"RUNNING\""), "{page}");
    env.shutdown().await;
}

#[tokio::test]
async fn forms_without_the_session_token_change_nothing() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "keep").await;
    let session = open(&env, "/ui/queues/orders").await;
    let forged = Session { cookie: session.cookie.clone(), csrf: "0".repeat(64) };
    let refused = post(&env, &forged, "/ui/queues/orders/purge", &[]).await;
    assert_eq!(refused.status, 403);
    let other_session = open(&env, "/ui/new-queue").await;
    let crossed = Session { cookie: other_session.cookie, csrf: session.csrf.clone() };
    assert_eq!(post(&env, &crossed, "/ui/queues/orders/purge", &[]).await.status, 403);
    // The right token from another origin is refused as well.
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("cookie", session.cookie.as_str()),
        ("origin", "http://evil.example"),
    ];
    let body = format!("csrf={}", session.csrf).into_bytes();
    let cross_origin = raw_request(&env.endpoint, "POST", "/ui/queues/orders/purge", &headers, body).await;
    assert_eq!(cross_origin.status, 403);
    assert_eq!(env.counts(&url).await.0, 1, "nothing was purged");
    let purged = post(&env, &session, "/ui/queues/orders/purge", &[]).await;
    assert_eq!(redirected_to(&purged), "/ui/queues/orders?notice=purged");
    assert_eq!(env.counts(&url).await.0, 0);
    env.shutdown().await;
}

#[tokio::test]
async fn actions_on_a_queue_of_another_region_act_in_that_region() {
    let env = TestEnv::start().await;
    let ireland = common::sdk_client_in(&env.endpoint, "eu-west-1").await;
    ireland.create_queue().queue_name("regional").send().await.unwrap();
    let session = open(&env, "/ui/queues/regional?region=eu-west-1").await;

    let sent = post(&env, &session, "/ui/queues/regional/send?region=eu-west-1", &[("body", "from the console")]).await;
    assert_eq!(redirected_to(&sent), "/ui/queues/regional?region=eu-west-1&notice=sent");
    // Without the region the action goes to the default region, which has no such queue: AWS's refusal.
    let elsewhere = post(&env, &session, "/ui/queues/regional/send", &[("body", "lost?")]).await;
    assert_eq!(error_code(&elsewhere), "QueueDoesNotExist");
    let bad = post(&env, &session, "/ui/queues/regional/send?region=Mars", &[("body", "x")]).await;
    assert_eq!(bad.status, 400, "{}", text(&bad));

    let received = ireland.receive_message().queue_url(env.url_of("regional")).send().await.unwrap();
    let bodies: Vec<_> = received.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["from the console"]);
    env.shutdown().await;
}
