//! The legacy Query protocol (SPEC.md §4): form-encoded parameters in, XML out.
//!
//! A request's parameters (URL query and form body, merged) are decoded, by the naming rules of the Query-era
//! model (`query_model.rs`), into the same JSON-shaped document a JSON request carries: `Attribute.N.Name` /
//! `.Value` become the `Attributes` map, `SendMessageBatchRequestEntry.N.*` the `Entries` list, `"5"` the
//! number 5 where the model says integer. The action's typed request then deserializes from that document,
//! so actions never see which protocol a request used. Responses go the other way through `xml.rs`.
//! Nothing here touches a queue.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Encoded;
use super::query_model::{Member, Operation, ShapeKind, ShapeRef, operation};
use super::{error, xml};
use crate::error::{ErrorCode, SqsError};

/// The parameters of a Query request, as a tree over their dot-separated names (`Attribute.1.Name` is
/// `Attribute` → `1` → `Name`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    root: Node,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.get(name)
    }

    /// The children named by positive integers (`N` of `Name.N`), in numeric order.
    fn indexed(&self) -> Vec<&Node> {
        let mut items: Vec<(u64, &Node)> = self
            .children
            .iter()
            .filter_map(|(name, node)| name.parse::<u64>().ok().filter(|index| *index > 0).map(|index| (index, node)))
            .collect();
        items.sort_unstable_by_key(|(index, _)| *index);
        items.into_iter().map(|(_, node)| node).collect()
    }
}

impl QueryParams {
    /// Parses the URL query string and the form-encoded body; a body parameter overrides a URL parameter of
    /// the same name.
    pub fn parse(url_query: Option<&str>, body: &[u8]) -> Self {
        let mut params = Self::default();
        let url_pairs = url_query.map(|query| form_urlencoded::parse(query.as_bytes()));
        for (name, value) in url_pairs.into_iter().flatten().chain(form_urlencoded::parse(body)) {
            params.insert(&name, value.into_owned());
        }
        params
    }

    /// Parameters from name/value pairs (later pairs override earlier ones).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut params = Self::default();
        for (name, value) in pairs {
            params.insert(name, value.to_owned());
        }
        params
    }

    fn insert(&mut self, name: &str, value: String) {
        let mut node = &mut self.root;
        for segment in name.split('.') {
            node = node.children.entry(segment.to_owned()).or_default();
        }
        node.value = Some(value);
    }

    /// The value of the parameter `name` (dotted, e.g. `Attribute.1.Name`).
    pub fn get(&self, name: &str) -> Option<&str> {
        let mut node = &self.root;
        for segment in name.split('.') {
            node = node.child(segment)?;
        }
        node.value.as_deref()
    }

    /// The `Action` parameter.
    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }
}

/// Decodes the parameters into the request type of the action they name.
///
/// # Errors
/// `InvalidAction` for a missing or unknown `Action`; `InvalidParameterValue` for a number or boolean that
/// does not parse; `MalformedInput` when the document does not fit the request type.
pub fn decode<T: DeserializeOwned>(params: &QueryParams) -> Result<T, SqsError> {
    let action = params.action().unwrap_or_default();
    let operation = operation(action).ok_or_else(|| unknown_action(action))?;
    let document = to_document(operation, params)?;
    serde_json::from_value(document)
        .map_err(|error| SqsError::new(ErrorCode::SerializationException, format!("Invalid request: {error}")))
}

/// The error for a request whose `Action` is missing or names no SQS action.
pub fn unknown_action(action: &str) -> SqsError {
    if action.is_empty() {
        SqsError::new(ErrorCode::UnknownOperationException, "The request must contain the parameter Action.")
    } else {
        SqsError::new(
            ErrorCode::UnknownOperationException,
            format!("The action {action} is not valid for this endpoint."),
        )
    }
}

/// The JSON document equivalent to `params` for `operation`'s input.
pub(crate) fn to_document(operation: &Operation, params: &QueryParams) -> Result<Value, SqsError> {
    match &operation.input.kind {
        ShapeKind::Structure(members) => Ok(Value::Object(structure(&params.root, members)?)),
        _ => Ok(Value::Object(Map::new())),
    }
}

fn structure(node: &Node, members: &[Member]) -> Result<Map<String, Value>, SqsError> {
    let mut object = Map::new();
    for member in members {
        if let Some(value) = member_value(node, member)? {
            object.insert(member.name.to_owned(), value);
        }
    }
    Ok(object)
}

/// The value of `member` of the structure at `parent`, if the request has it.
fn member_value(parent: &Node, member: &Member) -> Result<Option<Value>, SqsError> {
    let reference = &member.shape;
    match &reference.shape.kind {
        ShapeKind::List { member: item } => {
            let base = if reference.is_flattened() {
                parent.child(member.element_name())
            } else {
                parent.child(member.key()).and_then(|node| node.child(item.serialized_name().unwrap_or("member")))
            };
            let items = base.map(Node::indexed).unwrap_or_default();
            if items.is_empty() {
                // A flattened list of strings named without an index (`AttributeName=All`, the form of the
                // sample requests of the SQS API reference's Query era) is a list of that one name.
                if reference.is_flattened() && matches!(item.shape.kind, ShapeKind::String) {
                    let bare = base.and_then(|node| node.value.as_deref()).filter(|value| !value.is_empty());
                    if let Some(value) = bare {
                        return Ok(Some(Value::Array(vec![Value::String(value.to_owned())])));
                    }
                }
                // botocore sends an empty list as the bare member name with an empty value (`Entries=`):
                // present, but with no entries (SPEC.md §4.2).
                return Ok(parent
                    .child(member.key())
                    .and_then(|node| node.value.as_ref())
                    .map(|_| Value::Array(vec![])));
            }
            items.into_iter().map(|node| node_value(node, member.key(), item)).collect::<Result<_, _>>().map(Some)
        }
        _ => parent.child(member.key()).map(|node| node_value(node, member.key(), reference)).transpose(),
    }
}

/// The value at `node` as the shape `reference` points to; `name` is for error messages.
fn node_value(node: &Node, name: &str, reference: &ShapeRef) -> Result<Value, SqsError> {
    let text = || node.value.as_deref().unwrap_or_default();
    match &reference.shape.kind {
        ShapeKind::Structure(members) => Ok(Value::Object(structure(node, members)?)),
        ShapeKind::List { member } => {
            // A list nested directly in a list or map: not used by SQS, decoded the non-flattened way.
            let base = node.child(member.serialized_name().unwrap_or("member")).unwrap_or(node);
            base.indexed().into_iter().map(|item| node_value(item, name, member)).collect::<Result<_, _>>()
        }
        ShapeKind::Map { key, value } => map(node, reference.is_flattened(), key, value),
        ShapeKind::String | ShapeKind::Blob => Ok(Value::String(text().to_owned())),
        ShapeKind::Integer | ShapeKind::Long => text()
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| SqsError::invalid_parameter_value(name, text(), "must be an integer.")),
        ShapeKind::Boolean => match text().trim() {
            flag if flag.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            flag if flag.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            other => Err(SqsError::invalid_parameter_value(name, other, "must be true or false.")),
        },
    }
}

/// A map: `Name.N.Key` / `Name.N.Value` when flattened (all of SQS's), `Name.entry.N.key` otherwise.
fn map(node: &Node, flattened: bool, key: &ShapeRef, value: &ShapeRef) -> Result<Value, SqsError> {
    let key_name = key.serialized_name().unwrap_or("key");
    let value_name = value.serialized_name().unwrap_or("value");
    let entries = if flattened { Some(node) } else { node.child("entry") };
    let mut object = Map::new();
    for entry in entries.map(Node::indexed).unwrap_or_default() {
        let Some(entry_key) = entry.child(key_name).and_then(|node| node.value.as_ref()) else { continue };
        let entry_value = match entry.child(value_name) {
            Some(node) => node_value(node, value_name, value)?,
            None => Value::Null,
        };
        object.insert(entry_key.clone(), entry_value);
    }
    Ok(Value::Object(object))
}

/// Encodes the successful response of `action` as its XML document; the request id is filled in later by
/// [`Encoded::fill_request_id`].
pub fn encode<T: Serialize>(action: &str, response: &T) -> Encoded {
    let Some(operation) = operation(action) else {
        tracing::error!(action, "no Query model for this action");
        return error::render(super::Protocol::Query, &SqsError::internal());
    };
    match serde_json::to_value(response) {
        Ok(value) => {
            let document = xml::response_document(operation, &value);
            Encoded {
                status: 200,
                content_type: xml::CONTENT_TYPE,
                headers: Vec::new(),
                body: document.text.into_bytes(),
                request_id_at: Some(document.request_id_at),
            }
        }
        Err(error) => {
            tracing::error!(%error, "failed to encode a Query response");
            error::render(super::Protocol::Query, &SqsError::internal())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::query_model::Shape;
    use serde_json::json;

    fn document(pairs: &[(&str, &str)]) -> Value {
        let params = QueryParams::from_pairs(pairs.iter().copied());
        let action = params.action().expect("Action");
        to_document(operation(action).expect("known action"), &params).expect("decodes")
    }

    #[test]
    fn url_and_body_parameters_merge_and_the_body_wins() {
        let params = QueryParams::parse(
            Some("Action=GetQueueUrl&QueueName=from-url&Version=2012-11-05"),
            b"QueueName=from%20body+x&Attribute.1.Name=a%2Bb",
        );
        assert_eq!(params.action(), Some("GetQueueUrl"));
        assert_eq!(params.get("QueueName"), Some("from body x"));
        assert_eq!(params.get("Attribute.1.Name"), Some("a+b"));
        assert_eq!(params.get("Missing"), None);
    }

    #[test]
    fn create_queue_reads_attribute_and_tag_maps() {
        let doc = document(&[
            ("Action", "CreateQueue"),
            ("QueueName", "q"),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "40"),
            ("Attribute.2.Name", "DelaySeconds"),
            ("Attribute.2.Value", "5"),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "orders"),
        ]);
        assert_eq!(
            doc,
            json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": "40", "DelaySeconds": "5"},
                   "tags": {"team": "orders"}})
        );
    }

    #[test]
    fn send_message_reads_typed_scalars_and_attribute_values() {
        let doc = document(&[
            ("Action", "SendMessage"),
            ("QueueUrl", "u"),
            ("MessageBody", "hi"),
            ("DelaySeconds", "5"),
            ("MessageAttribute.1.Name", "Blob"),
            ("MessageAttribute.1.Value.DataType", "Binary"),
            ("MessageAttribute.1.Value.BinaryValue", "AQID"),
            ("MessageAttribute.2.Name", "OrderId"),
            ("MessageAttribute.2.Value.DataType", "String"),
            ("MessageAttribute.2.Value.StringValue", "A-1"),
            ("MessageSystemAttribute.1.Name", "AWSTraceHeader"),
            ("MessageSystemAttribute.1.Value.DataType", "String"),
            ("MessageSystemAttribute.1.Value.StringValue", "Root=1"),
        ]);
        assert_eq!(
            doc,
            json!({"QueueUrl": "u", "MessageBody": "hi", "DelaySeconds": 5,
                   "MessageAttributes": {"Blob": {"DataType": "Binary", "BinaryValue": "AQID"},
                                         "OrderId": {"DataType": "String", "StringValue": "A-1"}},
                   "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}}})
        );
    }

    #[test]
    fn reserved_list_values_are_passed_on_for_the_actions_to_reject() {
        let doc = document(&[
            ("Action", "SendMessage"),
            ("MessageAttribute.1.Name", "k"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringListValue.1", "x"),
            ("MessageAttribute.1.Value.StringListValue.2", "y"),
        ]);
        assert_eq!(doc, json!({"MessageAttributes": {"k": {"DataType": "String", "StringListValues": ["x", "y"]}}}));
    }

    static TEXT: Shape = Shape { name: "Text", location_name: None, flattened: false, kind: ShapeKind::String };
    static WRAPPED_LIST: Shape = Shape {
        name: "WrappedList",
        location_name: None,
        flattened: false,
        kind: ShapeKind::List { member: ShapeRef { shape: &TEXT, location_name: None, flattened: false } },
    };
    static WRAPPED_MAP: Shape = Shape {
        name: "WrappedMap",
        location_name: None,
        flattened: false,
        kind: ShapeKind::Map {
            key: ShapeRef { shape: &TEXT, location_name: None, flattened: false },
            value: ShapeRef { shape: &TEXT, location_name: None, flattened: false },
        },
    };
    static WRAPPED_INPUT: Shape = Shape {
        name: "WrappedInput",
        location_name: None,
        flattened: false,
        kind: ShapeKind::Structure(&[
            Member { name: "Items", shape: ShapeRef { shape: &WRAPPED_LIST, location_name: None, flattened: false } },
            Member { name: "Pairs", shape: ShapeRef { shape: &WRAPPED_MAP, location_name: None, flattened: false } },
        ]),
    };

    #[test]
    fn lists_and_maps_that_are_not_flattened_use_member_and_entry() {
        // SQS flattens all of its lists and maps; these rules are botocore's for the others.
        let operation = Operation { name: "Wrapped", input: &WRAPPED_INPUT, output: Some((&WRAPPED_INPUT, "W")) };
        let params = QueryParams::from_pairs([
            ("Items.member.2", "b"),
            ("Items.member.1", "a"),
            ("Pairs.entry.1.key", "k"),
            ("Pairs.entry.1.value", "v"),
        ]);

        let doc = to_document(&operation, &params).expect("decodes");
        let text = xml::response_document(&operation, &doc).text;

        assert_eq!(doc, json!({"Items": ["a", "b"], "Pairs": {"k": "v"}}));
        assert!(
            text.contains(
                "<W><Items><member>a</member><member>b</member></Items>\
                 <Pairs><entry><key>k</key><value>v</value></entry></Pairs></W>"
            ),
            "{text}"
        );
    }

    #[test]
    fn batch_entries_come_in_numeric_order_with_their_own_attributes() {
        let doc = document(&[
            ("Action", "SendMessageBatch"),
            ("QueueUrl", "u"),
            ("SendMessageBatchRequestEntry.10.Id", "ten"),
            ("SendMessageBatchRequestEntry.10.MessageBody", "b10"),
            ("SendMessageBatchRequestEntry.2.Id", "two"),
            ("SendMessageBatchRequestEntry.2.MessageBody", "b2"),
            ("SendMessageBatchRequestEntry.2.DelaySeconds", "3"),
            ("SendMessageBatchRequestEntry.2.MessageAttribute.1.Name", "k"),
            ("SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType", "Number"),
            ("SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue", "1"),
        ]);
        assert_eq!(
            doc,
            json!({"QueueUrl": "u", "Entries": [
                {"Id": "two", "MessageBody": "b2", "DelaySeconds": 3,
                 "MessageAttributes": {"k": {"DataType": "Number", "StringValue": "1"}}},
                {"Id": "ten", "MessageBody": "b10"}
            ]})
        );
    }

    #[test]
    fn an_empty_list_parameter_means_no_entries() {
        let doc = document(&[("Action", "DeleteMessageBatch"), ("QueueUrl", "u"), ("Entries", "")]);
        assert_eq!(doc, json!({"QueueUrl": "u", "Entries": []}));
        let doc = document(&[("Action", "DeleteMessageBatch"), ("QueueUrl", "u")]);
        assert_eq!(doc, json!({"QueueUrl": "u"}));
    }

    #[test]
    fn other_batch_entries_and_name_lists() {
        let doc = document(&[
            ("Action", "ChangeMessageVisibilityBatch"),
            ("ChangeMessageVisibilityBatchRequestEntry.1.Id", "a"),
            ("ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle", "r"),
            ("ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout", "30"),
        ]);
        assert_eq!(doc, json!({"Entries": [{"Id": "a", "ReceiptHandle": "r", "VisibilityTimeout": 30}]}));

        let doc = document(&[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", "u"),
            ("AttributeName.1", "SentTimestamp"),
            ("AttributeName.2", "ApproximateReceiveCount"),
            ("MessageSystemAttributeName.1", "SenderId"),
            ("MessageAttributeName.1", "All"),
            ("MaxNumberOfMessages", "10"),
            ("WaitTimeSeconds", "0"),
        ]);
        assert_eq!(
            doc,
            json!({"QueueUrl": "u", "AttributeNames": ["SentTimestamp", "ApproximateReceiveCount"],
                   "MessageSystemAttributeNames": ["SenderId"], "MessageAttributeNames": ["All"],
                   "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0})
        );

        let doc = document(&[("Action", "UntagQueue"), ("QueueUrl", "u"), ("TagKey.1", "a"), ("TagKey.2", "b")]);
        assert_eq!(doc, json!({"QueueUrl": "u", "TagKeys": ["a", "b"]}));

        let doc = document(&[
            ("Action", "AddPermission"),
            ("QueueUrl", "u"),
            ("Label", "l"),
            ("AWSAccountId.1", "111122223333"),
            ("ActionName.1", "SendMessage"),
            ("ActionName.2", "ReceiveMessage"),
        ]);
        assert_eq!(
            doc,
            json!({"QueueUrl": "u", "Label": "l", "AWSAccountIds": ["111122223333"],
                   "Actions": ["SendMessage", "ReceiveMessage"]})
        );

        let doc = document(&[("Action", "TagQueue"), ("QueueUrl", "u"), ("Tag.1.Key", "k"), ("Tag.1.Value", "")]);
        assert_eq!(doc, json!({"QueueUrl": "u", "Tags": {"k": ""}}));
    }

    #[test]
    fn a_name_list_member_without_an_index_is_a_list_of_one() {
        let doc = document(&[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", "u"),
            ("AttributeName", "All"),
            ("MessageAttributeName", "order.*"),
        ]);
        assert_eq!(doc, json!({"QueueUrl": "u", "AttributeNames": ["All"], "MessageAttributeNames": ["order.*"]}));
        let doc = document(&[("Action", "ReceiveMessage"), ("QueueUrl", "u"), ("AttributeName", "")]);
        assert_eq!(doc, json!({"QueueUrl": "u"}));
    }

    #[test]
    fn unknown_parameters_are_ignored_and_bad_numbers_are_invalid_values() {
        let doc = document(&[("Action", "ListQueues"), ("Version", "2012-11-05"), ("MaxResults", "5"), ("X", "y")]);
        assert_eq!(doc, json!({"MaxResults": 5}));

        let params = QueryParams::from_pairs([("Action", "ListQueues"), ("MaxResults", "five")]);
        let error = to_document(operation("ListQueues").expect("known"), &params).expect_err("five is no integer");
        assert_eq!(error.code, ErrorCode::InvalidParameterValueException);
        assert_eq!(error.message, "Value five for parameter MaxResults is invalid. Reason: must be an integer.");
    }

    #[test]
    fn missing_or_unknown_actions_are_invalid_action() {
        let error = decode::<Value>(&QueryParams::default()).expect_err("no action");
        assert_eq!(error.code, ErrorCode::UnknownOperationException);
        let error = decode::<Value>(&QueryParams::from_pairs([("Action", "Bogus")])).expect_err("unknown action");
        assert_eq!(error.code, ErrorCode::UnknownOperationException);
        assert_eq!(error.message, "The action Bogus is not valid for this endpoint.");
    }
}
