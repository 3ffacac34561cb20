//! The built-in web dashboard and console: server-rendered HTML pages over the engine (compile-time checked
//! `maud` templates that escape everything they interpolate), forms that work without JavaScript, nothing to
//! install (the stylesheet is embedded).
//!
//! | page | shows, or does |
//! |---|---|
//! | `GET /ui` | every queue the viewer sees: type, visible, in flight, delayed, oldest message, depth chart, dead-letter links; fault rules (operator only); refreshes every 5 s |
//! | `GET /ui/new-queue`, `POST /ui/queues` | creates a queue: standard or FIFO, main attributes, an existing or a new dead-letter queue |
//! | `GET /ui/queues/{name}` | one queue: numbers, chart, dead-letter links, attributes, tags, the first 50 messages, and its console (send, receive, edit attributes, purge, delete, redrive) |
//! | `POST /ui/queues/{name}/{send,receive,attributes,purge,delete}` | the same engine calls as SendMessage, ReceiveMessage, SetQueueAttributes, PurgeQueue, DeleteQueue |
//! | `POST /ui/queues/{name}/{delete-message,change-visibility}` | DeleteMessage / ChangeMessageVisibility of a message the console received |
//! | `GET /ui/queues/{name}/redrive`, `POST …/redrive`, `POST …/redrive/cancel` | watches, starts (StartMessageMoveTask) and cancels (CancelMessageMoveTask) a redrive |
//! | `POST /ui/login`, `POST /ui/logout` | signs the operator in with the admin token (a session cookie), and out |
//!
//! Queues of every region and account the viewer sees are listed; a queue of another region or account than
//! the defaults is addressed with `?region=<region>&account=<id>`, and its pages and actions go through the
//! engine handle of its region ([`DashboardState::for_region`]). Which queues a request may
//! see is its [`Viewer`], named by the HTTP layer before any page runs. Every form carries the session's
//! token (`session.rs`): a cross-site POST is refused.
//!
//! - `history.rs`: depth samples for the charts, taken by a background task; `session.rs`: sessions and form
//!   tokens.
//! - `layout.rs`: the frame every page shares; `render.rs`: the pages; `forms.rs`: the console's forms; `widgets.rs`: time formats, the SVG chart;
//!   `style.css`: the styles.
//! - `console.rs`: the actions the forms post.

mod console;
mod forms;
pub mod history;
mod layout;
mod render;
pub mod session;
mod widgets;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;

pub use history::{DepthHistory, Sample};
pub use session::{Session, Sessions};

use crate::auth::Viewer;
use crate::engine::{Engine, QueueMetrics, ReceivedMessage, is_valid_region};
use crate::faults::FaultInjector;
use render::{Frame, QueueDetail};

/// The most messages a detail page peeks at.
pub const PEEK_LIMIT: usize = 50;
/// Move tasks listed per dead-letter queue (AWS's `ListMessageMoveTasks` maximum).
const LISTED_TASKS: i64 = 10;

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
    /// Browser sessions and their form tokens.
    pub sessions: Arc<Sessions>,
    /// The admin token the sign-in form checks, if one is configured.
    pub admin_token: Option<String>,
}

impl DashboardState {
    /// The same state acting in `region` (the default region when `None`): a page or an action about a
    /// queue of another region goes through the engine handle of that region, as an API request signed for it
    /// would. A name that is not a region is refused (400).
    fn for_region(&self, region: Option<&str>) -> Result<DashboardState, Box<Response>> {
        match region {
            None => Ok(self.clone()),
            Some(region) if is_valid_region(region) => {
                Ok(DashboardState { engine: self.engine.in_region(region), ..self.clone() })
            }
            Some(region) => Err(Box::new(
                (StatusCode::BAD_REQUEST, format!("region \"{region}\" is not a region name")).into_response(),
            )),
        }
    }
}

/// The dashboard's pages and console actions, for any router state the [`DashboardState`] can be taken from.
/// Every handler needs the request's [`Viewer`] in its extensions: mount these behind the access check.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    DashboardState: FromRef<S>,
{
    Router::new()
        .route("/ui", get(overview))
        .route("/ui/new-queue", get(new_queue))
        .route("/ui/queues", post(console::create_queue))
        .route("/ui/queues/{name}", get(queue_page))
        .route("/ui/queues/{name}/send", post(console::send))
        .route("/ui/queues/{name}/receive", post(console::receive))
        .route("/ui/queues/{name}/attributes", post(console::set_attributes))
        .route("/ui/queues/{name}/purge", post(console::purge))
        .route("/ui/queues/{name}/delete", post(console::delete_queue))
        .route("/ui/queues/{name}/delete-message", post(console::delete_message))
        .route("/ui/queues/{name}/change-visibility", post(console::change_visibility))
        .route("/ui/queues/{name}/redrive", get(redrive_page).post(console::start_redrive))
        .route("/ui/queues/{name}/redrive/cancel", post(console::cancel_redrive))
        .route("/ui/logout", post(console::logout))
}

/// The routes reachable without an identity: the sign-in form's target.
pub fn public_routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    DashboardState: FromRef<S>,
{
    Router::new().route("/ui/login", post(console::login))
}

/// The sign-in page, answered with `status` (the HTTP layer shows it to a browser it refused).
pub fn sign_in_page(status: StatusCode, token_configured: bool, error: Option<&str>) -> Response {
    html(status, render::sign_in(token_configured, error), None)
}

/// One page visit: the viewer, their session (opened now if the browser had none) and the cookie to set.
struct Visit {
    viewer: Viewer,
    session: Session,
    new_cookie: Option<String>,
}

impl Visit {
    fn new(state: &DashboardState, headers: &HeaderMap, viewer: Viewer) -> Self {
        match session::session_id(headers).and_then(|id| state.sessions.get(id)) {
            Some(session) => Self { viewer, session, new_cookie: None },
            None => {
                let (id, session) = state.sessions.create(false);
                Self { viewer, session, new_cookie: Some(session::set_cookie(&id)) }
            }
        }
    }

    fn frame<'a>(&'a self, state: &'a DashboardState) -> Frame<'a> {
        Frame {
            now: state.engine.clock().now(),
            manual_clock: state.manual_clock,
            config: state.engine.config(),
            account: self.viewer.account(),
            csrf: &self.session.csrf,
            signed_in: self.session.admin,
            refresh: None,
        }
    }

    fn respond(&self, status: StatusCode, page: Markup) -> Response {
        html(status, page, self.new_cookie.as_deref())
    }
}

fn html(status: StatusCode, page: Markup, cookie: Option<&str>) -> Response {
    let mut response =
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page.into_string()).into_response();
    let headers = response.headers_mut();
    // The pages embed their style and no script; nothing of them may be framed or sniffed.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if let Some(value) = cookie.and_then(|cookie| HeaderValue::from_str(cookie).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

/// `?account=` of a queue's pages and actions.
#[derive(Debug, Default, Deserialize)]
struct AccountQuery {
    account: Option<String>,
    /// The queue's region; the emulator's default region when not given.
    region: Option<String>,
    notice: Option<String>,
}

/// The queues the viewer sees, in name order.
fn visible_queues(state: &DashboardState, viewer: &Viewer) -> Vec<QueueMetrics> {
    let mut queues = state.engine.queue_metrics();
    queues.retain(|queue| viewer.sees(&queue.account));
    queues
}

/// The account owning the queue a request names: `?account=`, else the viewer's own, else the default.
/// `None` when the viewer may not see that account (answered like a queue that does not exist).
fn owner(state: &DashboardState, viewer: &Viewer, query: Option<&str>) -> Option<String> {
    let account = query
        .map(str::to_owned)
        .or_else(|| viewer.account().map(str::to_owned))
        .unwrap_or_else(|| state.engine.config().account_id.clone());
    viewer.sees(&account).then_some(account)
}

async fn overview(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Response {
    let visit = Visit::new(&state, &headers, viewer);
    let queues = visible_queues(&state, &visit.viewer);
    let history = state.depth_history.snapshot();
    let rules = if visit.viewer.is_admin() { state.faults.list().1 } else { Vec::new() };
    let mut frame = visit.frame(&state);
    frame.refresh = Some(render::REFRESH_SECONDS);
    visit.respond(StatusCode::OK, render::overview(&frame, &queues, &history, &rules))
}

async fn new_queue(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Response {
    let visit = Visit::new(&state, &headers, viewer);
    let queues = visible_queues(&state, &visit.viewer);
    visit.respond(StatusCode::OK, forms::new_queue_page(&visit.frame(&state), &queues))
}

/// Everything a queue's page shows, read through the same engine calls as the API.
struct Collected {
    all: Vec<QueueMetrics>,
    index: usize,
    account: String,
    attributes: Vec<(crate::engine::QueueAttributeName, String)>,
    tags: std::collections::BTreeMap<String, String>,
    messages: Vec<crate::engine::PeekedMessage>,
    tasks: Vec<crate::engine::MoveTaskInfo>,
    history: Vec<Sample>,
}

fn collect(state: &DashboardState, viewer: &Viewer, account: Option<&str>, name: &str) -> Option<Collected> {
    let account = owner(state, viewer, account)?;
    let engine = &state.engine;
    let all = visible_queues(state, viewer);
    let index = all
        .iter()
        .position(|queue| queue.name == name && queue.account == account && queue.region == engine.region())?;
    let url = format!("{account}/{name}");
    // The queue may be deleted between these calls: then it is simply not found.
    let attributes = engine.get_queue_attributes(&url, &["All".to_owned()]).ok()?;
    let tags = engine.list_queue_tags(&url).ok()?;
    let messages = engine.peek(&url, PEEK_LIMIT).ok()?;
    let tasks = engine.list_message_move_tasks(&all[index].arn, Some(LISTED_TASKS)).unwrap_or_default();
    let history = state.depth_history.series(&all[index].arn);
    Some(Collected { all, index, account, attributes, tags, messages, tasks, history })
}

fn detail<'a>(collected: &'a Collected, received: &'a [ReceivedMessage], notice: Option<&'a str>) -> QueueDetail<'a> {
    QueueDetail {
        queue: &collected.all[collected.index],
        account: &collected.account,
        all: &collected.all,
        attributes: &collected.attributes,
        tags: &collected.tags,
        messages: &collected.messages,
        peek_limit: PEEK_LIMIT,
        history: &collected.history,
        move_tasks: &collected.tasks,
        received,
        notice,
    }
}

/// Renders a queue's page (after an action: with the messages it received and a notice).
fn show_queue(
    state: &DashboardState,
    visit: &Visit,
    account: Option<&str>,
    name: &str,
    received: &[ReceivedMessage],
    notice: Option<&str>,
) -> Response {
    let frame = visit.frame(state);
    match collect(state, &visit.viewer, account, name) {
        Some(collected) => {
            visit.respond(StatusCode::OK, render::queue_page(&frame, &detail(&collected, received, notice)))
        }
        None => visit.respond(StatusCode::NOT_FOUND, render::not_found(&frame, name)),
    }
}

async fn queue_page(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
) -> Response {
    let state = match state.for_region(query.region.as_deref()) {
        Ok(state) => state,
        Err(refused) => return *refused,
    };
    let visit = Visit::new(&state, &headers, viewer);
    let notice = query.notice.as_deref().and_then(console::notice_text);
    show_queue(&state, &visit, query.account.as_deref(), &name, &[], notice)
}

async fn redrive_page(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
) -> Response {
    let state = match state.for_region(query.region.as_deref()) {
        Ok(state) => state,
        Err(refused) => return *refused,
    };
    let visit = Visit::new(&state, &headers, viewer);
    let mut frame = visit.frame(&state);
    let Some(collected) = collect(&state, &visit.viewer, query.account.as_deref(), &name) else {
        return visit.respond(StatusCode::NOT_FOUND, render::not_found(&frame, &name));
    };
    let running = collected.tasks.iter().any(|task| task.status == crate::engine::MoveTaskStatus::Running);
    frame.refresh = running.then_some(render::REFRESH_SECONDS);
    visit.respond(StatusCode::OK, forms::redrive_page(&frame, &detail(&collected, &[], None)))
}

/// A redirect after a successful action (POST, then GET: a reload does not repeat it).
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
