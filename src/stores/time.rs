//! Instants as the shared stores write them: milliseconds from now (Redis expiries) and milliseconds or
//! whole seconds since the Unix epoch (DynamoDB attributes, its TTL attribute in seconds).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds from `now` until `at`, at least 1 (an instant already past becomes an expiry 1 ms away, the
/// shortest Redis accepts: the record is as good as expired).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn millis_until(at: SystemTime, now: SystemTime) -> u64 {
    let left = at.duration_since(now).unwrap_or(Duration::ZERO);
    u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Milliseconds since the Unix epoch (0 before it).
#[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
pub(crate) fn epoch_millis(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Whole seconds since the Unix epoch, rounded up (a TTL attribute must not expire a record early).
#[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
pub(crate) fn epoch_seconds_ceil(at: SystemTime) -> u64 {
    epoch_millis(at).div_ceil(1_000)
}

/// The instant `millis` milliseconds after the Unix epoch.
#[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
pub(crate) fn from_epoch_millis(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_the_safe_way() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_001);
        assert_eq!(epoch_millis(at), 1_700_000_000_001);
        assert_eq!(epoch_seconds_ceil(at), 1_700_000_001);
        assert_eq!(epoch_seconds_ceil(UNIX_EPOCH + Duration::from_secs(5)), 5);
        assert_eq!(from_epoch_millis(1_700_000_000_001), at);
        assert_eq!(millis_until(at + Duration::from_millis(250), at), 250);
        assert_eq!(millis_until(at, at + Duration::from_secs(1)), 1);
    }
}
