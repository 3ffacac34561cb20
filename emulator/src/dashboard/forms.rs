//! The console's forms (`maud` templates): plain HTML forms that work without JavaScript, each carrying the
//! session's form token. What they post is handled in `console.rs`.

use maud::{Markup, html};

use super::layout::{Frame, QueueDetail, arn_account, page, queue_href};
use super::session::CSRF_FIELD;
use crate::engine::{MoveTaskStatus, QueueAttributeName, QueueMetrics};

/// The attributes the edit form offers, with their input hints.
pub const EDITABLE: [(QueueAttributeName, &str); 6] = [
    (QueueAttributeName::VisibilityTimeout, "seconds, 0 to 43200"),
    (QueueAttributeName::DelaySeconds, "seconds, 0 to 900"),
    (QueueAttributeName::MessageRetentionPeriod, "seconds, 60 to 1209600"),
    (QueueAttributeName::ReceiveMessageWaitTimeSeconds, "seconds, 0 to 20"),
    (QueueAttributeName::MaximumMessageSize, "bytes, 1024 to 1048576"),
    (QueueAttributeName::RedrivePolicy, "JSON, or empty for none"),
];

fn token(frame: &Frame<'_>) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(frame.csrf); }
}

/// The action URL of a form about one queue.
fn action(frame: &Frame<'_>, region: &str, account: &str, name: &str, verb: &str) -> String {
    let page = queue_href(frame.config, region, account, name);
    match page.split_once('?') {
        Some((path, query)) => format!("{path}/{verb}?{query}"),
        None => format!("{page}/{verb}"),
    }
}

/// Send, receive, purge, delete and the attribute editor of one queue.
pub fn queue_actions(frame: &Frame<'_>, detail: &QueueDetail<'_>) -> Markup {
    let queue = detail.queue;
    let (region, account, name) = (queue.region.as_str(), detail.account, queue.name.as_str());
    let current = |wanted: QueueAttributeName| {
        detail.attributes.iter().find(|(attribute, _)| *attribute == wanted).map_or("", |(_, value)| value.as_str())
    };
    html! {
        h2 { "Console" }
        div.columns.console-forms {
            form.console #send method="post" action=(action(frame, region, account, name, "send")) {
                h3 { "Send a message" }
                (token(frame))
                label { "Body " textarea name="body" rows="3" required {} }
                label { "Delay (seconds) " input type="number" name="delay_seconds" min="0" max="900"; }
                @if queue.fifo {
                    label { "Message group id " input type="text" name="group_id" required; }
                    label { "Deduplication id " input type="text" name="deduplication_id" placeholder="empty: content-based"; }
                }
                fieldset {
                    legend { "Message attribute (optional)" }
                    label { "Name " input type="text" name="attribute_name"; }
                    label { "Type " select name="attribute_type" {
                        option value="String" { "String" } option value="Number" { "Number" }
                    } }
                    label { "Value " input type="text" name="attribute_value"; }
                }
                button type="submit" { "Send" }
            }
            form.console #receive method="post" action=(action(frame, region, account, name, "receive")) {
                h3 { "Receive" }
                (token(frame))
                label { "Messages " input type="number" name="max" min="1" max="10" value="1"; }
                label { "Visibility timeout (seconds) " input type="number" name="visibility_timeout" min="0" max="43200" placeholder="queue default"; }
                button type="submit" { "Receive" }
                p.muted { "Received messages are listed with their receipt handles, to delete them or change their visibility." }
            }
            form.console #attributes method="post" action=(action(frame, region, account, name, "attributes")) {
                h3 { "Edit attributes" }
                (token(frame))
                @for (attribute, hint) in EDITABLE {
                    label { (attribute.as_str()) " " input type="text" name=(attribute.as_str()) value=(current(attribute)) placeholder=(hint); }
                }
                button type="submit" { "Save" }
            }
            div {
                form.console #purge method="post" action=(action(frame, region, account, name, "purge")) {
                    h3 { "Purge" }
                    (token(frame))
                    p.muted { "Deletes every message (once per 60 seconds, as on AWS)." }
                    button.danger type="submit" { "Purge queue" }
                }
                form.console #delete method="post" action=(action(frame, region, account, name, "delete")) {
                    h3 { "Delete" }
                    (token(frame))
                    label { input type="checkbox" name="confirm" value="yes" required; " I mean it" }
                    button.danger type="submit" { "Delete queue" }
                }
            }
        }
    }
}

/// Delete and change-visibility forms of one received message.
pub fn received_message_actions(frame: &Frame<'_>, detail: &QueueDetail<'_>, receipt_handle: &str) -> Markup {
    let (region, account, name) = (detail.queue.region.as_str(), detail.account, detail.queue.name.as_str());
    html! {
        form.inline.delete-message method="post" action=(action(frame, region, account, name, "delete-message")) {
            (token(frame))
            input type="hidden" name="receipt_handle" value=(receipt_handle);
            button type="submit" { "Delete" }
        }
        form.inline.change-visibility method="post" action=(action(frame, region, account, name, "change-visibility")) {
            (token(frame))
            input type="hidden" name="receipt_handle" value=(receipt_handle);
            input type="number" name="visibility_timeout" min="0" max="43200" value="0" aria-label="Visibility timeout (seconds)";
            button type="submit" { "Change visibility" }
        }
    }
}

/// The redrive section of a dead-letter queue: its move tasks (with a cancel button for a running one) and a
/// form starting one.
pub fn redrive(frame: &Frame<'_>, detail: &QueueDetail<'_>) -> Markup {
    let queue = detail.queue;
    let is_dead_letter_queue =
        detail.all.iter().any(|source| source.dead_letter_target_arn.as_deref() == Some(&queue.arn));
    if !is_dead_letter_queue && detail.move_tasks.is_empty() {
        return html! {};
    }
    let (region, account, name) = (queue.region.as_str(), detail.account, queue.name.as_str());
    let running = detail.move_tasks.iter().any(|task| task.status == MoveTaskStatus::Running);
    html! {
        h2 { "Redrive" }
        @if detail.move_tasks.is_empty() {
            p.muted { "No move task yet." }
        } @else {
            table.tasks {
                thead { tr { th { "Status" } th.num { "Moved" } th.num { "To move" } th { "Destination" } th { "" } } }
                tbody {
                    @for task in detail.move_tasks {
                        tr data-task-status=(task.status.as_str()) {
                            td { span.badge { (task.status.as_str()) } @if let Some(reason) = &task.failure_reason { " " span.muted { (reason) } } }
                            td.num data-metric="moved" { (task.approximate_number_of_messages_moved) }
                            td.num data-metric="to-move" { (task.approximate_number_of_messages_to_move) }
                            td.mono { (task.destination_arn.as_deref().unwrap_or("the source queues")) }
                            td {
                                @if let Some(handle) = &task.task_handle {
                                    form.inline.cancel-redrive method="post" action=(action(frame, region, account, name, "redrive/cancel")) {
                                        (token(frame))
                                        input type="hidden" name="task_handle" value=(handle);
                                        button.danger type="submit" { "Cancel" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if running {
            p.muted { a href=(action(frame, region, account, name, "redrive")) { "Watch the redrive" } " (a page that refreshes itself)." }
        } @else if queue.counts.visible + queue.counts.in_flight + queue.counts.delayed > 0 {
            form.console #redrive method="post" action=(action(frame, region, account, name, "redrive")) {
                (token(frame))
                label { "Destination " select name="destination" {
                    option value="" { "back to each message's source queue" }
                    @for candidate in detail.all.iter().filter(|candidate| candidate.arn != queue.arn && candidate.fifo == queue.fifo) {
                        option value=(candidate.arn) { (candidate.name) }
                    }
                } }
                label { "Messages per second " input type="number" name="rate" min="1" max="500" placeholder="system-chosen"; }
                button type="submit" { "Start redrive" }
            }
        }
    }
}

/// The page that watches a redrive: the task table, reloading itself while a task runs.
pub fn redrive_page(frame: &Frame<'_>, detail: &QueueDetail<'_>) -> Markup {
    let back = queue_href(frame.config, &detail.queue.region, detail.account, &detail.queue.name);
    let body = html! {
        nav.crumbs { a href="/ui" { "Queues" } " / " a href=(back) { (detail.queue.name) } " / redrive" }
        h1 { "Redrive of " (detail.queue.name) }
        p { span data-metric="visible" { (detail.queue.counts.visible) } " messages visible in the dead-letter queue." }
        (redrive(frame, detail))
    };
    page(frame, "Redrive", body)
}

/// The page with the form that creates a queue (standard or FIFO, main attributes, optionally with a
/// dead-letter queue).
pub fn new_queue_page(frame: &Frame<'_>, queues: &[QueueMetrics]) -> Markup {
    let body = html! {
        nav.crumbs { a href="/ui" { "Queues" } " / new queue" }
        h1 { "Create a queue" }
        form.console #create method="post" action="/ui/queues" {
            (token(frame))
            label { "Name " input type="text" name="name" required maxlength="80" pattern="[A-Za-z0-9_-]{1,75}(\\.fifo)?" placeholder="orders, or orders.fifo"; }
            label { input type="checkbox" name="fifo" value="true"; " FIFO queue (the name ends in .fifo)" }
            label { input type="checkbox" name="content_based_deduplication" value="true"; " Content-based deduplication (FIFO)" }
            label { "Visibility timeout (seconds) " input type="number" name="VisibilityTimeout" min="0" max="43200" placeholder="30"; }
            label { "Delivery delay (seconds) " input type="number" name="DelaySeconds" min="0" max="900" placeholder="0"; }
            label { "Retention (seconds) " input type="number" name="MessageRetentionPeriod" min="60" max="1209600" placeholder="345600"; }
            label { "Receive wait (seconds) " input type="number" name="ReceiveMessageWaitTimeSeconds" min="0" max="20" placeholder="0"; }
            fieldset {
                legend { "Dead-letter queue" }
                label { "Use " select name="dead_letter_queue" {
                    option value="" { "none" }
                    option value="new" { "a new queue named <name>-dlq" }
                    @for queue in queues {
                        option value=(queue.name) data-account=(arn_account(&queue.arn)) { (queue.name) }
                    }
                } }
                label { "Maximum receives " input type="number" name="max_receive_count" min="1" max="1000" value="3"; }
            }
            button type="submit" { "Create queue" }
        }
    };
    page(frame, "Create a queue", body)
}
