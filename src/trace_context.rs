//! W3C trace context across SQS: [`TraceContext`] (a `traceparent`, parsed and rendered per the W3C Trace
//! Context spec), carried from producer to consumer in the [`TRACEPARENT_ATTRIBUTE`] message attribute.
//!
//! - **Producer.** A send carries a `traceparent` when the caller gives one
//!   ([`SendOptions::trace_context`](crate::SendOptions::trace_context)) or when one is ambient: set for a task
//!   with [`TraceContext::scope`]. An explicit context counts toward SQS's limit of 10 message attributes like
//!   any attribute (an 11th fails validation); an ambient one is skipped, with a debug log, when the message
//!   already has 10 attributes, so turning tracing on never makes a send fail. An explicit `traceparent`
//!   attribute set through [`SendOptions::attribute`](crate::SendOptions::attribute) is left untouched.
//! - **Consumer.** The consumer reads the attribute (and the `AWSTraceHeader` system attribute, which it asks
//!   for) into [`MessageMeta`](crate::consumer::MessageMeta), records both on the `sqskit.process` span, and
//!   runs a single-message handler with the message's context ambient, so the handler's own sends continue
//!   the trace. A malformed `traceparent` is ignored (the spec says to start afresh).
//!
//! Without the feature `otel`, sqskit creates no spans in a tracing system: the context passes through
//! unchanged, and `tracestate` is not carried. With it, the current OpenTelemetry span (through
//! `tracing-opentelemetry`) comes before the ambient `TraceContext`: each message gets a `create` span whose
//! context goes into `traceparent` and `tracestate`, and consumers make their spans children of, or linked to,
//! it (see `sqskit::otel`).

use std::fmt;
use std::future::Future;
use std::str::FromStr;

pub use crate::telemetry::TRACEPARENT_ATTRIBUTE;

tokio::task_local! {
    static AMBIENT: TraceContext;
}

/// A W3C `traceparent`: version `00`, a 16-byte trace id, an 8-byte parent (span) id and the trace flags.
///
/// # Examples
/// ```
/// use sqskit::trace_context::TraceContext;
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let context: TraceContext = header.parse().expect("valid traceparent");
/// assert!(context.is_sampled());
/// assert_eq!(context.to_string(), header);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

/// Why a `traceparent` was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid traceparent: {0}")]
pub struct InvalidTraceParent(&'static str);

impl TraceContext {
    /// The sampled flag.
    pub const SAMPLED: u8 = 0x01;

    /// A context from its parts.
    ///
    /// # Errors
    /// When `trace_id` or `parent_id` is all zeros (invalid per the spec).
    pub fn new(trace_id: [u8; 16], parent_id: [u8; 8], flags: u8) -> Result<Self, InvalidTraceParent> {
        if trace_id == [0; 16] {
            return Err(InvalidTraceParent("all-zero trace id"));
        }
        if parent_id == [0; 8] {
            return Err(InvalidTraceParent("all-zero parent id"));
        }
        Ok(Self { trace_id, parent_id, flags })
    }

    /// A new trace: random trace and parent ids, sampled.
    pub fn new_root() -> Self {
        let trace_id: [u8; 16] = nonzero(rand::random);
        let parent_id: [u8; 8] = nonzero(rand::random);
        Self { trace_id, parent_id, flags: Self::SAMPLED }
    }

    /// The same trace with a new random parent id: the context to pass on from a new span of this trace.
    pub fn child(&self) -> Self {
        Self { parent_id: nonzero(rand::random), ..*self }
    }

    /// The trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The parent (span) id.
    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    /// The trace flags.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & Self::SAMPLED != 0
    }

    /// The context ambient in the current task ([`TraceContext::scope`]), if any.
    pub fn current() -> Option<Self> {
        AMBIENT.try_with(|context| *context).ok()
    }

    /// Runs `future` with this context ambient: sqskit producers sending from inside it attach it.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        AMBIENT.scope(self, future).await
    }

    /// Parses a `traceparent` header value.
    ///
    /// # Errors
    /// When it does not follow the spec: wrong lengths or separators, upper-case or non-hex digits, version
    /// `ff`, all-zero ids, or extra data after a version `00` header.
    pub fn parse(header: &str) -> Result<Self, InvalidTraceParent> {
        let header = header.trim();
        let bytes = header.as_bytes();
        if !header.is_ascii() {
            return Err(InvalidTraceParent("not ASCII"));
        }
        if bytes.len() < 55 {
            return Err(InvalidTraceParent("too short"));
        }
        let version = hex_u8(&header[0..2]).ok_or(InvalidTraceParent("bad version"))?;
        if version == 0xff {
            return Err(InvalidTraceParent("version ff"));
        }
        // Version 00 is exactly 55 characters; a later version may append fields after a '-'.
        if (version == 0 && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
            return Err(InvalidTraceParent("bad length"));
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(InvalidTraceParent("bad separators"));
        }
        let mut trace_id = [0u8; 16];
        for (i, byte) in trace_id.iter_mut().enumerate() {
            *byte = hex_u8(&header[3 + 2 * i..5 + 2 * i]).ok_or(InvalidTraceParent("bad trace id"))?;
        }
        let mut parent_id = [0u8; 8];
        for (i, byte) in parent_id.iter_mut().enumerate() {
            *byte = hex_u8(&header[36 + 2 * i..38 + 2 * i]).ok_or(InvalidTraceParent("bad parent id"))?;
        }
        let flags = hex_u8(&header[53..55]).ok_or(InvalidTraceParent("bad flags"))?;
        // Future versions keep the 00 layout; their context is used as version 00 (the spec's advice).
        Self::new(trace_id, parent_id, flags)
    }
}

impl FromStr for TraceContext {
    type Err = InvalidTraceParent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TraceContext {
    /// The `traceparent` header value (version `00`, lower-case hex).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("00-")?;
        for byte in self.trace_id {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("-")?;
        for byte in self.parent_id {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "-{:02x}", self.flags)
    }
}

/// Two lower-case hex digits (the spec allows no upper case).
fn hex_u8(digits: &str) -> Option<u8> {
    if digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    u8::from_str_radix(digits, 16).ok()
}

fn nonzero<const N: usize>(mut random: impl FnMut() -> [u8; N]) -> [u8; N] {
    loop {
        let candidate = random();
        if candidate != [0; N] {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn round_trips_a_valid_header() {
        let context = TraceContext::parse(VALID).expect("valid");
        assert_eq!(context.to_string(), VALID);
        assert_eq!(context.parent_id(), [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
        assert!(context.is_sampled());
    }

    #[test]
    fn rejects_what_the_spec_rejects() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn accepts_later_versions_with_extra_fields() {
        let context = TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more")
            .expect("a later version is read as 00");
        assert!(!context.is_sampled());
        assert_eq!(context.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    }

    #[test]
    fn roots_and_children_are_valid() {
        let root = TraceContext::new_root();
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_eq!(TraceContext::parse(&child.to_string()), Ok(child));
    }

    #[tokio::test]
    async fn scope_makes_a_context_ambient() {
        assert_eq!(TraceContext::current(), None);
        let context = TraceContext::new_root();
        let seen = context.scope(async { TraceContext::current() }).await;
        assert_eq!(seen, Some(context));
    }
}
