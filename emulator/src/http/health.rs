//! Liveness and readiness, for orchestrators (Kubernetes probes, Compose health checks, CI wait loops).
//!
//! The server binds its socket before it restores durable storage and declares the configured queues, so a
//! probe can tell a process that is alive but still starting from one that is dead:
//!
//! | call | answers |
//! |---|---|
//! | `GET /health/live` | `200 live` whenever the process serves HTTP, starting and draining included |
//! | `GET /health/ready` | `200` with a JSON detail once storage is restored and the declared queues exist; `503` with the same detail while starting, while durable storage is failing, or once shutdown began |
//! | `GET /health` | the readiness as text: `ok`, or `503` with the reason (what it answered before readiness existed) |
//!
//! Degraded durable storage (the data file cannot be brought up to the message log; writes go on and stay durable,
//! but the log grows until they fail) keeps the server ready: `/health/ready` says `"storage": "degraded"` with
//! `storage_degraded`, `/health` answers `200` with `ok, storage degraded: <reason>`, and `/metrics` has
//! `sqskit_storage_degraded 1` (and the growing `sqskit_storage_backlog_events`).
//!
//! While starting, every other path answers `503 ServiceUnavailable` (in the SQS protocol the request uses for
//! SQS requests), which SDKs retry.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::Engine;

/// Where start-up is; kept in an atomic so a probe never waits for a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Opening the data directory and rebuilding queues and messages from it.
    RestoringStorage = 0,
    /// Creating (or updating) the queues of the configuration.
    DeclaringQueues = 1,
    /// Serving.
    Ready = 2,
    /// Shutdown began: long polls end, new connections are refused.
    Stopping = 3,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::RestoringStorage,
            1 => Self::DeclaringQueues,
            2 => Self::Ready,
            _ => Self::Stopping,
        }
    }

    /// The phase's name in the readiness answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RestoringStorage => "restoring_storage",
            Self::DeclaringQueues => "declaring_queues",
            Self::Ready => "ready",
            Self::Stopping => "stopping",
        }
    }
}

/// The start-up state shared by the server's start-up code and the health handlers.
#[derive(Debug)]
pub struct Readiness {
    phase: AtomicU8,
    durable: bool,
    declared_queues: AtomicUsize,
}

impl Readiness {
    /// A server about to restore storage (`durable`) or, in memory mode, about to declare its queues.
    pub fn new(durable: bool) -> Self {
        let phase = if durable { Phase::RestoringStorage } else { Phase::DeclaringQueues };
        Self { phase: AtomicU8::new(phase as u8), durable, declared_queues: AtomicUsize::new(0) }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    /// Moves to `phase`.
    pub fn set(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Records how many queues the configuration declared (and start-up created or updated).
    pub fn set_declared_queues(&self, count: usize) {
        self.declared_queues.store(count, Ordering::Release);
    }

    /// The readiness answer, given the engine once it exists.
    pub fn report(&self, engine: Option<&Engine>) -> ReadinessReport {
        let phase = self.phase();
        let storage_failing = engine.and_then(Engine::storage_failure);
        let storage_degraded = engine.and_then(Engine::storage_degraded);
        let storage = match (self.durable, phase) {
            (false, _) => "memory",
            (true, Phase::RestoringStorage) => "restoring",
            (true, _) if storage_failing.is_some() => "failing",
            (true, _) if storage_degraded.is_some() => "degraded",
            (true, _) => "restored",
        };
        ReadinessReport {
            ready: phase == Phase::Ready && storage_failing.is_none(),
            phase: phase.as_str(),
            storage,
            declared_queues: self.declared_queues.load(Ordering::Acquire),
            queues_declared: matches!(phase, Phase::Ready | Phase::Stopping),
            storage_failing,
            storage_degraded,
        }
    }
}

/// What `GET /health/ready` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadinessReport {
    /// Whether the emulator serves requests now.
    pub ready: bool,
    /// The start-up phase (`restoring_storage`, `declaring_queues`, `ready`, `stopping`).
    pub phase: &'static str,
    /// `memory`, or for a data directory `restoring`, `restored`, `degraded` or `failing`.
    pub storage: &'static str,
    /// How many queues the configuration declares.
    pub declared_queues: usize,
    /// Whether those queues exist yet.
    pub queues_declared: bool,
    /// Why durable storage is failing, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_failing: Option<String>,
    /// Why durable storage is degraded, if it is (the server stays ready: writes go on and are durable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_degraded: Option<String>,
}

impl ReadinessReport {
    /// The reason for not being ready, in words (`None` when ready).
    pub fn reason(&self) -> Option<String> {
        if self.ready {
            return None;
        }
        Some(match (&self.storage_failing, self.phase) {
            (Some(failure), _) => format!("storage failing: {failure}"),
            (None, "restoring_storage") => "starting: restoring durable storage".to_owned(),
            (None, "declaring_queues") => "starting: declaring the configured queues".to_owned(),
            (None, _) => "shutting down".to_owned(),
        })
    }
}

/// `GET /health/live`.
pub fn live() -> Response {
    "live".into_response()
}

/// `GET /health/ready`.
pub fn ready(readiness: &Readiness, engine: Option<&Engine>) -> Response {
    let report = readiness.report(engine);
    let status = if report.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report)).into_response()
}

/// `GET /health`: `ok` (with what is degraded, if anything), or 503 with the reason.
pub fn summary(readiness: &Readiness, engine: Option<&Engine>) -> Response {
    let report = readiness.report(engine);
    match (report.reason(), report.storage_degraded) {
        (None, None) => "ok".into_response(),
        (None, Some(degraded)) => format!("ok, storage degraded: {degraded}").into_response(),
        (Some(reason), _) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_phases() {
        let readiness = Readiness::new(true);
        let report = readiness.report(None);
        assert!(!report.ready);
        assert_eq!((report.phase, report.storage), ("restoring_storage", "restoring"));
        assert_eq!(report.reason().as_deref(), Some("starting: restoring durable storage"));
        readiness.set(Phase::DeclaringQueues);
        readiness.set_declared_queues(3);
        let engine = Engine::default();
        let report = readiness.report(Some(&engine));
        assert!(!report.ready && !report.queues_declared);
        assert_eq!((report.storage, report.declared_queues), ("restored", 3));
        readiness.set(Phase::Ready);
        let report = readiness.report(Some(&engine));
        assert!(report.ready && report.queues_declared && report.reason().is_none());
        readiness.set(Phase::Stopping);
        assert_eq!(readiness.report(Some(&engine)).reason().as_deref(), Some("shutting down"));
        assert_eq!(Readiness::new(false).report(None).storage, "memory");
    }
}
