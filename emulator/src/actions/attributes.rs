//! GetQueueAttributes, SetQueueAttributes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::wire::pairs;
use super::{EmptyResponse, required};
use crate::engine::Engine;
use crate::error::SqsError;

/// `GetQueueAttributes` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesRequest {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
}

queue_scoped!(GetQueueAttributesRequest);

/// `GetQueueAttributes` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesResponse {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<&'static str, String>,
}

/// `GetQueueAttributes`: the named attributes (or all) with their current values.
pub fn get_queue_attributes(
    engine: &Engine,
    url: &str,
    request: GetQueueAttributesRequest,
) -> Result<GetQueueAttributesResponse, SqsError> {
    let values = engine.get_queue_attributes(url, &request.attribute_names.unwrap_or_default())?;
    Ok(GetQueueAttributesResponse {
        attributes: values.into_iter().map(|(name, value)| (name.as_str(), value)).collect(),
    })
}

/// `SetQueueAttributes` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetQueueAttributesRequest {
    queue_url: Option<String>,
    attributes: Option<HashMap<String, String>>,
}

queue_scoped!(SetQueueAttributesRequest);

/// `SetQueueAttributes`: changes attributes, all or nothing.
pub fn set_queue_attributes(
    engine: &Engine,
    url: &str,
    request: SetQueueAttributesRequest,
) -> Result<EmptyResponse, SqsError> {
    let attributes = required(request.attributes, "Attributes")?;
    engine.set_queue_attributes(url, &pairs(Some(attributes))).map(|()| EmptyResponse {})
}
