//! Queue management: create, look up, list, delete, attributes and purge, with the validation of names and
//! of the settings that span attributes or queues.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Engine;
use super::attributes::{DeduplicationScope, FifoThroughputLimit, QueueAttributeName, QueueSettings};
use super::events::StorageEvent;
use super::listing::{QueueListing, page};
use super::queue::QueueState;
use super::region::parse_queue_arn;
use super::tags::validate_tags;
use crate::documents::RedrivePolicy;
use crate::error::{ErrorCode, SqsError};

/// How long a deleted queue's name stays blocked, and how often a queue may be purged (SQS: 60 s both).
const NAME_BLOCK_AFTER_DELETE: Duration = Duration::from_secs(60);
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
const MAX_QUEUE_NAME_LEN: usize = 80;

impl Engine {
    /// Creates a queue in the default account (in this handle's region), or returns quietly if it exists with the
    /// same values for every attribute given.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad name; `InvalidAttributeName` / `InvalidAttributeValue` for bad
    /// attributes; `QueueNameExists` when it exists with other values; `QueueDeletedRecently` within 60 s of a
    /// delete of the same name; `OverLimit` when the account owns as many queues as it may.
    pub fn create_queue(
        &self,
        name: &str,
        attributes: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<(), SqsError> {
        self.create_queue_in(&self.shared.config.account_id.clone(), name, attributes, tags)
    }

    /// Creates a queue owned by `account` in this handle's region (see [`Engine::create_queue`]).
    ///
    /// # Errors
    /// As [`Engine::create_queue`].
    pub fn create_queue_in(
        &self,
        account: &str,
        name: &str,
        attributes: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<(), SqsError> {
        self.check_storage()?;
        let requests_fifo = attributes.iter().any(|(k, v)| k == "FifoQueue" && v.eq_ignore_ascii_case("true"));
        validate_queue_name(name, requests_fifo)?;
        let now = self.now();
        if let Ok(existing) = self.queue_in(account, name) {
            // The request's attributes are checked as for a new queue first: a FIFO-only attribute for a
            // standard queue is an unknown attribute, and both kinds of encryption at once are refused, not
            // reported as a different value of an existing queue.
            check_one_encryption(attributes)?;
            let state = existing.lock();
            if !state.settings.fifo_queue {
                if let Some((key, _)) = attributes
                    .iter()
                    .find(|(key, _)| key.parse::<QueueAttributeName>().is_ok_and(QueueAttributeName::is_fifo_only))
                {
                    return Err(SqsError::unknown_attribute(key));
                }
            }
            let mut candidate = state.settings.clone();
            for (key, value) in attributes {
                candidate.apply(key, value)?;
            }
            if candidate != state.settings {
                let differing = attributes
                    .iter()
                    .find_map(|(key, _)| {
                        let attribute: QueueAttributeName = key.parse().ok()?;
                        (candidate.render(attribute) != state.settings.render(attribute)).then_some(key.as_str())
                    })
                    .unwrap_or("attributes");
                return Err(SqsError::new(
                    ErrorCode::QueueNameExists,
                    format!(
                        "A queue already exists with the same name and a different value for attribute {differing}"
                    ),
                ));
            }
            return Ok(());
        }
        let settings = self.settings_with(QueueSettings::default(), attributes, account, name, true)?;
        let tags = validate_tags(name, BTreeMap::new(), tags)?;

        let mut queues = self.shared.queues.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.shared.config.queue_deleted_recently {
            let mut deleted = self.shared.recently_deleted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            deleted.retain(|_, at| *at + NAME_BLOCK_AFTER_DELETE > now);
            if deleted.contains_key(&(self.region.to_string(), account.to_owned(), name.to_owned())) {
                return Err(SqsError::new(
                    ErrorCode::QueueDeletedRecently,
                    "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
                ));
            }
        }
        // Another request may have created it between the check above and the write lock: treat as existing.
        if !queues.contains(&self.region, account, name) {
            let limit = self.shared.config.max_queues_per_account;
            if queues.count(&self.region, account) >= limit {
                // AWS documents no queue quota; OverLimit is its error for "a limit was exceeded".
                return Err(SqsError::new(
                    ErrorCode::OverLimit,
                    format!("You have reached the maximum number of queues ({limit}) for this account."),
                ));
            }
            let uid = self.shared.next_queue_uid.fetch_add(1, Ordering::Relaxed);
            if let Some(sink) = &self.shared.sink {
                sink.append(vec![StorageEvent::QueueCreated {
                    uid,
                    name: self.storage_name(&self.region, account, name),
                    attributes: settings.to_pairs(),
                    tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    created_at: now,
                }]);
            }
            let state = QueueState::new(settings, tags, now);
            queues.insert(self.new_queue(uid, &self.region, account, name, state));
        }
        Ok(())
    }

    /// Applies attributes to `settings` and checks the rules that span attributes or queues.
    fn settings_with(
        &self,
        mut settings: QueueSettings,
        attributes: &[(String, String)],
        account: &str,
        queue_name: &str,
        creating: bool,
    ) -> Result<QueueSettings, SqsError> {
        let was_fifo = settings.fifo_queue;
        check_one_encryption(attributes)?;
        for (key, value) in attributes {
            let attribute = settings.apply(key, value)?;
            if attribute == QueueAttributeName::FifoQueue && !creating && settings.fifo_queue != was_fifo {
                return Err(SqsError::invalid_attribute_value("FifoQueue"));
            }
        }
        if !settings.fifo_queue {
            if let Some((key, _)) = attributes
                .iter()
                .find(|(key, _)| key.parse::<QueueAttributeName>().is_ok_and(QueueAttributeName::is_fifo_only))
            {
                return Err(SqsError::unknown_attribute(key));
            }
        }
        if settings.fifo_throughput_limit == FifoThroughputLimit::PerMessageGroupId
            && settings.deduplication_scope != DeduplicationScope::MessageGroup
        {
            return Err(SqsError::new(
                ErrorCode::InvalidAttributeValue,
                "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId is allowed only when \
                 DeduplicationScope is messageGroup.",
            ));
        }
        if let Some(policy) = &settings.redrive_policy {
            self.check_dead_letter_target(policy, account, queue_name, settings.fifo_queue)?;
        }
        Ok(settings)
    }

    fn check_dead_letter_target(
        &self,
        policy: &RedrivePolicy,
        account: &str,
        source_name: &str,
        source_is_fifo: bool,
    ) -> Result<(), SqsError> {
        let invalid = |reason: &str| SqsError::invalid_parameter_value("RedrivePolicy", policy.render(), reason);
        // The dead-letter queue must be in the source's account and region: "A dead letter queue must be created
        // using the same AWS account and region as the source queue"
        // (<https://docs.aws.amazon.com/sdk-for-java/v1/developer-guide/examples-sqs-dead-letter-queues.html>);
        // a queue of another region or account is, from the source's region, one that does not exist.
        let target = parse_queue_arn(&policy.dead_letter_target_arn)
            .filter(|(region, owner, _)| *region == &*self.region && owner == &account)
            .and_then(|(_, _, name)| self.queue_in(account, name).ok())
            .ok_or_else(|| invalid("Dead letter target does not exist."))?;
        if target.is_fifo() != source_is_fifo {
            return Err(invalid("Dead-letter queue must be same type of queue as the source."));
        }
        let source_arn = self.queue_arn_in(account, source_name);
        let allowed =
            target.lock().settings.redrive_allow_policy.as_ref().is_none_or(|allow| allow.allows(&source_arn));
        if !allowed {
            return Err(invalid(&format!(
                "Queue {source_arn} is not allowed to use {} as its dead-letter queue.",
                target.arn
            )));
        }
        Ok(())
    }

    /// Checks that a queue exists (GetQueueUrl) in `owner_account_id`, or else in the default account, in this
    /// handle's region.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn get_queue_url(&self, name: &str, owner_account_id: Option<&str>) -> Result<(), SqsError> {
        self.get_queue_url_in(&self.shared.config.account_id, name, owner_account_id)
    }

    /// Checks that a queue exists in `owner_account_id`, or else in the caller's `account`, in this handle's
    /// region.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn get_queue_url_in(&self, account: &str, name: &str, owner_account_id: Option<&str>) -> Result<(), SqsError> {
        self.queue_in(owner_account_id.unwrap_or(account), name).map(|_| ())
    }

    /// Lists queue names of the default account in this handle's region, with an optional prefix; pages when
    /// `max_results` is given (SPEC.md §6 ListQueues).
    ///
    /// # Errors
    /// `InvalidParameterValue` for `max_results` outside 1..=1000 or a token this engine did not issue.
    pub fn list_queues(
        &self,
        prefix: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<QueueListing, SqsError> {
        self.list_queues_in(&self.shared.config.account_id, prefix, max_results, next_token)
    }

    /// Lists the queues `account` owns in this handle's region (see [`Engine::list_queues`]).
    ///
    /// # Errors
    /// As [`Engine::list_queues`].
    pub fn list_queues_in(
        &self,
        account: &str,
        prefix: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<QueueListing, SqsError> {
        let prefix = prefix.unwrap_or_default();
        let names: Vec<String> = {
            let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            queues
                .of(&self.region, account)
                .map(|queue| &queue.name)
                .filter(|name| name.starts_with(prefix))
                .cloned()
                .collect()
        };
        let mut listing = page(names.into_iter(), max_results, next_token)?;
        account.clone_into(&mut listing.account);
        Ok(listing)
    }

    /// Deletes a queue and its messages; its name is blocked for 60 seconds (unless
    /// [`EngineConfig::queue_deleted_recently`](super::EngineConfig::queue_deleted_recently) is off).
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn delete_queue(&self, queue_url: &str) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        let mut queues = self.shared.queues.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.remove(&queue.region, &queue.account, &queue.name);
        {
            // Under the queue's lock: a send that found the queue before it left the namespace either stored its
            // message before this point (and its row goes with the queue's) or finds the journal off and writes
            // nothing, so no row outlives the queue. Changes still in the journal are handed over first (the
            // guard does that at release; here they precede the deletion, which covers them).
            let mut state = queue.lock();
            let pending = state.take_events();
            state.disable_journal();
            if let Some(sink) = &self.shared.sink {
                let uid = queue.uid;
                let mut events: Vec<StorageEvent> =
                    pending.into_iter().map(|event| StorageEvent::Queue { uid, event }).collect();
                events.push(StorageEvent::QueueDeleted { uid });
                sink.append(events);
            }
            // Its messages no longer count against the memory budget.
            state.purge_usage();
            queue.deleted.store(true, Ordering::Release);
        }
        drop(queues);
        let mut deleted = self.shared.recently_deleted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        deleted.insert((queue.region.clone(), queue.account.clone(), queue.name.clone()), self.now());
        queue.notify.notify_waiters();
        Ok(())
    }

    /// The named attributes (or all that apply, for `All`) with their current values.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `InvalidAttributeName` for an unknown name.
    pub fn get_queue_attributes(
        &self,
        queue_url: &str,
        names: &[String],
    ) -> Result<Vec<(QueueAttributeName, String)>, SqsError> {
        let queue = self.queue(queue_url)?;
        let requested: Vec<QueueAttributeName> =
            names.iter().map(|name| name.parse()).collect::<Result<_, SqsError>>()?;
        let wanted: Vec<QueueAttributeName> = if requested.contains(&QueueAttributeName::All) {
            QueueAttributeName::ALL_NAMES.to_vec()
        } else {
            let mut unique = Vec::with_capacity(requested.len());
            for name in requested {
                if !unique.contains(&name) {
                    unique.push(name);
                }
            }
            unique
        };
        let now = self.now();
        let mut state = queue.lock();
        state.tick(now);
        let counts = state.counts();
        let values = wanted
            .into_iter()
            .filter_map(|name| {
                let value = match name {
                    QueueAttributeName::QueueArn => Some(queue.arn.clone()),
                    QueueAttributeName::ApproximateNumberOfMessages => Some(counts.visible.to_string()),
                    QueueAttributeName::ApproximateNumberOfMessagesNotVisible => Some(counts.in_flight.to_string()),
                    QueueAttributeName::ApproximateNumberOfMessagesDelayed => Some(counts.delayed.to_string()),
                    QueueAttributeName::CreatedTimestamp => Some(state.created_at.as_secs().to_string()),
                    QueueAttributeName::LastModifiedTimestamp => Some(state.last_modified_at.as_secs().to_string()),
                    other => state.settings.render(other),
                };
                value.map(|value| (name, value))
            })
            .collect();
        Ok(values)
    }

    /// Changes queue attributes; all or nothing.
    ///
    /// # Errors
    /// `QueueDoesNotExist`, `InvalidAttributeName`, `InvalidAttributeValue`, `InvalidParameterValue`.
    pub fn set_queue_attributes(&self, queue_url: &str, attributes: &[(String, String)]) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        // The new settings are computed outside the queue's lock (validating a redrive policy looks at its
        // dead-letter queue, and no two queue locks are ever held at once), then written only if nothing changed
        // them meanwhile: a concurrent SetQueueAttributes or AddPermission is never overwritten with stale
        // settings; on a conflict the change is recomputed on top of the newer settings.
        let mut state = loop {
            let current = queue.lock().settings.clone();
            let updated = self.settings_with(current.clone(), attributes, &queue.account, &queue.name, false)?;
            let mut state = queue.lock();
            if state.settings == current {
                state.settings = updated;
                break state;
            }
        };
        let now = self.now();
        state.last_modified_at = now;
        state.record_metadata();
        state.tick(now);
        drop(state);
        // A shorter retention or a removed delay can change what long polls may return.
        queue.notify.notify_waiters();
        Ok(())
    }

    /// Whether `account`'s queue `name` (in this handle's region) is a FIFO queue in high-throughput mode: `DeduplicationScope`
    /// `messageGroup` and `FifoThroughputLimit` `perMessageGroupId` ("If you change any of the settings required
    /// for using high throughput for FIFO queues, normal throughput is in effect",
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/enable-high-throughput-fifo.html>).
    /// `false` for a queue that does not exist.
    pub fn is_high_throughput_fifo(&self, account: &str, name: &str) -> bool {
        self.queue_in(account, name).is_ok_and(|queue| {
            let state = queue.lock();
            state.settings.fifo_queue
                && state.settings.deduplication_scope == DeduplicationScope::MessageGroup
                && state.settings.fifo_throughput_limit == FifoThroughputLimit::PerMessageGroupId
        })
    }

    /// Deletes every message of a queue; at most once per 60 seconds.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `PurgeQueueInProgress` within 60 s of the previous purge.
    pub fn purge_queue(&self, queue_url: &str) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        let now = self.now();
        let mut state = queue.lock();
        if state.last_purge_at.is_some_and(|at| at + PURGE_INTERVAL > now) {
            return Err(SqsError::new(
                ErrorCode::PurgeQueueInProgress,
                format!("Only one PurgeQueue operation on {} is allowed every 60 seconds.", queue.name),
            ));
        }
        state.purge();
        state.last_purge_at = Some(now);
        state.record_metadata();
        Ok(())
    }
}

/// SSE-KMS and SSE-SQS exclude each other: a request that turns both on fails as AWS answers it (its recorded
/// response in LocalStack's AWS-validated `test_sse_kms_and_sqs_are_mutually_exclusive`,
/// <https://github.com/localstack/localstack>, `tests/integration/test_sqs.snapshot.json`). Turning one on alone
/// turns the other off (see [`QueueSettings::apply`]).
fn check_one_encryption(attributes: &[(String, String)]) -> Result<(), SqsError> {
    let value = |name: &str| attributes.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let kms = value("KmsMasterKeyId").is_some_and(|key| !key.is_empty());
    let sqs = value("SqsManagedSseEnabled").is_some_and(|flag| flag.eq_ignore_ascii_case("true"));
    if kms && sqs {
        return Err(SqsError::new(
            ErrorCode::InvalidAttributeName,
            "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS \
             SSE.",
        ));
    }
    Ok(())
}

fn validate_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let base = if fifo { name.strip_suffix(".fifo") } else { Some(name) };
    let valid = base.is_some_and(|base| {
        !base.is_empty()
            && name.len() <= MAX_QUEUE_NAME_LEN
            && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if valid {
        Ok(())
    } else if fifo || name.ends_with(".fifo") {
        Err(SqsError::invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end \
             with .fifo suffix and be 1 to 80 in length.",
        ))
    } else {
        Err(SqsError::invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}
