//! The one STS action the emulator answers on its own port, `GetCallerIdentity`, in the Query protocol STS
//! speaks (form parameters `Action=GetCallerIdentity&Version=2011-06-15` in, XML out), so tools and test
//! fixtures that learn their account id this way work with `AWS_ENDPOINT_URL_STS` pointing at the emulator.
//!
//! The answer names the caller as the root user of its account: `Arn` `arn:aws:iam::<account>:root` and
//! `UserId` the account id, which is what AWS returns for an account's root credentials (the `aws:userid`
//! column of the principal table, <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#principaltable>;
//! the response shape, <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html>).
//! The emulator's credentials (`[[credentials]]`) map an access key to an account and nothing finer, so the
//! root principal is the faithful answer. Nothing here touches a queue.

use super::Encoded;
use super::xml::{CONTENT_TYPE, escape_into};

/// The action name.
pub const GET_CALLER_IDENTITY: &str = "GetCallerIdentity";
/// The namespace of STS XML documents.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The service name STS requests are signed for (the SigV4 credential scope).
pub const SIGNING_SERVICE: &str = "sts";

/// Whether a Query request's `Action` is the STS action this endpoint answers.
pub fn is_sts_action(action: Option<&str>) -> bool {
    action == Some(GET_CALLER_IDENTITY)
}

/// Who is calling, as `GetCallerIdentity` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account.
    pub account: String,
    /// The caller's unique id (the account id, for the root user).
    pub user_id: String,
    /// The caller's ARN.
    pub arn: String,
}

impl CallerIdentity {
    /// The root user of `account`.
    pub fn root(account: &str) -> Self {
        Self { account: account.to_owned(), user_id: account.to_owned(), arn: format!("arn:aws:iam::{account}:root") }
    }
}

/// The `GetCallerIdentityResponse` document; the request id is filled in by [`Encoded::fill_request_id`].
pub fn caller_identity_response(identity: &CallerIdentity) -> Encoded {
    let mut out = String::with_capacity(512);
    out.push_str(r#"<?xml version="1.0"?><GetCallerIdentityResponse xmlns=""#);
    out.push_str(NAMESPACE);
    out.push_str(r#""><GetCallerIdentityResult><Arn>"#);
    escape_into(&mut out, &identity.arn);
    out.push_str("</Arn><UserId>");
    escape_into(&mut out, &identity.user_id);
    out.push_str("</UserId><Account>");
    escape_into(&mut out, &identity.account);
    out.push_str("</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>");
    let request_id_at = out.len();
    out.push_str("</RequestId></ResponseMetadata></GetCallerIdentityResponse>");
    Encoded {
        status: 200,
        content_type: CONTENT_TYPE,
        headers: Vec::new(),
        body: out.into_bytes(),
        request_id_at: Some(request_id_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_carries_account_user_id_and_arn() {
        let mut encoded = caller_identity_response(&CallerIdentity::root("123456789012"));
        encoded.fill_request_id("rid");
        let body = String::from_utf8(encoded.body).expect("utf8");
        assert_eq!(
            body,
            "<?xml version=\"1.0\"?><GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:root</Arn><UserId>123456789012</UserId>\
             <Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId>\
             </ResponseMetadata></GetCallerIdentityResponse>"
        );
        assert!(is_sts_action(Some("GetCallerIdentity")));
        assert!(!is_sts_action(Some("GetQueueUrl")) && !is_sts_action(None));
    }
}
