//! The configuration file (`--config sqskit.toml`): server settings and queues to declare at start-up.
//!
//! ```toml
//! port = 9324
//! data_dir = "./sqskit-data"
//!
//! [[queue]]
//! name = "orders-dlq"
//!
//! [[queue]]
//! name = "orders"
//! attributes = { VisibilityTimeout = 60, ReceiveMessageWaitTimeSeconds = 20 }
//! tags = { team = "checkout" }
//! dead_letter_queue = "orders-dlq"
//! max_receive_count = 5
//!
//! [[queue]]
//! name = "orders"
//! region = "eu-west-1"    # another queue: each region is its own namespace
//!
//! auth = "sigv4"
//! [[credentials]]
//! access_key_id = "AKIDEXAMPLE"
//! secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
//! account_id = "111122223333"
//! ```
//!
//! Declared queues are created before the server listens, in their `region` (default: the emulator's default
//! region); a queue that already exists (kept by durable storage) gets the declared attributes and tags. A
//! `dead_letter_queue` is the queue of that name declared in the same region (AWS requires a dead-letter queue
//! in its source's region). Every error names the file, the queue and the field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::{AuthMode, Credential};
use crate::engine::{Engine, is_valid_region};

/// Receives before a message moves to the dead-letter queue, when `max_receive_count` is not given.
pub const DEFAULT_MAX_RECEIVE_COUNT: i64 = 10;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on.
    pub host: Option<String>,
    /// Port to listen on.
    pub port: Option<u16>,
    /// The default region: requests that name no region act there, and declared queues without a region are
    /// created there.
    pub region: Option<String>,
    /// Account id in queue URLs and ARNs.
    pub account_id: Option<String>,
    /// Durable storage directory.
    pub data_dir: Option<PathBuf>,
    /// `system` (default) or `manual`: a virtual clock moved through the admin API.
    pub clock: Option<ClockKind>,
    /// Token required by the admin API (header `x-sqskit-admin-token`).
    pub admin_token: Option<String>,
    /// Seed of the fault injector's random choices.
    pub fault_seed: Option<u64>,
    /// Enforce the FIFO throughput quota (300 calls/s per action and queue).
    pub fifo_quotas: Option<bool>,
    /// `off` (default) or `sigv4`: verify AWS Signature Version 4 with the `[[credentials]]`.
    pub auth: Option<AuthMode>,
    /// Access keys and their accounts, in `[[credentials]]` tables (SigV4 mode).
    #[serde(default)]
    pub credentials: Vec<Credential>,
    /// The largest request body, in bytes.
    pub max_request_bytes: Option<usize>,
    /// Connections served at once; more get a 503 and are closed.
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request's headers (and a keep-alive connection may stay idle).
    pub header_read_timeout_secs: Option<u64>,
    /// The largest request head (request line and headers), in bytes.
    pub max_header_bytes: Option<usize>,
    /// The most queues one account may own.
    pub max_queues_per_account: Option<usize>,
    /// The memory budget for stored messages (bodies and attributes), in bytes.
    pub max_stored_message_bytes: Option<u64>,
    /// `false` lets a deleted queue's name be used again at once (AWS, and the default, refuse it for 60 seconds
    /// with `QueueDeletedRecently`).
    pub queue_deleted_recently: Option<bool>,
    /// Fault rules, in `[[fault]]` tables (the admin API's rule format).
    #[serde(default, rename = "fault")]
    pub faults: Vec<crate::faults::FaultRule>,
    /// Queues to declare, in `[[queue]]` tables.
    #[serde(default, rename = "queue")]
    pub queues: Vec<QueueDeclaration>,
}

/// Which clock the emulator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClockKind {
    /// Wall-clock time.
    System,
    /// A virtual clock that moves only when told to (admin API `POST /_sqskit/clock/advance`).
    Manual,
}

/// One `[[queue]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDeclaration {
    /// The queue name (`.fifo` suffix for FIFO queues).
    pub name: String,
    /// The region the queue is in; the emulator's default region when not given.
    pub region: Option<String>,
    /// Queue attributes by their AWS names; values may be strings, integers or booleans.
    #[serde(default)]
    pub attributes: BTreeMap<String, toml::Value>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Name of a queue declared in the same file, in the same region, to use as the dead-letter queue.
    pub dead_letter_queue: Option<String>,
    /// Receives before a message moves to the dead-letter queue (default 10).
    pub max_receive_count: Option<i64>,
}

/// A configuration error, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or another source label).
    pub source: String,
    /// The queue concerned, if any.
    pub queue: Option<String>,
    /// What is wrong, naming the field.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.queue {
            Some(queue) => write!(f, "{}: queue \"{queue}\": {}", self.source, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigFile {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file for an unreadable file or invalid TOML (with line and column).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            source: source.clone(),
            queue: None,
            message: error.to_string(),
        })?;
        Self::parse(&text, &source)
    }

    /// Parses configuration text; `source` names it in errors.
    ///
    /// # Errors
    /// A [`ConfigError`] for invalid TOML or unknown fields.
    pub fn parse(text: &str, source: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError {
            source: source.to_owned(),
            queue: None,
            message: error.to_string().trim_end().to_owned(),
        })
    }
}

/// Creates (or updates) the declared queues in `engine`, each in its region (default: `engine`'s region),
/// dead-letter queues first.
///
/// # Errors
/// The first [`ConfigError`]: an invalid region, a name declared twice in one region, a dead-letter queue not
/// declared in the file in the same region, a cycle of dead-letter queues, or anything SQS itself rejects (bad
/// name, attribute or value).
pub fn declare_queues(engine: &Engine, queues: &[QueueDeclaration], source: &str) -> Result<(), ConfigError> {
    let error = |queue: &str, message: String| ConfigError {
        source: source.to_owned(),
        queue: Some(queue.to_owned()),
        message,
    };
    let region_of = |queue: &QueueDeclaration| queue.region.as_deref().unwrap_or(engine.region()).to_owned();
    let key = |queue: &QueueDeclaration| (region_of(queue), queue.name.clone());
    let mut keys = std::collections::HashSet::new();
    for queue in queues {
        let region = region_of(queue);
        if !is_valid_region(&region) {
            return Err(error(
                &queue.name,
                format!("region \"{region}\" is not a region name (lowercase letters, digits and hyphens)"),
            ));
        }
        if !keys.insert(key(queue)) {
            return Err(error(&queue.name, format!("declared more than once in region {region}")));
        }
    }
    for queue in queues {
        if let Some(dlq) = &queue.dead_letter_queue {
            let region = region_of(queue);
            if !keys.contains(&(region.clone(), dlq.clone())) {
                return Err(error(
                    &queue.name,
                    format!(
                        "dead_letter_queue \"{dlq}\" is not declared in this file in region {region} (a dead-letter \
                         queue must be in its source's region)"
                    ),
                ));
            }
        } else if queue.max_receive_count.is_some() {
            return Err(error(&queue.name, "max_receive_count needs dead_letter_queue".to_owned()));
        }
    }
    let mut done: Vec<(String, String)> = Vec::new();
    while done.len() < queues.len() {
        let ready: Vec<&QueueDeclaration> = queues
            .iter()
            .filter(|queue| !done.contains(&key(queue)))
            .filter(|queue| {
                queue.dead_letter_queue.as_ref().is_none_or(|dlq| done.contains(&(region_of(queue), dlq.clone())))
            })
            .collect();
        let Some(first_blocked) = queues.iter().find(|queue| !done.contains(&key(queue))) else { break };
        if ready.is_empty() {
            return Err(error(&first_blocked.name, "dead_letter_queue references form a cycle".to_owned()));
        }
        for queue in ready {
            declare(&engine.in_region(&region_of(queue)), queue).map_err(|message| error(&queue.name, message))?;
            done.push(key(queue));
        }
    }
    Ok(())
}

fn declare(engine: &Engine, queue: &QueueDeclaration) -> Result<(), String> {
    let mut attributes = Vec::with_capacity(queue.attributes.len() + 1);
    for (name, value) in &queue.attributes {
        let text = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Boolean(flag) => flag.to_string(),
            other => return Err(format!("attribute {name}: expected a string, integer or boolean, found {other}")),
        };
        attributes.push((name.clone(), text));
    }
    if queue.name.ends_with(".fifo") && !queue.attributes.contains_key("FifoQueue") {
        attributes.push(("FifoQueue".to_owned(), "true".to_owned()));
    }
    if let Some(dlq) = &queue.dead_letter_queue {
        let count = queue.max_receive_count.unwrap_or(DEFAULT_MAX_RECEIVE_COUNT);
        let policy = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{count}}}"#, engine.queue_arn(dlq));
        attributes.push(("RedrivePolicy".to_owned(), policy));
    }
    let tags: Vec<(String, String)> = queue.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    match engine.get_queue_url(&queue.name, None) {
        Ok(()) => {
            let settable: Vec<(String, String)> =
                attributes.into_iter().filter(|(name, _)| name != "FifoQueue").collect();
            if !settable.is_empty() {
                engine.set_queue_attributes(&queue.name, &settable).map_err(|e| e.message)?;
            }
            if !tags.is_empty() {
                engine.tag_queue(&queue.name, &tags).map_err(|e| e.message)?;
            }
            Ok(())
        }
        Err(_) => engine.create_queue(&queue.name, &attributes, &tags).map_err(|e| e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ConfigFile {
        ConfigFile::parse(text, "test.toml").expect("valid")
    }

    #[test]
    fn declares_queues_with_dead_letter_queues_first() {
        let config = parse(
            r#"
            port = 1234
            [[queue]]
            name = "orders"
            attributes = { VisibilityTimeout = 60 }
            dead_letter_queue = "orders-dlq"
            max_receive_count = 3
            [[queue]]
            name = "orders-dlq"
            [[queue]]
            name = "events.fifo"
            attributes = { ContentBasedDeduplication = true }
            "#,
        );
        let engine = Engine::default();

        declare_queues(&engine, &config.queues, "test.toml").expect("declared");

        let attributes = engine.get_queue_attributes("orders", &["All".to_owned()]).expect("exists");
        let value = |name: &str| attributes.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.clone());
        assert_eq!(value("VisibilityTimeout").as_deref(), Some("60"));
        assert!(value("RedrivePolicy").is_some_and(|p| p.contains("orders-dlq") && p.contains(":3")));
        assert!(engine.get_queue_url("events.fifo", None).is_ok());
        assert_eq!(config.port, Some(1234));
    }

    #[test]
    fn queues_are_declared_in_their_region_with_same_region_dead_letter_queues() {
        let config = parse(
            r#"
            [[queue]]
            name = "orders"
            [[queue]]
            name = "orders"
            region = "eu-west-1"
            attributes = { VisibilityTimeout = 45 }
            dead_letter_queue = "orders-dlq"
            [[queue]]
            name = "orders-dlq"
            region = "eu-west-1"
            "#,
        );
        let engine = Engine::default();

        declare_queues(&engine, &config.queues, "test.toml").expect("declared");

        let ireland = engine.in_region("eu-west-1");
        let value = |engine: &Engine, name: &str| {
            let attributes = engine.get_queue_attributes("orders", &[name.to_owned()]).expect("exists");
            attributes.into_iter().next().map(|(_, value)| value)
        };
        assert_eq!(value(&ireland, "VisibilityTimeout").as_deref(), Some("45"));
        assert_eq!(value(&engine, "VisibilityTimeout").as_deref(), Some("30"), "us-east-1's own queue");
        assert!(
            value(&ireland, "RedrivePolicy")
                .is_some_and(|policy| policy.contains("arn:aws:sqs:eu-west-1:000000000000:orders-dlq"))
        );
        assert!(engine.get_queue_url("orders-dlq", None).is_err(), "the dead-letter queue is Ireland's only");

        let elsewhere = parse(
            "[[queue]]\nname = \"q\"\nregion = \"eu-west-1\"\ndead_letter_queue = \"d\"\n[[queue]]\nname = \"d\"",
        );
        let error = declare_queues(&Engine::default(), &elsewhere.queues, "test.toml").unwrap_err().to_string();
        assert!(error.contains("dead_letter_queue \"d\" is not declared in this file in region eu-west-1"), "{error}");
        let bad_region = parse("[[queue]]\nname = \"q\"\nregion = \"EU\"");
        let error = declare_queues(&Engine::default(), &bad_region.queues, "test.toml").unwrap_err().to_string();
        assert!(error.contains("region \"EU\" is not a region name"), "{error}");
        let twice = parse("[[queue]]\nname = \"q\"\n[[queue]]\nname = \"q\"\nregion = \"us-east-1\"");
        let error = declare_queues(&Engine::default(), &twice.queues, "test.toml").unwrap_err().to_string();
        assert!(error.contains("declared more than once in region us-east-1"), "{error}");
    }

    #[test]
    fn auth_credentials_and_limits_parse() {
        let config = parse(
            r#"
            auth = "sigv4"
            max_connections = 64
            header_read_timeout_secs = 5
            max_queues_per_account = 100
            max_stored_message_bytes = 1048576
            [[credentials]]
            access_key_id = "AKID"
            secret_access_key = "secret"
            account_id = "111122223333"
            [[credentials]]
            access_key_id = "ASIA"
            secret_access_key = "secret2"
            account_id = "444455556666"
            session_token = "token"
            "#,
        );
        assert_eq!(config.auth, Some(AuthMode::Sigv4));
        assert_eq!(config.credentials.len(), 2);
        assert_eq!(config.credentials[1].session_token.as_deref(), Some("token"));
        assert_eq!((config.max_connections, config.header_read_timeout_secs), (Some(64), Some(5)));
        assert_eq!((config.max_queues_per_account, config.max_stored_message_bytes), (Some(100), Some(1 << 20)));
    }

    #[test]
    fn errors_name_the_file_the_queue_and_the_field() {
        let engine = Engine::default();
        let bad_value = parse("[[queue]]\nname = \"q\"\nattributes = { VisibilityTimeout = 99999 }");
        let error = declare_queues(&engine, &bad_value.queues, "test.toml").unwrap_err().to_string();
        assert!(error.starts_with("test.toml: queue \"q\":") && error.contains("VisibilityTimeout"), "{error}");

        let missing_dlq = parse("[[queue]]\nname = \"q\"\ndead_letter_queue = \"nope\"");
        let error = declare_queues(&engine, &missing_dlq.queues, "test.toml").unwrap_err().to_string();
        assert!(error.contains("dead_letter_queue \"nope\" is not declared"), "{error}");

        let unknown_field = ConfigFile::parse("[[queue]]\nname = \"q\"\nvisibility = 3", "test.toml").unwrap_err();
        let bad_auth = ConfigFile::parse("auth = \"basic\"", "test.toml").unwrap_err();
        assert!(bad_auth.to_string().contains("auth"), "{bad_auth}");
        assert!(unknown_field.to_string().contains("visibility"), "{unknown_field}");
    }
}
