//! Who is looking at the emulator's own pages (`/ui`, `/metrics`, `/_sqskit/*`), once the HTTP layer checked
//! the admin token or a request's signature: what they may see, never how that was decided.

/// The identity behind a request to the dashboard, the metrics or the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// The operator: the admin token was given, or authentication is off (then every request acts in the
    /// default account anyway). Sees every account's queues and may use the global test controls.
    Admin,
    /// A SigV4-signed request of this account (`--auth sigv4`): sees and acts on its own queues only.
    Account(String),
}

impl Viewer {
    /// Whether this viewer may see the queues `account` owns.
    pub fn sees(&self, account: &str) -> bool {
        match self {
            Self::Admin => true,
            Self::Account(own) => own == account,
        }
    }

    /// The account this viewer is limited to (`None` for the operator).
    pub fn account(&self) -> Option<&str> {
        match self {
            Self::Admin => None,
            Self::Account(own) => Some(own),
        }
    }

    /// Whether this is the operator.
    pub fn is_admin(&self) -> bool {
        matches!(self, Self::Admin)
    }
}

/// The owning account in a queue ARN (`arn:aws:sqs:<region>:<account>:<name>`), if it is one.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_sees_only_its_own_queues() {
        let viewer = Viewer::Account("111122223333".to_owned());
        assert!(viewer.sees("111122223333") && !viewer.sees("000000000000") && !viewer.is_admin());
        assert!(Viewer::Admin.sees("000000000000") && Viewer::Admin.account().is_none());
        assert_eq!(arn_account("arn:aws:sqs:us-east-1:111122223333:orders"), Some("111122223333"));
        assert_eq!(arn_account("orders"), None);
    }
}
