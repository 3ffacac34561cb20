//! The console's actions: what the dashboard's forms post. Each checks the session's form token, then makes
//! the same engine call the API action makes (durable writes wait for the commit, as `dispatch` does), and
//! answers with a redirect to the page that shows the result, or with a page carrying AWS's error code and
//! text when the engine refuses.

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::render::{self, queue_href};
use super::session::{self, CSRF_FIELD};
use super::{AccountQuery, DashboardState, Visit, forms, owner, see_other, show_queue};
use crate::auth::Viewer;
use crate::engine::{MoveTaskStatus, RawMessageAttribute, ReceiveMessageInput, SendMessageInput, SendOrigin};
use crate::error::SqsError;

/// A posted form's fields.
#[derive(Debug)]
pub struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// A field's value, `None` when missing or blank.
    fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).map(str::trim).filter(|value| !value.is_empty())
    }

    /// A field's value as sent.
    fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A whole number field, refused in AWS's words when it is not one.
    fn number(&self, name: &str, aws_name: &str) -> Result<Option<i64>, SqsError> {
        self.get(name)
            .map(|value| {
                value.parse().map_err(|_| SqsError::invalid_parameter_value(aws_name, value, "must be a whole number"))
            })
            .transpose()
    }
}

/// Why a form was refused before anything ran.
const FORGED: &str = "This form did not come from this dashboard's session (cross-site request forgery protection): \
                      reload the page and try again.";

/// Checks that a posted form comes from a page of this dashboard: same-origin (when the browser says), a live
/// session cookie, and that session's form token.
fn check_form(
    state: &DashboardState,
    headers: &HeaderMap,
    viewer: Viewer,
    body: &[u8],
) -> Result<(Visit, Form), Box<Response>> {
    let form = Form::parse(body);
    let session = session::session_id(headers).and_then(|id| state.sessions.get(id));
    let token_matches = session
        .as_ref()
        .zip(form.raw(CSRF_FIELD))
        .is_some_and(|(session, given)| session::same_token(given, &session.csrf));
    match session {
        Some(session) if token_matches && same_origin(headers) => {
            Ok((Visit { viewer, session, new_cookie: None }, form))
        }
        _ => {
            let visit = Visit::new(state, headers, viewer);
            let page = render::refused(&visit.frame(state), "Form", "Forbidden", FORGED, "/ui");
            Err(Box::new(visit.respond(StatusCode::FORBIDDEN, page)))
        }
    }
}

/// `Origin` (sent by browsers with every POST) names this host, or is absent.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, authority)| authority == host)
}

/// The page reporting an engine refusal.
fn refused(state: &DashboardState, visit: &Visit, action: &str, error: &SqsError, back: &str) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let page = render::refused(&visit.frame(state), action, error.code.shape_name(), &error.message, back);
    visit.respond(status, page)
}

/// The notices a redirect may ask a queue page to show (fixed texts: nothing user-controlled is echoed).
pub fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "Queue created.",
        "sent" => "Message sent.",
        "attributes" => "Attributes saved.",
        "purged" => "Queue purged.",
        "deleted-message" => "Message deleted.",
        "visibility" => "Visibility changed.",
        "redrive-cancelled" => "Redrive cancelled; messages already moved stay moved.",
        _ => return None,
    })
}

/// A queue page URL with a notice.
fn with_notice(page: &str, notice: &str) -> String {
    let separator = if page.contains('?') { '&' } else { '?' };
    format!("{page}{separator}notice={notice}")
}

/// Runs a durable write as `dispatch` does: refused while storage fails, answered once committed.
async fn durably<T>(state: &DashboardState, write: impl FnOnce() -> Result<T, SqsError>) -> Result<T, SqsError> {
    state.engine.check_storage()?;
    let done = write()?;
    state.engine.sync().await?;
    Ok(done)
}

/// The queue a form acts on: `Some((account, url, page))` when the viewer may see it.
fn target(
    state: &DashboardState,
    viewer: &Viewer,
    query: &AccountQuery,
    name: &str,
) -> Option<(String, String, String)> {
    let account = owner(state, viewer, query.account.as_deref())?;
    let page = queue_href(state.engine.config(), state.engine.region(), &account, name);
    Some((account.clone(), format!("{account}/{name}"), page))
}

/// The checked form, the visit and the target queue of a console action, and the state acting in the queue's
/// region (`?region=`); returns the refusal page from the handler when any of them fails.
macro_rules! form_and_target {
    ($state:ident, $headers:ident, $viewer:ident, $body:ident, $query:ident, $name:ident) => {{
        let $state = match $state.for_region($query.region.as_deref()) {
            Ok(state) => state,
            Err(refused) => return *refused,
        };
        let (visit, form) = match check_form(&$state, &$headers, $viewer, &$body) {
            Ok(checked) => checked,
            Err(refused) => return *refused,
        };
        let Some(target) = target(&$state, &visit.viewer, &$query, &$name) else {
            return visit.respond(StatusCode::NOT_FOUND, render::not_found(&visit.frame(&$state), &$name));
        };
        ($state, visit, form, target)
    }};
}

/// `POST /ui/queues`: CreateQueue (and, asked for, its dead-letter queue first).
pub async fn create_queue(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let state = match state.for_region(query.region.as_deref()) {
        Ok(state) => state,
        Err(refused) => return *refused,
    };
    let (visit, form) = match check_form(&state, &headers, viewer, &body) {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    let Some(account) = owner(&state, &visit.viewer, query.account.as_deref()) else {
        return visit.respond(StatusCode::NOT_FOUND, render::not_found(&visit.frame(&state), "?"));
    };
    let name = form.get("name").unwrap_or_default().to_owned();
    match create(&state, &account, &name, &form).await {
        Ok(()) => see_other(&with_notice(
            &queue_href(state.engine.config(), state.engine.region(), &account, &name),
            "created",
        )),
        Err(error) => refused(&state, &visit, "CreateQueue", &error, "/ui/new-queue"),
    }
}

async fn create(state: &DashboardState, account: &str, name: &str, form: &Form) -> Result<(), SqsError> {
    let engine = &state.engine;
    let fifo = form.get("fifo") == Some("true");
    let mut attributes: Vec<(String, String)> = Vec::new();
    if fifo {
        attributes.push(("FifoQueue".to_owned(), "true".to_owned()));
        if form.get("content_based_deduplication") == Some("true") {
            attributes.push(("ContentBasedDeduplication".to_owned(), "true".to_owned()));
        }
    }
    for attribute in ["VisibilityTimeout", "DelaySeconds", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds"] {
        if let Some(value) = form.get(attribute) {
            attributes.push((attribute.to_owned(), value.to_owned()));
        }
    }
    let dead_letter_queue = match form.get("dead_letter_queue") {
        None => None,
        Some("new") => {
            let dlq = match name.strip_suffix(".fifo") {
                Some(base) => format!("{base}-dlq.fifo"),
                None => format!("{name}-dlq"),
            };
            let dlq_attributes: Vec<(String, String)> =
                attributes.iter().filter(|(key, _)| key == "FifoQueue").cloned().collect();
            durably(state, || engine.create_queue_in(account, &dlq, &dlq_attributes, &[])).await?;
            Some(dlq)
        }
        Some(existing) => Some(existing.to_owned()),
    };
    if let Some(dlq) = dead_letter_queue {
        let max_receive_count = form.number("max_receive_count", "maxReceiveCount")?.unwrap_or(3);
        let policy = json!({
            "deadLetterTargetArn": engine.queue_arn_in(account, &dlq),
            "maxReceiveCount": max_receive_count,
        });
        attributes.push(("RedrivePolicy".to_owned(), policy.to_string()));
    }
    durably(state, || engine.create_queue_in(account, name, &attributes, &[])).await
}

/// `POST /ui/queues/{name}/send`: SendMessage.
pub async fn send(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (_, url, page)) = form_and_target!(state, headers, viewer, body, query, name);
    let input = (|| {
        let mut input = SendMessageInput::with_body(form.raw("body").unwrap_or_default());
        input.delay_seconds = form.number("delay_seconds", "DelaySeconds")?;
        input.group_id = form.get("group_id").map(str::to_owned);
        input.deduplication_id = form.get("deduplication_id").map(str::to_owned);
        if let Some(attribute) = form.get("attribute_name") {
            input.message_attributes.push((
                attribute.to_owned(),
                RawMessageAttribute {
                    data_type: form.get("attribute_type").map(str::to_owned),
                    string_value: Some(form.raw("attribute_value").unwrap_or_default().to_owned()),
                    binary_value: None,
                    has_list_values: false,
                },
            ));
        }
        Ok::<_, SqsError>(input)
    })();
    let origin = SendOrigin { trace_header: None, sender_account: visit.viewer.account() };
    let sent = match input {
        Ok(input) => durably(&state, || state.engine.send_message_from(&url, input, origin)).await,
        Err(error) => Err(error),
    };
    match sent {
        Ok(_) => see_other(&with_notice(&page, "sent")),
        Err(error) => refused(&state, &visit, "SendMessage", &error, &page),
    }
}

/// `POST /ui/queues/{name}/receive`: ReceiveMessage (no wait); the page lists what it returned.
pub async fn receive(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (account, url, page)) = form_and_target!(state, headers, viewer, body, query, name);
    let input = (|| {
        Ok::<_, SqsError>(ReceiveMessageInput {
            max_number_of_messages: form.number("max", "MaxNumberOfMessages")?,
            visibility_timeout: form.number("visibility_timeout", "VisibilityTimeout")?,
            wait_time_seconds: Some(0),
            message_attribute_names: vec!["All".to_owned()],
            ..ReceiveMessageInput::default()
        })
    })();
    let received = match input {
        Ok(input) => state.engine.receive_message(&url, input).await,
        Err(error) => Err(error),
    };
    match received {
        Ok(received) => {
            let notice = if received.is_empty() { Some("No message was visible.") } else { None };
            show_queue(&state, &visit, Some(&account), &name, &received, notice)
        }
        Err(error) => refused(&state, &visit, "ReceiveMessage", &error, &page),
    }
}

/// `POST /ui/queues/{name}/attributes`: SetQueueAttributes with the fields that changed.
pub async fn set_attributes(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (_, url, page)) = form_and_target!(state, headers, viewer, body, query, name);
    let result = match state.engine.get_queue_attributes(&url, &["All".to_owned()]) {
        Ok(current) => {
            let changed: Vec<(String, String)> = forms::EDITABLE
                .iter()
                .filter_map(|(attribute, _)| {
                    let given = form.raw(attribute.as_str())?.trim();
                    let now = current.iter().find(|(name, _)| name == attribute).map_or("", |(_, value)| value);
                    (given != now).then(|| (attribute.as_str().to_owned(), given.to_owned()))
                })
                .collect();
            if changed.is_empty() {
                Ok(())
            } else {
                durably(&state, || state.engine.set_queue_attributes(&url, &changed)).await
            }
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => see_other(&with_notice(&page, "attributes")),
        Err(error) => refused(&state, &visit, "SetQueueAttributes", &error, &page),
    }
}

/// `POST /ui/queues/{name}/purge`: PurgeQueue.
pub async fn purge(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, _, (_, url, page)) = form_and_target!(state, headers, viewer, body, query, name);
    match durably(&state, || state.engine.purge_queue(&url)).await {
        Ok(()) => see_other(&with_notice(&page, "purged")),
        Err(error) => refused(&state, &visit, "PurgeQueue", &error, &page),
    }
}

/// `POST /ui/queues/{name}/delete`: DeleteQueue, once confirmed.
pub async fn delete_queue(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (_, url, page)) = form_and_target!(state, headers, viewer, body, query, name);
    if form.get("confirm") != Some("yes") {
        let error = SqsError::missing_parameter("confirm");
        return refused(&state, &visit, "DeleteQueue", &error, &page);
    }
    match durably(&state, || state.engine.delete_queue(&url)).await {
        Ok(()) => see_other("/ui"),
        Err(error) => refused(&state, &visit, "DeleteQueue", &error, &page),
    }
}

/// `POST /ui/queues/{name}/delete-message`: DeleteMessage by the receipt handle of a console receive.
pub async fn delete_message(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (_, url, page)) = form_and_target!(state, headers, viewer, body, query, name);
    let handle = form.raw("receipt_handle").unwrap_or_default().to_owned();
    match durably(&state, || state.engine.delete_message(&url, &handle)).await {
        Ok(()) => see_other(&with_notice(&page, "deleted-message")),
        Err(error) => refused(&state, &visit, "DeleteMessage", &error, &page),
    }
}

/// `POST /ui/queues/{name}/change-visibility`: ChangeMessageVisibility of a console receive.
pub async fn change_visibility(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (_, url, page)) = form_and_target!(state, headers, viewer, body, query, name);
    let handle = form.raw("receipt_handle").unwrap_or_default();
    let changed = form
        .number("visibility_timeout", "VisibilityTimeout")
        .and_then(|timeout| state.engine.change_message_visibility(&url, handle, timeout));
    match changed {
        Ok(()) => see_other(&with_notice(&page, "visibility")),
        Err(error) => refused(&state, &visit, "ChangeMessageVisibility", &error, &page),
    }
}

/// `POST /ui/queues/{name}/redrive`: StartMessageMoveTask from this dead-letter queue.
pub async fn start_redrive(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (account, _, page)) = form_and_target!(state, headers, viewer, body, query, name);
    let source = state.engine.queue_arn_in(&account, &name);
    let destination = form.get("destination").map(str::to_owned);
    if let Some(destination) = &destination {
        if !visit.viewer.sees(render::arn_account(destination)) {
            let error = SqsError::new(
                crate::error::ErrorCode::ResourceNotFoundException,
                "The resource that you specified for the DestinationArn parameter doesn't exist.",
            );
            return refused(&state, &visit, "StartMessageMoveTask", &error, &page);
        }
    }
    let started = match form.number("rate", "MaxNumberOfMessagesPerSecond") {
        Ok(rate) => {
            durably(&state, || state.engine.start_message_move_task(&source, destination.as_deref(), rate)).await
        }
        Err(error) => Err(error),
    };
    match started {
        Ok(_) => {
            let watch = match page.split_once('?') {
                Some((path, query)) => format!("{path}/redrive?{query}"),
                None => format!("{page}/redrive"),
            };
            see_other(&watch)
        }
        Err(error) => refused(&state, &visit, "StartMessageMoveTask", &error, &page),
    }
}

/// `POST /ui/queues/{name}/redrive/cancel`: CancelMessageMoveTask of one of this queue's tasks.
pub async fn cancel_redrive(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let (state, visit, form, (account, _, page)) = form_and_target!(state, headers, viewer, body, query, name);
    let handle = form.raw("task_handle").unwrap_or_default().to_owned();
    let source = state.engine.queue_arn_in(&account, &name);
    // Only this queue's tasks: a handle of another account's task is "not found", as AWS answers.
    let owned = state.engine.list_message_move_tasks(&source, Some(10)).is_ok_and(|tasks| {
        tasks.iter().any(|task| task.status == MoveTaskStatus::Running && task.task_handle.as_deref() == Some(&handle))
    });
    let cancelled = if owned {
        durably(&state, || state.engine.cancel_message_move_task(&handle)).await
    } else {
        Err(SqsError::new(crate::error::ErrorCode::ResourceNotFoundException, "Task does not exist."))
    };
    match cancelled {
        Ok(_) => see_other(&with_notice(&page, "redrive-cancelled")),
        Err(error) => refused(&state, &visit, "CancelMessageMoveTask", &error, &page),
    }
}

/// `POST /ui/login`: signs the operator in with the admin token.
pub async fn login(State(state): State<DashboardState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let configured = state.admin_token.is_some();
    let right = state
        .admin_token
        .as_deref()
        .zip(form.raw("token"))
        .is_some_and(|(expected, given)| session::same_token(given, expected));
    if !same_origin(&headers) {
        return super::sign_in_page(StatusCode::FORBIDDEN, configured, Some(FORGED));
    }
    if !right {
        return super::sign_in_page(StatusCode::UNAUTHORIZED, configured, Some("Wrong admin token."));
    }
    let (id, _) = state.sessions.create(true);
    let mut response = see_other("/ui");
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&id)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /ui/logout`: ends the session.
pub async fn logout(
    State(state): State<DashboardState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, viewer, &body) {
        return *refused;
    }
    if let Some(id) = session::session_id(&headers) {
        state.sessions.remove(id);
    }
    let mut response = see_other("/ui");
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response.into_response()
}
