//! How the storage threads (the writer and the applier) are scheduled: behind the request handlers.
//!
//! On Linux they run under `SCHED_BATCH` (sched(7)): the same share of CPU as any other thread (the nice value is
//! kept), but a batch thread that wakes up does not preempt the thread running on its core; it runs when that one
//! blocks or its time slice ends. When the storage shares a core with the request handlers (a small container, or
//! the pinned benchmark), an append then no longer switches the core to the writer for every request: the
//! handlers go on answering until they wait, and the writer takes everything they appended in one commit. With the
//! emulator pinned to one core, a durable drain ran 16–28% faster and `SendMessageBatch` 6–25% (three alternating
//! pairs; BENCHMARKS.md, issue #20, round eleven); unpinned on two cores the pairs stayed within the noise
//! (0.93–1.09). The cost is latency while the core is busy with other work: a commit can wait up to a time slice
//! (a few milliseconds) for its turn.
//!
//! On other systems the threads keep the default scheduling.

/// Moves the calling thread behind the request handlers (see the module documentation). A failure (a kernel or
/// sandbox that refuses the call) is logged and changes nothing else.
pub(super) fn run_behind_request_handlers() {
    #[cfg(target_os = "linux")]
    if let Err(reason) = linux::batch() {
        tracing::debug!(%reason, "the storage thread keeps its scheduling policy");
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id, thread_schedule_policy,
    };

    /// The `thread-priority` value that the crate turns into nice 0 for a normal policy (it maps 0..=99 onto the
    /// nice values 19..=-20 and sets the nice value along with the policy); 46 and 48 map to 0 as well.
    const NICE_ZERO: u8 = 47;

    /// Switches the calling thread from the default policy to `SCHED_BATCH`; a thread under another policy (an
    /// embedding process may run its threads real-time) or with a nice value other than 0 (the crate would reset
    /// it) is left as it is.
    pub(super) fn batch() -> Result<(), String> {
        let policy = thread_schedule_policy().map_err(|error| format!("{error:?}"))?;
        if policy != ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other) {
            return Err(format!("it runs under {policy:?}, not the default policy"));
        }
        let nice = rustix::process::getpriority_process(None).map_err(|error| error.to_string())?;
        if nice != 0 {
            return Err(format!("its nice value is {nice}, which switching the policy would reset"));
        }
        let priority = ThreadPriorityValue::try_from(NICE_ZERO).map_err(|error| error.to_string())?;
        set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Crossplatform(priority),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
        )
        .map_err(|error| format!("{error:?}"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_storage_thread_runs_as_a_batch_thread_with_its_nice_value_kept() {
            std::thread::spawn(|| {
                let default = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
                let policy_before = thread_schedule_policy().expect("policy");
                let nice_before = rustix::process::getpriority_process(None).expect("nice");
                super::super::run_behind_request_handlers();
                let policy = thread_schedule_policy().expect("policy");
                let nice_after = rustix::process::getpriority_process(None).expect("nice");
                if policy_before == default && nice_before == 0 {
                    assert_eq!(policy, ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch));
                } else {
                    assert_eq!(policy, policy_before, "a thread that is not at the defaults is left alone");
                }
                assert_eq!(nice_after, nice_before, "the nice value is kept");
            })
            .join()
            .expect("the thread");
        }
    }
}
