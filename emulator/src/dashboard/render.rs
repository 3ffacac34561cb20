//! The dashboard's pages as HTML strings: the queue overview, a queue's detail page and "not found". Pure
//! functions of the numbers the handlers collected; no engine calls and no HTTP types here.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use super::history::{Sample, WINDOW};
use super::widgets::{Escaped, human, sparkline, truncated, utc};
use crate::engine::{
    AttributeValue, EngineConfig, MessageState, PeekedMessage, QueueAttributeName, QueueMetrics, Timestamp,
};
use crate::faults::InstalledRule;

const STYLE: &str = include_str!("style.css");
/// Seconds between automatic reloads of every page.
const REFRESH_SECONDS: u32 = 5;
/// Characters of a body shown in the message table.
const BODY_CHARS: usize = 240;
/// Characters of an attribute value shown in the message table.
const ATTRIBUTE_CHARS: usize = 60;

/// What every page shows in its header.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The engine's current time.
    pub now: Timestamp,
    /// Whether the engine runs on a manual (virtual) clock.
    pub manual_clock: bool,
    /// Region and account.
    pub config: &'a EngineConfig,
}

/// Everything the detail page of one queue shows.
#[derive(Debug, Clone, Copy)]
pub struct QueueDetail<'a> {
    /// The queue's numbers.
    pub queue: &'a QueueMetrics,
    /// Every queue's numbers (for dead-letter links).
    pub all: &'a [QueueMetrics],
    /// All attributes, as GetQueueAttributes returns them.
    pub attributes: &'a [(QueueAttributeName, String)],
    /// Tags.
    pub tags: &'a BTreeMap<String, String>,
    /// The first messages, in send order.
    pub messages: &'a [PeekedMessage],
    /// How many messages the peek was limited to.
    pub peek_limit: usize,
    /// Recent depth samples.
    pub history: &'a [Sample],
}

/// The overview: every queue with its depth, chart and dead-letter links, and the installed fault rules.
///
/// # Errors
/// Only if formatting fails, which writing to a `String` does not.
pub fn overview(
    frame: &Frame<'_>,
    queues: &[QueueMetrics],
    history: &BTreeMap<String, Vec<Sample>>,
    rules: &[InstalledRule],
) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(16 * 1024);
    open_page(&mut out, frame, "Queues")?;
    let total = |count: fn(&QueueMetrics) -> usize| queues.iter().map(count).sum::<usize>();
    out.push_str(r#"<section class="stats">"#);
    stat(&mut out, "Queues", "queues", &queues.len().to_string())?;
    stat(&mut out, "Visible", "visible", &total(|q| q.counts.visible).to_string())?;
    stat(&mut out, "In flight", "in-flight", &total(|q| q.counts.in_flight).to_string())?;
    stat(&mut out, "Delayed", "delayed", &total(|q| q.counts.delayed).to_string())?;
    stat(&mut out, "Fault rules", "fault-rules", &rules.len().to_string())?;
    out.push_str("</section><h2>Queues</h2>");
    if queues.is_empty() {
        out.push_str(
            r#"<p class="empty">No queues yet. Create one with <code>aws --endpoint-url http://127.0.0.1:9324 sqs create-queue --queue-name orders</code>.</p>"#,
        );
    } else {
        queue_table(&mut out, frame, queues, history)?;
    }
    if !rules.is_empty() {
        fault_table(&mut out, rules)?;
    }
    close_page(&mut out)?;
    Ok(out)
}

fn queue_table(
    out: &mut String,
    frame: &Frame<'_>,
    queues: &[QueueMetrics],
    history: &BTreeMap<String, Vec<Sample>>,
) -> fmt::Result {
    write!(
        out,
        r#"<table class="queues"><thead><tr><th>Queue</th><th>Type</th><th class="num">Visible</th><th class="num">In flight</th><th class="num">Delayed</th><th class="num">Oldest</th><th>Visible, last {} min</th><th>Dead-letter queue</th><th>Dead-letter queue for</th></tr></thead><tbody>"#,
        WINDOW.as_secs() / 60
    )?;
    for queue in queues {
        let name = Escaped(&queue.name);
        let href = Escaped(&queue_href(frame, queue));
        write!(out, r#"<tr data-queue="{name}"><td><a class="queue" href="{href}">{name}</a>"#)?;
        if !in_default_scope(frame, queue) {
            write!(out, r#" <small class="muted">{} · {}</small>"#, Escaped(&queue.region), Escaped(&queue.account))?;
        }
        out.push_str("</td><td>");
        type_badge(out, queue.fifo);
        out.push_str("</td>");
        number_cell(out, "visible", queue.counts.visible)?;
        number_cell(out, "in-flight", queue.counts.in_flight)?;
        number_cell(out, "delayed", queue.counts.delayed)?;
        let oldest = queue.age_of_oldest_message.map_or_else(|| "—".to_owned(), human);
        write!(out, r#"<td class="num" data-metric="oldest">{oldest}</td><td>"#)?;
        let samples = history.get(&queue.arn).map_or(&[][..], Vec::as_slice);
        sparkline(out, samples, queue.counts.visible as u64, frame.now, 160, 28)?;
        out.push_str(r#"</td><td data-metric="dead-letter-queue">"#);
        dead_letter_target(out, frame, queue, queues)?;
        out.push_str(r#"</td><td data-metric="dead-letter-sources">"#);
        dead_letter_sources(out, frame, queue, queues)?;
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    Ok(())
}

fn fault_table(out: &mut String, rules: &[InstalledRule]) -> fmt::Result {
    out.push_str(
        r#"<h2>Fault rules</h2><table class="faults"><thead><tr><th class="num">Id</th><th>Kind</th><th>Action</th><th>Queue</th><th class="num">Probability</th><th class="num">Injected</th></tr></thead><tbody>"#,
    );
    for installed in rules {
        let rule = &installed.rule;
        write!(
            out,
            r#"<tr><td class="num">{}</td><td><span class="badge fault">{}</span></td><td class="mono">{}</td><td class="mono">{}</td><td class="num">{}</td><td class="num" data-metric="injected">{}</td></tr>"#,
            installed.id,
            rule.fault.as_str(),
            Escaped(&rule.action),
            Escaped(&rule.queue),
            rule.probability,
            installed.injected,
        )?;
    }
    out.push_str("</tbody></table>");
    Ok(())
}

/// The detail page of one queue: numbers, chart, dead-letter links, attributes, tags and a peek at messages.
///
/// # Errors
/// Only if formatting fails, which writing to a `String` does not.
pub fn queue_page(frame: &Frame<'_>, detail: &QueueDetail<'_>) -> Result<String, fmt::Error> {
    let queue = detail.queue;
    let name = Escaped(&queue.name);
    let mut out = String::with_capacity(32 * 1024);
    open_page(&mut out, frame, &queue.name)?;
    write!(out, r#"<nav class="crumbs"><a href="/ui">Queues</a> / {name}</nav><div class="title"><h1>{name}</h1>"#)?;
    type_badge(&mut out, queue.fifo);
    write!(out, r#"</div><p class="mono muted">{}</p><section class="stats">"#, Escaped(&queue.arn))?;
    stat(&mut out, "Visible", "visible", &queue.counts.visible.to_string())?;
    stat(&mut out, "In flight", "in-flight", &queue.counts.in_flight.to_string())?;
    stat(&mut out, "Delayed", "delayed", &queue.counts.delayed.to_string())?;
    let oldest = queue.age_of_oldest_message.map_or_else(|| "—".to_owned(), human);
    stat(&mut out, "Oldest message", "oldest", &oldest)?;
    stat(&mut out, "Sent", "sent", &queue.messages_sent.to_string())?;
    stat(&mut out, "Received", "received", &queue.messages_received.to_string())?;
    stat(&mut out, "Deleted", "deleted", &queue.messages_deleted.to_string())?;
    stat(&mut out, "Empty receives", "empty-receives", &queue.empty_receives.to_string())?;
    write!(out, r#"</section><h2>Visible messages, last {} minutes</h2><div class="chart">"#, WINDOW.as_secs() / 60)?;
    sparkline(&mut out, detail.history, queue.counts.visible as u64, frame.now, 1180, 110)?;
    out.push_str(r#"</div><div class="columns"><div><h2>Dead letters</h2><table class="kv"><tbody><tr><th>Dead-letter queue</th><td data-metric="dead-letter-queue">"#);
    dead_letter_target(&mut out, frame, queue, detail.all)?;
    out.push_str(r#"</td></tr><tr><th>Dead-letter queue for</th><td data-metric="dead-letter-sources">"#);
    dead_letter_sources(&mut out, frame, queue, detail.all)?;
    out.push_str("</td></tr></tbody></table><h2>Tags</h2>");
    if detail.tags.is_empty() {
        out.push_str(r#"<p class="muted">No tags.</p>"#);
    } else {
        out.push_str(r#"<table class="kv"><tbody>"#);
        for (key, value) in detail.tags {
            write!(out, r#"<tr><th>{}</th><td class="mono">{}</td></tr>"#, Escaped(key), Escaped(value))?;
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(r#"</div><div><h2>Attributes</h2><table class="kv attributes"><tbody>"#);
    for (attribute, value) in detail.attributes {
        write!(out, r#"<tr><th>{}</th><td class="mono">{}"#, attribute.as_str(), Escaped(value))?;
        let is_time =
            matches!(attribute, QueueAttributeName::CreatedTimestamp | QueueAttributeName::LastModifiedTimestamp);
        if let Some(secs) = value.parse::<u64>().ok().filter(|_| is_time) {
            write!(out, r#" <span class="muted">· {}</span>"#, utc(Timestamp::from_millis(secs * 1000)))?;
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></div></div>");
    message_table(&mut out, frame, detail)?;
    close_page(&mut out)?;
    Ok(out)
}

fn message_table(out: &mut String, frame: &Frame<'_>, detail: &QueueDetail<'_>) -> fmt::Result {
    let counts = detail.queue.counts;
    let stored = counts.visible + counts.in_flight + counts.delayed;
    let shown = detail.messages.len();
    let extent = if shown < stored { format!("first {shown} of {stored}") } else { format!("{shown}") };
    write!(out, r#"<h2>Messages <span class="muted">({extent}, in send order; read-only)</span></h2>"#)?;
    if detail.messages.is_empty() {
        out.push_str(r#"<p class="empty">No messages.</p>"#);
        return Ok(());
    }
    let group_column = detail.queue.fifo || detail.messages.iter().any(|m| m.extra.group_id.is_some());
    out.push_str(r#"<table class="messages"><thead><tr><th class="num">#</th><th>Message id</th><th>State</th><th class="num">Receives</th><th>Sent</th>"#);
    if group_column {
        out.push_str("<th>Group</th>");
    }
    out.push_str("<th>Body</th><th>Attributes</th></tr></thead><tbody>");
    for message in detail.messages {
        let id = Escaped(&message.message_id);
        let short_id = Escaped(truncated(&message.message_id, 8).0);
        write!(
            out,
            r#"<tr data-message="{id}"><td class="num">{}</td><td class="mono" title="{id}">{short_id}…</td><td>"#,
            message.sequence
        )?;
        match message.state {
            MessageState::Visible => out.push_str(r#"<span class="badge visible">visible</span>"#),
            MessageState::InFlight { until, .. } => write!(
                out,
                r#"<span class="badge in-flight">in flight</span> <span class="muted">{} left</span>"#,
                human(until.saturating_since(frame.now))
            )?,
            MessageState::Delayed { until } => write!(
                out,
                r#"<span class="badge delayed">delayed</span> <span class="muted">{} left</span>"#,
                human(until.saturating_since(frame.now))
            )?,
        }
        write!(
            out,
            r#"</td><td class="num">{}</td><td title="{}">{} ago</td>"#,
            message.receive_count,
            utc(message.sent_at),
            human(frame.now.saturating_since(message.sent_at))
        )?;
        if group_column {
            write!(out, r#"<td class="mono">{}</td>"#, Escaped(message.extra.group_id.as_deref().unwrap_or("")))?;
        }
        let (body, cut) = truncated(&message.body, BODY_CHARS);
        write!(out, r#"<td><code class="body">{}{}</code></td><td>"#, Escaped(body), if cut { "…" } else { "" })?;
        for (name, attribute) in message.attributes.iter() {
            write!(out, r#"<div class="attr"><b>{}</b> <i>{}</i> "#, Escaped(name), Escaped(&attribute.data_type))?;
            match &attribute.value {
                AttributeValue::String(text) => {
                    let (text, cut) = truncated(text, ATTRIBUTE_CHARS);
                    write!(out, "<code>{}{}</code>", Escaped(text), if cut { "…" } else { "" })?;
                }
                AttributeValue::Binary(bytes) => write!(out, r#"<span class="muted">{} bytes</span>"#, bytes.len())?,
            }
            out.push_str("</div>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    if stored > shown {
        write!(out, r#"<p class="muted">Only the first {} messages are shown.</p>"#, detail.peek_limit)?;
    }
    Ok(())
}

/// The page for a queue that does not exist.
///
/// # Errors
/// Only if formatting fails, which writing to a `String` does not.
pub fn not_found(frame: &Frame<'_>, name: &str) -> Result<String, fmt::Error> {
    let mut out = String::new();
    open_page(&mut out, frame, "Not found")?;
    write!(
        out,
        r#"<nav class="crumbs"><a href="/ui">Queues</a></nav><p class="empty">There is no queue named <b>{}</b>.</p>"#,
        Escaped(name)
    )?;
    close_page(&mut out)?;
    Ok(out)
}

fn open_page(out: &mut String, frame: &Frame<'_>, title: &str) -> fmt::Result {
    write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_SECONDS}"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{} · sqskit emulator</title><style>{STYLE}</style></head><body><header class="top"><a class="brand" href="/ui">sqskit <span>emulator</span></a><div class="meta">{} · account {} · <span data-metric="clock">{}</span>{}</div></header><main>"#,
        Escaped(title),
        Escaped(&frame.config.region),
        Escaped(&frame.config.account_id),
        utc(frame.now),
        if frame.manual_clock { r#" <span class="badge clock">manual clock</span>"# } else { "" },
    )
}

fn close_page(out: &mut String) -> fmt::Result {
    write!(
        out,
        r#"</main><footer>Read-only view; refreshes every {REFRESH_SECONDS} s. Prometheus metrics at <a href="/metrics">/metrics</a>.</footer></body></html>"#
    )
}

fn stat(out: &mut String, label: &str, metric: &str, value: &str) -> fmt::Result {
    write!(
        out,
        r#"<div class="stat"><div class="label">{label}</div><div class="value" data-metric="{metric}">{}</div></div>"#,
        Escaped(value)
    )
}

fn number_cell(out: &mut String, metric: &str, value: usize) -> fmt::Result {
    write!(out, r#"<td class="num" data-metric="{metric}">{value}</td>"#)
}

fn type_badge(out: &mut String, fifo: bool) {
    out.push_str(if fifo {
        r#"<span class="badge fifo">FIFO</span>"#
    } else {
        r#"<span class="badge">standard</span>"#
    });
}

/// Whether a queue is in the emulator's default region and account (its page needs no query then).
fn in_default_scope(frame: &Frame<'_>, queue: &QueueMetrics) -> bool {
    queue.region == frame.config.region && queue.account == frame.config.account_id
}

/// The path of a queue's page: `/ui/queues/{name}`, with `?region=…&account=…` outside the default region and
/// account.
fn queue_href(frame: &Frame<'_>, queue: &QueueMetrics) -> String {
    if in_default_scope(frame, queue) {
        format!("/ui/queues/{}", queue.name)
    } else {
        format!("/ui/queues/{}?region={}&account={}", queue.name, queue.region, queue.account)
    }
}

/// A link to the queue's dead-letter queue, if its redrive policy names one.
fn dead_letter_target(out: &mut String, frame: &Frame<'_>, queue: &QueueMetrics, all: &[QueueMetrics]) -> fmt::Result {
    let Some(arn) = &queue.dead_letter_target_arn else {
        out.push_str(r#"<span class="muted">—</span>"#);
        return Ok(());
    };
    match all.iter().find(|candidate| candidate.arn == *arn) {
        Some(target) => {
            let name = Escaped(&target.name);
            write!(out, r#"<a class="dlq" href="{}">{name}</a>"#, Escaped(&queue_href(frame, target)))
        }
        None => write!(out, r#"<span class="muted" title="{0}">{0} (missing)</span>"#, Escaped(arn)),
    }
}

/// Links to the queues whose redrive policy names this queue.
fn dead_letter_sources(out: &mut String, frame: &Frame<'_>, queue: &QueueMetrics, all: &[QueueMetrics]) -> fmt::Result {
    let mut sources =
        all.iter().filter(|source| source.dead_letter_target_arn.as_deref() == Some(&queue.arn)).peekable();
    if sources.peek().is_none() {
        out.push_str(r#"<span class="muted">—</span>"#);
    }
    for (index, source) in sources.enumerate() {
        let name = Escaped(&source.name);
        let separator = if index == 0 { "" } else { ", " };
        let href = Escaped(&queue_href(frame, source));
        write!(out, r#"{separator}<a class="source" href="{href}">{name}</a>"#)?;
    }
    Ok(())
}
