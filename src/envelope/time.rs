//! RFC 3339 timestamps, as SNS (`Timestamp`, milliseconds) and EventBridge (`time`, seconds) write them.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::EnvelopeError;

/// Parses an RFC 3339 timestamp (`2012-03-29T05:12:16.901Z`).
pub(super) fn parse(field: &'static str, value: &str) -> Result<SystemTime, EnvelopeError> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| EnvelopeError::InvalidTimestamp { field, value: value.to_owned() })
}

/// `at` in RFC 3339, UTC, with `subsecond_millis` or whole seconds.
pub(super) fn format(at: SystemTime, subsecond_millis: bool) -> String {
    let at = OffsetDateTime::from(at);
    let nanos = if subsecond_millis { at.nanosecond() / 1_000_000 * 1_000_000 } else { 0 };
    at.replace_nanosecond(nanos).ok().and_then(|at| at.format(&Rfc3339).ok()).unwrap_or_else(|| {
        // Unreachable for times after 1970 (the nanosecond is in range and UTC always formats); keep a valid
        // value rather than panic.
        "1970-01-01T00:00:00Z".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn round_trips_documented_forms() {
        let sns = parse("Timestamp", "2012-03-29T05:12:16.901Z").expect("valid");
        assert_eq!(sns, UNIX_EPOCH + Duration::from_millis(1_332_997_936_901));
        assert_eq!(format(sns, true), "2012-03-29T05:12:16.901Z");
        let eventbridge = parse("time", "2017-12-22T18:43:48Z").expect("valid");
        assert_eq!(format(eventbridge, false), "2017-12-22T18:43:48Z");
        assert!(parse("time", "yesterday").is_err());
    }
}
