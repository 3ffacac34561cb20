//! Wire shapes shared by several actions: message attribute values and batch error entries.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::{AttributeValue, Md5Digest, MessageAttributes, MessageBody, RawMessageAttribute};
use crate::error::{Fault, SqsError};

/// `MessageAttributeValue` / `MessageSystemAttributeValue` as the model defines them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireAttributeValue {
    /// `DataType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// `StringValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// `BinaryValue`, base64 on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_bytes")]
    pub binary_value: Option<Vec<u8>>,
    /// Reserved by AWS, never returned.
    #[serde(default, skip_serializing)]
    pub string_list_values: Option<Vec<String>>,
    /// Reserved by AWS, never returned.
    #[serde(default, skip_serializing)]
    pub binary_list_values: Option<Vec<serde_json::Value>>,
}

impl From<WireAttributeValue> for RawMessageAttribute {
    fn from(wire: WireAttributeValue) -> Self {
        RawMessageAttribute {
            data_type: wire.data_type,
            string_value: wire.string_value,
            binary_value: wire.binary_value,
            has_list_values: wire.string_list_values.is_some_and(|v| !v.is_empty())
                || wire.binary_list_values.is_some_and(|v| !v.is_empty()),
        }
    }
}

/// Serialises an MD5 digest as its 32 lower-case hex digits, without allocating a string (every sent and every
/// received message carries one or more).
pub fn md5_hex<S: Serializer>(digest: &Md5Digest, serializer: S) -> Result<S::Ok, S::Error> {
    let digits = digest.hex_digits();
    let text = std::str::from_utf8(&digits).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(text)
}

/// Serialises a message body as the string it is.
pub fn as_str<S: Serializer>(body: &MessageBody, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(body)
}

/// [`md5_hex`] for optional members (which the caller skips when absent).
pub fn optional_md5_hex<S: Serializer>(digest: &Option<Md5Digest>, serializer: S) -> Result<S::Ok, S::Error> {
    match digest {
        Some(digest) => md5_hex(digest, serializer),
        None => serializer.serialize_none(),
    }
}

/// Converts a decoded attribute map into the engine's raw attributes.
pub fn raw_attributes(map: Option<HashMap<String, WireAttributeValue>>) -> Vec<(String, RawMessageAttribute)> {
    match map {
        // Most messages have no attributes: no empty map is made (and seeded) for them.
        None => Vec::new(),
        Some(map) => map.into_iter().map(|(name, value)| (name, value.into())).collect(),
    }
}

/// Renders message attributes as the wire map (omitted by the caller when empty).
pub fn wire_attributes(attributes: &MessageAttributes) -> Option<HashMap<String, WireAttributeValue>> {
    if attributes.is_empty() {
        return None;
    }
    let map = attributes
        .iter()
        .map(|(name, attribute)| {
            let (string_value, binary_value) = match &attribute.value {
                AttributeValue::String(text) => (Some(text.clone()), None),
                AttributeValue::Binary(bytes) => (None, Some(bytes.clone())),
            };
            let value = WireAttributeValue {
                data_type: Some(attribute.data_type.clone()),
                string_value,
                binary_value,
                ..WireAttributeValue::default()
            };
            (name.to_owned(), value)
        })
        .collect();
    Some(map)
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_str(&STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|text| STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)).transpose()
    }
}

/// `BatchResultErrorEntry`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultErrorEntry {
    /// The entry id.
    pub id: String,
    /// Whether the sender caused the failure.
    pub sender_fault: bool,
    /// The error code (the legacy Query code, as AWS reports per-entry codes).
    pub code: String,
    /// The error message.
    pub message: String,
}

impl BatchResultErrorEntry {
    /// An error entry for the batch entry `id`.
    pub(super) fn new(id: String, error: SqsError) -> Self {
        Self {
            id,
            sender_fault: error.code.fault() == Fault::Sender,
            code: error.code.query_code().to_owned(),
            message: error.message,
        }
    }
}

/// A batch entry carrying only its id (`DeleteMessageBatchResultEntry`, `ChangeMessageVisibilityBatchResultEntry`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdEntry {
    /// The entry id.
    pub id: String,
}

/// Turns a map of string pairs into a list, in name order (deterministic errors for multi-attribute requests).
pub fn pairs(map: Option<HashMap<String, String>>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = map.unwrap_or_default().into_iter().collect();
    pairs.sort();
    pairs
}
