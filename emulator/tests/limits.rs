//! Resource limits: an oversized body, a slow-header client and a connection flood each get a clean answer
//! while a well-behaved client on another connection keeps being served; the queue count and the memory
//! budget for stored messages are capped with AWS-style errors.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{expect_service_error, sdk_client, start_emulator};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use sqskit_emulator::{Emulator, EmulatorBuilder, ManualClock, RunningEmulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(builder: EmulatorBuilder) -> RunningEmulator {
    start_emulator(builder.clock(ManualClock::new())).await
}

/// A client on its own, already established HTTP/1.1 connection, sending `GET /health`.
struct Steady {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Steady {
    async fn connect(emu: &RunningEmulator) -> Self {
        let stream = TcpStream::connect(emu.local_addr()).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        Self { sender }
    }

    async fn is_served(&mut self) -> bool {
        let request = hyper::Request::get("/health").header("host", "localhost").body(Empty::new()).unwrap();
        let response = tokio::time::timeout(Duration::from_secs(5), self.sender.send_request(request)).await;
        let response = response.expect("answered within 5 s").expect("response");
        response.status() == 200 && response.into_body().collect().await.unwrap().to_bytes() == "ok"
    }
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .expect("the server closes the connection");
    received
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_others_are_served() {
    let emu = start(Emulator::builder().max_request_bytes(1024)).await;
    let mut steady = Steady::connect(&emu).await;
    let big = serde_json::json!({ "QueueName": "x".repeat(4096) });
    let response = common::post_json(&emu.endpoint(), "CreateQueue", &big).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.header("x-amzn-query-error"), Some("RequestEntityTooLarge;Sender"));
    assert!(steady.is_served().await);
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_slow_header_client_is_cut_off_and_others_are_served() {
    let emu = start(Emulator::builder().header_read_timeout(Duration::from_millis(300))).await;
    let mut steady = Steady::connect(&emu).await;
    let mut slow = TcpStream::connect(emu.local_addr()).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: appl").await.unwrap();
    assert!(steady.is_served().await, "served while the slow client dawdles");
    let started = std::time::Instant::now();
    read_to_close(&mut slow, Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(3), "closed soon after the header timeout");
    // The steady client's connection is busy only while it has a request out; a fresh request still works.
    let mut steady = Steady::connect(&emu).await;
    assert!(steady.is_served().await);

    // Too large a head gets 431.
    let mut huge = TcpStream::connect(emu.local_addr()).await.unwrap();
    let head = format!("GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    let _ = huge.write_all(head.as_bytes()).await;
    let answer = String::from_utf8_lossy(&read_to_close(&mut huge, Duration::from_secs(5)).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_flood_gets_503_while_an_established_client_is_served() {
    let emu = start(Emulator::builder().max_connections(4)).await;
    let mut steady = Steady::connect(&emu).await;
    assert!(steady.is_served().await);
    let mut flood = Vec::new();
    for _ in 0..20 {
        flood.push(TcpStream::connect(emu.local_addr()).await.unwrap());
    }
    let last = flood.last_mut().unwrap();
    last.write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AmazonSQS.ListQueues\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}").await.unwrap();
    let answer = String::from_utf8_lossy(&read_to_close(last, Duration::from_secs(5)).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("ServiceUnavailable;Receiver"), "{answer}");
    for _ in 0..3 {
        assert!(steady.is_served().await, "the established client keeps being served");
    }
    drop(flood);
    // Once the flood is gone, new clients are served again.
    let sdk = sdk_client(&emu.endpoint()).await;
    let mut served = false;
    for _ in 0..50 {
        if sdk.list_queues().send().await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "new connections are accepted after the flood");
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_queue_count_per_account_is_capped_with_over_limit() {
    let emu = start(Emulator::builder().max_queues_per_account(2)).await;
    let sdk = sdk_client(&emu.endpoint()).await;
    let first = sdk.create_queue().queue_name("a").send().await.unwrap().queue_url.unwrap();
    sdk.create_queue().queue_name("b").send().await.unwrap();
    sdk.create_queue().queue_name("b").send().await.unwrap();
    let error = sdk.create_queue().queue_name("c").send().await.unwrap_err();
    expect_service_error(error, 403, "OverLimit", "maximum number of queues (2)");
    sdk.delete_queue().queue_url(first).send().await.unwrap();
    sdk.create_queue().queue_name("c").send().await.unwrap();
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_memory_budget_refuses_new_sends_and_keeps_stored_messages() {
    let emu = start(Emulator::builder().max_stored_message_bytes(1000)).await;
    let sdk = sdk_client(&emu.endpoint()).await;
    let url = sdk.create_queue().queue_name("q").send().await.unwrap().queue_url.unwrap();
    sdk.send_message().queue_url(&url).message_body("a".repeat(600)).send().await.unwrap();
    assert_eq!(emu.engine().stored_message_bytes(), 600);
    let error = sdk.send_message().queue_url(&url).message_body("b".repeat(600)).send().await.unwrap_err();
    expect_service_error(error, 503, "ServiceUnavailable", "memory budget");

    // What was acknowledged is still there; deleting it frees the budget.
    let received = sdk.receive_message().queue_url(&url).send().await.unwrap().messages.unwrap();
    assert_eq!(received[0].body.as_deref(), Some("a".repeat(600).as_str()));
    let handle = received[0].receipt_handle.clone().unwrap();
    sdk.delete_message().queue_url(&url).receipt_handle(handle).send().await.unwrap();
    assert_eq!(emu.engine().stored_message_bytes(), 0);
    sdk.send_message().queue_url(&url).message_body("b".repeat(600)).send().await.unwrap();
    sdk.purge_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(emu.engine().stored_message_bytes(), 0);
    emu.shutdown().await.unwrap();
}
