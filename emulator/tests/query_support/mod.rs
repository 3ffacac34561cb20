//! A test-only client for the legacy Query protocol (SPEC.md §4): form-encoded requests over plain HTTP
//! (hyper), XML responses parsed with roxmltree into a small owned tree. Also an independent implementation
//! of the SPEC §9 attribute MD5 and a JSON helper, so Query results can be compared with JSON ones.
//! Never touches emulator internals.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use md5::{Digest, Md5};
use sqskit_emulator::{Emulator, ManualClock, RunningEmulator, Timestamp};

/// The account id the emulator uses by default.
pub const ACCOUNT: &str = "000000000000";
/// The SQS XML namespace.
pub const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
/// The Query-era text of NonExistentQueue (SPEC §4.3).
pub const NO_QUEUE_MESSAGE: &str = "The specified queue does not exist for this wsdl version.";
/// 2026-01-01T00:00:00Z: the fixed start of the virtual clock, so timestamps in pinned XML are stable.
pub const START_MILLIS: u64 = 1_767_225_600_000;

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// A running emulator on 127.0.0.1:0 with a virtual clock, and an HTTP client aimed at it.
pub struct QueryEnv {
    /// The emulator under test.
    pub emulator: RunningEmulator,
    /// The clock shared with the emulator.
    pub clock: ManualClock,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl QueryEnv {
    /// Starts an emulator whose clock starts at [`START_MILLIS`].
    pub async fn start() -> Self {
        let clock = ManualClock::starting_at(Timestamp::from_millis(START_MILLIS));
        let emulator = Emulator::builder().port(0).clock(clock.clone()).start().await.expect("start emulator");
        let endpoint = emulator.endpoint();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { emulator, clock, endpoint, client }
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        self.emulator.shutdown().await.expect("clean shutdown");
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
        let mut request = hyper::Request::builder().method(method).uri(format!("{}{path}", self.endpoint));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Full::new(Bytes::from(body))).unwrap();
        let response = self.client.request(request).await.expect("HTTP request");
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let content_type = header("content-type");
        let request_id = header("x-amzn-requestid");
        let body = response.into_body().collect().await.expect("body").to_bytes();
        let body = String::from_utf8(body.to_vec()).expect("UTF-8 body");
        QueryResponse { status, content_type, request_id, body }
    }

    /// A JSON 1.0 request, for comparing the protocols: `(status, body)`.
    pub async fn json(&self, action: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let request = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
            .unwrap();
        let response = self.client.request(request).await.expect("HTTP request");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).expect("JSON body"))
    }

    /// Creates a queue over Query and returns its URL.
    pub async fn create_queue(&self, name: &str, params: &[(&str, &str)]) -> String {
        let mut all = vec![("QueueName", name)];
        all.extend_from_slice(params);
        let response = self.call("CreateQueue", &all).await;
        let result = response.result("CreateQueue");
        let url = result.text("QueueUrl");
        assert_eq!(url, self.url_of(name));
        url
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

/// Lower-case hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A message attribute for [`md5_of_attributes`]: `(name, data type, string value | binary value)`.
pub enum Attr<'a> {
    /// A `String` / `Number` attribute.
    Text(&'a str, &'a str, &'a str),
    /// A `Binary` attribute with its raw bytes.
    Bytes(&'a str, &'a str, &'a [u8]),
}

/// MD5OfMessageAttributes per SPEC §9, written independently of the emulator.
pub fn md5_of_attributes(attributes: &[Attr<'_>]) -> String {
    fn length_prefixed(buffer: &mut Vec<u8>, bytes: &[u8]) {
        buffer.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
        buffer.extend_from_slice(bytes);
    }
    let name = |a: &Attr<'_>| match a {
        Attr::Text(n, ..) | Attr::Bytes(n, ..) => n.to_string(),
    };
    let mut sorted: Vec<&Attr<'_>> = attributes.iter().collect();
    sorted.sort_by_key(|a| name(a));
    let mut buffer = Vec::new();
    for attribute in sorted {
        match attribute {
            Attr::Text(n, t, v) => {
                length_prefixed(&mut buffer, n.as_bytes());
                length_prefixed(&mut buffer, t.as_bytes());
                buffer.push(1);
                length_prefixed(&mut buffer, v.as_bytes());
            }
            Attr::Bytes(n, t, v) => {
                length_prefixed(&mut buffer, n.as_bytes());
                length_prefixed(&mut buffer, t.as_bytes());
                buffer.push(2);
                length_prefixed(&mut buffer, v);
            }
        }
    }
    md5_hex(&buffer)
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
