//! FIFO message groups: the messages of one group are processed strictly one job after another, groups in
//! parallel. When a job fails, the jobs queued behind it in its group are released (visibility 0) without
//! being started; SQS keeps the group blocked while the failed message is in flight, so the group is
//! redelivered in order. Other groups are never held up.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::core::{Admitted, Shared};
use super::process::{execute, release_all};
use super::settle::SettleKind;

type Job = Vec<Admitted>;

/// The active groups and the jobs queued behind each. A group is in the map exactly while a worker task
/// runs for it.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    active: Mutex<HashMap<String, VecDeque<Job>>>,
}

impl Groups {
    // Every operation is a single map update, so a poisoned lock is still consistent.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Job>>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` behind its group. Returns it back when the group was idle: the caller must start a
    /// worker for it.
    fn enqueue(&self, group: &str, job: Job) -> Option<Job> {
        let mut active = self.lock();
        match active.get_mut(group) {
            Some(queue) => {
                queue.push_back(job);
                None
            }
            None => {
                active.insert(group.to_owned(), VecDeque::new());
                Some(job)
            }
        }
    }

    /// The group's next job, or `None` after marking the group idle (atomically).
    fn next(&self, group: &str) -> Option<Job> {
        let mut active = self.lock();
        let next = active.get_mut(group).and_then(VecDeque::pop_front);
        if next.is_none() {
            active.remove(group);
        }
        next
    }

    /// Takes every job queued behind the group's current one.
    fn take_queued(&self, group: &str) -> Vec<Job> {
        self.lock().get_mut(group).map(|queue| queue.drain(..).collect()).unwrap_or_default()
    }

    /// Takes every queued job of every group (for shutdown after the workers were aborted).
    pub(crate) fn drain(&self) -> Vec<Job> {
        self.lock().drain().flat_map(|(_, queue)| queue).collect()
    }
}

/// Splits one receive's messages into per-group jobs, in receive order: one job per message for a single
/// handler, one per group for a batch handler.
pub(crate) fn group_jobs(messages: Vec<Admitted>, one_per_message: bool) -> Vec<(String, Job)> {
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for admitted in messages {
        let group = admitted.message.group_id().unwrap_or_default().to_owned();
        if !one_per_message {
            if let Some((_, job)) = jobs.iter_mut().find(|(g, _)| *g == group) {
                job.push(admitted);
                continue;
            }
        }
        jobs.push((group, vec![admitted]));
    }
    jobs
}

/// Queues each job behind its group, starting a worker for groups that were idle.
pub(crate) fn dispatch<T: Send + 'static>(shared: &Arc<Shared<T>>, jobs: Vec<(String, Job)>) {
    for (group, job) in jobs {
        if let Some(job) = shared.core.groups.enqueue(&group, job) {
            let worker_shared = shared.clone();
            shared.core.spawn(group_worker(worker_shared, group, job));
        }
    }
}

async fn group_worker<T: Send + 'static>(shared: Arc<Shared<T>>, group: String, first: Job) {
    let mut job = first;
    loop {
        if !execute(&shared, job).await {
            let kind = if shared.core.is_stopping() { SettleKind::ReleasedUnstarted } else { SettleKind::Released };
            for held in shared.core.groups.take_queued(&group) {
                release_all(&shared, held, kind).await;
            }
        }
        match shared.core.groups.next(&group) {
            Some(next) => job = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_active_until_its_queue_runs_dry() {
        let groups = Groups::default();
        assert!(groups.enqueue("g", Vec::new()).is_some(), "idle group: start a worker");
        assert!(groups.enqueue("g", Vec::new()).is_none(), "active group: queued");
        assert!(groups.next("g").is_some());
        assert!(groups.next("g").is_none(), "queue empty: the group goes idle");
        assert!(groups.enqueue("g", Vec::new()).is_some(), "idle again");
    }
}
