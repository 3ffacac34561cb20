//! EventBridge events, as an EventBridge rule with an SQS target delivers them (the whole event is the body).
//!
//! The shape, from <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html>: the
//! fields `version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources` and `detail`
//! "appear in all events delivered to an event bus"; `detail` is a JSON object (possibly `{}`) whose content
//! the source decides; replayed events also carry `replay-name`. The documented EC2 sample is kept in
//! `tests/fixtures/envelopes/`.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{EnvelopeError, EnvelopeMeta, Opened, malformed, time};
use crate::codec::Encode;
use crate::error::{Error, Result};

const KIND: &str = "EventBridge event";

/// What an EventBridge event says besides its `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventBridgeMeta {
    /// `version` (`0` in all events so far).
    pub version: String,
    /// `id`: a v4 UUID per event.
    pub id: String,
    /// `detail-type`: with `source`, says what `detail` holds (the [router](crate::consumer::Router)'s type).
    pub detail_type: String,
    /// `source`: the service or application that sent the event (`aws.` prefixed for AWS services).
    pub source: String,
    /// `account`: the 12-digit AWS account.
    pub account: String,
    /// `time`: the event's timestamp, set by its source.
    pub time: SystemTime,
    /// `region`.
    pub region: String,
    /// `resources`: ARNs of the resources involved (may be empty).
    pub resources: Vec<String>,
    /// `replay-name`, for events replayed from an archive.
    pub replay_name: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Event<'a> {
    version: String,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    account: String,
    time: String,
    region: String,
    resources: Vec<String>,
    #[serde(borrow)]
    detail: &'a RawValue,
    #[serde(rename = "replay-name", default, skip_serializing_if = "Option::is_none")]
    replay_name: Option<String>,
}

/// Opens an EventBridge event; the payload is the `detail` object's JSON text.
pub(super) fn open(body: &str) -> Result<Opened<'_>, EnvelopeError> {
    let event: Event<'_> = serde_json::from_str(body).map_err(|error| malformed(KIND, &error))?;
    if !event.detail.get().starts_with('{') {
        return Err(EnvelopeError::Malformed {
            kind: KIND,
            detail: format!("`detail` must be a JSON object, got `{}`", truncate(event.detail.get())),
        });
    }
    let meta = EventBridgeMeta {
        time: time::parse("time", &event.time)?,
        version: event.version,
        id: event.id,
        detail_type: event.detail_type,
        source: event.source,
        account: event.account,
        region: event.region,
        resources: event.resources,
        replay_name: event.replay_name,
    };
    Ok(Opened { payload: Cow::Borrowed(event.detail.get()), meta: EnvelopeMeta::EventBridge(Box::new(meta)) })
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Wraps encoded values as EventBridge events, the way a rule with an SQS target delivers them: for tests and
/// local runs of consumers configured with [`Envelope::EventBridge`](super::Envelope::EventBridge).
///
/// The inner codec must produce a JSON object (it becomes `detail`); anything else is an
/// [`Error::Encode`]. Each event gets a new `id` (v4 UUID), `version` `0` and the current `time`.
///
/// # Examples
/// ```
/// use sqskit::codec::{Encode, JsonCodec};
/// use sqskit::envelope::{Envelope, EventBridgeEncoder};
///
/// let encoder = EventBridgeEncoder::new(JsonCodec, "com.example.shop", "OrderPlaced")
///     .account("123456789012")
///     .region("eu-west-1");
/// let body = encoder.encode(&serde_json::json!({"id": 7}))?;
/// let opened = Envelope::EventBridge.open(&body)?;
/// assert_eq!(opened.payload, r#"{"id":7}"#);
/// assert_eq!(opened.meta.eventbridge().map(|e| e.detail_type.as_str()), Some("OrderPlaced"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventBridgeEncoder<C> {
    inner: C,
    source: String,
    detail_type: String,
    account: String,
    region: String,
    resources: Vec<String>,
}

impl<C> EventBridgeEncoder<C> {
    /// Encodes `detail` with `inner`, as events of `detail_type` from `source` (account `000000000000` and
    /// region `us-east-1` unless set).
    pub fn new(inner: C, source: impl Into<String>, detail_type: impl Into<String>) -> Self {
        Self {
            inner,
            source: source.into(),
            detail_type: detail_type.into(),
            account: "000000000000".to_owned(),
            region: "us-east-1".to_owned(),
            resources: Vec::new(),
        }
    }

    /// The `account` of every event.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// The `region` of every event.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Adds a resource ARN to every event.
    pub fn resource(mut self, arn: impl Into<String>) -> Self {
        self.resources.push(arn.into());
        self
    }
}

impl<T: ?Sized, C: Encode<T>> Encode<T> for EventBridgeEncoder<C> {
    fn encode(&self, value: &T) -> Result<String> {
        let detail = self.inner.encode(value)?;
        let detail: &RawValue = serde_json::from_str(&detail).map_err(Error::encode)?;
        if !detail.get().starts_with('{') {
            return Err(Error::encode(EnvelopeError::Malformed {
                kind: KIND,
                detail: "the codec must encode `detail` as a JSON object".to_owned(),
            }));
        }
        let event = Event {
            version: "0".to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            detail_type: self.detail_type.clone(),
            source: self.source.clone(),
            account: self.account.clone(),
            time: time::format(SystemTime::now(), false),
            region: self.region.clone(),
            resources: self.resources.clone(),
            detail,
            replay_name: None,
        };
        serde_json::to_string(&event).map_err(Error::encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{"version":"0","id":"i","detail-type":"T","source":"s","account":"1","time":"2017-12-22T18:43:48Z","region":"r","resources":[],"detail":{"a":1}}"#;

    #[test]
    fn detail_is_the_payload() {
        let opened = open(VALID).expect("valid");
        assert_eq!(opened.payload, r#"{"a":1}"#);
    }

    #[test]
    fn malformed_events_say_what_is_wrong() {
        let err = |body: &str| open(body).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(&VALID.replace(r#""detail-type":"T","#, "")).contains("missing field `detail-type`"));
        assert!(err(&VALID.replace(r#""detail":{"a":1}"#, r#""detail":"text""#)).contains("must be a JSON object"));
        assert!(err(&VALID.replace("2017-12-22T18:43:48Z", "noon")).contains("`noon` is not an RFC 3339"));
        assert!(
            err(&VALID.replace(r#""resources":[]"#, r#""resources":"arn""#))
                .starts_with("not a valid EventBridge event")
        );
    }
}
