//! The shape the three batch actions share: a request of `QueueUrl` and `Entries`, each entry turned into an
//! engine [`BatchEntry`], the whole-request checks and injected entry faults, one engine call, and a response
//! of `Successful` and `Failed` entries.

use serde::{Deserialize, Serialize};

use super::wire::{BatchResultErrorEntry, IdEntry};
use super::{RequestContext, queue_url};
use crate::engine::{BatchEntry, BatchResult};
use crate::error::SqsError;

/// The input of a batch action: the queue and its entries.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRequest<Entry> {
    queue_url: Option<String>,
    entries: Option<Vec<Entry>>,
}

/// One entry of a batch request: its shape's name in the model and the engine entry it becomes.
pub(super) trait RequestEntry {
    /// The entry shape's model name, e.g. `DeleteMessageBatchRequestEntry` (the batch rules' errors name it).
    const KIND: &'static str;
    /// What the engine takes for one entry.
    type Input;
    /// The engine entry: the entry's `Id` (empty when missing, which the batch rules reject) and its input.
    fn into_entry(self) -> BatchEntry<Self::Input>;
}

impl<Entry: RequestEntry> BatchRequest<Entry> {
    /// Resolves the queue, turns each entry into an engine entry, and runs them through `apply` (called with the
    /// queue URL), except for the entries an injected fault fails.
    ///
    /// # Errors
    /// `MissingParameter` without a queue URL; the whole-request errors of the batch rules; what `apply` returns.
    pub(super) fn run<R>(
        self,
        context: &RequestContext,
        apply: impl FnOnce(&str, Vec<BatchEntry<Entry::Input>>) -> Result<Vec<BatchResult<R>>, SqsError>,
    ) -> Result<Vec<BatchResult<R>>, SqsError> {
        let url = queue_url(context, self.queue_url)?;
        let entries = self.entries.unwrap_or_default().into_iter().map(Entry::into_entry).collect();
        let Some(faults) = &context.entry_faults else { return apply(&url, entries) };
        let (applied, mut failed) = faults.split(entries, Entry::KIND)?;
        let mut results = if applied.is_empty() { Vec::new() } else { apply(&url, applied)? };
        results.append(&mut failed);
        Ok(results)
    }
}

/// The output of a batch action; both lists are always present, as the model requires.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResponse<Success> {
    successful: Vec<Success>,
    failed: Vec<BatchResultErrorEntry>,
}

impl<Success> BatchResponse<Success> {
    /// Sorts the engine's results into successes (rendered by `success` from the entry id and the value) and
    /// failures.
    pub(super) fn from_results<T>(results: Vec<BatchResult<T>>, success: impl Fn(String, T) -> Success) -> Self {
        let mut successful = Vec::with_capacity(results.len());
        let mut failed = Vec::new();
        for BatchResult { id, result } in results {
            match result {
                Ok(value) => successful.push(success(id, value)),
                Err(error) => failed.push(BatchResultErrorEntry::new(id, error)),
            }
        }
        Self { successful, failed }
    }
}

/// Output of `DeleteMessageBatch` and `ChangeMessageVisibilityBatch`: the ids of the entries that succeeded.
pub type IdBatchResponse = BatchResponse<IdEntry>;

impl IdBatchResponse {
    /// Sorts results that carry no value into succeeded ids and failures.
    pub(super) fn from_ids(results: Vec<BatchResult<()>>) -> Self {
        Self::from_results(results, |id, ()| IdEntry { id })
    }
}
