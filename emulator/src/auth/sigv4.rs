//! AWS Signature Version 4, as SQS checks it: the canonical request, the string to sign, the signing key, and
//! the parsing of the `Authorization` header and of presigned query parameters.
//!
//! Reference: "Create a signed AWS API request" and "Elements of an AWS API request signature" in the IAM user
//! guide. The canonical URI is normalised as AWS does for every service but S3: dot segments removed, then each
//! byte outside the unreserved set (and `/`) percent-encoded once more (so `%` becomes `%25`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only algorithm SigV4 names.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash a signer may use instead of hashing the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The credential scope's parts: `<key id>/<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// `YYYYMMDD`.
    pub date: &'a str,
    /// The region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The service, `sqs`.
    pub service: &'a str,
    /// The terminator, `aws4_request`.
    pub terminator: &'a str,
}

impl<'a> CredentialScope<'a> {
    /// Splits a `Credential` value; `None` unless it has exactly five `/`-separated parts.
    pub fn parse(credential: &'a str) -> Option<Self> {
        let mut parts = credential.split('/');
        let scope = Self {
            access_key_id: parts.next()?,
            date: parts.next()?,
            region: parts.next()?,
            service: parts.next()?,
            terminator: parts.next()?,
        };
        parts.next().is_none().then_some(scope)
    }

    /// `<date>/<region>/<service>/<terminator>`, as it appears in the string to sign.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/{}", self.date, self.region, self.service, self.terminator)
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    /// `Credential`.
    pub credential: Option<&'a str>,
    /// `SignedHeaders`.
    pub signed_headers: Option<&'a str>,
    /// `Signature`.
    pub signature: Option<&'a str>,
}

impl<'a> AuthorizationHeader<'a> {
    /// Parses the header; `None` when it does not start with the SigV4 algorithm.
    pub fn parse(value: &'a str) -> Option<Self> {
        let rest = value.trim().strip_prefix(ALGORITHM)?;
        if !rest.is_empty() && !rest.starts_with(' ') {
            return None;
        }
        let mut header = Self::default();
        for part in rest.split(',') {
            let Some((key, value)) = part.trim().split_once('=') else { continue };
            let slot = match key.trim() {
                "Credential" => &mut header.credential,
                "SignedHeaders" => &mut header.signed_headers,
                "Signature" => &mut header.signature,
                _ => continue,
            };
            *slot = Some(value.trim());
        }
        Some(header)
    }
}

/// Percent-encodes as SigV4 does: every byte but `A-Z a-z 0-9 - _ . ~` (and `/` when `keep_slash`), upper-case
/// hex.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The canonical URI of a raw (still percent-encoded) request path: dot segments removed (RFC 3986 5.2.4, empty
/// segments dropped as the AWS SDKs do), then encoded once more.
pub fn canonical_uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut path = format!("/{}", segments.join("/"));
    let ends_with_slash = ["/", "/.", "/..", "/./", "/../"].iter().any(|end| raw_path.ends_with(end));
    if ends_with_slash && !path.ends_with('/') {
        path.push('/');
    }
    uri_encode(&path, true)
}

/// The canonical query string of a raw query: each name and value decoded, encoded strictly, sorted by name
/// then value; `X-Amz-Signature` left out (a presigned request's own signature).
pub fn canonical_query(raw_query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
        .filter(|(name, _)| name != "X-Amz-Signature")
        .map(|(name, value)| (uri_encode(&name, false), uri_encode(&value, false)))
        .collect();
    pairs.sort();
    pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// A header value as the canonical request wants it: trimmed, runs of spaces collapsed to one.
pub fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Everything the canonical request is made of, already canonical where SigV4 says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// From [`canonical_uri`].
    pub uri: String,
    /// From [`canonical_query`].
    pub query: String,
    /// `(lower-case name, canonical value)` of each signed header, in `SignedHeaders` order.
    pub headers: Vec<(String, String)>,
    /// The `SignedHeaders` list as signed.
    pub signed_headers: &'a str,
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    /// The canonical request text.
    pub fn text(&self) -> String {
        let mut headers = String::new();
        for (name, value) in &self.headers {
            headers.push_str(name);
            headers.push(':');
            headers.push_str(value);
            headers.push('\n');
        }
        format!(
            "{}\n{}\n{}\n{headers}\n{}\n{}",
            self.method, self.uri, self.query, self.signed_headers, self.payload_hash
        )
    }
}

/// The string to sign for a canonical request signed at `amz_date` within `scope`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The signing key derived from the secret and the scope's date, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    hmac(&key, b"aws4_request")
}

/// Whether `given` (hex) is the HMAC of `string_to_sign` under `key`, compared in constant time (hmac's
/// `verify_slice`, backed by `subtle`).
pub fn signature_matches(key: &[u8], string_to_sign: &str, given: &str) -> bool {
    let Some(given) = decode_hex(given) else { return false };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return false };
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// The signature (hex) of `string_to_sign` under `key`.
pub fn signature(key: &[u8], string_to_sign: &str) -> String {
    hex(&hmac(key, string_to_sign.as_bytes()))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| text.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `get-vanilla` case of the AWS SigV4 test suite (service `service`, region `us-east-1`, the suite's
    /// example secret).
    #[test]
    fn the_aws_test_suite_get_vanilla_case() {
        let canonical = CanonicalRequest {
            method: "GET",
            uri: canonical_uri("/"),
            query: canonical_query(None),
            headers: vec![
                ("host".to_owned(), "example.amazonaws.com".to_owned()),
                ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
            ],
            signed_headers: "host;x-amz-date",
            payload_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        };
        let to_sign = string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &canonical.text());
        assert_eq!(
            to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service");
        let expected = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        assert_eq!(signature(&key, &to_sign), expected);
        assert!(signature_matches(&key, &to_sign, expected));
        assert!(!signature_matches(&key, &to_sign, &expected.replace('5', "6")));
        assert!(!signature_matches(&key, &to_sign, "not hex"));
    }

    #[test]
    fn paths_and_queries_are_canonicalised_as_aws_does() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/000000000000/q"), "/000000000000/q");
        assert_eq!(canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
        assert_eq!(canonical_query(Some("b=2&a=1&a=0&X-Amz-Signature=x&c=a%20b")), "a=0&a=1&b=2&c=a%20b");
        assert_eq!(canonical_header_value("  a   b  "), "a b");
    }

    #[test]
    fn authorization_headers_parse() {
        let header = AuthorizationHeader::parse(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, \
             Signature=abc",
        )
        .expect("sigv4");
        assert_eq!(header.credential, Some("AKID/20150830/us-east-1/sqs/aws4_request"));
        assert_eq!(header.signed_headers, Some("host;x-amz-date"));
        assert_eq!(header.signature, Some("abc"));
        assert_eq!(AuthorizationHeader::parse("AWS AKID:sig"), None);
        let scope = CredentialScope::parse("AKID/20150830/us-east-1/sqs/aws4_request").expect("five parts");
        assert_eq!(scope.scope(), "20150830/us-east-1/sqs/aws4_request");
        assert_eq!(CredentialScope::parse("AKID/20150830/us-east-1/sqs"), None);
    }
}
