//! Bounded handlers: how long a handler may run ([`HandlerLimits`]: the handler timeout, the grace period
//! after it, and how they fit within the time the consumer may keep a message invisible), and
//! [`run_bounded`], which cancels a handler's token at its deadline and drops the handler future once the
//! grace period has passed too.
//!
//! The rule that keeps a message from being processed twice at once: a handler is dropped before its
//! message can become visible again. The consumer keeps a message invisible for at most `hold` since the
//! receive (the heartbeat's `max_total`, or the visibility timeout without a heartbeat), so a handler is
//! cancelled at the earlier of `started + timeout` and `received + hold - margin - grace`, dropped `grace`
//! later, and the heartbeat extends it no further than `margin` past that (time for the retry's visibility
//! change to land, and for the wire's whole seconds).
//!
//! That rule assumes every extension succeeds. When the heartbeat cannot extend a running message (a
//! throttled or failed `ChangeMessageVisibilityBatch`, or an entry SQS rejected), SQS makes it visible again
//! at its *confirmed* deadline (receive + visibility timeout, or the last extension SQS confirmed), and its
//! idempotency lease, extended only with confirmed extensions, ends then too: a redelivered copy could run
//! and complete while the first handler still runs. So the registry publishes, on the call's [`Lifeline`],
//! the instant such a handler must be gone by (`confirmed deadline - margin`, [`confirmed_margin`]), and
//! [`run_bounded`] cancels
//! the token `grace` before it (at once if that has passed) and drops the handler at it (at once too):
//! [`Bounded::Lost`]. A later extension that succeeds withdraws the instant (a token already fired stays
//! fired; the handler is then dropped at its usual time).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// The handler timeout when none is set: 15 minutes. Long enough for nearly any per-message work (it is
/// also AWS Lambda's longest function timeout, the usual bound for one SQS message's work), far inside SQS's
/// 12-hour visibility cap, and inside the heartbeat's default `max_total` of 1 hour.
pub(crate) const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The grace period when none is set: 10 seconds for a cancelled handler to wind up.
pub(crate) const DEFAULT_HANDLER_GRACE: Duration = Duration::from_secs(10);
/// Time kept between dropping a handler and its message becoming visible: for the retry's visibility change
/// to reach SQS first (at most a tenth of the hold).
const SETTLE_MARGIN: Duration = Duration::from_secs(2);

/// A consumer's resolved handler limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HandlerLimits {
    /// From the handler's start to its token's cancellation.
    pub(crate) timeout: Duration,
    /// From the cancellation to dropping the handler future.
    pub(crate) grace: Duration,
    /// The longest the consumer keeps a message invisible, since its receive.
    hold: Duration,
    margin: Duration,
}

impl HandlerLimits {
    /// Resolves the builder's settings. `hold` is how long the consumer can keep a message invisible (the
    /// heartbeat's `max_total`, or the visibility timeout without a heartbeat); `heartbeat` only words the
    /// error.
    ///
    /// Defaults: the grace period is 10 s (at most a quarter of the hold), the timeout 15 min (at most what
    /// the hold leaves after the grace period and the settle margin).
    ///
    /// # Errors
    /// [`Error::Config`] for a zero timeout, or a timeout and grace period that do not fit in the hold.
    pub(crate) fn resolve(
        timeout: Option<Duration>,
        grace: Option<Duration>,
        hold: Duration,
        heartbeat: bool,
    ) -> Result<Self> {
        let margin = SETTLE_MARGIN.min(hold / 10);
        let room = hold.saturating_sub(margin);
        let grace = grace.unwrap_or_else(|| DEFAULT_HANDLER_GRACE.min(room / 4));
        let timeout = timeout.unwrap_or_else(|| DEFAULT_HANDLER_TIMEOUT.min(room.saturating_sub(grace)));
        if timeout + grace > room {
            let limit =
                if heartbeat { "the heartbeat's max_total" } else { "the visibility timeout (there is no heartbeat)" };
            return Err(Error::Config {
                reason: format!(
                    "handler timeout {timeout:?} plus grace {grace:?} must fit within {room:?}: {limit} of \
                     {hold:?} less {margin:?} to settle; otherwise a message could become visible again while its \
                     handler still runs. Shorten the handler timeout or raise the limit"
                ),
            });
        }
        if timeout.is_zero() {
            return Err(Error::Config { reason: "the handler timeout must not be zero".to_owned() });
        }
        Ok(Self { timeout, grace, hold, margin })
    }

    /// When the handler of a message received (request sent) at `received_at` and started at `started` is
    /// cancelled: after the timeout, or earlier if the message waited so long (behind its FIFO group) that
    /// the hold would end first.
    pub(crate) fn cancel_at(&self, received_at: Instant, started: Instant) -> Instant {
        let latest = (received_at + self.hold).checked_sub(self.margin + self.grace).unwrap_or(received_at);
        (started + self.timeout).min(latest).max(started)
    }

    /// The furthest the heartbeat may extend a message whose handler is cancelled at `cancel_at`.
    pub(crate) fn hold_until(&self, cancel_at: Instant) -> Instant {
        cancel_at + self.grace + self.margin
    }
}

/// How long before its confirmed visibility deadline a handler whose message could not be extended is
/// dropped: the settle margin of a consumer without a heartbeat whose visibility timeout is `window` (the
/// shorter of the visibility timeout and the heartbeat's extension: the longest a confirmed deadline lies
/// ahead), 2 s but at most a tenth of it. Dropping the handler and giving up its lease are local, and a
/// handler that returns before it settles as usual; a margin of the hold's scale (2 s against a 3 s
/// visibility timeout) would drop handlers that finish well within their confirmed visibility.
pub(crate) fn confirmed_margin(window: Duration) -> Duration {
    SETTLE_MARGIN.min(window / 10)
}

/// The instant by which one handler call must be gone because the visibility of one of its messages could
/// not be extended (`None` while every extension is confirmed). The registry holds the sending side.
pub(crate) type Lifeline = watch::Receiver<Option<Instant>>;

/// How a bounded handler call ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bounded<T> {
    /// It returned in time (`timed_out`: only after its token was cancelled at the deadline).
    Finished { output: T, timed_out: bool },
    /// It was still running at the end of the grace period and was dropped.
    Dropped,
    /// It was dropped because the visibility of one of its messages could not be extended: its message
    /// becomes visible again at its confirmed deadline, which the handler must not outlive.
    Lost,
}

/// Runs `call`; at `cancel_at` cancels `token`, and `grace` later drops `call`. If `lifeline` names an
/// instant the call must be gone by, the token is cancelled no later than `grace` before it and the call
/// dropped no later than it (at once for instants already past).
pub(crate) async fn run_bounded<F: Future>(
    call: F,
    token: &CancellationToken,
    cancel_at: Instant,
    grace: Duration,
    mut lifeline: Lifeline,
) -> Bounded<F::Output> {
    let call = std::pin::pin!(call);
    let mut call = call;
    let mut fired = false;
    loop {
        let gone_by = *lifeline.borrow_and_update();
        let drop_at = cancel_at + grace;
        let (cancel, drop, lost) = match gone_by {
            Some(gone_by) if gone_by < drop_at => {
                (cancel_at.min(gone_by.checked_sub(grace).unwrap_or(gone_by)), gone_by, true)
            }
            _ => (cancel_at, drop_at, false),
        };
        let changed = async {
            if lifeline.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        if fired {
            tokio::select! {
                biased;
                output = &mut call => return Bounded::Finished { output, timed_out: true },
                () = tokio::time::sleep_until(drop) => return if lost { Bounded::Lost } else { Bounded::Dropped },
                () = changed => {}
            }
        } else {
            tokio::select! {
                biased;
                output = &mut call => return Bounded::Finished { output, timed_out: false },
                () = tokio::time::sleep_until(cancel) => {
                    token.cancel();
                    fired = true;
                }
                () = changed => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(60 * 60);

    #[test]
    fn defaults_fit_the_hold() {
        let limits = HandlerLimits::resolve(None, None, HOUR, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((limits.timeout, limits.grace), (DEFAULT_HANDLER_TIMEOUT, DEFAULT_HANDLER_GRACE));
        // Without a heartbeat, a 30 s visibility timeout: 2 s margin, 7 s grace, 21 s timeout.
        let limits =
            HandlerLimits::resolve(None, None, Duration::from_secs(30), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((limits.timeout, limits.grace), (Duration::from_secs(21), Duration::from_secs(7)));
        assert!(HandlerLimits::resolve(None, None, Duration::from_secs(1), false).is_ok(), "even 1 s");
    }

    #[test]
    fn explicit_limits_are_validated() {
        let resolve = |timeout, grace, hold| HandlerLimits::resolve(Some(timeout), Some(grace), hold, true);
        assert!(resolve(Duration::ZERO, Duration::ZERO, HOUR).is_err(), "zero timeout");
        let grace_only = HandlerLimits::resolve(None, Some(2 * HOUR), HOUR, true).err().map(|e| e.to_string());
        assert!(grace_only.unwrap_or_default().contains("plus grace"), "a grace period longer than the hold");
        assert!(resolve(Duration::from_secs(3590), Duration::from_secs(10), HOUR).is_err(), "no settle margin");
        assert!(resolve(Duration::from_secs(3588), Duration::from_secs(10), HOUR).is_ok());
        let error = resolve(HOUR, Duration::ZERO, HOUR).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("max_total"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_is_cancelled_at_its_timeout_or_before_the_hold_ends() {
        let limits = HandlerLimits::resolve(Some(Duration::from_secs(60)), Some(Duration::from_secs(10)), HOUR, true)
            .unwrap_or_else(|e| panic!("{e}"));
        let received = Instant::now();
        let started = received + Duration::from_secs(5);
        assert_eq!(limits.cancel_at(received, started), started + Duration::from_secs(60));
        assert_eq!(limits.hold_until(started + Duration::from_secs(60)), started + Duration::from_secs(72));
        // Started 59 min after the receive (behind its FIFO group): cancelled 12 s before the hour ends.
        let late = received + Duration::from_secs(59 * 60);
        assert_eq!(limits.cancel_at(received, late), received + HOUR - Duration::from_secs(12));
        let too_late = received + HOUR;
        assert_eq!(limits.cancel_at(received, too_late), too_late, "at once, never in the past");
    }

    #[tokio::test(start_paused = true)]
    async fn run_bounded_cancels_at_the_deadline_and_drops_after_the_grace_period() {
        let start = Instant::now();
        let second = Duration::from_secs(1);

        let (_keep, lifeline) = watch::channel(None);
        let token = CancellationToken::new();
        let quick = run_bounded(async { 7 }, &token, start + second, second, lifeline.clone()).await;
        assert_eq!(quick, Bounded::Finished { output: 7, timed_out: false });
        assert!(!token.is_cancelled());

        let token = CancellationToken::new();
        let watched = token.clone();
        let honours =
            run_bounded(async move { watched.cancelled().await }, &token, start + second, second, lifeline.clone())
                .await;
        assert_eq!(honours, Bounded::Finished { output: (), timed_out: true });
        assert_eq!(start.elapsed(), second, "finished as soon as its token fired");

        let token = CancellationToken::new();
        let hangs = run_bounded(std::future::pending::<()>(), &token, start + 2 * second, second, lifeline).await;
        assert_eq!(hangs, Bounded::Dropped);
        assert!(token.is_cancelled());
        assert_eq!(start.elapsed(), 3 * second, "dropped one grace period after the cancellation");
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_whose_visibility_could_not_be_extended_is_dropped_before_its_confirmed_deadline() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let hour = start + HOUR;

        // Must be gone by 10 s: cancelled a grace period (3 s) before, dropped at 10 s.
        let (lost, lifeline) = watch::channel(None);
        let token = CancellationToken::new();
        let hangs = tokio::spawn({
            let token = token.clone();
            async move { run_bounded(std::future::pending::<()>(), &token, hour, 3 * second, lifeline).await }
        });
        tokio::time::sleep(second).await;
        lost.send_replace(Some(start + 10 * second));
        tokio::time::sleep(5 * second).await;
        assert!(!token.is_cancelled(), "not before the grace period before the instant");
        tokio::time::sleep(2 * second).await;
        assert!(token.is_cancelled(), "cancelled a grace period before the instant");
        assert!(matches!(hangs.await, Ok(Bounded::Lost)));
        assert_eq!(start.elapsed(), 10 * second, "dropped at the instant");

        // An instant already past: cancelled and dropped at once.
        let (lost, lifeline) = watch::channel(None);
        let token = CancellationToken::new();
        let at = Instant::now();
        lost.send_replace(Some(at - second));
        assert_eq!(run_bounded(std::future::pending::<()>(), &token, hour, 3 * second, lifeline).await, Bounded::Lost);
        assert!(token.is_cancelled());
        assert_eq!(at.elapsed(), Duration::ZERO);

        // Withdrawn before the cancellation (a later extension succeeded): runs on to its own outcome.
        let (lost, lifeline) = watch::channel(Some(Instant::now() + 10 * second));
        let token = CancellationToken::new();
        let watched = token.clone();
        let recovers = tokio::spawn(async move {
            let work = async {
                tokio::time::sleep(20 * second).await;
                watched.is_cancelled()
            };
            run_bounded(work, &watched.clone(), hour, 3 * second, lifeline).await
        });
        tokio::time::sleep(second).await;
        lost.send_replace(None);
        assert!(matches!(recovers.await, Ok(Bounded::Finished { output: false, timed_out: false })));
        drop(token);
    }
}
