//! Message move tasks: redriving a dead-letter queue's messages back to their sources (or to a named
//! destination) at a limited rate, with their listing, cancellation and start-up recovery (SPEC.md §13).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::clock::Timestamp;
use super::events::StorageEvent;
use super::move_task_info::{MoveTaskInfo, MoveTaskStatus};
use super::region::parse_queue_arn;
use super::stored::{MessageState, StoredMessage};
use super::{Engine, Queue};
use crate::error::{ErrorCode, SqsError};

/// The rate of a move task that names none ("system-chosen" on AWS).
const DEFAULT_MOVE_RATE: u64 = 500;
const MAX_MOVE_RATE: i64 = 500;
/// Most recent tasks kept (and listable) per source queue.
const TASKS_KEPT_PER_SOURCE: usize = 10;
const MAX_LISTED_TASKS: i64 = 10;

/// One move task: what it moves where, its progress and its status.
#[derive(Debug)]
struct MoveTask {
    handle: String,
    source_arn: String,
    destination_arn: Option<String>,
    rate: Option<u64>,
    started_at: Timestamp,
    to_move: u64,
    moved: AtomicU64,
    status: Mutex<(MoveTaskStatus, Option<String>)>,
    cancel: CancellationToken,
    /// Set (under the status lock) when a reset forgot the task: its states are not stored any more, so none
    /// can be written after the storage event that deletes its rows.
    forgotten: AtomicBool,
}

impl MoveTask {
    fn status(&self) -> MoveTaskStatus {
        self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0
    }

    fn finish(&self, status: MoveTaskStatus, reason: Option<String>) {
        *self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = (status, reason);
    }

    fn info(&self) -> MoveTaskInfo {
        let status = self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.info_with(&status)
    }

    /// The task's state, given its locked status.
    fn info_with(&self, (status, failure_reason): &(MoveTaskStatus, Option<String>)) -> MoveTaskInfo {
        let (status, failure_reason) = (*status, failure_reason.clone());
        MoveTaskInfo {
            task_handle: (status == MoveTaskStatus::Running).then(|| self.handle.clone()),
            status,
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            max_number_of_messages_per_second: self.rate,
            approximate_number_of_messages_moved: self.moved.load(Ordering::Acquire),
            approximate_number_of_messages_to_move: self.to_move,
            failure_reason,
            started_timestamp: self.started_at,
        }
    }
}

/// Every move task, newest last, by source ARN.
#[derive(Debug, Default)]
pub(crate) struct MoveTasks {
    by_source: Mutex<HashMap<String, Vec<Arc<MoveTask>>>>,
}

impl Engine {
    /// Starts moving the messages of a dead-letter queue back to their sources (or to `destination_arn`).
    ///
    /// # Errors
    /// `MissingParameter`; `ResourceNotFoundException` when the source or destination does not exist;
    /// `InvalidParameterValue` when the source is not a dead-letter queue, a task already runs for it, the
    /// queue types differ, or the rate is outside 1..=500.
    pub fn start_message_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_number_of_messages_per_second: Option<i64>,
    ) -> Result<String, SqsError> {
        self.check_storage()?;
        if source_arn.is_empty() {
            return Err(SqsError::missing_parameter("SourceArn"));
        }
        let rate = match max_number_of_messages_per_second {
            None => None,
            Some(rate) if (1..=MAX_MOVE_RATE).contains(&rate) => Some(rate as u64),
            Some(rate) => return Err(SqsError::out_of_range("MaxNumberOfMessagesPerSecond", rate, 1, MAX_MOVE_RATE)),
        };
        let source = self.queue_by_arn_here(source_arn).ok_or_else(source_not_found)?;
        let is_dead_letter_queue = {
            let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            queues.values().any(|queue| {
                queue.lock().settings.redrive_policy.as_ref().is_some_and(|p| p.dead_letter_target_arn == source.arn)
            })
        };
        if !is_dead_letter_queue {
            return Err(SqsError::invalid_parameter("Source queue must be configured as a Dead Letter Queue."));
        }
        if let Some(destination_arn) = destination_arn {
            let destination = self.queue_by_arn_here(destination_arn).ok_or_else(|| {
                SqsError::new(
                    ErrorCode::ResourceNotFoundException,
                    "The resource that you specified for the DestinationArn parameter doesn't exist.",
                )
            })?;
            if destination.is_fifo() != source.is_fifo() {
                return Err(SqsError::invalid_parameter(
                    "The source queue and the destination queue must be of the same queue type.",
                ));
            }
        }
        let mut tasks = self.shared.move_tasks.by_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let history = tasks.entry(source.arn.clone()).or_default();
        if history.iter().any(|task| matches!(task.status(), MoveTaskStatus::Running | MoveTaskStatus::Cancelling)) {
            return Err(SqsError::invalid_parameter(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given \
                 time.",
            ));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            tracing::error!("StartMessageMoveTask needs a tokio runtime");
            SqsError::internal()
        })?;
        let to_move = source.lock().counts().visible as u64;
        let task = Arc::new(MoveTask {
            handle: encode_task_handle(&source.arn),
            source_arn: source.arn.clone(),
            destination_arn: destination_arn.map(str::to_owned),
            rate,
            started_at: self.now(),
            to_move,
            moved: AtomicU64::new(0),
            status: Mutex::new((MoveTaskStatus::Running, None)),
            cancel: CancellationToken::new(),
            forgotten: AtomicBool::new(false),
        });
        history.push(Arc::clone(&task));
        if history.len() > TASKS_KEPT_PER_SOURCE {
            history.remove(0);
        }
        drop(tasks);
        self.persist_task(&task);
        let engine = self.clone();
        let handle = task.handle.clone();
        runtime.spawn(async move { engine.run_move_task(task).await });
        Ok(handle)
    }

    /// Tells storage about a task's current state. The status lock is held from reading the state to appending
    /// it, so storage receives a task's states in the order they were set (a step's snapshot taken before a
    /// cancel can never be written after the cancel's).
    fn persist_task(&self, task: &MoveTask) {
        if let Some(sink) = &self.shared.sink {
            let status = task.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if task.forgotten.load(Ordering::Relaxed) {
                return;
            }
            sink.append(vec![StorageEvent::MoveTaskChanged {
                handle: task.handle.clone(),
                info: task.info_with(&status),
            }]);
        }
    }

    /// Puts stored tasks back (start-up recovery): running tasks resume; a task that was being cancelled is
    /// cancelled.
    pub(crate) fn restore_move_tasks(&self, stored: Vec<(String, MoveTaskInfo)>) {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let mut tasks = self.shared.move_tasks.by_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (handle, info) in stored {
            let status = match info.status {
                MoveTaskStatus::Running if runtime.is_some() => MoveTaskStatus::Running,
                MoveTaskStatus::Running | MoveTaskStatus::Cancelling => MoveTaskStatus::Cancelled,
                other => other,
            };
            let task = Arc::new(MoveTask {
                handle,
                source_arn: info.source_arn.clone(),
                destination_arn: info.destination_arn,
                rate: info.max_number_of_messages_per_second,
                started_at: info.started_timestamp,
                to_move: info.approximate_number_of_messages_to_move,
                moved: AtomicU64::new(info.approximate_number_of_messages_moved),
                status: Mutex::new((status, info.failure_reason)),
                cancel: CancellationToken::new(),
                forgotten: AtomicBool::new(false),
            });
            let history = tasks.entry(info.source_arn).or_default();
            history.push(Arc::clone(&task));
            if history.len() > TASKS_KEPT_PER_SOURCE {
                history.remove(0);
            }
            if let (MoveTaskStatus::Running, Some(runtime)) = (status, &runtime) {
                let engine = self.clone();
                runtime.spawn(async move { engine.run_move_task(task).await });
            }
        }
    }

    /// Drives one move task to its end and records the outcome.
    async fn run_move_task(&self, task: Arc<MoveTask>) {
        self.drive_move_task(&task).await;
        self.persist_task(&task);
    }

    /// Each step moves as many messages as the rate allows for the time elapsed.
    async fn drive_move_task(&self, task: &MoveTask) {
        let rate = task.rate.unwrap_or(DEFAULT_MOVE_RATE);
        let step = Duration::from_millis((1000 / rate).max(100));
        // Count the rate from the task's start, not from when this task first ran.
        let mut last = task.started_at;
        // A task resumed after a restart has already spent part of its budget.
        let mut allowance: f64 = -(task.moved.load(Ordering::Acquire) as f64);
        loop {
            if task.cancel.is_cancelled() {
                task.finish(MoveTaskStatus::Cancelled, None);
                return;
            }
            if self.shared.shutdown.is_cancelled() {
                // The emulator is stopping, not the task: it stays RUNNING and resumes at the next start.
                return;
            }
            let now = self.now();
            allowance += rate as f64 * now.saturating_since(last).as_secs_f64();
            last = now;
            let remaining = task.to_move.saturating_sub(task.moved.load(Ordering::Acquire));
            let batch = (allowance.floor() as u64).min(remaining);
            if batch > 0 {
                // One step is one transaction: the removals from the source, the insertions into the
                // destinations and the task's new counter reach the disk together or not at all.
                let atomic = self.atomic();
                match self.move_batch(task, batch as usize, now) {
                    Ok(0) => {
                        task.finish(MoveTaskStatus::Completed, None);
                        return;
                    }
                    Ok(moved) => {
                        task.moved.fetch_add(moved as u64, Ordering::AcqRel);
                        allowance -= moved as f64;
                        self.persist_task(task);
                    }
                    Err(reason) => {
                        task.finish(MoveTaskStatus::Failed, Some(reason));
                        return;
                    }
                }
                drop(atomic);
            }
            if task.moved.load(Ordering::Acquire) >= task.to_move {
                task.finish(MoveTaskStatus::Completed, None);
                return;
            }
            tokio::select! {
                () = self.shared.clock.sleep_until(now + step) => {}
                () = task.cancel.cancelled() => {}
                () = self.shared.shutdown.cancelled() => {}
            }
        }
    }

    /// Moves up to `max` visible messages of the task's source as new messages; returns how many moved. The
    /// caller holds an atomic group ([`Engine::atomic`]) around it.
    fn move_batch(&self, task: &MoveTask, max: usize, now: Timestamp) -> Result<usize, String> {
        let source =
            self.queue_by_arn(&task.source_arn).ok_or_else(|| "AWS.SimpleQueueService.NonExistentQueue".to_owned())?;
        let messages = source.lock().take_visible(max);
        // Resolve every destination before moving anything, so a failure puts every message back.
        let mut destinations: Vec<Arc<Queue>> = Vec::with_capacity(messages.len());
        let mut failure = None;
        for message in &messages {
            let arn = task
                .destination_arn
                .clone()
                .or_else(|| message.extra.as_ref().and_then(|extra| extra.dead_letter_source_arn.clone()));
            match arn.map(|arn| self.queue_by_arn(&arn)) {
                Some(Some(queue)) => destinations.push(queue),
                Some(None) => failure = Some("AWS.SimpleQueueService.NonExistentQueue"),
                // A message that never passed through a redrive policy has no source to go back to.
                None => failure = Some("CouldNotDetermineMessageSource"),
            }
            if failure.is_some() {
                break;
            }
        }
        if let Some(reason) = failure {
            let mut state = source.lock();
            for message in messages {
                state.enqueue(Box::new(message), Duration::ZERO, now);
            }
            return Err(reason.to_owned());
        }
        let count = messages.len();
        for (destination, message) in destinations.into_iter().zip(messages) {
            destination.lock().enqueue(Box::new(redriven(message, now)), Duration::ZERO, now);
            destination.notify.notify_waiters();
        }
        Ok(count)
    }

    /// The most recent move tasks of a source queue, newest first.
    ///
    /// # Errors
    /// `MissingParameter`; `ResourceNotFoundException` for an unknown source; `InvalidParameterValue` for
    /// `max_results` outside 1..=10.
    pub fn list_message_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<i64>,
    ) -> Result<Vec<MoveTaskInfo>, SqsError> {
        if source_arn.is_empty() {
            return Err(SqsError::missing_parameter("SourceArn"));
        }
        let max = match max_results {
            None => 1,
            Some(max) if (1..=MAX_LISTED_TASKS).contains(&max) => max as usize,
            Some(max) => return Err(SqsError::out_of_range("MaxResults", max, 1, MAX_LISTED_TASKS)),
        };
        let source = self.queue_by_arn_here(source_arn).ok_or_else(source_not_found)?;
        let tasks = self.shared.move_tasks.by_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(tasks
            .get(&source.arn)
            .map_or_else(Vec::new, |history| history.iter().rev().take(max).map(|task| task.info()).collect()))
    }

    /// Cancels a running move task; messages already moved stay moved. Returns how many were moved.
    ///
    /// # Errors
    /// `MissingParameter`; `InvalidParameterValue` for a handle that is not one (not the base64 of a task id and
    /// source ARN); `ResourceNotFoundException` when the handle's source queue does not exist, and ("Task does
    /// not exist.") for an unknown task or one that is not running. Texts as docs/aws-behaviour.md records.
    pub fn cancel_message_move_task(&self, task_handle: &str) -> Result<u64, SqsError> {
        self.check_storage()?;
        if task_handle.is_empty() {
            return Err(SqsError::missing_parameter("TaskHandle"));
        }
        let source_arn = decode_task_handle(task_handle)
            .ok_or_else(|| SqsError::invalid_parameter("Value for parameter TaskHandle is invalid."))?;
        if self.queue_by_arn_here(&source_arn).is_none() {
            return Err(source_not_found());
        }
        let not_found = || SqsError::new(ErrorCode::ResourceNotFoundException, "Task does not exist.");
        let tasks = self.shared.move_tasks.by_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A task belongs to its source queue's region: another region's endpoint does not know it.
        let here = |task: &&Arc<MoveTask>| {
            parse_queue_arn(&task.source_arn).is_some_and(|(region, ..)| region == self.region())
        };
        let task = tasks
            .values()
            .flatten()
            .filter(here)
            .find(|task| task.handle == task_handle)
            .cloned()
            .ok_or_else(not_found)?;
        drop(tasks);
        let mut status = task.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if status.0 != MoveTaskStatus::Running {
            return Err(not_found());
        }
        status.0 = MoveTaskStatus::Cancelling;
        // Appended under the status lock: no older snapshot of this task can be written after it, and the
        // dispatcher waits for it to be durable before answering (a restart ends the task cancelled).
        if let Some(sink) = &self.shared.sink {
            sink.append(vec![StorageEvent::MoveTaskChanged {
                handle: task.handle.clone(),
                info: task.info_with(&status),
            }]);
        }
        drop(status);
        task.cancel.cancel();
        Ok(task.moved.load(Ordering::Acquire))
    }
}

/// A redriven message is a new message: new id, new send time, no receives, no dead-letter source.
fn redriven(mut message: StoredMessage, now: Timestamp) -> StoredMessage {
    message.id = Uuid::new_v4();
    message.sent_at = now;
    message.retention_start = now;
    message.set_first_received_at(None);
    message.receive_count = 0;
    message.state = MessageState::Visible;
    let new_id = message.message_id();
    if let Some(extra) = message.extra.as_mut() {
        extra.dead_letter_source_arn = None;
        if extra.deduplication_id.is_some() {
            extra.deduplication_id = Some(new_id);
        }
    }
    message
}

fn encode_task_handle(source_arn: &str) -> String {
    crate::documents::TaskHandle { task_id: Uuid::new_v4().to_string(), source_arn: source_arn.to_owned() }.encode()
}

/// The source ARN of a well-formed task handle; `None` for anything else.
fn decode_task_handle(handle: &str) -> Option<String> {
    crate::documents::TaskHandle::decode(handle).map(|handle| handle.source_arn)
}

/// `ResourceNotFoundException` for a `SourceArn` (given, or inside a task handle) that names no queue.
fn source_not_found() -> SqsError {
    SqsError::new(
        ErrorCode::ResourceNotFoundException,
        "The resource that you specified for the SourceArn parameter doesn't exist.",
    )
}

impl MoveTasks {
    /// Cancels the running tasks of the given source queues and forgets every task of theirs (a reset: the
    /// queues are gone, and a queue created again under the same ARN starts with no history). From now on none
    /// of their states is stored; the caller then tells storage to delete their rows.
    pub(super) fn forget_sources(&self, source_arns: &[String]) {
        let mut tasks = self.by_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for arn in source_arns {
            for task in tasks.remove(arn).into_iter().flatten() {
                let mut status = task.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                task.forgotten.store(true, Ordering::Relaxed);
                if status.0 == MoveTaskStatus::Running {
                    *status = (MoveTaskStatus::Cancelled, None);
                    task.cancel.cancel();
                }
            }
        }
    }
}
