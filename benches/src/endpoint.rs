//! The `--endpoint` URL, resolved once so that workers connect to one fixed socket address.

use std::net::SocketAddr;

use hyper::Uri;
use hyper::header::HeaderValue;

use crate::{Error, Result};

/// An `http://host:port` endpoint, resolved to a socket address.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL as given on the command line.
    pub url: String,
    /// The address every connection goes to.
    pub addr: SocketAddr,
    /// The `Host` header value (`host:port`).
    pub authority: HeaderValue,
}

impl Endpoint {
    /// Parses `url` and resolves its host.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] if `url` is not `http://host[:port][/]` or the host does not resolve.
    pub async fn resolve(url: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidEndpoint { endpoint: url.to_owned(), reason: reason.to_owned() };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http:// endpoints are supported"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid("requests go to `/`; give the endpoint without a path"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|err| invalid(&format!("cannot resolve host: {err}")))?
            .next()
            .ok_or_else(|| invalid("host resolves to no address"))?;
        let authority = HeaderValue::from_str(authority.as_str()).map_err(|_| invalid("bad host"))?;
        Ok(Self { url: url.trim_end_matches('/').to_owned(), addr, authority })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_a_loopback_endpoint() {
        let endpoint = Endpoint::resolve("http://127.0.0.1:9324/").await.expect("valid");

        assert_eq!(endpoint.addr, SocketAddr::from(([127, 0, 0, 1], 9324)));
        assert_eq!(endpoint.authority, "127.0.0.1:9324");
        assert_eq!(endpoint.url, "http://127.0.0.1:9324");
    }

    #[tokio::test]
    async fn rejects_https_and_paths() {
        assert!(Endpoint::resolve("https://127.0.0.1:9324").await.is_err());
        assert!(Endpoint::resolve("http://127.0.0.1:9324/queue").await.is_err());
    }
}
