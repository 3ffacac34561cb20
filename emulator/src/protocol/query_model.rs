//! The slice of the Query-era SQS model (botocore 1.31.62) that the Query protocol needs, and the naming rules
//! botocore applies to it: under which parameter names a member arrives and as which XML elements it leaves.
//! The tables are generated into `query_model_gen.rs` by `emulator/models/generate_query_model.py`; the tests
//! below re-read the model JSON and check them. Nothing here knows about queues.

use super::query_model_gen::OPERATIONS;

/// One operation: its input shape and, unless its output is `Unit`, its output shape and result wrapper.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The action name, e.g. `SendMessage`.
    pub name: &'static str,
    /// The input structure.
    pub input: &'static Shape,
    /// The output structure and the element wrapping it (`<SendMessageResult>`); `None` for `Unit` outputs.
    pub output: Option<(&'static Shape, &'static str)>,
}

impl Operation {
    /// An operation whose output is `Unit` (for the generated tables).
    pub(super) const fn unit(name: &'static str, input: &'static Shape) -> Self {
        Self { name, input, output: None }
    }

    /// An operation answering with `output`, wrapped in the element `result_wrapper` (for the generated tables).
    pub(super) const fn returning(
        name: &'static str,
        input: &'static Shape,
        output: &'static Shape,
        result_wrapper: &'static str,
    ) -> Self {
        Self { name, input, output: Some((output, result_wrapper)) }
    }
}

/// A named shape of the model.
#[derive(Debug)]
pub(crate) struct Shape {
    /// The model's shape name (read by the tests that check the tables against the model).
    #[allow(dead_code)]
    pub name: &'static str,
    /// The shape's own `locationName`, used when a reference to it has none.
    pub location_name: Option<&'static str>,
    /// Whether the shape itself is `flattened`.
    pub flattened: bool,
    /// What the shape is.
    pub kind: ShapeKind,
}

impl Shape {
    /// A shape without its own `locationName`, not flattened (for the generated tables).
    pub(super) const fn plain(name: &'static str, kind: ShapeKind) -> Self {
        Self { name, location_name: None, flattened: false, kind }
    }
}

/// The kinds of shape SQS uses.
#[derive(Debug)]
pub(crate) enum ShapeKind {
    /// A structure, its members in model order.
    Structure(&'static [Member]),
    /// A list.
    List {
        /// The element reference.
        member: ShapeRef,
    },
    /// A map.
    Map {
        /// The key reference (`Name` / `Key` in SQS).
        key: ShapeRef,
        /// The value reference (`Value` in SQS).
        value: ShapeRef,
    },
    /// Text.
    String,
    /// A 32-bit integer, decimal text on the wire.
    Integer,
    /// A 64-bit integer, decimal text on the wire.
    Long,
    /// `true` / `false`.
    Boolean,
    /// Bytes, base64 on the wire.
    Blob,
}

/// A reference to a shape, with the serialization traits the reference adds (they override the shape's).
#[derive(Debug)]
pub(crate) struct ShapeRef {
    /// The target shape.
    pub shape: &'static Shape,
    /// The reference's `locationName`.
    pub location_name: Option<&'static str>,
    /// The reference's `flattened` flag.
    pub flattened: bool,
}

impl ShapeRef {
    /// A reference that adds nothing to its target shape (the generated tables' common case).
    pub(super) const fn to(shape: &'static Shape) -> Self {
        Self { shape, location_name: None, flattened: false }
    }

    /// A reference that gives its target shape a `locationName`, not flattened.
    pub(super) const fn named(shape: &'static Shape, location_name: &'static str) -> Self {
        Self { shape, location_name: Some(location_name), flattened: false }
    }

    /// The serialized name (botocore's `serialization['name']`): the reference's `locationName`, else the
    /// target shape's.
    pub fn serialized_name(&self) -> Option<&'static str> {
        self.location_name.or(self.shape.location_name)
    }

    /// Whether the reference is flattened (on the reference or on the target shape).
    pub fn is_flattened(&self) -> bool {
        self.flattened || self.shape.flattened
    }
}

/// A structure member.
#[derive(Debug)]
pub(crate) struct Member {
    /// The model's member name: the JSON key, and the typed request's field name.
    pub name: &'static str,
    /// The member's reference.
    pub shape: ShapeRef,
}

impl Member {
    /// A member called `name` with reference `shape` (for the generated tables).
    pub(super) const fn new(name: &'static str, shape: ShapeRef) -> Self {
        Self { name, shape }
    }

    /// The name the member goes by on the wire when not flattened into a list: its serialized name, else its
    /// model name. (`tags` of CreateQueue → `Tag`, `Attributes` → `Attribute`.)
    pub fn key(&self) -> &'static str {
        self.shape.serialized_name().unwrap_or(self.name)
    }

    /// The name of the parameters / XML elements that carry the member's value. For a flattened list that is
    /// the list member's serialized name (`Messages` → repeated `Message`; `Entries` →
    /// `SendMessageBatchRequestEntry.N`), as botocore's Query serializer and XML parser do; otherwise
    /// [`Member::key`].
    pub fn element_name(&self) -> &'static str {
        match &self.shape.shape.kind {
            ShapeKind::List { member } if self.shape.is_flattened() => member.serialized_name().unwrap_or(self.key()),
            _ => self.key(),
        }
    }
}

/// The operation named `action`, if the model has it.
pub(crate) fn operation(action: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|operation| operation.name == action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const MODEL: &str = include_str!("../../models/botocore-1.31.62-sqs-query-protocol-service-2.json");

    /// Members the generator adds from the JSON-era model (SPEC.md §4.2): (structure, member).
    const OVERLAY: &[(&str, &str)] = &[("ReceiveMessageRequest", "MessageSystemAttributeNames")];

    fn model() -> Value {
        serde_json::from_str(MODEL).expect("the model is JSON")
    }

    fn opt_str(value: &Value, key: &str) -> Option<String> {
        value.get(key).and_then(Value::as_str).map(str::to_owned)
    }

    fn check_ref(model: &Value, context: &str, reference: &ShapeRef, expected: &Value) {
        assert_eq!(Some(reference.shape.name), expected["shape"].as_str(), "{context}: target");
        assert_eq!(reference.location_name.map(str::to_owned), opt_str(expected, "locationName"), "{context}");
        assert_eq!(reference.flattened, expected["flattened"].as_bool().unwrap_or(false), "{context}: flattened");
        check_shape(model, reference.shape);
    }

    fn check_shape(model: &Value, shape: &Shape) {
        let expected = &model["shapes"][shape.name];
        if expected.is_null() {
            assert_eq!(shape.name, "MessageSystemAttributeList", "only the overlay's list may be missing");
            return;
        }
        assert_eq!(shape.location_name.map(str::to_owned), opt_str(expected, "locationName"), "{}", shape.name);
        assert_eq!(shape.flattened, expected["flattened"].as_bool().unwrap_or(false), "{}: flattened", shape.name);
        let kind = expected["type"].as_str().expect("type");
        match &shape.kind {
            ShapeKind::Structure(members) => {
                assert_eq!(kind, "structure", "{}", shape.name);
                let expected_members = expected["members"].as_object().expect("members");
                let names: Vec<&str> = members
                    .iter()
                    .map(|member| member.name)
                    .filter(|name| !OVERLAY.contains(&(shape.name, name)))
                    .collect();
                let expected_names: Vec<&str> = expected_members.keys().map(String::as_str).collect();
                let mut sorted = names.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, expected_names, "{}: members", shape.name);
                for member in members.iter().filter(|member| !OVERLAY.contains(&(shape.name, member.name))) {
                    let context = format!("{}.{}", shape.name, member.name);
                    check_ref(model, &context, &member.shape, &expected_members[member.name]);
                }
            }
            ShapeKind::List { member } => {
                assert_eq!(kind, "list", "{}", shape.name);
                check_ref(model, shape.name, member, &expected["member"]);
            }
            ShapeKind::Map { key, value } => {
                assert_eq!(kind, "map", "{}", shape.name);
                check_ref(model, shape.name, key, &expected["key"]);
                check_ref(model, shape.name, value, &expected["value"]);
            }
            ShapeKind::String => assert_eq!(kind, "string", "{}", shape.name),
            ShapeKind::Integer => assert_eq!(kind, "integer", "{}", shape.name),
            ShapeKind::Long => assert_eq!(kind, "long", "{}", shape.name),
            ShapeKind::Boolean => assert_eq!(kind, "boolean", "{}", shape.name),
            ShapeKind::Blob => assert_eq!(kind, "blob", "{}", shape.name),
        }
    }

    #[test]
    fn generated_tables_match_the_query_model() {
        let model = model();
        let operations = model["operations"].as_object().expect("operations");
        assert_eq!(operations.len(), OPERATIONS.len());
        for operation in &OPERATIONS {
            let expected = &operations[operation.name];
            assert_eq!(Some(operation.input.name), expected["input"]["shape"].as_str(), "{}", operation.name);
            check_shape(&model, operation.input);
            match operation.output {
                Some((shape, wrapper)) => {
                    assert_eq!(Some(shape.name), expected["output"]["shape"].as_str(), "{}", operation.name);
                    assert_eq!(Some(wrapper), expected["output"]["resultWrapper"].as_str(), "{}", operation.name);
                    check_shape(&model, shape);
                }
                None => assert!(expected.get("output").is_none(), "{}", operation.name),
            }
        }
    }

    #[test]
    fn every_action_has_an_operation() {
        for action in crate::action::Action::ALL {
            assert!(operation(action.as_str()).is_some(), "{action}");
        }
        assert!(operation("Bogus").is_none());
    }

    fn member(operation_name: &str, member: &str) -> &'static Member {
        let Some(operation) = operation(operation_name) else { panic!("{operation_name}") };
        let ShapeKind::Structure(members) = &operation.input.kind else { panic!("structure") };
        members.iter().find(|m| m.name == member).unwrap_or_else(|| panic!("{member}"))
    }

    #[test]
    fn wire_names_follow_spec_section_4_2() {
        let cases = [
            ("CreateQueue", "Attributes", "Attribute"),
            ("CreateQueue", "tags", "Tag"),
            ("TagQueue", "Tags", "Tag"),
            ("UntagQueue", "TagKeys", "TagKey"),
            ("GetQueueAttributes", "AttributeNames", "AttributeName"),
            ("ReceiveMessage", "AttributeNames", "AttributeName"),
            ("ReceiveMessage", "MessageSystemAttributeNames", "MessageSystemAttributeName"),
            ("ReceiveMessage", "MessageAttributeNames", "MessageAttributeName"),
            ("SendMessage", "MessageAttributes", "MessageAttribute"),
            ("SendMessage", "MessageSystemAttributes", "MessageSystemAttribute"),
            ("SendMessageBatch", "Entries", "SendMessageBatchRequestEntry"),
            ("DeleteMessageBatch", "Entries", "DeleteMessageBatchRequestEntry"),
            ("ChangeMessageVisibilityBatch", "Entries", "ChangeMessageVisibilityBatchRequestEntry"),
            ("AddPermission", "AWSAccountIds", "AWSAccountId"),
            ("AddPermission", "Actions", "ActionName"),
        ];
        for (operation, name, wire) in cases {
            assert_eq!(member(operation, name).element_name(), wire, "{operation}.{name}");
        }
        assert_eq!(member("SendMessageBatch", "Entries").key(), "Entries");
    }
}
