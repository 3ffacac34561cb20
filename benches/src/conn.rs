//! One keep-alive HTTP/1.1 connection, owned by one worker, carrying one request at a time.
//!
//! Workers use hyper's `client::conn::http1` directly instead of a pooled client: with a connection per worker
//! there is nothing to pool, and skipping the pool keeps the load generator's own cost per request low.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::endpoint::Endpoint;
use crate::wire::{Action, CONTENT_TYPE_FORM, CONTENT_TYPE_JSON_1_0, Protocol};
use crate::{Error, Result};

/// A syntactically plausible SigV4 header; the emulator and the no-op server do not check signatures.
const DUMMY_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/sqs/aws4_request, \
     SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000";

/// A 200 response and when it finished arriving.
#[derive(Debug)]
pub struct Reply {
    /// The complete response body.
    pub body: Bytes,
    /// When the last byte of the body was read.
    pub received_at: Instant,
}

impl Reply {
    /// Decodes the body as the JSON output of `action`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if the body does not have the expected shape.
    pub fn decode<'a, T: serde::Deserialize<'a>>(&'a self, action: Action) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            action,
            source,
            body: String::from_utf8_lossy(&self.body).into_owned(),
        })
    }
}

/// A keep-alive HTTP/1.1 connection to an SQS endpoint.
#[derive(Debug)]
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: HeaderValue,
    driver: JoinHandle<()>,
}

impl Connection {
    /// Opens a TCP connection (with `TCP_NODELAY`) and performs the HTTP/1.1 handshake.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] if the TCP connection fails, [`Error::Handshake`] if the HTTP/1.1 handshake does.
    pub async fn open(endpoint: &Endpoint) -> Result<Self> {
        let addr = endpoint.addr;
        let stream = TcpStream::connect(addr).await.map_err(|source| Error::Connect { addr, source })?;
        stream.set_nodelay(true).map_err(|source| Error::Connect { addr, source })?;
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(|source| Error::Handshake { addr, source })?;
        // The connection future owns the socket; request errors surface through `sender`, so this task only
        // reports failures that happen between requests.
        let driver = tokio::spawn(async move {
            if let Err(err) = connection.await {
                eprintln!("connection to {addr} failed: {err}");
            }
        });
        Ok(Self { sender, authority: endpoint.authority.clone(), driver })
    }

    /// Sends a pre-serialised JSON body as `action` and returns the body of the 200 response.
    ///
    /// # Errors
    ///
    /// [`Error::Http`] on transport failures, [`Error::Status`] on any status other than 200.
    pub async fn call(&mut self, action: Action, body: Bytes) -> Result<Reply> {
        self.exchange(action, Protocol::Json, body).await
    }

    /// Sends a pre-encoded Query protocol form (which names the action itself) and returns the XML body of the
    /// 200 response.
    ///
    /// # Errors
    ///
    /// As [`Connection::call`].
    pub async fn call_query(&mut self, action: Action, form: Bytes) -> Result<Reply> {
        self.exchange(action, Protocol::Query, form).await
    }

    /// Sends `body` as `action` in `protocol`; see [`Connection::call`] and [`Connection::call_query`].
    ///
    /// # Errors
    ///
    /// As [`Connection::call`].
    pub async fn exchange(&mut self, action: Action, protocol: Protocol, body: Bytes) -> Result<Reply> {
        let http_error = |source| Error::Http { action, source };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        let headers = request.headers_mut();
        headers.insert(header::HOST, self.authority.clone());
        match protocol {
            Protocol::Json => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON_1_0));
                headers.insert(HeaderName::from_static("x-amz-target"), HeaderValue::from_static(action.target()));
            }
            Protocol::Query => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_FORM));
            }
        }
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(DUMMY_AUTHORIZATION));

        self.sender.ready().await.map_err(http_error)?;
        let response = self.sender.send_request(request).await.map_err(http_error)?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(http_error)?.to_bytes();
        let received_at = Instant::now();
        if status != StatusCode::OK {
            return Err(Error::Status { action, status, body: String::from_utf8_lossy(&body).into_owned() });
        }
        Ok(Reply { body, received_at })
    }

    /// Serialises `input` and sends it as `action`; see [`Connection::call`].
    ///
    /// # Errors
    ///
    /// As [`Connection::call`].
    pub async fn call_json<T: Serialize>(&mut self, action: Action, input: &T) -> Result<Reply> {
        self.call(action, to_body(input)).await
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Closes the socket at once, even if a long poll is still outstanding on it.
        self.driver.abort();
    }
}

/// Serialises a request body once, so that hot loops can reuse it (`Bytes` clones are reference counts).
pub fn to_body<T: Serialize>(input: &T) -> Bytes {
    // Serialising these plain structs of strings and integers into a Vec cannot fail.
    Bytes::from(serde_json::to_vec(input).unwrap_or_default())
}
