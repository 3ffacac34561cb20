//! Shared helpers of the protocol tests. For the legacy Query protocol (SPEC.md §4): a test-only client
//! ([`QueryEnv`]) sending form-encoded requests through `common::raw_request`, its parameters built with
//! [`Params`], and XML responses parsed with roxmltree into a small owned tree ([`Element`]), plus the pinned
//! documents' envelopes ([`success_document`]). For AWS JSON 1.0 (SPEC.md §3): the header and error assertions
//! every wire test makes ([`assert_json_headers`], [`assert_json_error`], [`post_ok`]). Never touches emulator
//! internals.

use std::time::Duration;

use serde_json::Value;
use sqskit_emulator::{Emulator, EmulatorBuilder, ManualClock, RunningEmulator, Timestamp};

use crate::common::{RawResponse, post_json, raw_request, start_emulator, stop_emulator};

pub use crate::common::ACCOUNT;

/// The SQS XML namespace.
pub const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
/// The Query-era text of NonExistentQueue (SPEC §4.3).
pub const NO_QUEUE_MESSAGE: &str = "The specified queue does not exist for this wsdl version.";
/// 2026-01-01T00:00:00Z: the fixed start of the virtual clock, so timestamps in pinned XML are stable.
pub const START_MILLIS: u64 = 1_767_225_600_000;
/// The content type botocore sends Query requests with.
pub const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// The content type of AWS JSON 1.0 requests and responses.
pub const JSON_CT: &str = "application/x-amz-json-1.0";

/// A running emulator on 127.0.0.1:0 with a virtual clock starting at [`START_MILLIS`].
pub struct QueryEnv {
    /// The emulator under test.
    pub emulator: RunningEmulator,
    /// The clock shared with the emulator.
    pub clock: ManualClock,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl QueryEnv {
    /// Starts an emulator whose clock starts at [`START_MILLIS`].
    pub async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    /// [`QueryEnv::start`] with more builder settings (quotas, limits).
    pub async fn start_with(configure: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder) -> Self {
        let clock = ManualClock::starting_at(Timestamp::from_millis(START_MILLIS));
        let emulator = start_emulator(configure(Emulator::builder().clock(clock.clone()))).await;
        let endpoint = emulator.endpoint();
        Self { emulator, clock, endpoint }
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        stop_emulator(self.emulator).await;
    }

    /// Moves virtual time forward.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// The URL the emulator should return for queue `name`.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.endpoint)
    }

    /// `POST /` with `Action=<action>&Version=2012-11-05&<params>` as a form body.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> QueryResponse {
        self.call_at("/", action, params).await
    }

    /// [`QueryEnv::call`] asserting success; returns the `<{action}Result>` element.
    pub async fn ok(&self, action: &str, params: &[(&str, &str)]) -> Element {
        self.call(action, params).await.result(action)
    }

    /// Like [`QueryEnv::call`], to another path (e.g. the queue's own `/<account>/<name>`).
    pub async fn call_at(&self, path: &str, action: &str, params: &[(&str, &str)]) -> QueryResponse {
        let body = form(action, params);
        self.raw("POST", path, Some(FORM), body.into_bytes()).await
    }

    /// `GET <path>?Action=<action>&Version=2012-11-05&<params>`.
    pub async fn get(&self, path: &str, action: &str, params: &[(&str, &str)]) -> QueryResponse {
        let query = form(action, params);
        self.raw("GET", &format!("{path}?{query}"), None, Vec::new()).await
    }

    /// Any request.
    pub async fn raw(&self, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> QueryResponse {
        let headers: Vec<(&str, &str)> = content_type.map(|value| ("content-type", value)).into_iter().collect();
        QueryResponse::from(raw_request(&self.endpoint, method, path, &headers, body).await)
    }

    /// A JSON 1.0 request, for comparing the protocols: `(status, body)`.
    pub async fn json(&self, action: &str, body: &Value) -> (u16, Value) {
        let response = post_json(&self.endpoint, action, body).await;
        (response.status, response.json())
    }

    /// Creates a queue over Query and returns its URL.
    pub async fn create_queue(&self, name: &str, params: &[(&str, &str)]) -> String {
        let mut all = vec![("QueueName", name)];
        all.extend_from_slice(params);
        let url = self.ok("CreateQueue", &all).await.text("QueueUrl");
        assert_eq!(url, self.url_of(name));
        url
    }
}

/// Query parameters built in order: the numbered lists (`Attribute.N.Name`, `<Entry>.N.<Field>`,
/// `MessageAttribute.N.…`) written once instead of by hand in every test.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters starting with `QueueUrl=<url>`.
    pub fn queue(url: &str) -> Self {
        Self::default().with("QueueUrl", url)
    }

    /// Parameters of a SendMessage: `QueueUrl=<url>&MessageBody=<body>`.
    pub fn message(url: &str, body: &str) -> Self {
        Self::queue(url).with("MessageBody", body)
    }

    /// Appends `name=value`.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Appends `<list>.1.<field>=<value>`, `<list>.2.…` for each entry's fields (e.g. a batch's
    /// `SendMessageBatchRequestEntry` list).
    pub fn entries(mut self, list: &str, entries: &[&[(&str, &str)]]) -> Self {
        for (index, fields) in entries.iter().enumerate() {
            for (field, value) in *fields {
                self = self.with(&format!("{list}.{}.{field}", index + 1), value);
            }
        }
        self
    }

    /// Appends `Attribute.1.Name`, `Attribute.1.Value`, `Attribute.2.…` for each `(name, value)` (queue
    /// attributes).
    pub fn attributes(self, attributes: &[(&str, &str)]) -> Self {
        let entries: Vec<[(&str, &str); 2]> =
            attributes.iter().map(|(name, value)| [("Name", *name), ("Value", *value)]).collect();
        let entries: Vec<&[(&str, &str)]> = entries.iter().map(|fields| fields.as_slice()).collect();
        self.entries("Attribute", &entries)
    }

    /// Appends `<prefix>MessageAttribute.<n>.Name`, `.Value.DataType` and `.Value.StringValue` (or
    /// `.Value.BinaryValue` for a `Binary` type, `value` then being base64); `prefix` is empty for a single
    /// message or `<Entry>.<i>.` inside a batch.
    pub fn message_attribute(self, prefix: &str, n: usize, name: &str, data_type: &str, value: &str) -> Self {
        let kind = if data_type.starts_with("Binary") { "BinaryValue" } else { "StringValue" };
        let key = format!("{prefix}MessageAttribute.{n}");
        self.with(&format!("{key}.Name"), name)
            .with(&format!("{key}.Value.DataType"), data_type)
            .with(&format!("{key}.Value.{kind}"), value)
    }

    /// Appends `MessageSystemAttribute.<n>.Name`, `.Value.DataType` and `.Value.StringValue`.
    pub fn system_attribute(self, n: usize, name: &str, data_type: &str, value: &str) -> Self {
        let key = format!("MessageSystemAttribute.{n}");
        self.with(&format!("{key}.Name"), name)
            .with(&format!("{key}.Value.DataType"), data_type)
            .with(&format!("{key}.Value.StringValue"), value)
    }

    /// The parameters as the `(name, value)` pairs [`QueryEnv::call`] takes.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
    }
}

/// `Action=..&Version=2012-11-05&...`, form-encoded as botocore does.
pub fn form(action: &str, params: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.append_pair("Action", action).append_pair("Version", "2012-11-05");
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// An HTTP response to a Query request.
#[derive(Debug, Clone)]
pub struct QueryResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `content-type` header.
    pub content_type: Option<String>,
    /// The `x-amzn-RequestId` header.
    pub request_id: Option<String>,
    /// The body text.
    pub body: String,
}

impl From<RawResponse> for QueryResponse {
    fn from(response: RawResponse) -> Self {
        let content_type = response.header("content-type").map(str::to_owned);
        let request_id = response.header("x-amzn-requestid").map(str::to_owned);
        let body = String::from_utf8(response.body.to_vec()).expect("UTF-8 body");
        Self { status: response.status, content_type, request_id, body }
    }
}

impl QueryResponse {
    /// The body parsed as XML (panics, showing the body, when it is not well-formed).
    pub fn root(&self) -> Element {
        let document =
            roxmltree::Document::parse(&self.body).unwrap_or_else(|e| panic!("bad XML ({e}): {}", self.body));
        Element::from_node(document.root_element())
    }

    /// Asserts a successful `<{action}Response>` (status, content type, namespace, the request id in both the
    /// header and `<ResponseMetadata>`), and returns it.
    pub fn success(&self, action: &str) -> Element {
        assert_eq!(self.status, 200, "{action} failed: {}", self.body);
        assert_eq!(self.content_type.as_deref(), Some("text/xml"), "{self:?}");
        let root = self.root();
        assert_eq!(root.name, format!("{action}Response"), "{}", self.body);
        assert_eq!(root.namespace.as_deref(), Some(NAMESPACE), "{}", self.body);
        let request_id = root.child("ResponseMetadata").text("RequestId");
        uuid::Uuid::parse_str(&request_id).unwrap_or_else(|e| panic!("request id {request_id}: {e}"));
        assert_eq!(self.request_id.as_deref(), Some(request_id.as_str()), "header and body request ids");
        root
    }

    /// Asserts success and returns the `<{action}Result>` element.
    pub fn result(&self, action: &str) -> Element {
        self.success(action).child(&format!("{action}Result")).clone()
    }

    /// Asserts an `ErrorResponse` with this status, `Type` and `Code`, and returns its `Message`.
    pub fn error(&self, status: u16, fault: &str, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type.as_deref(), Some("text/xml"), "{self:?}");
        let root = self.root();
        assert_eq!(root.name, "ErrorResponse", "{}", self.body);
        assert_eq!(root.namespace.as_deref(), Some(NAMESPACE), "{}", self.body);
        let error = root.child("Error");
        assert_eq!(error.text("Type"), fault, "{}", self.body);
        assert_eq!(error.text("Code"), code, "{}", self.body);
        assert!(error.children.iter().any(|c| c.name == "Detail"), "Detail element: {}", self.body);
        let request_id = root.text("RequestId");
        assert_eq!(self.request_id.as_deref(), Some(request_id.as_str()), "header and body request ids");
        error.text("Message")
    }
}

/// An owned XML element: name, namespace, text and child elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The local name.
    pub name: String,
    /// The namespace URI.
    pub namespace: Option<String>,
    /// The concatenated text content of the element's own text nodes.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    fn from_node(node: roxmltree::Node<'_, '_>) -> Self {
        let text = node.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect::<String>();
        Self {
            name: node.tag_name().name().to_owned(),
            namespace: node.tag_name().namespace().map(str::to_owned),
            text,
            children: node.children().filter(|c| c.is_element()).map(Element::from_node).collect(),
        }
    }

    /// The only child named `name` (panics if there is none or several).
    pub fn child(&self, name: &str) -> &Element {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "exactly one <{name}> in <{}>: {self:#?}", self.name);
        found[0]
    }

    /// The children named `name`.
    pub fn all(&self, name: &str) -> Vec<&Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    /// Whether a child named `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.children.iter().any(|c| c.name == name)
    }

    /// The text of the only child named `name`.
    pub fn text(&self, name: &str) -> String {
        self.child(name).text.clone()
    }

    /// The texts of all children named `name`.
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.all(name).into_iter().map(|c| c.text.clone()).collect()
    }

    /// The flattened `<{name}><{key}/><{value}/></{name}>` entries as pairs, in document order.
    pub fn pairs(&self, name: &str, key: &str, value: &str) -> Vec<(String, String)> {
        self.all(name).into_iter().map(|e| (e.text(key), e.text(value))).collect()
    }
}

/// Replaces the text of every `<{tag}>` element in `xml` with `mask` (for ids that differ per run).
pub fn mask(xml: &str, tag: &str, mask: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after_open = start + open.len();
        let end = rest[after_open..].find(&close).map(|i| after_open + i).unwrap_or_else(|| panic!("unclosed {tag}"));
        out.push_str(&rest[..after_open]);
        out.push_str(mask);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A whole successful `<{action}Response>` as the emulator writes it, with `result` (the inner XML of
/// `<{action}Result>`, or `None` for a Unit output without one) and the request id masked as `REQUEST-ID`.
pub fn success_document(action: &str, result: Option<&str>) -> String {
    let result = match result {
        Some("") => format!("<{action}Result/>"),
        Some(inner) => format!("<{action}Result>{inner}</{action}Result>"),
        None => String::new(),
    };
    format!(
        r#"<?xml version="1.0"?><{action}Response xmlns="{NAMESPACE}">{result}<ResponseMetadata><RequestId>REQUEST-ID</RequestId></ResponseMetadata></{action}Response>"#
    )
}

/// A whole `ErrorResponse` of a Sender fault as the emulator writes it, with the request id masked.
pub fn error_document(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message><Detail/></Error><RequestId>REQUEST-ID</RequestId></ErrorResponse>"#
    )
}

/// Asserts the headers every JSON response carries (SPEC §3.2, §3.3).
pub fn assert_json_headers(resp: &RawResponse) {
    assert_eq!(resp.header("content-type"), Some(JSON_CT), "{resp:?}");
    let request_id = resp.header("x-amzn-requestid").unwrap_or_else(|| panic!("x-amzn-RequestId missing: {resp:?}"));
    uuid::Uuid::parse_str(request_id).unwrap_or_else(|e| panic!("request id {request_id} is not a UUID: {e}"));
}

/// Asserts a JSON error response: status, `x-amzn-query-error` and the `__type` shape name.
pub fn assert_json_error(resp: &RawResponse, status: u16, query_error: &str, type_suffix: &str) {
    assert_eq!(resp.status, status, "{resp:?}");
    assert_json_headers(resp);
    assert_eq!(resp.header("x-amzn-query-error"), Some(query_error), "{resp:?}");
    let body = resp.json();
    let ty = body["__type"].as_str().unwrap_or_else(|| panic!("no __type: {body}"));
    assert!(ty.ends_with(type_suffix), "__type {ty} should end with {type_suffix}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body.get("code").is_none(), "no `code` key (SPEC §3.3): {body}");
}

/// POSTs a JSON 1.0 request for `action`, asserts a 200 with the JSON headers, and returns the body.
pub async fn post_ok(endpoint: &str, action: &str, body: &Value) -> Value {
    let resp = post_json(endpoint, action, body).await;
    assert_eq!(resp.status, 200, "{action}: {resp:?}");
    assert_json_headers(&resp);
    resp.json()
}
