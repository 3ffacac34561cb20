//! The soak run's sampler: once per interval it takes the recorder's window, reads the server's memory and
//! descriptors, asks the endpoint for the main queue's depth, prints one line and keeps the [`Sample`].

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::record::{Recorder, Window};
use super::report::{QueueDepth, Sample};
use crate::conn::{Connection, to_body};
use crate::endpoint::Endpoint;
use crate::procfs::{ProcessProbe, ProcessSample};
use crate::wire::{Action, GetQueueAttributesRequest, GetQueueAttributesResponse};
use crate::{Error, Result};

/// Takes and keeps the samples of one run.
#[derive(Debug)]
pub struct Sampler {
    endpoint: Endpoint,
    depth_request: Bytes,
    probe: Option<ProcessProbe>,
    /// The server at the start of the run, for the first interval's CPU use.
    first_server: Option<ProcessSample>,
    recorder: Arc<Recorder>,
    started: Instant,
    last: Instant,
    totals: Window,
    samples: Vec<Sample>,
}

impl Sampler {
    /// A sampler of the run that started at `started`, reading the depth of `queue_url` and, with `probe`, the
    /// server process.
    pub fn new(
        endpoint: &Endpoint,
        queue_url: &str,
        probe: Option<ProcessProbe>,
        recorder: &Arc<Recorder>,
        started: Instant,
    ) -> Self {
        let depth_request = to_body(&GetQueueAttributesRequest {
            queue_url: Cow::Borrowed(queue_url),
            attribute_names: vec![
                Cow::Borrowed("ApproximateNumberOfMessages"),
                Cow::Borrowed("ApproximateNumberOfMessagesNotVisible"),
            ],
        });
        let first_server = probe.as_ref().and_then(|probe| probe.sample().ok());
        Self {
            endpoint: endpoint.clone(),
            depth_request,
            first_server,
            probe,
            recorder: Arc::clone(recorder),
            started,
            last: started,
            totals: Window::default(),
            samples: Vec::new(),
        }
    }

    /// Closes the current interval: records and prints its sample (to stderr, so that `--json` output stays
    /// one object on stdout).
    pub async fn sample(&mut self) {
        let now = Instant::now();
        let window = self.recorder.take();
        let server = self.probe.as_ref().and_then(|probe| {
            probe
                .sample()
                .map_err(|err| eprintln!("soak: cannot read /proc/{} (has the server exited?): {err}", probe.pid()))
                .ok()
        });
        let depth = match self.depth().await {
            Ok(depth) => Some(depth),
            Err(err) => {
                self.recorder.error(Action::GetQueueAttributes, err);
                None
            }
        };
        let previous = self.samples.last().and_then(|sample| sample.server).or(self.first_server);
        let server_cpu =
            server.zip(previous).and_then(|(server, previous)| server.cpu_since(&previous, now - self.last));
        let sample = Sample::new(now - self.started, now - self.last, &window, server, server_cpu, depth);
        eprintln!("soak {sample}");
        self.totals.merge(&window);
        self.samples.push(sample);
        self.last = now;
    }

    /// The merged counts of every interval, and the samples.
    pub fn finish(self) -> (Window, Vec<Sample>) {
        (self.totals, self.samples)
    }

    /// Reads the main queue's depth on a connection of its own: an interval is longer than the server's idle
    /// timeout, so a kept connection would be closed between samples.
    async fn depth(&self) -> Result<QueueDepth> {
        let mut conn = Connection::open(&self.endpoint).await?;
        let reply = conn.call(Action::GetQueueAttributes, self.depth_request.clone()).await?;
        let response: GetQueueAttributesResponse<'_> = reply.decode(Action::GetQueueAttributes)?;
        let count = |name: &str| {
            response.attributes.get(name).and_then(|value| value.parse().ok()).ok_or_else(|| {
                Error::Scenario(format!("GetQueueAttributes returned no number for {name}: {:?}", response.attributes))
            })
        };
        Ok(QueueDepth {
            visible: count("ApproximateNumberOfMessages")?,
            in_flight: count("ApproximateNumberOfMessagesNotVisible")?,
        })
    }
}
