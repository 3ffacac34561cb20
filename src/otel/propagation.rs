//! Trace context in and out of SQS messages: W3C `traceparent` / `tracestate` message attributes (through
//! `opentelemetry_sdk`'s [`TraceContextPropagator`]) and the X-Ray `AWSTraceHeader` system attribute (through
//! `opentelemetry-aws`).

use std::collections::BTreeMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;

use crate::telemetry::{TRACEPARENT_ATTRIBUTE, TRACESTATE_ATTRIBUTE};
use crate::types::{MessageAttribute, MessageAttributes};

/// Reads the W3C headers from message attributes (String attributes only).
struct AttributeExtractor<'a>(&'a MessageAttributes);

impl Extractor for AttributeExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(MessageAttribute::as_text)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name).collect()
    }
}

/// Collects what the propagator writes, to be checked against the attribute limit before it goes in.
#[derive(Default)]
struct Collected(BTreeMap<String, String>);

impl Injector for Collected {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The W3C creation context in `attributes`, if valid.
fn w3c_context(attributes: &MessageAttributes) -> Option<SpanContext> {
    attributes.get(TRACEPARENT_ATTRIBUTE)?;
    let context = TraceContextPropagator::new().extract(&AttributeExtractor(attributes));
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

/// The X-Ray creation context of an `AWSTraceHeader` value, if it parses to a valid context.
fn xray_context(header: &str) -> Option<SpanContext> {
    opentelemetry_aws::trace::xray_propagator::span_context_from_str(header.trim()).filter(SpanContext::is_valid)
}

/// The creation contexts a message carries: the W3C one (`traceparent`, `tracestate`) first, then the X-Ray
/// one (`AWSTraceHeader`) when it is present and different. A malformed value is ignored (the W3C spec says
/// to start afresh).
///
/// # Examples
/// ```
/// use sqskit::otel::message_creation_contexts;
/// use sqskit::types::MessageAttributes;
///
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// let contexts = message_creation_contexts(&MessageAttributes::new(), Some(header));
/// assert_eq!(contexts.len(), 1);
/// assert_eq!(contexts[0].trace_id().to_string(), "5759e988bd862e3fe1be46a994272793");
/// assert_eq!(contexts[0].span_id().to_string(), "53995c3f42cd8ad8");
/// assert!(contexts[0].is_sampled());
/// ```
pub fn message_creation_contexts(attributes: &MessageAttributes, aws_trace_header: Option<&str>) -> Vec<SpanContext> {
    let mut contexts = Vec::with_capacity(1);
    if let Some(w3c) = w3c_context(attributes) {
        contexts.push(w3c);
    }
    if let Some(xray) = aws_trace_header.and_then(xray_context) {
        let same =
            contexts.first().is_some_and(|w3c| w3c.trace_id() == xray.trace_id() && w3c.span_id() == xray.span_id());
        if !same {
            contexts.push(xray);
        }
    }
    contexts
}

/// Writes `context`'s span into `attributes` as `traceparent` (and `tracestate`, when not empty and there is
/// room), using at most `room` attributes. Returns whether the `traceparent` went in.
pub(super) fn inject(context: &Context, attributes: &mut MessageAttributes, room: usize) -> bool {
    if !context.span().span_context().is_valid() {
        return false;
    }
    if room == 0 {
        tracing::debug!("message already has 10 attributes; not adding the traceparent");
        return false;
    }
    let mut collected = Collected::default();
    TraceContextPropagator::new().inject_context(context, &mut collected);
    let Some(traceparent) = collected.0.remove(TRACEPARENT_ATTRIBUTE) else { return false };
    attributes.insert(TRACEPARENT_ATTRIBUTE, MessageAttribute::string(traceparent));
    // SQS rejects empty attribute values: an empty trace state is simply left out.
    if let Some(state) = collected.0.remove(TRACESTATE_ATTRIBUTE).filter(|state| !state.is_empty()) {
        if room >= 2 {
            attributes.insert(TRACESTATE_ATTRIBUTE, MessageAttribute::string(state));
        } else {
            tracing::debug!("message has room for one more attribute; sending the traceparent without its tracestate");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn context(state: &str) -> Context {
        let span_context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
            SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
            TraceFlags::SAMPLED,
            false,
            state.parse::<TraceState>().expect("trace state"),
        );
        Context::new().with_remote_span_context(span_context)
    }

    fn attributes(count: usize) -> MessageAttributes {
        (0..count).fold(MessageAttributes::new(), |all, i| all.with(format!("a{i}"), MessageAttribute::string("x")))
    }

    #[test]
    fn injects_both_headers_and_reads_them_back() {
        let mut attributes = attributes(0);
        assert!(inject(&context("congo=t61rcWkgMzE"), &mut attributes, 10));
        let traceparent = attributes.get(TRACEPARENT_ATTRIBUTE).and_then(MessageAttribute::as_text);
        assert_eq!(traceparent, Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        assert_eq!(attributes.get(TRACESTATE_ATTRIBUTE).and_then(MessageAttribute::as_text), Some("congo=t61rcWkgMzE"));
        let read = message_creation_contexts(&attributes, None);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(read[0].trace_state().get("congo"), Some("t61rcWkgMzE"));
    }

    #[test]
    fn respects_the_attribute_limit() {
        let mut full = attributes(10);
        assert!(!inject(&context("congo=1"), &mut full, 0));
        assert_eq!(full.len(), 10);
        let mut one_left = attributes(9);
        assert!(inject(&context("congo=1"), &mut one_left, 1));
        assert!(one_left.get(TRACEPARENT_ATTRIBUTE).is_some());
        assert!(one_left.get(TRACESTATE_ATTRIBUTE).is_none());
        let mut no_state = attributes(0);
        assert!(inject(&context(""), &mut no_state, 10));
        assert_eq!(no_state.len(), 1, "an empty tracestate is not sent");
    }

    #[test]
    fn invalid_contexts_are_neither_injected_nor_read() {
        let mut attributes = attributes(0);
        assert!(!inject(&Context::new(), &mut attributes, 10));
        assert!(attributes.is_empty());
        let bad = MessageAttributes::new().with(TRACEPARENT_ATTRIBUTE, MessageAttribute::string("00-zz-01"));
        assert!(message_creation_contexts(&bad, Some("Root=garbage")).is_empty());
    }

    #[test]
    fn xray_and_w3c_contexts_are_both_kept_when_they_differ() {
        let w3c = MessageAttributes::new().with(
            TRACEPARENT_ATTRIBUTE,
            MessageAttribute::string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let other = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
        let both = message_creation_contexts(&w3c, Some(other));
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!both[1].is_sampled());
        let same = "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1";
        assert_eq!(message_creation_contexts(&w3c, Some(same)).len(), 1);
    }
}
