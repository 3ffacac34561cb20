//! One soak connection: waits for its slot, sends, records the outcome, and reconnects after a transport error,
//! so that a failed request is counted instead of ending the run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use super::pace::Pacer;
use super::record::Recorder;
use crate::Error;
use crate::conn::{Connection, Reply};
use crate::endpoint::Endpoint;
use crate::wire::Action;

/// How long a caller waits after a failed reconnect before its next slot, so that a dead endpoint is not
/// hammered when the run has no rate limit.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// The run is over; workers return this to unwind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// A paced, recorded, self-healing connection.
#[derive(Debug)]
pub struct Caller {
    endpoint: Endpoint,
    conn: Option<Connection>,
    pacer: Arc<Pacer>,
    recorder: Arc<Recorder>,
}

impl Caller {
    /// A caller that starts on `conn`, an open connection to `endpoint`, and opens a new one when it breaks.
    pub fn new(endpoint: &Endpoint, conn: Connection, pacer: &Arc<Pacer>, recorder: &Arc<Recorder>) -> Self {
        Self { endpoint: endpoint.clone(), conn: Some(conn), pacer: Arc::clone(pacer), recorder: Arc::clone(recorder) }
    }

    /// The recorder this caller reports to.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Waits for a slot and sends `body` as `action`: the 200 reply, `None` after a recorded failure.
    ///
    /// # Errors
    ///
    /// [`Stop`] once the run is over; nothing is sent then.
    pub async fn call(&mut self, action: Action, body: Bytes) -> Result<Option<Reply>, Stop> {
        if !self.pacer.wait_turn().await {
            return Err(Stop);
        }
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => match Connection::open(&self.endpoint).await {
                Ok(conn) => self.conn.insert(conn),
                Err(err) => {
                    self.recorder.error(action, format_args!("reconnecting: {err}"));
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    return Ok(None);
                }
            },
        };
        let sent_at = Instant::now();
        match conn.call(action, body).await {
            Ok(reply) => {
                self.recorder.answered(action, reply.received_at - sent_at);
                Ok(Some(reply))
            }
            Err(err) => {
                if let Error::Status { .. } = err {
                    self.recorder.answered(action, sent_at.elapsed());
                } else {
                    // The connection may be broken half-way through an exchange; start afresh.
                    self.conn = None;
                }
                self.recorder.error(action, err);
                Ok(None)
            }
        }
    }

    /// Decodes a 200 reply as the output of `action`; `None` after recording an unreadable body as an error.
    pub fn decode<'a, T: Deserialize<'a>>(&self, action: Action, reply: &'a Reply) -> Option<T> {
        reply.decode(action).map_err(|err| self.recorder.error(action, err)).ok()
    }
}
