//! What every page shares: the frame (header, clock, sign-out, footer), the data a queue's page shows, and
//! links to queues. Used by the pages (`render.rs`) and the console's forms (`forms.rs`).

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::history::Sample;
use super::widgets::utc;
use crate::engine::{
    EngineConfig, MoveTaskInfo, PeekedMessage, QueueAttributeName, QueueMetrics, ReceivedMessage, Timestamp,
};

/// The embedded stylesheet.
pub const STYLE: &str = include_str!("style.css");
/// Seconds between automatic reloads of the pages that refresh themselves.
pub const REFRESH_SECONDS: u32 = 5;

/// What every page shows in its header, and what its forms carry.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The engine's current time.
    pub now: Timestamp,
    /// Whether the engine runs on a manual (virtual) clock.
    pub manual_clock: bool,
    /// Region and default account.
    pub config: &'a EngineConfig,
    /// The account whose queues are shown, when the viewer is limited to one (a signed request).
    pub account: Option<&'a str>,
    /// The session's form token (every form echoes it).
    pub csrf: &'a str,
    /// Whether the operator signed in with the admin token (a sign-out button is shown).
    pub signed_in: bool,
    /// Seconds between automatic reloads, if the page reloads itself.
    pub refresh: Option<u32>,
}

/// Everything the detail page of one queue shows.
#[derive(Debug, Clone, Copy)]
pub struct QueueDetail<'a> {
    /// The queue's numbers.
    pub queue: &'a QueueMetrics,
    /// The owning account.
    pub account: &'a str,
    /// Every queue's numbers the viewer sees (for dead-letter links and form choices).
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
    /// Move tasks of this queue as a source (a dead-letter queue's redrives), newest first.
    pub move_tasks: &'a [MoveTaskInfo],
    /// Messages this page's receive returned (with their receipt handles), if it was a receive.
    pub received: &'a [ReceivedMessage],
    /// A notice about the action just done.
    pub notice: Option<&'a str>,
}

/// A link to a queue's page, with its region and owner when they are not the defaults.
pub fn queue_href(config: &EngineConfig, region: &str, account: &str, name: &str) -> String {
    let mut scope = Vec::new();
    if region != config.region {
        scope.push(format!("region={region}"));
    }
    if account != config.account_id {
        scope.push(format!("account={account}"));
    }
    if scope.is_empty() { format!("/ui/queues/{name}") } else { format!("/ui/queues/{name}?{}", scope.join("&")) }
}

/// The owning account in a queue ARN.
pub fn arn_account(arn: &str) -> &str {
    crate::auth::viewer::arn_account(arn).unwrap_or_default()
}

/// Every page's frame: head, header with the clock, and footer.
pub fn page(frame: &Frame<'_>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if let Some(seconds) = frame.refresh { meta http-equiv="refresh" content=(seconds); }
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · sqskit emulator" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    a.brand href="/ui" { "sqskit " span { "emulator" } }
                    div.meta {
                        (frame.config.region) " · account " (frame.account.unwrap_or(&frame.config.account_id)) " · "
                        span data-metric="clock" { (utc(frame.now)) }
                        @if frame.manual_clock { " " span.badge.clock { "manual clock" } }
                        @if frame.signed_in {
                            form.inline method="post" action="/ui/logout" {
                                input type="hidden" name=(super::session::CSRF_FIELD) value=(frame.csrf);
                                button.quiet type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
                footer {
                    @if let Some(seconds) = frame.refresh { "Refreshes every " (seconds) " s. " }
                    "Prometheus metrics at " a href="/metrics" { "/metrics" } "."
                }
            }
        }
    }
}
