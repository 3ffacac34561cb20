//! The error type of the benchmark library: every failure aborts the run, so variants exist only to say what went
//! wrong in a message a human can act on.

use std::net::SocketAddr;

use hyper::StatusCode;

use crate::wire::Action;

/// Why a benchmark run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `--endpoint` value is not an `http://host:port` URL, or its host does not resolve.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TCP connection to the endpoint could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The resolved endpoint address.
        addr: SocketAddr,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The HTTP/1.1 handshake on a new connection failed.
    #[error("HTTP handshake with {addr} failed: {source}")]
    Handshake {
        /// The resolved endpoint address.
        addr: SocketAddr,
        /// The hyper error.
        source: hyper::Error,
    },
    /// The HTTP exchange failed below the application level (connection reset, protocol error, ...).
    #[error("{action} request failed: {source}")]
    Http {
        /// The action being called.
        action: Action,
        /// The hyper error.
        source: hyper::Error,
    },
    /// The endpoint answered with a status other than 200.
    #[error("{action} returned HTTP {status}: {body}")]
    Status {
        /// The action being called.
        action: Action,
        /// The HTTP status received.
        status: StatusCode,
        /// The response body, lossily decoded as UTF-8.
        body: String,
    },
    /// A 200 response whose body is not the JSON shape the action returns.
    #[error("{action} returned an unexpected body ({source}): {body}")]
    Decode {
        /// The action being called.
        action: Action,
        /// The JSON error.
        source: serde_json::Error,
        /// The response body, lossily decoded as UTF-8.
        body: String,
    },
    /// A 200 Query protocol response whose XML lacks what the action returns.
    #[error("{action} returned an unexpected XML body ({reason}): {body}")]
    Xml {
        /// The action being called.
        action: Action,
        /// What is missing or wrong.
        reason: &'static str,
        /// The response body, lossily decoded as UTF-8.
        body: String,
    },
    /// The endpoint behaved in a way the scenario cannot work with, or did not finish in time.
    #[error("{0}")]
    Scenario(String),
    /// A worker task panicked or was cancelled.
    #[error("worker task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The result type of the benchmark library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
