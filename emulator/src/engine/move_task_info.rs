//! What a message move task reports (ListMessageMoveTasks, durable storage): its status and progress.

use super::clock::Timestamp;

/// The status of a message move task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveTaskStatus {
    /// Moving messages.
    Running,
    /// Asked to stop; will stop at its next step.
    Cancelling,
    /// Stopped on request.
    Cancelled,
    /// Moved every message it set out to move.
    Completed,
    /// Stopped by an error (see the failure reason).
    Failed,
}

impl MoveTaskStatus {
    /// Every status.
    pub const ALL: [MoveTaskStatus; 5] =
        [Self::Running, Self::Cancelling, Self::Cancelled, Self::Completed, Self::Failed];

    /// The status as AWS spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }
}

/// A snapshot of a message move task, as ListMessageMoveTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTaskInfo {
    /// The task handle (reported only while the task runs).
    pub task_handle: Option<String>,
    /// The status.
    pub status: MoveTaskStatus,
    /// The dead-letter queue being redriven.
    pub source_arn: String,
    /// The destination, when one was given.
    pub destination_arn: Option<String>,
    /// The rate limit, when one was given.
    pub max_number_of_messages_per_second: Option<u64>,
    /// Messages moved so far.
    pub approximate_number_of_messages_moved: u64,
    /// Messages the task set out to move.
    pub approximate_number_of_messages_to_move: u64,
    /// Why the task failed.
    pub failure_reason: Option<String>,
    /// When the task started.
    pub started_timestamp: Timestamp,
}
