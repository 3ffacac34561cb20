//! The built-in web dashboard: server-rendered, read-only HTML pages over the engine, with no JavaScript and
//! nothing to install (the stylesheet is embedded). It only reads: queue numbers, attributes, and messages
//! through [`Engine::peek`](crate::engine::Engine::peek), which changes nothing a client can see.
//!
//! | page | shows |
//! |---|---|
//! | `GET /ui` | every queue: type, visible, in flight, delayed, oldest message, depth chart, dead-letter links |
//! | `GET /ui/queues/{name}` | one queue: its numbers, chart, dead-letter links, attributes, tags, first 50 messages |
//!
//! Queues of every region and account are listed; a queue page is `/ui/queues/{name}?region=…&account=…`, the
//! query naming the region and account when they are not the emulator's defaults.
//!
//! Like the SQS endpoint itself (which checks no signature), the pages need no token: anyone who can reach
//! the emulator can already receive its messages.
//!
//! - `history.rs`: depth samples for the charts, taken by a background task.
//! - `render.rs`: the pages; `widgets.rs`: escaping, time formats, the SVG chart; `style.css`: the styles.

pub mod history;
mod render;
mod widgets;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use history::{DepthHistory, Sample};

use crate::engine::Engine;
use crate::faults::FaultInjector;
use render::{Frame, QueueDetail};

/// The most messages a detail page peeks at.
pub const PEEK_LIMIT: usize = 50;

/// What the dashboard reads. The server's state provides it through axum's [`FromRef`], so the dashboard
/// knows nothing of the HTTP layer that mounts it.
#[derive(Debug, Clone)]
pub struct DashboardState {
    /// The engine whose queues are shown.
    pub engine: Engine,
    /// Fault rules, listed on the overview.
    pub faults: Arc<FaultInjector>,
    /// Whether the emulator runs on a virtual clock (the pages say so).
    pub manual_clock: bool,
    /// Recent queue depths for the charts.
    pub depth_history: Arc<DepthHistory>,
}

/// The dashboard's routes, for any router state the [`DashboardState`] can be taken from.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    DashboardState: FromRef<S>,
{
    Router::new().route("/ui", get(overview)).route("/ui/queues/{name}", get(queue_page))
}

fn frame(state: &DashboardState) -> Frame<'_> {
    Frame { now: state.engine.clock().now(), manual_clock: state.manual_clock, config: state.engine.config() }
}

fn html(status: StatusCode, page: Result<String, std::fmt::Error>) -> Response {
    match page {
        Ok(page) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn overview(State(state): State<DashboardState>) -> Response {
    let queues = state.engine.queue_metrics();
    let history = state.depth_history.snapshot();
    let (_, rules) = state.faults.list();
    html(StatusCode::OK, render::overview(&frame(&state), &queues, &history, &rules))
}

/// Which queue a page shows besides its name: region and account, the emulator's defaults when not given.
#[derive(Debug, serde::Deserialize)]
struct QueueScope {
    region: Option<String>,
    account: Option<String>,
}

async fn queue_page(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
    Query(scope): Query<QueueScope>,
) -> Response {
    let config = state.engine.config();
    let region = scope.region.unwrap_or_else(|| config.region.clone());
    let account = scope.account.unwrap_or_else(|| config.account_id.clone());
    let engine = &state.engine.in_region(&region);
    let location = format!("{account}/{name}");
    let all = engine.queue_metrics();
    let found = all
        .iter()
        .find(|queue| queue.name == name && queue.region == region && queue.account == account)
        .and_then(|queue| {
            // The queue may be deleted between these calls: then it is simply not found.
            let attributes = engine.get_queue_attributes(&location, &["All".to_owned()]).ok()?;
            let tags = engine.list_queue_tags(&location).ok()?;
            let messages = engine.peek(&location, PEEK_LIMIT).ok()?;
            Some((queue, attributes, tags, messages))
        });
    let frame = frame(&state);
    let Some((queue, attributes, tags, messages)) = found else {
        return html(StatusCode::NOT_FOUND, render::not_found(&frame, &name));
    };
    let history = state.depth_history.series(&queue.arn);
    let detail = QueueDetail {
        queue,
        all: &all,
        attributes: &attributes,
        tags: &tags,
        messages: &messages,
        peek_limit: PEEK_LIMIT,
        history: &history,
    };
    html(StatusCode::OK, render::queue_page(&frame, &detail))
}
