//! [`ApiMetrics`]: the [`BackendObserver`] that counts every request in
//! [`API_CALLS`](crate::telemetry::API_CALLS) (by action and outcome) and batch sizes in
//! [`BATCH_SIZE`](crate::telemetry::BATCH_SIZE). Producers, consumers and queue monitors wrap their backend
//! with [`metered`], so API calls are counted in this one place.

use std::sync::Arc;

use super::SqsBackend;
use super::observed::{BackendObserver, Call, Observed, Reply};
use crate::telemetry::record_api_call;

/// Records each request in the crate's metrics once it is answered.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiMetrics;

impl BackendObserver for ApiMetrics {
    fn after(&self, call: &Call<'_>, reply: Reply<'_>) {
        let batch_size = match reply {
            Reply::Received(messages) => Some(messages.len()),
            _ => call.batch_size(),
        };
        record_api_call(call.action(), reply.is_success(), batch_size);
    }
}

/// Wraps `inner` so its requests are counted in the crate's metrics. Only sqskit's own components wrap, and
/// never a backend they got from another one, so nothing is counted twice.
pub(crate) fn metered(inner: Arc<dyn SqsBackend>) -> Arc<dyn SqsBackend> {
    Arc::new(Observed::wrap(inner, ApiMetrics))
}
