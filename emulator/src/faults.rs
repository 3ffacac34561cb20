//! Fault and quota emulation: rules that make chosen requests fail, slow down, lose their response or drop
//! their connection, and optional FIFO throughput quotas. Off by default; when no rule exists and quotas are
//! off, a request pays one atomic load.
//!
//! This module decides *what* happens to a request; `http` carries it out (it alone knows about connections)
//! and `actions` applies partial batch failures (it alone knows about entries). No queue logic lives here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::engine::{Clock, Timestamp};
use crate::error::{ErrorCode, SqsError};

/// Calls per second per action that SQS allows on a FIFO queue (batching multiplies messages, not calls).
pub const FIFO_CALLS_PER_SECOND: f64 = 300.0;

/// Calls per second per action of a FIFO queue in high-throughput mode (`DeduplicationScope` `messageGroup` and
/// `FifoThroughputLimit` `perMessageGroupId`) in `region`, for non-batched calls, as AWS lists them
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>): 70,000 in
/// US East (N. Virginia), US West (Oregon) and Europe (Ireland); 19,000 in US East (Ohio) and Europe (Frankfurt);
/// 9,000 in Asia Pacific (Mumbai, Singapore, Sydney, Tokyo); elsewhere the page's smallest tier, taken here as
/// 2,400.
pub fn high_throughput_fifo_calls_per_second(region: &str) -> f64 {
    match region {
        "us-east-1" | "us-west-2" | "eu-west-1" => 70_000.0,
        "us-east-2" | "eu-central-1" => 19_000.0,
        "ap-south-1" | "ap-southeast-1" | "ap-southeast-2" | "ap-northeast-1" => 9_000.0,
        _ => 2_400.0,
    }
}

/// What a fault rule does to a request it picks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Answer with a throttling error: `RequestThrottled` (403, modeled) or `ThrottlingException` (400).
    Throttle {
        /// `RequestThrottled` (default) or `ThrottlingException`.
        #[serde(default = "default_throttle")]
        error: String,
    },
    /// Answer with a server error: `InternalError` (500, default) or `ServiceUnavailable` (503).
    ServerError {
        /// `InternalError` or `ServiceUnavailable`.
        #[serde(default = "default_server_error")]
        error: String,
    },
    /// Wait before handling the request.
    Latency {
        /// How long, in milliseconds.
        millis: u64,
    },
    /// In a batch request, report some entries as failed without applying them.
    PartialBatchFailure {
        /// Probability that each entry fails (default 0.5).
        #[serde(default = "default_entry_probability")]
        entry_probability: f64,
        /// Retryable failures are `InternalError` with `SenderFault: false`; otherwise `InvalidParameterValue`
        /// with `SenderFault: true`.
        #[serde(default)]
        retryable: bool,
    },
    /// Apply the request, then lose the answer: a 500 `InternalError`, or a dropped connection with `reset`.
    ResponseLost {
        /// Drop the connection instead of answering 500.
        #[serde(default)]
        reset: bool,
    },
    /// Drop the connection without applying the request.
    ConnectionReset,
}

impl FaultKind {
    /// The kind as a rule spells it (its `"kind"` field), e.g. `server_error`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            FaultKind::Throttle { .. } => "throttle",
            FaultKind::ServerError { .. } => "server_error",
            FaultKind::Latency { .. } => "latency",
            FaultKind::PartialBatchFailure { .. } => "partial_batch_failure",
            FaultKind::ResponseLost { .. } => "response_lost",
            FaultKind::ConnectionReset => "connection_reset",
        }
    }
}

fn default_throttle() -> String {
    "RequestThrottled".to_owned()
}

fn default_server_error() -> String {
    "InternalError".to_owned()
}

fn default_entry_probability() -> f64 {
    0.5
}

fn any() -> String {
    "*".to_owned()
}

fn always() -> f64 {
    1.0
}

/// A fault rule: which requests it applies to, how often, and what it does. Unknown fields are rejected by
/// the flattened [`FaultKind`], which receives every field the rule does not take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Queue name or glob (`*` matches any run of characters); `*` (default) matches every request, including
    /// those that name no queue.
    #[serde(default = "any")]
    pub queue: String,
    /// Action name or glob, e.g. `SendMessage*`; default `*`.
    #[serde(default = "any")]
    pub action: String,
    /// Probability that a matching request is picked (default 1).
    #[serde(default = "always")]
    pub probability: f64,
    /// Stop after this many injections.
    #[serde(default)]
    pub max_injections: Option<u64>,
    /// What happens.
    #[serde(flatten)]
    pub fault: FaultKind,
}

/// A rule as listed by the admin API: its id, the rule, and how often it fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstalledRule {
    /// Id for removal.
    pub id: u64,
    /// The rule.
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Injections so far.
    pub injected: u64,
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// Wait this long first.
    pub delay: Duration,
    /// What else, if anything.
    pub outcome: Option<Outcome>,
}

/// The non-latency part of a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Answer with this error without applying the request.
    Fail(SqsError),
    /// Fail entries of a batch with this probability, without applying them.
    FailEntries {
        /// Per-entry probability.
        probability: f64,
        /// The error each failed entry reports.
        error: SqsError,
        /// A seed for choosing the entries, drawn from the injector's seeded generator.
        seed: u64,
    },
    /// Apply, then answer 500 or drop the connection.
    LoseResponse {
        /// Drop the connection instead of answering 500.
        reset: bool,
    },
    /// Drop the connection without applying.
    Reset,
}

#[derive(Debug)]
struct Rules {
    installed: Vec<InstalledRule>,
    next_id: u64,
    seed: u64,
    rng: StdRng,
    /// FIFO quota buckets: (queue, action) -> (tokens, last refill).
    buckets: HashMap<(String, Action), (f64, Timestamp)>,
}

/// The fault rules and quota state of one emulator.
#[derive(Debug)]
pub struct FaultInjector {
    active: AtomicBool,
    quotas: AtomicBool,
    rules: Mutex<Rules>,
    clock: Arc<dyn Clock>,
}

impl FaultInjector {
    /// No rules, quotas off, random sequences from `seed`. Quota time comes from `clock` (virtual in tests).
    pub fn new(seed: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            active: AtomicBool::new(false),
            quotas: AtomicBool::new(false),
            rules: Mutex::new(Rules {
                installed: Vec::new(),
                next_id: 1,
                seed,
                rng: StdRng::seed_from_u64(seed),
                buckets: HashMap::new(),
            }),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refresh_active(&self, rules: &Rules) {
        let active = !rules.installed.is_empty() || self.quotas.load(Ordering::Relaxed);
        self.active.store(active, Ordering::Release);
    }

    /// Whether any rule or quota is on (when not, [`FaultInjector::decide`] always answers "nothing").
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Installs a rule; returns its id.
    ///
    /// # Errors
    /// A description of what is wrong with the rule (probabilities outside 0..=1, an unknown error name).
    pub fn add(&self, rule: FaultRule) -> Result<u64, String> {
        validate(&rule)?;
        let mut rules = self.lock();
        let id = rules.next_id;
        rules.next_id += 1;
        rules.installed.push(InstalledRule { id, rule, injected: 0 });
        self.refresh_active(&rules);
        Ok(id)
    }

    /// Removes a rule; returns whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.lock();
        let before = rules.installed.len();
        rules.installed.retain(|rule| rule.id != id);
        self.refresh_active(&rules);
        rules.installed.len() != before
    }

    /// Removes every rule and restarts the random sequence, from `seed` when given.
    pub fn reset(&self, seed: Option<u64>) {
        let mut rules = self.lock();
        rules.installed.clear();
        rules.buckets.clear();
        if let Some(seed) = seed {
            rules.seed = seed;
        }
        rules.rng = StdRng::seed_from_u64(rules.seed);
        self.refresh_active(&rules);
    }

    /// The installed rules with their counters, and the seed.
    pub fn list(&self) -> (u64, Vec<InstalledRule>) {
        let rules = self.lock();
        (rules.seed, rules.installed.clone())
    }

    /// Turns the FIFO throughput quota on or off.
    pub fn set_quotas(&self, on: bool) {
        self.quotas.store(on, Ordering::Relaxed);
        let rules = self.lock();
        self.refresh_active(&rules);
    }

    /// Whether the FIFO throughput quota is on.
    pub fn quotas(&self) -> bool {
        self.quotas.load(Ordering::Relaxed)
    }

    /// Decides what happens to a request for `action` on `queue` (the queue name, when the request names one).
    pub fn decide(&self, action: Action, queue: Option<&str>) -> Decision {
        self.decide_at_rate(action, queue, FIFO_CALLS_PER_SECOND)
    }

    /// [`FaultInjector::decide`] for a FIFO queue whose quota is `fifo_calls_per_second` per action
    /// ([`FIFO_CALLS_PER_SECOND`], or [`high_throughput_fifo_calls_per_second`] in high-throughput mode).
    pub fn decide_at_rate(&self, action: Action, queue: Option<&str>, fifo_calls_per_second: f64) -> Decision {
        if !self.active.load(Ordering::Acquire) {
            return Decision::default();
        }
        let mut decision = Decision::default();
        let mut rules = self.lock();
        if self.quotas.load(Ordering::Relaxed) {
            if let Some(queue) = queue.filter(|queue| queue.ends_with(".fifo")) {
                if !take_token(&mut rules, queue, action, self.clock.now(), fifo_calls_per_second) {
                    decision.outcome =
                        Some(Outcome::Fail(SqsError::new(ErrorCode::ThrottlingException, "Rate exceeded")));
                    return decision;
                }
            }
        }
        let Rules { installed, rng, .. } = &mut *rules;
        for installed in installed.iter_mut() {
            let rule = &installed.rule;
            let applies = glob_matches(&rule.action, action.as_str())
                && (rule.queue == "*" || queue.is_some_and(|queue| glob_matches(&rule.queue, queue)))
                && rule.max_injections.is_none_or(|max| installed.injected < max)
                && (!matches!(rule.fault, FaultKind::PartialBatchFailure { .. }) || is_batch(action));
            if !applies || decision.outcome.is_some() && !matches!(rule.fault, FaultKind::Latency { .. }) {
                continue;
            }
            if !rng.random_bool(rule.probability.clamp(0.0, 1.0)) {
                continue;
            }
            installed.injected += 1;
            match &rule.fault {
                FaultKind::Latency { millis } => decision.delay += Duration::from_millis(*millis),
                FaultKind::Throttle { error } => decision.outcome = Some(Outcome::Fail(throttle_error(error))),
                FaultKind::ServerError { error } => decision.outcome = Some(Outcome::Fail(server_error(error))),
                FaultKind::PartialBatchFailure { entry_probability, retryable } => {
                    let error = if *retryable {
                        SqsError::new(ErrorCode::InternalFailure, "We encountered an internal error. Please try again.")
                    } else {
                        SqsError::invalid_parameter("The entry was rejected by an injected fault.")
                    };
                    decision.outcome =
                        Some(Outcome::FailEntries { probability: *entry_probability, error, seed: rng.random() });
                }
                FaultKind::ResponseLost { reset } => decision.outcome = Some(Outcome::LoseResponse { reset: *reset }),
                FaultKind::ConnectionReset => decision.outcome = Some(Outcome::Reset),
            }
        }
        decision
    }
}

fn is_batch(action: Action) -> bool {
    matches!(action, Action::SendMessageBatch | Action::DeleteMessageBatch | Action::ChangeMessageVisibilityBatch)
}

fn take_token(rules: &mut Rules, queue: &str, action: Action, now: Timestamp, rate: f64) -> bool {
    let (tokens, last) = rules.buckets.entry((queue.to_owned(), action)).or_insert((rate, now));
    let refill = now.saturating_since(*last).as_secs_f64() * rate;
    *tokens = (*tokens + refill).min(rate);
    *last = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        true
    } else {
        false
    }
}

fn throttle_error(name: &str) -> SqsError {
    if name == "ThrottlingException" {
        SqsError::new(ErrorCode::ThrottlingException, "Rate exceeded")
    } else {
        SqsError::new(ErrorCode::RequestThrottled, "Request is throttled.")
    }
}

fn server_error(name: &str) -> SqsError {
    if name == "ServiceUnavailable" {
        SqsError::new(ErrorCode::ServiceUnavailable, "The service is unavailable. Please try again later.")
    } else {
        SqsError::internal()
    }
}

fn validate(rule: &FaultRule) -> Result<(), String> {
    if !(0.0..=1.0).contains(&rule.probability) {
        return Err(format!("probability {} is not between 0 and 1", rule.probability));
    }
    match &rule.fault {
        FaultKind::Throttle { error } if error != "RequestThrottled" && error != "ThrottlingException" => {
            Err(format!("throttle error {error:?} is not RequestThrottled or ThrottlingException"))
        }
        FaultKind::ServerError { error } if error != "InternalError" && error != "ServiceUnavailable" => {
            Err(format!("server error {error:?} is not InternalError or ServiceUnavailable"))
        }
        FaultKind::PartialBatchFailure { entry_probability, .. } if !(0.0..=1.0).contains(entry_probability) => {
            Err(format!("entry_probability {entry_probability} is not between 0 and 1"))
        }
        _ => Ok(()),
    }
}

/// Matches `text` against a pattern where `*` stands for any run of characters.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ManualClock;

    fn injector() -> (FaultInjector, ManualClock) {
        let clock = ManualClock::new();
        (FaultInjector::new(7, Arc::new(clock.clone())), clock)
    }

    fn rule(text: &str) -> FaultRule {
        serde_json::from_str(text).expect("valid rule")
    }

    #[test]
    fn globs_match_like_shell_patterns() {
        for (pattern, text, expected) in [
            ("*", "orders", true),
            ("orders", "orders", true),
            ("orders", "orders2", false),
            ("ord*", "orders", true),
            ("*ers", "orders", true),
            ("o*d*s", "orders", true),
            ("o*x*s", "orders", false),
            ("Send*", "SendMessageBatch", true),
            ("a*a", "a", false),
        ] {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn no_rules_means_no_faults() {
        let (faults, _) = injector();
        assert_eq!(faults.decide(Action::SendMessage, Some("q")), Decision::default());
    }

    #[test]
    fn rules_match_queue_and_action_and_count_their_injections() {
        let (faults, _) = injector();
        let id = faults.add(rule(r#"{"queue":"ord*","action":"SendMessage","kind":"throttle"}"#)).expect("valid");

        let hit = faults.decide(Action::SendMessage, Some("orders"));
        let miss_queue = faults.decide(Action::SendMessage, Some("payments"));
        let miss_action = faults.decide(Action::ReceiveMessage, Some("orders"));

        assert!(matches!(hit.outcome, Some(Outcome::Fail(ref e)) if e.code == ErrorCode::RequestThrottled));
        assert_eq!(miss_queue, Decision::default());
        assert_eq!(miss_action, Decision::default());
        assert_eq!(faults.list().1[0].injected, 1);
        assert!(faults.remove(id));
        assert_eq!(faults.decide(Action::SendMessage, Some("orders")), Decision::default());
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let pick = |seed: u64| {
            let (faults, _) = injector();
            faults.reset(Some(seed));
            faults.add(rule(r#"{"kind":"server_error","probability":0.5}"#)).expect("valid");
            (0..64).map(|_| faults.decide(Action::SendMessage, Some("q")).outcome.is_some()).collect::<Vec<_>>()
        };

        assert_eq!(pick(42), pick(42));
        assert_ne!(pick(42), pick(43));
        let hits = pick(42).into_iter().filter(|hit| *hit).count();
        assert!((16..=48).contains(&hits), "{hits} of 64 at p=0.5");
    }

    #[test]
    fn max_injections_limits_a_rule_and_latency_adds_up() {
        let (faults, _) = injector();
        faults.add(rule(r#"{"kind":"connection_reset","max_injections":1}"#)).expect("valid");
        faults.add(rule(r#"{"kind":"latency","millis":20}"#)).expect("valid");

        let first = faults.decide(Action::GetQueueUrl, None);
        let second = faults.decide(Action::GetQueueUrl, None);

        assert_eq!(first.outcome, Some(Outcome::Reset));
        assert_eq!(first.delay, Duration::from_millis(20));
        assert_eq!(second.outcome, None);
    }

    #[test]
    fn fifo_quota_allows_300_calls_per_second_per_action() {
        let (faults, clock) = injector();
        faults.set_quotas(true);
        let allowed =
            |n: usize| (0..n).filter(|_| faults.decide(Action::SendMessage, Some("q.fifo")).outcome.is_none()).count();

        assert_eq!(allowed(1000), 300);
        assert_eq!(faults.decide(Action::SendMessage, Some("standard")).outcome, None);
        clock.advance(Duration::from_millis(500));
        assert_eq!(allowed(1000), 150);

        let high = |n: usize| {
            (0..n)
                .filter(|_| faults.decide_at_rate(Action::SendMessage, Some("h.fifo"), 70_000.0).outcome.is_none())
                .count()
        };
        assert_eq!(high(1000), 1000);
        assert_eq!(high_throughput_fifo_calls_per_second("us-east-1"), 70_000.0);
        assert_eq!(high_throughput_fifo_calls_per_second("eu-central-1"), 19_000.0);
    }

    #[test]
    fn invalid_rules_are_rejected() {
        let (faults, _) = injector();
        assert!(faults.add(rule(r#"{"kind":"throttle","probability":2}"#)).is_err());
        assert!(faults.add(rule(r#"{"kind":"throttle","error":"Nope"}"#)).is_err());
        assert!(serde_json::from_str::<FaultRule>(r#"{"kind":"explode"}"#).is_err());
    }

    #[test]
    fn kind_names_are_the_serialized_tags() {
        for text in [
            r#"{"kind":"throttle"}"#,
            r#"{"kind":"server_error"}"#,
            r#"{"kind":"latency","millis":1}"#,
            r#"{"kind":"partial_batch_failure"}"#,
            r#"{"kind":"response_lost"}"#,
            r#"{"kind":"connection_reset"}"#,
        ] {
            let rule = rule(text);
            let tag = serde_json::to_value(&rule).expect("serializes")["kind"].clone();

            assert_eq!(tag, rule.fault.as_str(), "{text}");
        }
    }
}
