//! JSON documents that SQS stores inside queue attributes (`RedrivePolicy`, `RedriveAllowPolicy`, `Policy`) and
//! the message move task handle: parsing and canonical rendering only. What the documents mean for queues lives in the engine.

use serde::{Deserialize, Serialize};

/// A parsed `RedrivePolicy`: where messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    /// The ARN of the dead-letter queue.
    pub dead_letter_target_arn: String,
    /// Receives after which a message moves to the dead-letter queue (1..=1000 once validated).
    pub max_receive_count: i64,
}

/// The `redrivePermission` of a `RedriveAllowPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RedrivePermission {
    /// Any queue may use this queue as its dead-letter queue.
    AllowAll,
    /// No queue may.
    DenyAll,
    /// Only the queues listed in `sourceQueueArns` may.
    ByQueue,
}

/// A parsed `RedriveAllowPolicy`: which source queues may use this queue as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveAllowPolicy {
    /// The permission.
    pub redrive_permission: RedrivePermission,
    /// The allowed sources, with [`RedrivePermission::ByQueue`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_queue_arns: Option<Vec<String>>,
}

/// Why a document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(pub String);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRedrivePolicy {
    dead_letter_target_arn: Option<String>,
    max_receive_count: Option<serde_json::Value>,
}

impl RedrivePolicy {
    /// Parses a `RedrivePolicy` document; `maxReceiveCount` may be a number or a numeric string, as AWS allows.
    ///
    /// # Errors
    /// A [`DocumentError`] saying what is wrong, for malformed JSON or missing members.
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        let raw: RawRedrivePolicy = serde_json::from_str(text)
            .map_err(|_| DocumentError("Redrive policy is not a valid JSON map.".to_owned()))?;
        let dead_letter_target_arn = raw.dead_letter_target_arn.ok_or_else(|| {
            DocumentError("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.".to_owned())
        })?;
        let count = raw.max_receive_count.ok_or_else(|| {
            DocumentError("Redrive policy does not contain mandatory attribute: maxReceiveCount.".to_owned())
        })?;
        let max_receive_count = match &count {
            serde_json::Value::Number(number) => number.as_i64(),
            serde_json::Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| DocumentError("Invalid value for maxReceiveCount.".to_owned()))?;
        Ok(Self { dead_letter_target_arn, max_receive_count })
    }

    /// The canonical JSON AWS returns (`maxReceiveCount` as a number).
    pub fn render(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

impl RedriveAllowPolicy {
    /// Parses a `RedriveAllowPolicy` document.
    ///
    /// # Errors
    /// A [`DocumentError`] for malformed JSON, an unknown permission, or `sourceQueueArns` that do not fit the
    /// permission (required with 1..=10 entries for `byQueue`, absent otherwise).
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        let policy: Self = serde_json::from_str(text)
            .map_err(|_| DocumentError("Redrive allow policy is not a valid JSON map.".to_owned()))?;
        match (&policy.redrive_permission, &policy.source_queue_arns) {
            (RedrivePermission::ByQueue, Some(arns)) if (1..=10).contains(&arns.len()) => Ok(policy),
            (RedrivePermission::ByQueue, _) => Err(DocumentError(
                "Redrive allow policy with byQueue permission must contain between 1 and 10 sourceQueueArns."
                    .to_owned(),
            )),
            (_, Some(_)) => Err(DocumentError(
                "sourceQueueArns can only be specified with the byQueue redrive permission.".to_owned(),
            )),
            (_, None) => Ok(policy),
        }
    }

    /// Whether a queue with ARN `source_arn` may use the queue carrying this policy as its dead-letter queue.
    pub fn allows(&self, source_arn: &str) -> bool {
        match self.redrive_permission {
            RedrivePermission::AllowAll => true,
            RedrivePermission::DenyAll => false,
            RedrivePermission::ByQueue => {
                self.source_queue_arns.as_ref().is_some_and(|arns| arns.iter().any(|arn| arn == source_arn))
            }
        }
    }

    /// The canonical JSON rendering.
    pub fn render(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Checks that an access `Policy` is a JSON object (AWS rejects anything else).
///
/// # Errors
/// A [`DocumentError`] when the text is not a JSON object.
pub fn validate_access_policy(text: &str) -> Result<(), DocumentError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(DocumentError("Invalid value for the parameter Policy.".to_owned())),
    }
}

/// Whether an access `Policy` document lets `account` perform `action` (an SQS action name such as
/// `SendMessage`) on the queue carrying it. This is the one place access policies are evaluated.
///
/// Understood: `Effect` `Allow` / `Deny` (an explicit deny wins); `Principal` `"*"`, `{"AWS": "*"}` or
/// `{"AWS": [...]}` naming account root ARNs (`arn:aws:iam::<account>:root`), other IAM ARNs of the account,
/// or bare account ids; `Action` (string or list) `*`, `SQS:*` or `SQS:<Action>` (case-insensitive, a
/// trailing `*` matches a prefix), where a grant of `SendMessage`, `DeleteMessage` or
/// `ChangeMessageVisibility` also covers its batch form, as AddPermission documents. A statement with a
/// `Condition` or a `NotPrincipal` / `NotAction` is not understood and never allows (but a `Deny` with a
/// `Condition` is ignored too, so the result errs towards denial only through missing allows). A policy that is
/// not valid JSON allows nothing.
pub fn policy_allows(policy: &str, account: &str, action: &str) -> bool {
    let Ok(mut document) = serde_json::from_str::<serde_json::Value>(policy) else { return false };
    let statements = take_statements(&mut document);
    let mut allowed = false;
    for statement in &statements {
        let understood = ["Condition", "NotPrincipal", "NotAction"].iter().all(|key| statement.get(key).is_none());
        if !understood
            || !principal_matches(statement.get("Principal"), account)
            || !action_matches(statement.get("Action"), action)
        {
            continue;
        }
        match statement.get("Effect").and_then(serde_json::Value::as_str) {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

fn principal_matches(principal: Option<&serde_json::Value>, account: &str) -> bool {
    let one = |value: &serde_json::Value| {
        value.as_str().is_some_and(|text| {
            text == "*"
                || text == account
                || text
                    .strip_prefix("arn:aws:iam::")
                    .and_then(|rest| rest.split_once(':'))
                    .is_some_and(|(id, _)| id == account)
        })
    };
    let any = |value: &serde_json::Value| match value {
        serde_json::Value::Array(values) => values.iter().any(one),
        other => one(other),
    };
    match principal {
        Some(serde_json::Value::String(text)) => text == "*",
        Some(serde_json::Value::Object(map)) => map.get("AWS").is_some_and(any),
        _ => false,
    }
}

fn action_matches(actions: Option<&serde_json::Value>, action: &str) -> bool {
    // The batch actions are covered by grants of their single forms.
    let single = match action {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    let one = |value: &serde_json::Value| {
        let Some(pattern) = value.as_str() else { return false };
        if pattern == "*" {
            return true;
        }
        let Some(pattern) =
            pattern.get(..4).filter(|service| service.eq_ignore_ascii_case("sqs:")).map(|_| &pattern[4..])
        else {
            return false;
        };
        let matches = |candidate: &str| match pattern.strip_suffix('*') {
            Some(prefix) => candidate.len() >= prefix.len() && candidate[..prefix.len()].eq_ignore_ascii_case(prefix),
            None => candidate.eq_ignore_ascii_case(pattern),
        };
        matches(action) || matches(single)
    };
    match actions {
        Some(serde_json::Value::Array(values)) => values.iter().any(one),
        Some(other) => one(other),
        None => false,
    }
}

/// Why a permission change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionError {
    /// A statement with this label (`Sid`) already exists.
    LabelExists,
    /// No statement has this label.
    LabelNotFound,
}

/// Adds an `Allow` statement with `Sid` = `label` to a queue's access policy, as AddPermission does: the
/// principals are account root ARNs and the actions are prefixed with `SQS:`; a single principal or action is
/// written as a string, several as a list, as AWS renders them (moto's AWS-verified `add_permission`,
/// <https://github.com/getmoto/moto/blob/master/moto/sqs/models.py>). Returns the new policy text.
///
/// # Errors
/// [`PermissionError::LabelExists`] when a statement with that label is already there.
pub fn add_permission(
    policy: Option<&str>,
    queue_arn: &str,
    label: &str,
    account_ids: &[String],
    actions: &[String],
) -> Result<String, PermissionError> {
    let mut document = policy
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({"Version": "2012-10-17", "Id": format!("{queue_arn}/SQSDefaultPolicy")}));
    let mut statements = take_statements(&mut document);
    if statements.iter().any(|statement| statement.get("Sid").and_then(serde_json::Value::as_str) == Some(label)) {
        return Err(PermissionError::LabelExists);
    }
    let principals = one_or_list(account_ids.iter().map(|id| format!("arn:aws:iam::{id}:root")).collect());
    let actions = one_or_list(actions.iter().map(|action| format!("SQS:{action}")).collect());
    statements.push(serde_json::json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": queue_arn,
    }));
    document["Statement"] = serde_json::Value::Array(statements);
    Ok(document.to_string())
}

/// Removes the statement labelled `label` from a policy, as RemovePermission does. Returns the new policy
/// text, or `None` when no statement is left (the policy is removed).
///
/// # Errors
/// [`PermissionError::LabelNotFound`] when no statement has that label.
pub fn remove_permission(policy: Option<&str>, label: &str) -> Result<Option<String>, PermissionError> {
    let mut document = policy
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .filter(serde_json::Value::is_object)
        .ok_or(PermissionError::LabelNotFound)?;
    let mut statements = take_statements(&mut document);
    let before = statements.len();
    statements.retain(|statement| statement.get("Sid").and_then(serde_json::Value::as_str) != Some(label));
    if statements.len() == before {
        return Err(PermissionError::LabelNotFound);
    }
    if statements.is_empty() {
        return Ok(None);
    }
    document["Statement"] = serde_json::Value::Array(statements);
    Ok(Some(document.to_string()))
}

/// A policy element as AWS writes it: a string when there is one value, a list otherwise.
fn one_or_list(mut values: Vec<String>) -> serde_json::Value {
    if values.len() == 1 { serde_json::Value::String(values.remove(0)) } else { serde_json::Value::from(values) }
}

/// Takes the policy's statements out as a list (a single statement object counts as a list of one).
fn take_statements(document: &mut serde_json::Value) -> Vec<serde_json::Value> {
    match document.get_mut("Statement").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(statements)) => statements,
        Some(serde_json::Value::Null) | None => Vec::new(),
        Some(single) => vec![single],
    }
}

/// A message move task handle, as AWS's look: the base64 of `{"taskId":"<uuid>","sourceArn":"<arn>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskHandle {
    /// The task's id.
    pub task_id: String,
    /// The ARN of the task's source queue.
    pub source_arn: String,
}

impl TaskHandle {
    /// The handle's text.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let raw = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    /// A well-formed handle (both members present and not empty); `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        let handle: Self = serde_json::from_slice(&raw).ok()?;
        (!handle.task_id.is_empty() && !handle.source_arn.is_empty()).then_some(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policy_accepts_count_as_number_or_string_and_renders_a_number() {
        let from_string = RedrivePolicy::parse(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"5"}"#,
        )
        .expect("valid");
        let from_number = RedrivePolicy::parse(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":5}"#,
        )
        .expect("valid");

        assert_eq!(from_string, from_number);
        assert_eq!(
            from_number.render(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":5}"#
        );
    }

    #[test]
    fn redrive_policy_needs_both_members() {
        assert!(RedrivePolicy::parse(r#"{"maxReceiveCount":5}"#).is_err());
        assert!(RedrivePolicy::parse(r#"{"deadLetterTargetArn":"x"}"#).is_err());
        assert!(RedrivePolicy::parse("not json").is_err());
    }

    #[test]
    fn permissions_are_added_and_removed_by_label() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:q";
        let policy =
            add_permission(None, arn, "l1", &["111122223333".to_owned()], &["SendMessage".to_owned()]).expect("added");
        assert!(policy.contains(r#""Sid":"l1""#), "{policy}");
        assert!(policy.contains(r#""Principal":{"AWS":"arn:aws:iam::111122223333:root"}"#), "{policy}");
        assert!(policy.contains(r#""Action":"SQS:SendMessage""#), "{policy}");
        let two = ["SendMessage".to_owned(), "ReceiveMessage".to_owned()];
        let both = add_permission(None, arn, "l", &["111122223333".to_owned(), "444455556666".to_owned()], &two)
            .expect("added");
        assert!(both.contains(r#""Action":["SQS:SendMessage","SQS:ReceiveMessage"]"#), "{both}");
        assert!(
            both.contains(r#""AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::444455556666:root"]"#),
            "{both}"
        );
        let policy =
            add_permission(Some(&policy), arn, "l2", &["111122223333".to_owned()], &["*".to_owned()]).expect("added");
        assert_eq!(add_permission(Some(&policy), arn, "l1", &[], &[]).unwrap_err(), PermissionError::LabelExists);

        let policy = remove_permission(Some(&policy), "l1").expect("removed").expect("one left");
        assert!(!policy.contains(r#""Sid":"l1""#));
        assert_eq!(remove_permission(Some(&policy), "l1").unwrap_err(), PermissionError::LabelNotFound);
        assert_eq!(remove_permission(Some(&policy), "l2").expect("removed"), None);
    }

    #[test]
    fn policies_allow_the_accounts_and_actions_they_name() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:q";
        let granted =
            add_permission(None, arn, "l", &["111122223333".to_owned()], &["SendMessage".to_owned()]).expect("added");
        assert!(policy_allows(&granted, "111122223333", "SendMessage"));
        assert!(policy_allows(&granted, "111122223333", "SendMessageBatch"));
        assert!(!policy_allows(&granted, "111122223333", "ReceiveMessage"));
        assert!(!policy_allows(&granted, "444455556666", "SendMessage"));

        let everything = add_permission(None, arn, "l", &["111122223333".to_owned()], &["*".to_owned()]).expect("ok");
        assert!(policy_allows(&everything, "111122223333", "PurgeQueue"));

        let public = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sqs:Receive*"}}"#;
        assert!(policy_allows(public, "444455556666", "ReceiveMessage"));
        assert!(!policy_allows(public, "444455556666", "SendMessage"));

        let denied = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"SQS:*"},
            {"Effect":"Deny","Principal":{"AWS":["444455556666"]},"Action":"sqs:SendMessage"}]}"#;
        assert!(policy_allows(denied, "111122223333", "SendMessage"));
        assert!(!policy_allows(denied, "444455556666", "SendMessage"));

        let conditional = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{}}}"#;
        assert!(!policy_allows(conditional, "111122223333", "SendMessage"));
        assert!(!policy_allows("not json", "111122223333", "SendMessage"));
    }

    #[test]
    fn redrive_allow_policy_rules() {
        let by_queue =
            RedriveAllowPolicy::parse(r#"{"redrivePermission":"byQueue","sourceQueueArns":["a"]}"#).expect("valid");
        assert!(by_queue.allows("a"));
        assert!(!by_queue.allows("b"));
        assert!(RedriveAllowPolicy::parse(r#"{"redrivePermission":"byQueue"}"#).is_err());
        assert!(RedriveAllowPolicy::parse(r#"{"redrivePermission":"allowAll","sourceQueueArns":["a"]}"#).is_err());
        assert!(!RedriveAllowPolicy::parse(r#"{"redrivePermission":"denyAll"}"#).expect("valid").allows("a"));
    }

    #[test]
    fn a_handle_round_trips_and_anything_else_is_refused() {
        let handle = TaskHandle { task_id: "t-1".to_owned(), source_arn: "arn:aws:sqs:us-east-1:1:q".to_owned() };
        assert_eq!(TaskHandle::decode(&handle.encode()), Some(handle));
        for bad in ["", "not base64!", "bm8tc3VjaC10YXNr", "eyJ0YXNrSWQiOiIiLCJzb3VyY2VBcm4iOiJ4In0="] {
            assert_eq!(TaskHandle::decode(bad), None, "{bad:?}");
        }
    }
}
