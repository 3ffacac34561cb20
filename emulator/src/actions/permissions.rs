//! AddPermission, RemovePermission.

use serde::Deserialize;

use super::{EmptyResponse, required};
use crate::engine::Engine;
use crate::error::SqsError;

/// `AddPermission` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionRequest {
    queue_url: Option<String>,
    label: Option<String>,
    #[serde(rename = "AWSAccountIds")]
    aws_account_ids: Option<Vec<String>>,
    actions: Option<Vec<String>>,
}

queue_scoped!(AddPermissionRequest);

/// `AddPermission`: lets other accounts use the queue for the given actions.
pub fn add_permission(engine: &Engine, url: &str, request: AddPermissionRequest) -> Result<EmptyResponse, SqsError> {
    let label = required(request.label, "Label")?;
    engine
        .add_permission(url, &label, &request.aws_account_ids.unwrap_or_default(), &request.actions.unwrap_or_default())
        .map(|()| EmptyResponse {})
}

/// `RemovePermission` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionRequest {
    queue_url: Option<String>,
    label: Option<String>,
}

queue_scoped!(RemovePermissionRequest);

/// `RemovePermission`: removes the permission with the given label.
pub fn remove_permission(
    engine: &Engine,
    url: &str,
    request: RemovePermissionRequest,
) -> Result<EmptyResponse, SqsError> {
    let label = required(request.label, "Label")?;
    engine.remove_permission(url, &label).map(|()| EmptyResponse {})
}
