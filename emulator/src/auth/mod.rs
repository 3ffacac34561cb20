//! Authentication: who sent a request. With `--auth sigv4` every SQS request must carry a valid AWS Signature
//! Version 4 made with one of the configured credentials, and the credential's account becomes the caller's
//! account; with `--auth off` (the default) nothing is checked and every request acts in the default account.
//!
//! This is an HTTP-layer concern: it reads the method, path, query, headers and body of the request, and never
//! touches a queue. What the caller's account may do with a queue is decided later, in one place
//! ([`crate::actions::dispatch`] → [`crate::Engine::authorize`]).
//!
//! - `sigv4.rs`: canonical request, string to sign, signing key, header parsing.
//! - `time.rs`: the `YYYYMMDDTHHMMSSZ` dates.
//! - `viewer.rs`: who looks at the dashboard, the metrics and the admin API, and what they may see.

pub mod sigv4;
pub mod time;
pub mod viewer;

pub use viewer::Viewer;

use std::collections::HashMap;
use std::fmt;

use axum::http::HeaderMap;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::engine::{Timestamp, is_valid_region};
use crate::error::{ErrorCode, SqsError};
use sigv4::{AuthorizationHeader, CanonicalRequest, CredentialScope, UNSIGNED_PAYLOAD};

/// How far a request's date may be from the server's clock, either way (AWS: 15 minutes).
pub const MAX_SKEW_SECS: u64 = 15 * 60;
/// The longest validity of a presigned request (AWS: one week).
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;
const SERVICE: &str = "sqs";
const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
                                  Check your AWS Secret Access Key and signing method. Consult the service \
                                  documentation for details.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// Whether requests are authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Any credentials (or none) are accepted; every request acts in the default account.
    #[default]
    Off,
    /// AWS Signature Version 4 with the configured credentials.
    Sigv4,
}

/// One `[[credentials]]` table: an access key and the account it belongs to.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The access key id, e.g. `AKIAIOSFODNN7EXAMPLE`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The 12-digit account the key belongs to.
    pub account_id: String,
    /// A session token requests must carry in `X-Amz-Security-Token` (temporary credentials).
    pub session_token: Option<String>,
}

impl Credential {
    /// A long-term credential (no session token).
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>, account_id: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret.into(),
            account_id: account_id.into(),
            session_token: None,
        }
    }

    /// The same credential, requiring `token` in `X-Amz-Security-Token`.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for Credential {
    /// Never prints the secret or the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// Why a set of credentials cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// SigV4 mode needs at least one credential.
    #[error("auth = \"sigv4\" needs at least one [[credentials]] entry")]
    None,
    /// Two entries have the same access key id.
    #[error("access key id {0} is configured more than once")]
    Duplicate(String),
    /// An account id is not 12 digits.
    #[error("credentials {key}: account_id \"{account}\" is not 12 digits")]
    BadAccount {
        /// The access key id.
        key: String,
        /// The account id given.
        account: String,
    },
    /// An access key id or secret is empty.
    #[error("credentials: access_key_id and secret_access_key must not be empty")]
    Empty,
}

/// The request as the verifier sees it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// The raw path, still percent-encoded.
    pub path: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Every value of a header, joined by `,` as the canonical request wants them.
    fn canonical_header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| sigv4::canonical_header_value(&String::from_utf8_lossy(value.as_bytes())))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Who sent a request, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's account.
    pub account_id: String,
    /// The access key id used.
    pub access_key_id: String,
}

/// The SigV4 verifier over a fixed set of credentials. A signature may be scoped to any region: one emulator
/// serves every region, and the request then acts in its scope's region (see [`credential_region`]).
#[derive(Debug, Clone)]
pub struct Authenticator {
    credentials: HashMap<String, Credential>,
}

/// The signature's parts, from the `Authorization` header or from presigned query parameters.
struct Presented<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    amz_date: &'a str,
    security_token: Option<&'a str>,
    /// `X-Amz-Expires`, for presigned requests.
    expires: Option<u64>,
}

impl Authenticator {
    /// A verifier for requests signed with one of `credentials`.
    ///
    /// # Errors
    /// A [`CredentialsError`] for no credentials, a duplicate key id, an empty key or secret, or an account id
    /// that is not 12 digits.
    pub fn new(credentials: Vec<Credential>) -> Result<Self, CredentialsError> {
        if credentials.is_empty() {
            return Err(CredentialsError::None);
        }
        let mut by_key = HashMap::with_capacity(credentials.len());
        for credential in credentials {
            if credential.access_key_id.is_empty() || credential.secret_access_key.is_empty() {
                return Err(CredentialsError::Empty);
            }
            let account = &credential.account_id;
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CredentialsError::BadAccount {
                    key: credential.access_key_id.clone(),
                    account: account.clone(),
                });
            }
            let key = credential.access_key_id.clone();
            if by_key.insert(key.clone(), credential).is_some() {
                return Err(CredentialsError::Duplicate(key));
            }
        }
        Ok(Self { credentials: by_key })
    }

    /// Verifies a request's signature at server time `now` and returns its caller.
    ///
    /// # Errors
    /// `MissingAuthenticationToken` (no signature at all), `IncompleteSignature` (a part missing or malformed),
    /// `InvalidClientTokenId` (unknown key, wrong or missing session token), `SignatureDoesNotMatch` (wrong
    /// signature or scope, or a date more than 15 minutes from `now`), `RequestExpired` (a presigned request
    /// past its `X-Amz-Expires`).
    pub fn authenticate(&self, request: &SignedRequest<'_>, now: Timestamp) -> Result<Caller, SqsError> {
        self.authenticate_for(request, now, SERVICE)
    }

    /// [`Authenticator::authenticate`] for a request signed for `service` (`sqs`, or `sts` for the STS
    /// `GetCallerIdentity` the endpoint also answers). The scope may name any valid region ([`is_valid_region`]),
    /// for STS too (`us-east-1` is the signing region of STS's global endpoint,
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_region-endpoints.html>).
    ///
    /// # Errors
    /// As [`Authenticator::authenticate`].
    pub fn authenticate_for(
        &self,
        request: &SignedRequest<'_>,
        now: Timestamp,
        service: &str,
    ) -> Result<Caller, SqsError> {
        let query_params: Vec<(String, String)> = request
            .query
            .map(|query| form_urlencoded::parse(query.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let presented = match request.header("authorization") {
            Some(header) => from_header(request, header)?,
            None if query_params.iter().any(|(name, _)| name == "X-Amz-Signature" || name == "X-Amz-Algorithm") => {
                from_query(&query_params)?
            }
            None => {
                return Err(SqsError::new(
                    ErrorCode::MissingAuthenticationTokenException,
                    "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.",
                ));
            }
        };
        let scope = CredentialScope::parse(presented.credential).ok_or_else(|| {
            SqsError::new(
                ErrorCode::IncompleteSignatureException,
                format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, \
                     got '{}'",
                    presented.credential
                ),
            )
        })?;
        let credential = self
            .credentials
            .get(scope.access_key_id)
            .ok_or_else(|| SqsError::new(ErrorCode::UnrecognizedClientException, INVALID_TOKEN))?;
        let token_ok = match (&credential.session_token, presented.security_token) {
            (None, None) => true,
            (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
            _ => false,
        };
        if !token_ok {
            return Err(SqsError::new(ErrorCode::UnrecognizedClientException, INVALID_TOKEN));
        }
        let signed_at = time::parse_amz_date(presented.amz_date).ok_or_else(|| {
            SqsError::new(
                ErrorCode::IncompleteSignatureException,
                format!("Date must be in ISO-8601 'basic format'. Got '{}'.", presented.amz_date),
            )
        })?;
        self.check_scope(&scope, presented.amz_date, service)?;
        check_time(signed_at, presented.expires, now.as_secs())?;
        if !presented.signed_headers.split(';').any(|name| name == "host") {
            return Err(SqsError::new(
                ErrorCode::IncompleteSignatureException,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        let headers: Vec<(String, String)> =
            presented.signed_headers.split(';').map(|name| (name.to_owned(), request.canonical_header(name))).collect();
        let body_hash = sigv4::sha256_hex(request.body);
        // The payload hash: the `x-amz-content-sha256` header when sent (`UNSIGNED-PAYLOAD`, or the body's hash,
        // which must then be right); otherwise the body's hash. Presigned requests are signed over
        // `UNSIGNED-PAYLOAD` by botocore and over the (empty) body's hash by the Rust SDK: both are accepted.
        let candidates: Vec<&str> = match request.header("x-amz-content-sha256") {
            Some(UNSIGNED_PAYLOAD) => vec![UNSIGNED_PAYLOAD],
            Some(declared) if declared.eq_ignore_ascii_case(&body_hash) => vec![body_hash.as_str()],
            Some(_) => return Err(SqsError::new(ErrorCode::InvalidSignatureException, SIGNATURE_MISMATCH)),
            None if presented.expires.is_some() => vec![UNSIGNED_PAYLOAD, body_hash.as_str()],
            None => vec![body_hash.as_str()],
        };
        let key = sigv4::signing_key(&credential.secret_access_key, scope.date, scope.region, scope.service);
        let uri = sigv4::canonical_uri(request.path);
        let query = sigv4::canonical_query(request.query);
        let matched = candidates.into_iter().any(|payload_hash| {
            let canonical = CanonicalRequest {
                method: request.method,
                uri: uri.clone(),
                query: query.clone(),
                headers: headers.clone(),
                signed_headers: presented.signed_headers,
                payload_hash,
            };
            let to_sign = sigv4::string_to_sign(presented.amz_date, &scope.scope(), &canonical.text());
            sigv4::signature_matches(&key, &to_sign, presented.signature)
        });
        if !matched {
            return Err(SqsError::new(ErrorCode::InvalidSignatureException, SIGNATURE_MISMATCH));
        }
        Ok(Caller { account_id: credential.account_id.clone(), access_key_id: credential.access_key_id.clone() })
    }

    /// The credential scope must name a valid region, the service, `aws4_request` and the request's date.
    fn check_scope(&self, scope: &CredentialScope<'_>, amz_date: &str, service: &str) -> Result<(), SqsError> {
        let mismatch = |message: String| Err(SqsError::new(ErrorCode::InvalidSignatureException, message));
        if !is_valid_region(scope.region) {
            return Err(invalid_region(scope.region));
        }
        if scope.service != service {
            return mismatch(format!("Credential should be scoped to correct service: '{service}'. "));
        }
        if scope.terminator != "aws4_request" {
            return mismatch(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
                scope.terminator
            ));
        }
        if amz_date.get(..8) != Some(scope.date) {
            return mismatch(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != \
                 '{}', from '{amz_date}'.",
                scope.date,
                amz_date.get(..8).unwrap_or_default()
            ));
        }
        Ok(())
    }
}

/// The date window: within 15 minutes of the server's clock (header signatures, and the start of presigned
/// ones), and before `X-Amz-Expires` ends (presigned).
fn check_time(signed_at: u64, expires: Option<u64>, now: u64) -> Result<(), SqsError> {
    let format = time::format_amz_date;
    if signed_at > now + MAX_SKEW_SECS {
        return Err(SqsError::new(
            ErrorCode::InvalidSignatureException,
            format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                format(signed_at),
                format(now + MAX_SKEW_SECS),
                format(now)
            ),
        ));
    }
    match expires {
        Some(expires) if now > signed_at + expires => {
            Err(SqsError::new(ErrorCode::RequestExpired, "Request has expired."))
        }
        Some(_) => Ok(()),
        None if signed_at + MAX_SKEW_SECS < now => Err(SqsError::new(
            ErrorCode::InvalidSignatureException,
            format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                format(signed_at),
                format(now - MAX_SKEW_SECS),
                format(now)
            ),
        )),
        None => Ok(()),
    }
}

/// The region of a request's SigV4 credential scope, from its `Authorization` header or else from a presigned
/// `X-Amz-Credential` query parameter, whether or not the signature is (or can be) verified; `None` when the
/// request carries no readable scope. The region is not checked here (see [`invalid_region`]).
pub fn credential_region(request: &SignedRequest<'_>) -> Option<String> {
    let from_header = request
        .header("authorization")
        .and_then(AuthorizationHeader::parse)
        .and_then(|header| header.credential)
        .and_then(CredentialScope::parse)
        .map(|scope| scope.region.to_owned());
    from_header.or_else(|| {
        let query = request.query?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "X-Amz-Credential")
            .and_then(|(_, credential)| CredentialScope::parse(&credential).map(|scope| scope.region.to_owned()))
    })
}

/// The answer to a credential scope naming something that cannot be a region, as AWS words it for a scope its
/// endpoint does not serve (<https://github.com/aws/aws-cli/issues/1715>: "Credential should be scoped to a valid
/// region, not 'queue'.").
pub fn invalid_region(region: &str) -> SqsError {
    SqsError::new(
        ErrorCode::InvalidSignatureException,
        format!("Credential should be scoped to a valid region, not '{region}'. "),
    )
}

fn incomplete(message: String) -> SqsError {
    SqsError::new(ErrorCode::IncompleteSignatureException, message)
}

/// The signature's parts from an `Authorization` header.
fn from_header<'a>(request: &'a SignedRequest<'a>, header: &'a str) -> Result<Presented<'a>, SqsError> {
    let parsed = AuthorizationHeader::parse(header).ok_or_else(|| {
        incomplete(format!("Authorization header requires the {} algorithm. Authorization={header}", sigv4::ALGORITHM))
    })?;
    let mut missing = String::new();
    for (part, value) in
        [("Credential", parsed.credential), ("Signature", parsed.signature), ("SignedHeaders", parsed.signed_headers)]
    {
        if value.is_none_or(str::is_empty) {
            missing.push_str(&format!("Authorization header requires '{part}' parameter. "));
        }
    }
    let amz_date = request.header("x-amz-date");
    if amz_date.is_none() {
        missing.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    match (parsed.credential, parsed.signed_headers, parsed.signature, amz_date) {
        (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) if missing.is_empty() => {
            Ok(Presented {
                credential,
                signed_headers,
                signature,
                amz_date,
                security_token: request.header("x-amz-security-token"),
                expires: None,
            })
        }
        _ => Err(incomplete(format!("{missing}Authorization={header}"))),
    }
}

/// The signature's parts from presigned query parameters.
fn from_query(params: &[(String, String)]) -> Result<Presented<'_>, SqsError> {
    let get = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let required = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"];
    let missing: Vec<&str> = required.iter().copied().filter(|name| get(name).is_none_or(str::is_empty)).collect();
    if !missing.is_empty() {
        return Err(incomplete(format!(
            "AWS query-string parameters must include {}. Re-examine the query-string parameters.",
            missing.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
        )));
    }
    if get("X-Amz-Algorithm") != Some(sigv4::ALGORITHM) {
        return Err(incomplete(format!("X-Amz-Algorithm only supports \"{}\"", sigv4::ALGORITHM)));
    }
    let expires = match get("X-Amz-Expires") {
        None => MAX_PRESIGNED_EXPIRES_SECS,
        Some(text) => match text.parse::<u64>() {
            Ok(secs) if (1..=MAX_PRESIGNED_EXPIRES_SECS).contains(&secs) => secs,
            _ => {
                return Err(incomplete(format!(
                    "X-Amz-Expires must be a number of seconds between 1 and {MAX_PRESIGNED_EXPIRES_SECS}, got \
                     '{text}'."
                )));
            }
        },
    };
    Ok(Presented {
        credential: get("X-Amz-Credential").unwrap_or_default(),
        signed_headers: get("X-Amz-SignedHeaders").unwrap_or_default(),
        signature: get("X-Amz-Signature").unwrap_or_default(),
        amz_date: get("X-Amz-Date").unwrap_or_default(),
        security_token: get("X-Amz-Security-Token"),
        expires: Some(expires),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_checked_when_the_authenticator_is_built() {
        assert_eq!(Authenticator::new(vec![]).unwrap_err(), CredentialsError::None);
        let bad = Credential::new("AK", "secret", "12");
        assert!(matches!(Authenticator::new(vec![bad]), Err(CredentialsError::BadAccount { .. })));
        let one = Credential::new("AK", "secret", "111122223333");
        assert_eq!(
            Authenticator::new(vec![one.clone(), one]).unwrap_err(),
            CredentialsError::Duplicate("AK".to_owned())
        );
        assert!(!format!("{:?}", Credential::new("AK", "hush", "111122223333")).contains("hush"));
    }

    #[test]
    fn the_date_window_is_fifteen_minutes_each_way() {
        let now = 1_440_938_160;
        assert!(check_time(now - MAX_SKEW_SECS, None, now).is_ok());
        let stale = check_time(now - MAX_SKEW_SECS - 1, None, now).unwrap_err();
        assert_eq!(stale.code, ErrorCode::InvalidSignatureException);
        assert_eq!(
            stale.message,
            "Signature expired: 20150830T122059Z is now earlier than 20150830T122100Z (20150830T123600Z - 15 min.)"
        );
        let early = check_time(now + MAX_SKEW_SECS + 1, None, now).unwrap_err();
        assert!(early.message.starts_with("Signature not yet current: 20150830T125101Z"), "{}", early.message);
        assert!(check_time(now - 3600, Some(3600), now).is_ok());
        assert_eq!(check_time(now - 3601, Some(3600), now).unwrap_err().code, ErrorCode::RequestExpired);
    }

    #[test]
    fn a_request_without_a_signature_is_missing_its_token() {
        let authenticator = Authenticator::new(vec![Credential::new("AK", "s", "111122223333")]).expect("valid");
        let headers = HeaderMap::new();
        let request = SignedRequest { method: "POST", path: "/", query: None, headers: &headers, body: b"" };
        let error = authenticator.authenticate(&request, Timestamp::from_millis(0)).unwrap_err();
        assert_eq!(error.code, ErrorCode::MissingAuthenticationTokenException);
        assert_eq!(error.code.http_status(), 403);
    }
}
