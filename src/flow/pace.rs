//! Rate pacing: a limit on how many requests a producer *starts* per second, for quotas that a concurrency
//! limit cannot meet.
//!
//! The [`AimdLimit`](super::AimdLimit) bounds requests in flight, so its floor is one request per round trip.
//! Where a round trip is much shorter than a quota allows (a FIFO queue takes 300 calls per second and
//! action without high throughput mode, see
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>; a
//! local endpoint answers in about a millisecond), one request at a time is still several times over the
//! quota. Every throttled `SendMessageBatch` then holds its FIFO groups through a retry backoff and the
//! requests that do pass carry few messages (measured in BENCHMARKS.md, "Throttling (issue #18)"). AWS's
//! SDKs answer the same problem with the *adaptive* retry mode's client-side rate limiter ("can delay
//! initial request", meant for a client that talks to a single throttled resource:
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>). A producer talks to one
//! queue, so the pacer below keeps one rate per producer.
//!
//! The rules, evaluated once per window of answers (at least [`PaceConfig::window`] long and
//! [`PaceConfig::min_answers`] answers):
//! - **Decrease to what was accepted**: when more than [`PaceConfig::throttled_share`] (half) of the
//!   window's answers were throttled, the rate becomes the rate of *accepted* answers in that window (never
//!   below [`PaceConfig::floor`]). Over a rate quota, that is the quota: the service accepted exactly what it
//!   allows. Half is a clear sign of a rate at least twice the quota; a smaller share is left to the
//!   concurrency limit and the retry backoff (see the last rule).
//! - **Increase while clean**: a window without any throttled answer raises a set rate by
//!   [`PaceConfig::increase`] (10 % by default, so a quota that grows is found within seconds).
//! - **Let go**: a window without throttling in which fewer requests were started than half the rate
//!   allows removes the rate: it no longer binds, and an idle producer starts the next burst unpaced.
//! - **Ease off**: while paced, a window with more than a fifth of the threshold (10 %) throttled lowers the
//!   rate by 5 %, but not below the window's accepted rate, nor below 70 % of the rate the last decrease
//!   set (its *anchor*). This corrects a first estimate that a quota's burst inflated (the window that
//!   set it was partly served from the burst), without letting a throttle that does not follow the rate
//!   (a fault on a share of calls, whatever their rate) drive the rate to the floor: lowering the rate
//!   would not lower that share. Measured in BENCHMARKS.md ("Throttling (issue #18)"): a version without
//!   the anchor brought a producer under a 20 % random throttle down to 11 requests a second.
//! - **Hold**: a window with some throttled answers, but no more than that, keeps the rate (and an unpaced
//!   producer with at most half its answers throttled stays unpaced). Just over a quota the rate thus
//!   settles at most one increase (10 %) above it.
//!
//! The pacer starts unpaced: a producer that is never throttled never waits for it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The rules of a [`RatePacer`] (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceConfig {
    /// The shortest window over which answers are counted (default 250 ms).
    pub window: Duration,
    /// The fewest answers a window needs before it is judged (default 20: fewer leave the share to chance).
    pub min_answers: u32,
    /// The share of throttled answers above which the rate decreases (default 0.5).
    pub throttled_share: f64,
    /// How much a clean window raises the rate (default 0.1: 10 %).
    pub increase: f64,
    /// The lowest rate, in requests per second (default 10).
    pub floor: f64,
}

impl Default for PaceConfig {
    fn default() -> Self {
        Self { window: Duration::from_millis(250), min_answers: 20, throttled_share: 0.5, increase: 0.1, floor: 10.0 }
    }
}

#[derive(Debug)]
struct Window {
    started: Instant,
    /// The last start or answer in the window.
    last_event: Instant,
    sent: u32,
    accepted: u32,
    throttled: u32,
}

impl Window {
    fn new(started: Instant) -> Self {
        Self { started, last_event: started, sent: 0, accepted: 0, throttled: 0 }
    }
}

/// What easing off multiplies the rate by.
const EASE_OFF: f64 = 0.95;
/// The share of its anchor (the rate the last decrease set) below which easing off never goes.
const ANCHOR_SHARE: f64 = 0.7;

#[derive(Debug)]
struct State {
    /// Requests per second; `None` while unpaced.
    rate: Option<f64>,
    /// The rate the last decrease set (the accepted rate of a clearly overloaded window).
    anchor: f64,
    /// When the next request may start (meaningful while paced).
    next_start: Instant,
    window: Window,
}

impl State {
    /// Notes activity at `now`: a window idle for longer than `window` starts afresh, so that the rates it
    /// measures count only the time the producer was sending (an idle minute would make any burst after it
    /// look like a trickle, and set the rate near the floor).
    fn touch(&mut self, now: Instant, window: Duration) {
        if now.saturating_duration_since(self.window.last_event) > window {
            self.window = Window::new(now);
        }
        self.window.last_event = now;
    }
}

/// A shared request-rate limit (clones share it). See the [module documentation](self) for the rules.
#[derive(Debug, Clone)]
pub struct RatePacer {
    config: PaceConfig,
    state: Arc<Mutex<State>>,
}

impl RatePacer {
    /// An unpaced pacer with these rules; a field outside its range (a floor that is not a positive number,
    /// a share outside `0.0..=1.0`, a negative or non-finite increase) takes its default.
    pub fn new(config: PaceConfig) -> Self {
        let defaults = PaceConfig::default();
        let valid = |value: f64, ok: bool, default: f64| if value.is_finite() && ok { value } else { default };
        let config = PaceConfig {
            window: config.window,
            min_answers: config.min_answers.max(1),
            throttled_share: valid(
                config.throttled_share,
                (0.0..=1.0).contains(&config.throttled_share),
                defaults.throttled_share,
            ),
            increase: valid(config.increase, config.increase >= 0.0, defaults.increase),
            floor: valid(config.floor, config.floor > 0.0, defaults.floor),
        };
        let now = Instant::now();
        let state = State { rate: None, anchor: 0.0, next_start: now, window: Window::new(now) };
        Self { config, state: Arc::new(Mutex::new(state)) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A few numbers, consistent after every statement: a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rate in requests per second, or `None` while unpaced.
    pub fn rate(&self) -> Option<f64> {
        self.state().rate
    }

    /// When a request may start, given that it is `now`: `now` itself while unpaced or when the pace allows.
    pub fn start_at(&self, now: Instant) -> Instant {
        let state = self.state();
        match state.rate {
            Some(_) => state.next_start.max(now),
            None => now,
        }
    }

    /// Records that a request started at `now` (call only once [`RatePacer::start_at`] allows it).
    pub fn on_start(&self, now: Instant) {
        let mut state = self.state();
        state.touch(now, self.config.window);
        state.window.sent += 1;
        if let Some(rate) = state.rate {
            let interval = Duration::from_secs_f64(1.0 / rate);
            state.next_start = state.next_start.max(now) + interval;
        }
    }

    /// Records an answer at `now`, throttled or not (answers that say nothing about the rate, such as
    /// server errors, are not recorded); returns the rate after it.
    pub fn on_answer(&self, throttled: bool, now: Instant) -> Option<f64> {
        let config = self.config;
        let mut state = self.state();
        state.touch(now, config.window);
        if throttled {
            state.window.throttled += 1;
        } else {
            state.window.accepted += 1;
        }
        let window = &state.window;
        let answers = window.accepted + window.throttled;
        let elapsed = now.saturating_duration_since(window.started);
        if answers < config.min_answers || elapsed < config.window {
            return state.rate;
        }
        // Positive even for a zero-length window (a configuration the rules allow), so the rates stay finite.
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let throttled_share = f64::from(window.throttled) / f64::from(answers);
        let accepted_rate = f64::from(window.accepted) / seconds;
        let started_rate = f64::from(window.sent) / seconds;
        let ease_share = config.throttled_share / 5.0;
        state.rate = match state.rate {
            _ if throttled_share > config.throttled_share => {
                state.anchor = accepted_rate.max(config.floor);
                Some(state.anchor)
            }
            Some(rate) if throttled_share > ease_share => {
                Some(accepted_rate.max(rate * EASE_OFF).max(state.anchor * ANCHOR_SHARE).max(config.floor))
            }
            rate if window.throttled > 0 => rate,
            Some(rate) if started_rate < rate / 2.0 => None,
            Some(rate) => Some(rate * (1.0 + config.increase)),
            None => None,
        };
        if state.rate.is_none() {
            state.next_start = now;
        }
        state.window = Window::new(now);
        state.rate
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Starts `per_second` requests a second for `seconds` (as far as the pacer allows), answering each at
    /// once; `throttle(i, now)` says whether request `i` is throttled. Returns the requests started.
    async fn drive(
        pacer: &RatePacer,
        per_second: u32,
        seconds: u32,
        mut throttle: impl FnMut(u32, Instant) -> bool,
    ) -> u32 {
        let step = Duration::from_secs(1) / per_second;
        let end = Instant::now() + Duration::from_secs(seconds.into());
        let mut started = 0;
        while Instant::now() < end {
            let now = Instant::now();
            let at = pacer.start_at(now);
            if at > now {
                tokio::time::sleep_until(at).await;
                continue;
            }
            pacer.on_start(now);
            pacer.on_answer(throttle(started, now), now);
            started += 1;
            tokio::time::sleep(step).await;
        }
        started
    }

    /// A token bucket like the emulator's FIFO quota: `per_second` calls a second, a burst of `burst`.
    fn quota(per_second: f64, burst: f64) -> impl FnMut(u32, Instant) -> bool {
        let mut tokens = burst;
        let mut last = Instant::now();
        move |_, now| {
            tokens = (tokens + now.saturating_duration_since(last).as_secs_f64() * per_second).min(burst);
            last = now;
            if tokens >= 1.0 {
                tokens -= 1.0;
                false
            } else {
                true
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unthrottled_requests_are_never_paced() {
        let pacer = RatePacer::new(PaceConfig::default());
        let started = drive(&pacer, 1000, 3, |_, _| false).await;
        assert!(started >= 2990, "{started}");
        assert_eq!(pacer.rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_quota_is_met_and_few_requests_are_throttled() {
        let pacer = RatePacer::new(PaceConfig::default());
        let mut quota = quota(300.0, 30.0);
        let mut throttled = 0;
        // Warm up: the pacer finds the quota.
        drive(&pacer, 1000, 2, &mut quota).await;
        let started = drive(&pacer, 1000, 10, |i, now| {
            let t = quota(i, now);
            throttled += u32::from(t);
            t
        })
        .await;
        let accepted = started - throttled;
        assert!((2700..=3100).contains(&accepted), "near 300 a second for 10 s: {accepted}");
        // The rate settles at most one increase (10 %) above the quota: at most about a tenth is throttled.
        assert!(throttled * 100 <= started * 11, "about a tenth throttled at most: {throttled} of {started}");
        let rate = pacer.rate().expect("paced");
        assert!((250.0..=400.0).contains(&rate), "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_on_a_share_of_calls_does_not_drive_the_rate_down() {
        let pacer = RatePacer::new(PaceConfig::default());
        let started = drive(&pacer, 1000, 5, |i, _| i % 5 == 0).await;
        assert!(started >= 4900, "a fifth throttled whatever the rate: not paced ({started})");
        assert_eq!(pacer.rate(), None);
        // A random 35 % (a fixed seed), whose windows vary around the share.
        let mut rng = rand::rngs::StdRng::seed_from_u64(18);
        let started = drive(&pacer, 1000, 10, |_, _| rng.random_bool(0.35)).await;
        assert!(started >= 9900, "{started}");
        assert_eq!(pacer.rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_on_a_share_of_calls_cannot_drive_a_paced_rate_to_the_floor() {
        let pacer = RatePacer::new(PaceConfig::default());
        let mut quota = quota(200.0, 20.0);
        drive(&pacer, 1000, 2, &mut quota).await;
        let paced = pacer.rate().expect("paced by the quota");
        // The quota goes, a random 30 % fault comes: the rate eases off to 70 % of its anchor, no lower.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        drive(&pacer, 1000, 10, |_, _| rng.random_bool(0.3)).await;
        let eased = pacer.rate().expect("still paced");
        assert!(eased >= paced * 0.6, "{paced} -> {eased}");
        drive(&pacer, 1000, 10, |_, _| rng.random_bool(0.3)).await;
        assert_eq!(pacer.rate(), Some(eased), "and there it stays");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_rises_when_throttling_stops_and_is_let_go_when_it_no_longer_binds() {
        let pacer = RatePacer::new(PaceConfig::default());
        let mut quota = quota(100.0, 10.0);
        drive(&pacer, 1000, 2, &mut quota).await;
        let paced = pacer.rate().expect("paced");
        assert!(paced < 200.0, "{paced}");
        // The quota is lifted; the producer wants 1,000 a second.
        drive(&pacer, 1000, 1, |_, _| false).await;
        let raised = pacer.rate().expect("still paced after one second");
        assert!(raised > paced * 1.2, "{paced} -> {raised}");
        drive(&pacer, 1000, 8, |_, _| false).await;
        assert_eq!(pacer.rate(), None, "past twice what the producer starts: let go");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_does_not_dilute_the_estimate() {
        let pacer = RatePacer::new(PaceConfig::default());
        // Built, then idle for a minute; a few sends; idle again; then a burst over a 300-a-second quota.
        tokio::time::advance(Duration::from_secs(60)).await;
        drive(&pacer, 100, 1, |_, _| false).await;
        tokio::time::advance(Duration::from_secs(60)).await;
        let mut quota = quota(300.0, 1.0);
        drive(&pacer, 1000, 1, &mut quota).await;
        let rate = pacer.rate().expect("paced");
        assert!((250.0..=450.0).contains(&rate), "the quota, not a trickle: {rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn rules_out_of_range_take_their_defaults_and_never_panic() {
        let odd =
            PaceConfig { window: Duration::ZERO, min_answers: 0, throttled_share: 7.0, increase: -1.0, floor: 0.0 };
        let pacer = RatePacer::new(odd);
        drive(&pacer, 1000, 2, |_, _| true).await;
        assert_eq!(pacer.rate(), Some(PaceConfig::default().floor), "all throttled: the default floor");
        let nan = RatePacer::new(PaceConfig { floor: f64::NAN, ..PaceConfig::default() });
        drive(&nan, 1000, 1, |_, _| true).await;
        assert_eq!(nan.rate(), Some(10.0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_never_falls_below_the_floor() {
        let pacer = RatePacer::new(PaceConfig { floor: 20.0, ..PaceConfig::default() });
        drive(&pacer, 1000, 2, |_, _| true).await;
        assert_eq!(pacer.rate(), Some(20.0));
    }
}
