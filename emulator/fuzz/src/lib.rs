//! The fuzz targets' bodies, shared by three drivers:
//! - the cargo-fuzz binaries in `emulator/fuzz/fuzz_targets/` (libFuzzer, nightly, `docs/fuzzing.md`);
//! - the property tests in `emulator/tests/properties.rs` (proptest, in CI, seconds);
//! - both include this file by path (`#[path = "../fuzz/src/lib.rs"]`), so it uses only crates that are
//!   dependencies of `sqskit-emulator` or its dev-dependencies.
//!
//! Every function here panics exactly when it finds a bug: a panic inside the emulator, or a broken invariant
//! (a response that is not well-formed JSON/XML, a message body that does not round-trip byte for byte).

#![allow(dead_code, clippy::missing_panics_doc)]

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use md5::{Digest, Md5};
use sqskit_emulator::actions::{Action, RequestContext, dispatch};
use sqskit_emulator::auth::sigv4::{
    AuthorizationHeader, CredentialScope, canonical_header_value, canonical_query, canonical_uri,
};
use sqskit_emulator::auth::time::{format_amz_date, parse_amz_date};
use sqskit_emulator::auth::{Authenticator, Credential, SignedRequest};
use sqskit_emulator::config::{ConfigFile, declare_queues};
use sqskit_emulator::protocol::{Encoded, Payload, Protocol, QueryParams, error as wire_error, query};
use sqskit_emulator::{Engine, EngineConfig, ManualClock, SqsError, Timestamp};

/// Base URL of the request context every target uses.
pub const BASE_URL: &str = "http://localhost:9324";

thread_local! {
    static RUNTIME: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a current-thread runtime"),
    );
}

/// Runs a future to completion on this thread's runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.borrow().block_on(future))
}

/// A fresh engine on a manual clock (long polls never end by themselves) with one standard and one FIFO queue,
/// so that requests naming `q` / `q.fifo` get past the queue lookup.
pub fn engine_with_queues() -> Engine {
    let engine = Engine::new(EngineConfig::default(), Arc::new(ManualClock::new()));
    let context = RequestContext::new(BASE_URL);
    for body in [&br#"{"QueueName":"q"}"#[..], br#"{"QueueName":"q.fifo","Attributes":{"FifoQueue":"true"}}"#] {
        let payload = Payload::Json(Bytes::copy_from_slice(body));
        block_on(dispatch(&engine, &context, Action::CreateQueue, &payload)).expect("the fixture queues");
    }
    engine
}

/// Dispatches one request; a long poll (the only request that can wait) is cut off after a few milliseconds.
pub fn run(engine: &Engine, action: Action, payload: &Payload) -> Option<Result<Encoded, SqsError>> {
    let mut context = RequestContext::new(BASE_URL);
    context.path_queue_url = Some(format!("{BASE_URL}/000000000000/q"));
    block_on(async {
        tokio::time::timeout(Duration::from_millis(5), dispatch(engine, &context, action, payload)).await
    })
    .ok()
}

/// The response (or the error rendered in the request's protocol) must be well-formed in that protocol.
pub fn check_response(protocol: Protocol, outcome: Result<Encoded, SqsError>) {
    let mut encoded = match outcome {
        Ok(encoded) => encoded,
        Err(error) => {
            let encoded = wire_error::render(protocol, &error);
            assert!(encoded.status >= 400, "an error rendered with status {}", encoded.status);
            encoded
        }
    };
    encoded.fill_request_id("00000000-0000-0000-0000-000000000000");
    match protocol {
        Protocol::Json | Protocol::QueryJson => {
            serde_json::from_slice::<serde_json::Value>(&encoded.body).expect("a JSON response that parses");
        }
        Protocol::Query => {
            let text = std::str::from_utf8(&encoded.body).expect("an XML response in UTF-8");
            if let Err(error) = roxmltree::Document::parse(text) {
                panic!("an XML response that does not parse ({error}): {text:?}");
            }
        }
    }
}

/// JSON request decoding: `body` as the JSON body of `action`.
pub fn json_request_for(engine: &Engine, action: Action, body: &[u8]) {
    let payload = Payload::Json(Bytes::copy_from_slice(body));
    if let Some(outcome) = run(engine, action, &payload) {
        check_response(Protocol::Json, outcome);
    }
}

/// Fuzz entry: the first byte picks the action, the rest is the JSON body.
pub fn json_request(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    let action = Action::ALL[usize::from(selector) % Action::ALL.len()];
    json_request_for(&engine_with_queues(), action, body);
}

/// Query form decoding: a URL query string and a form body, merged, dispatched to the action they name.
pub fn query_request_parts(engine: &Engine, url_query: Option<&str>, body: &[u8]) {
    let params = QueryParams::parse(url_query, body);
    let outcome = match params.action().unwrap_or_default().parse::<Action>() {
        Ok(action) => match run(engine, action, &Payload::Query(params)) {
            Some(outcome) => outcome,
            None => return,
        },
        Err(_) => Err(query::unknown_action(params.action().unwrap_or_default())),
    };
    check_response(Protocol::Query, outcome);
}

/// Fuzz entry: the bytes up to the first `\n` are the URL query (when valid UTF-8), the rest the form body.
pub fn query_request(data: &[u8]) {
    let (url, body) = match data.iter().position(|&byte| byte == b'\n') {
        Some(at) => (std::str::from_utf8(&data[..at]).ok(), &data[at + 1..]),
        None => (None, data),
    };
    query_request_parts(&engine_with_queues(), url, body);
}

/// The characters SQS accepts in a message (SPEC.md §8): #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
/// #x10000-#x10FFFF.
pub fn allowed_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// A message attribute name SQS surely accepts: 1 to 64 of `[A-Za-z0-9_-]`, starting with a letter, not
/// reserved (`AWS.`, `Amazon.`).
pub fn safe_attribute_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !lower.starts_with("aws")
        && !lower.starts_with("amazon")
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn query_call(engine: &Engine, pairs: &[(&str, &str)]) -> Result<String, SqsError> {
    let params = QueryParams::from_pairs(pairs.iter().copied());
    let action = params.action().expect("Action").parse::<Action>().expect("a known action");
    let mut encoded = run(engine, action, &Payload::Query(params)).expect("no long poll")?;
    encoded.fill_request_id("rid");
    Ok(String::from_utf8(encoded.body).expect("UTF-8 XML"))
}

fn element_text<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<String> {
    let element = node.children().find(|child| child.tag_name().name() == name)?;
    // Character data, with entities and character references already resolved by the parser.
    Some(element.descendants().filter(|node| node.is_text()).filter_map(|node| node.text()).collect())
}

/// XML response encoding: sends `body` with String `attributes` over Query and receives it over Query. When
/// every character is allowed and every name safe, the send must succeed and the received body, attribute
/// values and MD5s must be exactly the ones sent; otherwise the send may fail (with an error, never a panic).
pub fn xml_round_trip(body: &str, attributes: &[(String, String)]) {
    let engine = Engine::new(EngineConfig::default(), Arc::new(ManualClock::new()));
    let created = query_call(&engine, &[("Action", "CreateQueue"), ("QueueName", "rt")]).expect("CreateQueue");
    let document = roxmltree::Document::parse(&created).expect("CreateQueue XML");
    let url = document.descendants().find(|n| n.has_tag_name("QueueUrl")).and_then(|n| n.text()).expect("QueueUrl");

    let mut names = std::collections::BTreeSet::new();
    let valid = !body.is_empty()
        && body.chars().all(allowed_char)
        && attributes.len() <= 10
        && attributes.iter().all(|(name, value)| {
            safe_attribute_name(name) && !value.is_empty() && value.chars().all(allowed_char) && names.insert(name)
        });
    let keys: Vec<[String; 3]> = (1..=attributes.len())
        .map(|i| {
            [
                format!("MessageAttribute.{i}.Name"),
                format!("MessageAttribute.{i}.Value.DataType"),
                format!("MessageAttribute.{i}.Value.StringValue"),
            ]
        })
        .collect();
    let mut pairs = vec![("Action", "SendMessage"), ("QueueUrl", url), ("MessageBody", body)];
    for ([name_key, type_key, value_key], (name, value)) in keys.iter().zip(attributes) {
        pairs.extend([(name_key.as_str(), name.as_str()), (type_key, "String"), (value_key, value.as_str())]);
    }
    let sent = match query_call(&engine, &pairs) {
        Ok(sent) => sent,
        Err(error) => {
            assert!(!valid, "a valid message was refused: {error}");
            check_response(Protocol::Query, Err(error));
            return;
        }
    };
    let sent = roxmltree::Document::parse(&sent).expect("SendMessage XML");
    let result = sent.descendants().find(|n| n.has_tag_name("SendMessageResult")).expect("SendMessageResult");
    assert_eq!(element_text(result, "MD5OfMessageBody").as_deref(), Some(md5_hex(body.as_bytes()).as_str()));
    let sent_attributes_md5 = element_text(result, "MD5OfMessageAttributes");

    let received = query_call(
        &engine,
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", url),
            ("MessageAttributeName.1", "All"),
            ("AttributeName.1", "All"),
        ],
    )
    .expect("ReceiveMessage");
    let document = match roxmltree::Document::parse(&received) {
        Ok(document) => document,
        Err(error) => panic!("ReceiveMessage XML does not parse ({error}): {received:?}"),
    };
    let message = document.descendants().find(|n| n.has_tag_name("Message")).expect("one message");
    assert_eq!(element_text(message, "Body").unwrap_or_default(), body, "the body changed on the way");
    assert_eq!(element_text(message, "MD5OfBody"), Some(md5_hex(body.as_bytes())));
    assert_eq!(element_text(message, "MD5OfMessageAttributes"), sent_attributes_md5);
    let mut got: Vec<(String, String)> = message
        .children()
        .filter(|n| n.has_tag_name("MessageAttribute"))
        .map(|n| {
            let value = n.children().find(|c| c.has_tag_name("Value")).expect("Value");
            assert_eq!(element_text(value, "DataType").as_deref(), Some("String"));
            (element_text(n, "Name").expect("Name"), element_text(value, "StringValue").unwrap_or_default())
        })
        .collect();
    // Query maps: of two entries with the same name, the later one wins (protocol/query.rs).
    let want: std::collections::BTreeMap<&String, &String> =
        attributes.iter().map(|(name, value)| (name, value)).collect();
    let want: Vec<(String, String)> = want.into_iter().map(|(name, value)| (name.clone(), value.clone())).collect();
    got.sort();
    assert_eq!(got, want, "the message attributes changed on the way");
}

/// Fuzz entry: the body is the input's text (lossy UTF-8) up to the first NUL; each later NUL-separated pair of
/// fields is an attribute name and value.
pub fn xml_round_trip_bytes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\0');
    let body = fields.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = fields.collect();
    let attributes: Vec<(String, String)> = rest
        .chunks(2)
        .take(12)
        .map(|pair| (pair[0].to_owned(), pair.get(1).copied().unwrap_or("v").to_owned()))
        .collect();
    xml_round_trip(&body, &attributes);
}

/// The verifier every SigV4 target uses: one key (`AKIDEXAMPLE`, account 111111111111).
pub fn authenticator() -> Authenticator {
    Authenticator::new(vec![
        Credential::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "111111111111"),
        Credential::new("ASIAEXAMPLE", "another", "222222222222").with_session_token("token"),
    ])
    .expect("valid credentials")
}

/// SigV4 parsing and verification: `authorization` as the `Authorization` header (when given), `headers` as
/// further `name: value` lines, `url_query` as the (maybe presigned) query string. Must never panic; the error,
/// rendered in both protocols, must be well-formed.
pub fn sigv4_request(
    authenticator: &Authenticator,
    authorization: Option<&[u8]>,
    headers: &[(&[u8], &[u8])],
    url_query: Option<&str>,
    now_secs: u64,
) {
    let mut map = HeaderMap::new();
    if let Some(value) = authorization.and_then(|value| HeaderValue::from_bytes(value).ok()) {
        map.append("authorization", value);
    }
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            map.append(name, value);
        }
    }
    if let Some(text) = map.get("authorization").and_then(|value| value.to_str().ok()) {
        if let Some(header) = AuthorizationHeader::parse(text) {
            let _ = header.credential.and_then(CredentialScope::parse).map(|scope| scope.scope());
        }
    }
    if let Some(text) = map.get("x-amz-date").and_then(|value| value.to_str().ok()) {
        if let Some(secs) = parse_amz_date(text) {
            let _ = format_amz_date(secs);
        }
    }
    let _ = canonical_query(url_query);
    let _ = canonical_uri(url_query.unwrap_or("/"));
    let _ = canonical_header_value(url_query.unwrap_or_default());
    let request =
        SignedRequest { method: "POST", path: "/", query: url_query, headers: &map, body: b"Action=ListQueues" };
    let now = Timestamp::from_millis(now_secs.saturating_mul(1000));
    if let Err(error) = authenticator.authenticate(&request, now) {
        check_response(Protocol::Json, Err(error.clone()));
        check_response(Protocol::Query, Err(error));
    }
}

/// Fuzz entry: lines; the first is the `Authorization` header, a line starting with `?` the query string, the
/// others `name: value` headers.
pub fn sigv4_bytes(data: &[u8]) {
    let mut lines = data.split(|&byte| byte == b'\n');
    let authorization = lines.next();
    let mut headers = Vec::new();
    let mut url_query = None;
    for line in lines {
        if let Some(query) = line.strip_prefix(b"?") {
            url_query = std::str::from_utf8(query).ok();
        } else if let Some(at) = line.iter().position(|&byte| byte == b':') {
            headers.push((&line[..at], line[at + 1..].trim_ascii()));
        }
    }
    // 2015-08-30T12:36:00Z, the date of AWS's SigV4 test suite.
    sigv4_request(&authenticator(), authorization, &headers, url_query, 1_440_938_160);
}

/// The config file: parse it, then use what parsed as the server would (credentials, declared queues).
pub fn config_text(text: &str) {
    let Ok(file) = ConfigFile::parse(text, "fuzz.toml") else { return };
    if !file.credentials.is_empty() {
        let _ = Authenticator::new(file.credentials.clone());
    }
    let engine = Engine::new(EngineConfig::default(), Arc::new(ManualClock::new()));
    let _ = declare_queues(&engine, &file.queues, "fuzz.toml");
}

/// Fuzz entry for the config file.
pub fn config_bytes(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        config_text(text);
    }
}
