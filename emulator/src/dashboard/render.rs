//! The dashboard's pages as compile-time checked `maud` templates, which escape every interpolated string:
//! no page can forget to escape a queue name, a body or an attribute. Pure functions of what the handlers
//! collected; no engine calls and no HTTP types here. The console's forms are in `forms.rs`.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::forms;
use super::history::{Sample, WINDOW};
use super::layout::STYLE;
pub use super::layout::{Frame, QueueDetail, REFRESH_SECONDS, arn_account, page, queue_href};
use super::widgets::{human, sparkline, truncated, utc};
use crate::engine::{AttributeValue, MessageState, QueueAttributeName, QueueMetrics, Timestamp};
use crate::faults::InstalledRule;

/// Characters of a body shown in the message table.
const BODY_CHARS: usize = 240;
/// Characters of an attribute value shown in the message table.
const ATTRIBUTE_CHARS: usize = 60;

/// The overview: every queue with its depth, chart and dead-letter links, and the installed fault rules.
pub fn overview(
    frame: &Frame<'_>,
    queues: &[QueueMetrics],
    history: &BTreeMap<String, Vec<Sample>>,
    rules: &[InstalledRule],
) -> Markup {
    let total = |count: fn(&QueueMetrics) -> usize| queues.iter().map(count).sum::<usize>();
    let body = html! {
        section.stats {
            (stat("Queues", "queues", &queues.len().to_string()))
            (stat("Visible", "visible", &total(|q| q.counts.visible).to_string()))
            (stat("In flight", "in-flight", &total(|q| q.counts.in_flight).to_string()))
            (stat("Delayed", "delayed", &total(|q| q.counts.delayed).to_string()))
            (stat("Fault rules", "fault-rules", &rules.len().to_string()))
        }
        div.title {
            h2 { "Queues" }
            a.button href="/ui/new-queue" { "Create queue" }
        }
        @if queues.is_empty() {
            p.empty {
                "No queues yet. Create one here or with "
                code { "aws --endpoint-url http://127.0.0.1:9324 sqs create-queue --queue-name orders" } "."
            }
        } @else {
            (queue_table(frame, queues, history))
        }
        @if !rules.is_empty() {
            (fault_table(rules))
        }
    };
    page(frame, "Queues", body)
}

fn queue_table(frame: &Frame<'_>, queues: &[QueueMetrics], history: &BTreeMap<String, Vec<Sample>>) -> Markup {
    html! {
        table.queues {
            thead { tr {
                th { "Queue" } th { "Type" } th.num { "Visible" } th.num { "In flight" } th.num { "Delayed" }
                th.num { "Oldest" } th { "Visible, last " (WINDOW.as_secs() / 60) " min" }
                th { "Dead-letter queue" } th { "Dead-letter queue for" }
            } }
            tbody {
                @for queue in queues {
                    @let samples = history.get(&queue.arn).map_or(&[][..], Vec::as_slice);
                    tr data-queue=(queue.name) {
                        td {
                            a.queue href=(queue_href(frame.config, &queue.region, &queue.account, &queue.name)) { (queue.name) }
                            @if queue.region != frame.config.region || queue.account != frame.config.account_id {
                                " " small.muted { (queue.region) " · " (queue.account) }
                            }
                        }
                        td { (type_badge(queue.fifo)) }
                        td.num data-metric="visible" { (queue.counts.visible) }
                        td.num data-metric="in-flight" { (queue.counts.in_flight) }
                        td.num data-metric="delayed" { (queue.counts.delayed) }
                        td.num data-metric="oldest" { (queue.age_of_oldest_message.map_or_else(|| "—".to_owned(), human)) }
                        td { (chart(samples, queue.counts.visible as u64, frame.now, 160, 28)) }
                        td data-metric="dead-letter-queue" { (dead_letter_target(frame, queue, queues)) }
                        td data-metric="dead-letter-sources" { (dead_letter_sources(frame, queue, queues)) }
                    }
                }
            }
        }
    }
}

fn fault_table(rules: &[InstalledRule]) -> Markup {
    html! {
        h2 { "Fault rules" }
        table.faults {
            thead { tr {
                th.num { "Id" } th { "Kind" } th { "Action" } th { "Queue" } th.num { "Probability" } th.num { "Injected" }
            } }
            tbody {
                @for installed in rules {
                    tr {
                        td.num { (installed.id) }
                        td { span.badge.fault { (installed.rule.fault.as_str()) } }
                        td.mono { (installed.rule.action) }
                        td.mono { (installed.rule.queue) }
                        td.num { (installed.rule.probability) }
                        td.num data-metric="injected" { (installed.injected) }
                    }
                }
            }
        }
    }
}

/// The detail page of one queue: numbers, chart, dead-letter links, attributes, tags, messages and the
/// console's forms.
pub fn queue_page(frame: &Frame<'_>, detail: &QueueDetail<'_>) -> Markup {
    let queue = detail.queue;
    let here = queue_href(frame.config, &queue.region, detail.account, &queue.name);
    let body = html! {
        nav.crumbs { a href="/ui" { "Queues" } " / " (queue.name) }
        div.title {
            h1 { (queue.name) }
            (type_badge(queue.fifo))
            a.button.quiet href=(here) { "Refresh" }
        }
        p.mono.muted { (queue.arn) }
        @if let Some(notice) = detail.notice {
            p.notice role="status" { (notice) }
        }
        section.stats {
            (stat("Visible", "visible", &queue.counts.visible.to_string()))
            (stat("In flight", "in-flight", &queue.counts.in_flight.to_string()))
            (stat("Delayed", "delayed", &queue.counts.delayed.to_string()))
            (stat("Oldest message", "oldest", &queue.age_of_oldest_message.map_or_else(|| "—".to_owned(), human)))
            (stat("Sent", "sent", &queue.messages_sent.to_string()))
            (stat("Received", "received", &queue.messages_received.to_string()))
            (stat("Deleted", "deleted", &queue.messages_deleted.to_string()))
            (stat("Empty receives", "empty-receives", &queue.empty_receives.to_string()))
        }
        h2 { "Visible messages, last " (WINDOW.as_secs() / 60) " minutes" }
        div.chart { (chart(detail.history, queue.counts.visible as u64, frame.now, 1180, 110)) }
        div.columns {
            div {
                h2 { "Dead letters" }
                table.kv { tbody {
                    tr { th { "Dead-letter queue" } td data-metric="dead-letter-queue" { (dead_letter_target(frame, queue, detail.all)) } }
                    tr { th { "Dead-letter queue for" } td data-metric="dead-letter-sources" { (dead_letter_sources(frame, queue, detail.all)) } }
                } }
                (forms::redrive(frame, detail))
                h2 { "Tags" }
                @if detail.tags.is_empty() {
                    p.muted { "No tags." }
                } @else {
                    table.kv { tbody {
                        @for (key, value) in detail.tags {
                            tr { th { (key) } td.mono { (value) } }
                        }
                    } }
                }
            }
            div {
                h2 { "Attributes" }
                table.kv.attributes { tbody {
                    @for (attribute, value) in detail.attributes {
                        tr {
                            th { (attribute.as_str()) }
                            td.mono {
                                (value)
                                @if let Some(secs) = value.parse::<u64>().ok().filter(|_| is_time(*attribute)) {
                                    " " span.muted { "· " (utc(Timestamp::from_millis(secs * 1000))) }
                                }
                            }
                        }
                    }
                } }
            }
        }
        (forms::queue_actions(frame, detail))
        (received_table(frame, detail))
        (message_table(frame, detail))
    };
    page(frame, &queue.name, body)
}

fn is_time(attribute: QueueAttributeName) -> bool {
    matches!(attribute, QueueAttributeName::CreatedTimestamp | QueueAttributeName::LastModifiedTimestamp)
}

/// The messages a receive from the console returned, each with a delete and a change-visibility form.
fn received_table(frame: &Frame<'_>, detail: &QueueDetail<'_>) -> Markup {
    if detail.received.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Received " span.muted { "(" (detail.received.len()) "; in flight until deleted or visible again)" } }
        table.messages.received {
            thead { tr { th { "Message id" } th { "Body" } th { "Actions" } } }
            tbody {
                @for message in detail.received {
                    tr data-received=(message.message_id) {
                        td.mono { (message.message_id) }
                        td { code.body { (message.body.as_str()) } }
                        td { (forms::received_message_actions(frame, detail, &message.receipt_handle)) }
                    }
                }
            }
        }
    }
}

fn message_table(frame: &Frame<'_>, detail: &QueueDetail<'_>) -> Markup {
    let counts = detail.queue.counts;
    let stored = counts.visible + counts.in_flight + counts.delayed;
    let shown = detail.messages.len();
    let extent = if shown < stored { format!("first {shown} of {stored}") } else { format!("{shown}") };
    let group_column = detail.queue.fifo || detail.messages.iter().any(|m| m.extra.group_id.is_some());
    html! {
        h2 { "Messages " span.muted { "(" (extent) ", in send order; looking changes nothing)" } }
        @if detail.messages.is_empty() {
            p.empty { "No messages." }
        } @else {
            table.messages {
                thead { tr {
                    th.num { "#" } th { "Message id" } th { "State" } th.num { "Receives" } th { "Sent" }
                    @if group_column { th { "Group" } }
                    th { "Body" } th { "Attributes" }
                } }
                tbody {
                    @for message in detail.messages {
                        @let (body, cut) = truncated(&message.body, BODY_CHARS);
                        tr data-message=(message.message_id) {
                            td.num { (message.sequence) }
                            td.mono title=(message.message_id) { (truncated(&message.message_id, 8).0) "…" }
                            td { (message_state(frame, message.state)) }
                            td.num { (message.receive_count) }
                            td title=(utc(message.sent_at)) { (human(frame.now.saturating_since(message.sent_at))) " ago" }
                            @if group_column { td.mono { (message.extra.group_id.as_deref().unwrap_or("")) } }
                            td { code.body { (body) @if cut { "…" } } }
                            td {
                                @for (name, attribute) in message.attributes.iter() {
                                    div.attr {
                                        b { (name) } " " i { (attribute.data_type) } " "
                                        @match &attribute.value {
                                            AttributeValue::String(text) => {
                                                @let (text, cut) = truncated(text, ATTRIBUTE_CHARS);
                                                code { (text) @if cut { "…" } }
                                            }
                                            AttributeValue::Binary(bytes) => span.muted { (bytes.len()) " bytes" },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if stored > shown {
                p.muted { "Only the first " (detail.peek_limit) " messages are shown." }
            }
        }
    }
}

fn message_state(frame: &Frame<'_>, state: MessageState) -> Markup {
    html! {
        @match state {
            MessageState::Visible => span.badge.visible { "visible" },
            MessageState::InFlight { until, .. } => {
                span.badge.in-flight { "in flight" } " " span.muted { (human(until.saturating_since(frame.now))) " left" }
            }
            MessageState::Delayed { until } => {
                span.badge.delayed { "delayed" } " " span.muted { (human(until.saturating_since(frame.now))) " left" }
            }
        }
    }
}

/// The page for a queue that does not exist (or that the viewer may not see).
pub fn not_found(frame: &Frame<'_>, name: &str) -> Markup {
    let body = html! {
        nav.crumbs { a href="/ui" { "Queues" } }
        p.empty { "There is no queue named " b { (name) } "." }
    };
    page(frame, "Not found", body)
}

/// The page that reports a refused console action with AWS's error code and text.
pub fn refused(frame: &Frame<'_>, action: &str, code: &str, message: &str, back: &str) -> Markup {
    let body = html! {
        nav.crumbs { a href="/ui" { "Queues" } }
        h1 { (action) " refused" }
        p.error role="alert" { b data-error-code=(code) { (code) } ": " span data-error-message { (message) } }
        p { a href=(back) { "Back" } }
    };
    page(frame, "Refused", body)
}

/// The sign-in page, shown (with `401`) to a browser that is neither signed in nor signing its requests while
/// authentication is on. It lists no queue and no message.
pub fn sign_in(token_configured: bool, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · sqskit emulator" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top { a.brand href="/ui" { "sqskit " span { "emulator" } } }
                main {
                    h1 { "Sign in" }
                    p { "Authentication is on (" code { "--auth sigv4" } "): the dashboard shows queues to the operator, "
                        "or to a SigV4-signed request of an account (which then sees only its own)." }
                    @if let Some(error) = error { p.error role="alert" { (error) } }
                    @if token_configured {
                        form.console method="post" action="/ui/login" {
                            label { "Admin token " input type="password" name="token" autocomplete="current-password" required; }
                            button type="submit" { "Sign in" }
                        }
                    } @else {
                        p.muted { "No admin token is configured (" code { "--admin-token" } "), so the dashboard can only be "
                            "reached with signed requests." }
                    }
                }
            }
        }
    }
}

fn stat(label: &str, metric: &str, value: &str) -> Markup {
    html! { div.stat { div.label { (label) } div.value data-metric=(metric) { (value) } } }
}

fn type_badge(fifo: bool) -> Markup {
    html! { @if fifo { span.badge.fifo { "FIFO" } } @else { span.badge { "standard" } } }
}

/// The SVG chart: numbers only, written by [`sparkline`].
fn chart(samples: &[Sample], current: u64, now: Timestamp, width: u32, height: u32) -> Markup {
    let mut svg = String::with_capacity(2048);
    // Writing to a String cannot fail.
    let _ = sparkline(&mut svg, samples, current, now, width, height);
    PreEscaped(svg)
}

/// A link to the queue's dead-letter queue, if its redrive policy names one.
fn dead_letter_target(frame: &Frame<'_>, queue: &QueueMetrics, all: &[QueueMetrics]) -> Markup {
    html! {
        @match &queue.dead_letter_target_arn {
            None => span.muted { "—" },
            Some(arn) => @match all.iter().find(|candidate| candidate.arn == *arn) {
                Some(target) => a.dlq href=(queue_href(frame.config, &target.region, &target.account, &target.name)) { (target.name) },
                None => span.muted title=(arn) { (arn) " (missing)" },
            },
        }
    }
}

/// Links to the queues whose redrive policy names this queue.
fn dead_letter_sources(frame: &Frame<'_>, queue: &QueueMetrics, all: &[QueueMetrics]) -> Markup {
    let sources: Vec<&QueueMetrics> =
        all.iter().filter(|source| source.dead_letter_target_arn.as_deref() == Some(&queue.arn)).collect();
    html! {
        @if sources.is_empty() { span.muted { "—" } }
        @for (index, source) in sources.iter().enumerate() {
            @if index > 0 { ", " }
            a.source href=(queue_href(frame.config, &source.region, &source.account, &source.name)) { (source.name) }
        }
    }
}
