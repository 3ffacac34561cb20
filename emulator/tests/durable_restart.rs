//! Durable mode (`--data-dir`): every kind of state survives a restart of the emulator on the same directory,
//! and a data file that is not ours is refused with a clear error.

mod common;

use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use common::{ACCOUNT, sdk_client, start_emulator, str_attr};
use sqskit_emulator::{Clock, Emulator, ManualClock, ResetScope, RunningEmulator};

/// The dead-letter queue of the move-task tests.
const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:dlq";

struct Durable {
    emulator: RunningEmulator,
    client: aws_sdk_sqs::Client,
    clock: ManualClock,
}

impl Durable {
    async fn start(dir: &std::path::Path, clock: ManualClock) -> Self {
        let emulator = start_emulator(Emulator::builder().clock(clock.clone()).data_dir(dir)).await;
        let client = sdk_client(&emulator.endpoint()).await;
        Self { emulator, client, clock }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.emulator.endpoint())
    }

    /// Creates `dlq` and `source`, whose dead-letter queue it is.
    async fn create_dead_letter_pair(&self) {
        self.client.create_queue().queue_name("dlq").send().await.expect("dlq");
        let redrive = format!(r#"{{"deadLetterTargetArn":"{DLQ_ARN}","maxReceiveCount":1}}"#);
        self.client
            .create_queue()
            .queue_name("source")
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .send()
            .await
            .expect("source");
    }

    /// Creates the dead-letter pair, puts five messages in `dlq`, and starts moving them back to `source` at
    /// one a second; returns once two have moved (and their progress was stored), with the task running.
    async fn start_slow_move_task(&self) -> &'static str {
        self.create_dead_letter_pair().await;
        for i in 0..5 {
            self.client
                .send_message()
                .queue_url(self.url("dlq"))
                .message_body(format!("m{i}"))
                .send()
                .await
                .expect("send");
        }
        self.client
            .start_message_move_task()
            .source_arn(DLQ_ARN)
            .destination_arn("arn:aws:sqs:us-east-1:000000000000:source")
            .max_number_of_messages_per_second(1)
            .send()
            .await
            .expect("start");
        self.clock.advance(Duration::from_secs(2));
        wait_for_task(self, DLQ_ARN, |task| task.approximate_number_of_messages_moved() == 2).await;
        DLQ_ARN
    }

    /// Stops gracefully and starts again on the same directory, with time continuing where it was.
    async fn restart(self, dir: &std::path::Path) -> Self {
        let clock = ManualClock::starting_at(self.clock.now());
        self.emulator.shutdown().await.expect("clean shutdown");
        Self::start(dir, clock).await
    }

    async fn counts(&self, name: &str) -> (String, String, String) {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(name))
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("attributes")
            .attributes
            .expect("some");
        let get = |name: QueueAttributeName| attributes.get(&name).cloned().unwrap_or_default();
        (
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        )
    }
}

#[tokio::test]
async fn queues_messages_and_their_states_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Durable::start(dir.path(), ManualClock::new()).await;
    let sqs = &node.client;
    sqs.create_queue().queue_name("dlq").send().await.expect("dlq");
    let redrive = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":2}"#;
    sqs.create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "60")
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .tags("team", "checkout")
        .send()
        .await
        .expect("orders");
    let orders = node.url("orders");
    sqs.send_message()
        .queue_url(&orders)
        .message_body("visible")
        .message_attributes("OrderId", str_attr("String", "A-1"))
        .send()
        .await
        .expect("send");
    sqs.send_message().queue_url(&orders).message_body("in flight").send().await.expect("send");
    let in_flight = sqs
        .receive_message()
        .queue_url(&orders)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive")
        .messages
        .expect("messages");
    assert_eq!(in_flight.len(), 2);
    // Put "visible" back; keep "in flight" hidden for its 60 s.
    let visible_handle = in_flight.iter().find(|m| m.body() == Some("visible")).and_then(|m| m.receipt_handle());
    sqs.change_message_visibility()
        .queue_url(&orders)
        .receipt_handle(visible_handle.expect("handle"))
        .visibility_timeout(0)
        .send()
        .await
        .expect("release");
    let held = in_flight.iter().find(|m| m.body() == Some("in flight")).and_then(|m| m.receipt_handle());
    let held = held.expect("handle").to_owned();
    sqs.send_message().queue_url(&orders).message_body("delayed").delay_seconds(30).send().await.expect("send");

    let node = node.restart(dir.path()).await;
    let sqs = &node.client;

    assert_eq!(node.counts("orders").await, ("1".into(), "1".into(), "1".into()));
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(node.url("orders"))
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("attributes")
        .attributes
        .expect("some");
    assert_eq!(attributes.get(&QueueAttributeName::VisibilityTimeout).map(String::as_str), Some("60"));
    assert_eq!(attributes.get(&QueueAttributeName::RedrivePolicy).map(String::as_str), Some(redrive));
    let tags = sqs.list_queue_tags().queue_url(node.url("orders")).send().await.expect("tags").tags.expect("some");
    assert_eq!(tags.get("team").map(String::as_str), Some("checkout"));
    let again = sqs
        .receive_message()
        .queue_url(node.url("orders"))
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .expect("receive")
        .messages
        .expect("messages");
    assert_eq!(again[0].body(), Some("visible"));
    assert_eq!(
        again[0].message_attributes().and_then(|a| a.get("OrderId")).and_then(|v| v.string_value()),
        Some("A-1")
    );
    // A handle issued before the restart still deletes its message.
    sqs.delete_message().queue_url(node.url("orders")).receipt_handle(&held).send().await.expect("old handle");
    node.clock.advance(Duration::from_secs(31));
    assert_eq!(node.counts("orders").await, ("1".into(), "1".into(), "0".into()));
    node.emulator.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn fifo_deduplication_and_sequence_numbers_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Durable::start(dir.path(), ManualClock::new()).await;
    node.client
        .create_queue()
        .queue_name("jobs.fifo")
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("fifo");
    let send = |node: &Durable, dedup: &str| {
        node.client
            .send_message()
            .queue_url(node.url("jobs.fifo"))
            .message_body(format!("body {dedup}"))
            .message_group_id("g")
            .message_deduplication_id(dedup)
            .send()
    };
    let first = send(&node, "d1").await.expect("send");

    let node = node.restart(dir.path()).await;

    let duplicate = send(&node, "d1").await.expect("duplicate accepted");
    assert_eq!(duplicate.message_id(), first.message_id(), "the window survived the restart");
    let second = send(&node, "d2").await.expect("send");
    let number = |out: &aws_sdk_sqs::operation::send_message::SendMessageOutput| {
        out.sequence_number().expect("sequence").parse::<u128>().expect("digits")
    };
    assert!(number(&second) > number(&first), "sequence numbers keep increasing");
    node.clock.advance(Duration::from_secs(301));
    let after_window = send(&node, "d1").await.expect("send");
    assert_ne!(after_window.message_id(), first.message_id());
    node.emulator.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn deleted_and_purged_state_stays_deleted_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Durable::start(dir.path(), ManualClock::new()).await;
    for name in ["gone", "purged"] {
        node.client.create_queue().queue_name(name).send().await.expect("create");
        node.client.send_message().queue_url(node.url(name)).message_body("x").send().await.expect("send");
    }
    node.client.delete_queue().queue_url(node.url("gone")).send().await.expect("delete");
    node.client.purge_queue().queue_url(node.url("purged")).send().await.expect("purge");

    let node = node.restart(dir.path()).await;

    let queues = node.client.list_queues().send().await.expect("list").queue_urls.unwrap_or_default();
    assert_eq!(queues, vec![node.url("purged")]);
    assert_eq!(node.counts("purged").await, ("0".into(), "0".into(), "0".into()));
    node.emulator.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_foreign_file_in_the_data_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("sqskit.db"), b"this is not a database, and not ours either").expect("write");

    let error = Emulator::builder().port(0).data_dir(dir.path()).start().await.expect_err("refused");

    let text = error.to_string();
    assert!(text.contains("sqskit.db") && text.contains("not an sqskit-emulator data file"), "{text}");
    let untouched = std::fs::read(dir.path().join("sqskit.db")).expect("still there");
    assert_eq!(untouched, b"this is not a database, and not ours either");
}

#[test]
fn the_example_configuration_file_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sqskit.example.toml");
    let config = sqskit_emulator::config::ConfigFile::load(std::path::Path::new(path)).expect("parses");
    let engine = sqskit_emulator::Engine::default();

    sqskit_emulator::config::declare_queues(&engine, &config.queues, path).expect("declares");

    assert!(engine.get_queue_url("payments.fifo", None).is_ok());
}

/// Waits (real time, for the emulator's background task) until the newest move task of `source` matches.
async fn wait_for_task(
    node: &Durable,
    source: &str,
    done: impl Fn(&aws_sdk_sqs::types::ListMessageMoveTasksResultEntry) -> bool,
) -> aws_sdk_sqs::types::ListMessageMoveTasksResultEntry {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let tasks = node.client.list_message_move_tasks().source_arn(source).send().await.expect("list");
        if let Some(task) = tasks.results().first().filter(|task| done(task)) {
            return task.clone();
        }
        assert!(std::time::Instant::now() < deadline, "task never got there: {tasks:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_running_move_task_resumes_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Durable::start(dir.path(), ManualClock::new()).await;
    let dlq_arn = node.start_slow_move_task().await;

    let node = node.restart(dir.path()).await;

    let resumed = wait_for_task(&node, dlq_arn, |_| true).await;
    assert_eq!(resumed.status(), Some("RUNNING"));
    assert_eq!(resumed.approximate_number_of_messages_moved(), 2);
    node.clock.advance(Duration::from_secs(3));
    let done = wait_for_task(&node, dlq_arn, |task| task.status() == Some("COMPLETED")).await;
    assert_eq!(done.approximate_number_of_messages_moved(), 5);
    assert_eq!(node.counts("source").await.0, "5");
    node.emulator.shutdown().await.expect("shutdown");
}

/// A reset forgets the move tasks of the queues it deletes, in the file too: after a restart, queues created
/// again under the same names list no task (the stored states of a task, including the cancel the reset
/// itself caused, are deleted).
#[tokio::test]
async fn a_reset_forgets_move_tasks_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Durable::start(dir.path(), ManualClock::new()).await;
    let dlq_arn = node.start_slow_move_task().await;

    node.emulator.reset(&ResetScope::everything()).await.expect("reset");
    node.create_dead_letter_pair().await;
    let listed = |node: &Durable| {
        let client = node.client.clone();
        async move { client.list_message_move_tasks().source_arn(dlq_arn).send().await.expect("list").results().len() }
    };
    assert_eq!(listed(&node).await, 0, "forgotten in memory");
    let node = node.restart(dir.path()).await;
    assert_eq!(listed(&node).await, 0, "forgotten in the file");
    node.emulator.shutdown().await.expect("shutdown");
}

/// A client of `emulator` signing for `region`.
async fn client_in(emulator: &RunningEmulator, region: &'static str) -> aws_sdk_sqs::Client {
    common::sdk_client_in(&emulator.endpoint(), region).await
}

async fn bodies(client: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let output = client.receive_message().queue_url(url).max_number_of_messages(10).send().await.expect("receive");
    output.messages().iter().filter_map(|message| message.body().map(str::to_owned)).collect()
}

#[tokio::test]
async fn queues_keep_their_region_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Durable::start(dir.path(), ManualClock::new()).await;
    let ireland = client_in(&node.emulator, "eu-west-1").await;
    let url = node.url("regional");
    ireland.create_queue().queue_name("regional").send().await.expect("create in Ireland");
    ireland.send_message().queue_url(&url).message_body("kept in Ireland").send().await.expect("send");
    node.client.create_queue().queue_name("regional").send().await.expect("create in us-east-1");

    let node = node.restart(dir.path()).await;
    let ireland = client_in(&node.emulator, "eu-west-1").await;
    let url = node.url("regional");
    assert_eq!(bodies(&ireland, &url).await, ["kept in Ireland"]);
    assert!(bodies(&node.client, &url).await.is_empty(), "us-east-1's queue of that name is another");
    let arn = ireland
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes");
    assert_eq!(
        arn.attributes().and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn)).map(String::as_str),
        Some(format!("arn:aws:sqs:eu-west-1:{ACCOUNT}:regional").as_str())
    );
    node.emulator.shutdown().await.expect("shutdown");
}

/// A data file written before regions existed (format version 2, queues named `<name>` or `<account>/<name>`)
/// loads with its queues in the default region, and the file then records that region, so a later start with
/// another default region keeps them where they were.
#[tokio::test]
async fn a_file_written_before_regions_puts_its_queues_in_the_default_region() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Durable::start(dir.path(), ManualClock::new()).await;
    let url = node.url("legacy");
    node.client.create_queue().queue_name("legacy").send().await.expect("create");
    node.client.send_message().queue_url(&url).message_body("from before").send().await.expect("send");
    let clock = ManualClock::starting_at(node.clock.now());
    node.emulator.shutdown().await.expect("shutdown");
    let file = dir.path().join("sqskit.db");
    {
        // What a version 2 file holds: messages (in the file, not in a message log) and deduplication windows
        // keyed by (queue_uid, sequence), queues without storage slots, the bare name in the default account,
        // `<account>/<name>` in another.
        let connection = rusqlite::Connection::open(&file).expect("open the file");
        connection
            .execute_batch(
                "CREATE TABLE messages_v2 (queue_uid INTEGER NOT NULL, sequence INTEGER NOT NULL,
                     message_id TEXT NOT NULL, body TEXT NOT NULL, attributes BLOB, trace_header TEXT,
                     group_id TEXT, deduplication_id TEXT, dead_letter_source_arn TEXT, sender_id TEXT NOT NULL,
                     sent_at INTEGER NOT NULL, retention_start INTEGER NOT NULL, first_received_at INTEGER,
                     receive_count INTEGER NOT NULL, state INTEGER NOT NULL, until INTEGER NOT NULL,
                     received_at INTEGER NOT NULL, PRIMARY KEY (queue_uid, sequence)) WITHOUT ROWID;
                 INSERT INTO messages_v2 (queue_uid, sequence, message_id, body, sender_id, sent_at,
                     retention_start, receive_count, state, until, received_at)
                     SELECT uid, 1, '0f8fad5b-d9cb-469f-a165-70867728950e', 'from before', '000000000000',
                         created_at, created_at, 0, 0, 0, 0 FROM queues;
                 DROP TABLE messages;
                 ALTER TABLE messages_v2 RENAME TO messages;
                 CREATE TABLE deduplications_v2 (queue_uid INTEGER NOT NULL, sequence INTEGER NOT NULL,
                     scope_group TEXT NOT NULL, deduplication_id TEXT NOT NULL, message_id TEXT NOT NULL,
                     expires_at INTEGER NOT NULL, PRIMARY KEY (queue_uid, sequence)) WITHOUT ROWID;
                 INSERT INTO deduplications_v2 SELECT queues.uid, key & 1099511627775, scope_group,
                     deduplication_id, message_id, expires_at FROM deduplications JOIN queues ON queues.slot = key >> 40;
                 DROP TABLE deduplications;
                 ALTER TABLE deduplications_v2 RENAME TO deduplications;
                 CREATE INDEX deduplications_by_expiry ON deduplications (expires_at);
                 DROP INDEX queues_by_slot;
                 ALTER TABLE queues DROP COLUMN slot;
                 UPDATE queues SET name = 'legacy';
                 INSERT INTO queues (uid, name, attributes, tags, created_at, last_modified_at, last_purge_at,
                     next_sequence)
                     SELECT uid + 100, '111122223333/other', attributes, tags, created_at, last_modified_at,
                         last_purge_at, 1 FROM queues;
                 DROP TABLE log_state;
                 PRAGMA user_version = 2;",
            )
            .expect("make it a version 2 file");
    }
    // Files of that version had no message log: the message is in the table above.
    std::fs::remove_dir_all(dir.path().join("log")).expect("remove the message log");

    // Started with eu-west-1 as the default region: the old queues are Ireland's.
    let emulator = start_emulator(
        Emulator::builder().clock(ManualClock::starting_at(clock.now())).data_dir(dir.path()).region("eu-west-1"),
    )
    .await;
    let ireland = client_in(&emulator, "eu-west-1").await;
    let virginia = client_in(&emulator, "us-east-1").await;
    let url = format!("{}/{ACCOUNT}/legacy", emulator.endpoint());
    assert_eq!(bodies(&ireland, &url).await, ["from before"]);
    assert!(virginia.get_queue_url().queue_name("legacy").send().await.is_err(), "not in us-east-1");
    emulator.shutdown().await.expect("shutdown");
    {
        let connection = rusqlite::Connection::open(&file).expect("open the file");
        let mut names: Vec<String> = connection
            .prepare("SELECT name FROM queues ORDER BY name")
            .expect("select")
            .query_map([], |row| row.get(0))
            .expect("names")
            .collect::<Result<_, _>>()
            .expect("names");
        names.sort();
        assert_eq!(names, ["eu-west-1/000000000000/legacy", "eu-west-1/111122223333/other"]);
        let version: i32 = connection.query_row("PRAGMA user_version", [], |row| row.get(0)).expect("version");
        assert_eq!(version, 6, "migrated to the current format");
    }

    // A later start with the usual default region keeps them in eu-west-1: the file carries the region now.
    let emulator =
        start_emulator(Emulator::builder().clock(ManualClock::starting_at(clock.now())).data_dir(dir.path())).await;
    let ireland = client_in(&emulator, "eu-west-1").await;
    let virginia = client_in(&emulator, "us-east-1").await;
    ireland.get_queue_url().queue_name("legacy").send().await.expect("still Ireland's");
    assert!(virginia.get_queue_url().queue_name("legacy").send().await.is_err());
    emulator.shutdown().await.expect("shutdown");
}
