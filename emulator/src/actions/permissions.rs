//! AddPermission, RemovePermission.

use serde::Deserialize;

use super::{EmptyResponse, RequestContext, queue_url, required};
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

pub fn add_permission(
    engine: &Engine,
    context: &RequestContext,
    request: AddPermissionRequest,
) -> Result<EmptyResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let label = required(request.label, "Label")?;
    engine
        .add_permission(
            &url,
            &label,
            &request.aws_account_ids.unwrap_or_default(),
            &request.actions.unwrap_or_default(),
        )
        .map(|()| EmptyResponse {})
}

/// `RemovePermission` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionRequest {
    queue_url: Option<String>,
    label: Option<String>,
}

pub fn remove_permission(
    engine: &Engine,
    context: &RequestContext,
    request: RemovePermissionRequest,
) -> Result<EmptyResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let label = required(request.label, "Label")?;
    engine.remove_permission(&url, &label).map(|()| EmptyResponse {})
}
