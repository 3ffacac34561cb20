//! XML out, for the Query protocol (SPEC.md §4.3): the `<{Action}Response>` and `ErrorResponse` documents,
//! written by hand into a `String` by walking the model's output shapes over the response's JSON form.
//! Knows nothing of queues; the request id is left to the caller (see [`Document`]).

use serde_json::{Map, Value};

use super::query_model::{Member, Operation, ShapeKind, ShapeRef};

/// The content type of XML responses.
pub const CONTENT_TYPE: &str = "text/xml";
/// The namespace of every SQS XML document.
pub const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// A finished document but for its request id, which belongs at byte `request_id_at` of `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The XML text.
    pub text: String,
    /// Where the request id goes (inside `<RequestId></RequestId>`).
    pub request_id_at: usize,
}

/// Appends `text` as XML character data: `&`, `<`, `>`, `"` and `'` as entities, and `\r` as `&#xD;`, because
/// XML parsers turn a literal CR (or CRLF) into LF and the client's MD5 check of the body would then fail.
/// A character XML 1.0 cannot carry at all, even as a reference (C0 controls but tab, LF and CR; U+FFFE, U+FFFF),
/// becomes U+FFFD: message bodies and attributes never hold one (SQS refuses them), but error messages may
/// quote a request's text, and the document must stay well-formed.
pub fn escape_into(out: &mut String, text: &str) {
    let mut start = 0;
    for (index, c) in text.char_indices() {
        let replacement = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&apos;",
            '\r' => "&#xD;",
            '\t' | '\n' => continue,
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        out.push_str(replacement);
        start = index + c.len_utf8();
    }
    out.push_str(&text[start..]);
}

/// The success document of `operation` for `response`, the JSON form of the action's typed response.
pub(crate) fn response_document(operation: &Operation, response: &Value) -> Document {
    let mut out = String::with_capacity(512);
    let root = [operation.name, "Response"].concat();
    out.push_str(r#"<?xml version="1.0"?><"#);
    out.push_str(&root);
    out.push_str(r#" xmlns=""#);
    out.push_str(NAMESPACE);
    out.push_str(r#"">"#);
    if let Some((shape, wrapper)) = operation.output {
        let members = match &shape.kind {
            ShapeKind::Structure(members) => *members,
            _ => &[],
        };
        match response.as_object() {
            Some(object) if !object.is_empty() => {
                open(&mut out, wrapper);
                write_members(&mut out, members, object);
                close(&mut out, wrapper);
            }
            _ => empty(&mut out, wrapper),
        }
    }
    out.push_str("<ResponseMetadata><RequestId>");
    let request_id_at = out.len();
    out.push_str("</RequestId></ResponseMetadata></");
    out.push_str(&root);
    out.push('>');
    Document { text: out, request_id_at }
}

/// The `ErrorResponse` document (SPEC.md §4.3).
pub fn error_document(fault: &str, code: &str, message: &str) -> Document {
    let mut out = String::with_capacity(256 + message.len());
    out.push_str(r#"<?xml version="1.0"?><ErrorResponse xmlns=""#);
    out.push_str(NAMESPACE);
    out.push_str(r#""><Error><Type>"#);
    escape_into(&mut out, fault);
    out.push_str("</Type><Code>");
    escape_into(&mut out, code);
    out.push_str("</Code><Message>");
    escape_into(&mut out, message);
    out.push_str("</Message><Detail/></Error><RequestId>");
    let request_id_at = out.len();
    out.push_str("</RequestId></ErrorResponse>");
    Document { text: out, request_id_at }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn empty(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str("/>");
}

/// A structure's members in model order, then any key the model does not know.
fn write_members(out: &mut String, members: &[Member], object: &Map<String, Value>) {
    for member in members {
        if let Some(value) = object.get(member.name).filter(|value| !value.is_null()) {
            write_value(out, member.element_name(), &member.shape, value);
        }
    }
    // A member newer than the Query-era model (none today): written generically rather than dropped.
    for (key, value) in object {
        if !value.is_null() && !members.iter().any(|member| member.name == key) {
            write_generic(out, key, value);
        }
    }
}

/// Writes `value` as the element(s) `name`, following the reference's shape (botocore's XML parser rules:
/// flattened lists and maps repeat the element, others wrap their items in it).
fn write_value(out: &mut String, name: &str, reference: &ShapeRef, value: &Value) {
    match (&reference.shape.kind, value) {
        (ShapeKind::Structure(members), Value::Object(object)) => {
            open(out, name);
            write_members(out, members, object);
            close(out, name);
        }
        (ShapeKind::List { member }, Value::Array(items)) => {
            if reference.is_flattened() {
                for item in items {
                    write_value(out, name, member, item);
                }
            } else {
                let item_name = member.serialized_name().unwrap_or("member");
                open(out, name);
                for item in items {
                    write_value(out, item_name, member, item);
                }
                close(out, name);
            }
        }
        (ShapeKind::Map { key, value: value_ref }, Value::Object(object)) => {
            let key_name = key.serialized_name().unwrap_or("key");
            let value_name = value_ref.serialized_name().unwrap_or("value");
            // Sorted, so documents are deterministic whatever map the response came from.
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let flattened = reference.is_flattened();
            if !flattened {
                open(out, name);
            }
            for (entry_key, entry_value) in entries {
                open(out, if flattened { name } else { "entry" });
                open(out, key_name);
                escape_into(out, entry_key);
                close(out, key_name);
                write_value(out, value_name, value_ref, entry_value);
                close(out, if flattened { name } else { "entry" });
            }
            if !flattened {
                close(out, name);
            }
        }
        _ => write_generic(out, name, value),
    }
}

/// Writes a value without a model: scalars as text, arrays as repeated elements, objects as nested elements.
fn write_generic(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                write_generic(out, name, item);
            }
        }
        Value::Object(object) => {
            open(out, name);
            for (key, item) in object {
                write_generic(out, key, item);
            }
            close(out, name);
        }
        Value::String(text) => {
            open(out, name);
            escape_into(out, text);
            close(out, name);
        }
        Value::Bool(flag) => {
            open(out, name);
            out.push_str(if *flag { "true" } else { "false" });
            close(out, name);
        }
        Value::Number(number) => {
            open(out, name);
            out.push_str(&number.to_string());
            close(out, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::query_model::operation;
    use serde_json::json;

    fn document(action: &str, response: Value) -> String {
        let Some(operation) = operation(action) else { panic!("{action}") };
        let document = response_document(operation, &response);
        let mut text = document.text;
        text.insert_str(document.request_id_at, "RID");
        text
    }

    fn result_of(text: &str, action: &str) -> String {
        let head = format!(r#"<?xml version="1.0"?><{action}Response xmlns="{NAMESPACE}">"#);
        let tail = format!("<ResponseMetadata><RequestId>RID</RequestId></ResponseMetadata></{action}Response>");
        let Some(inner) = text.strip_prefix(&head).and_then(|rest| rest.strip_suffix(&tail)) else {
            panic!("not a {action} document: {text}")
        };
        inner.to_owned()
    }

    #[test]
    fn escapes_markup_quotes_and_carriage_returns() {
        let mut out = String::new();
        escape_into(&mut out, "a&b<c>d\"e'f\r\ng\tü");
        assert_eq!(out, "a&amp;b&lt;c&gt;d&quot;e&apos;f&#xD;\ng\tü");
    }

    #[test]
    fn characters_xml_cannot_carry_become_replacement_characters() {
        // Found by fuzzing (docs/fuzzing.md): `Action=%0E` was echoed into an ErrorResponse no parser accepts.
        let mut out = String::new();
        escape_into(&mut out, "a\u{0}b\u{e}c\u{1f}d\u{fffe}e\u{ffff}f\u{fffd}\u{10000}<");
        assert_eq!(out, "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}f\u{fffd}\u{10000}&lt;");
    }

    #[test]
    fn unit_outputs_have_no_result_element() {
        let text = document("DeleteQueue", json!({}));
        assert_eq!(result_of(&text, "DeleteQueue"), "");
    }

    #[test]
    fn empty_receive_has_an_empty_result_element() {
        let text = document("ReceiveMessage", json!({}));
        assert_eq!(result_of(&text, "ReceiveMessage"), "<ReceiveMessageResult/>");
    }

    #[test]
    fn send_message_members_come_in_model_order() {
        let text = document(
            "SendMessage",
            json!({"MessageId": "m", "MD5OfMessageBody": "b", "MD5OfMessageAttributes": "a", "SequenceNumber": "7"}),
        );
        assert_eq!(
            result_of(&text, "SendMessage"),
            "<SendMessageResult><MD5OfMessageBody>b</MD5OfMessageBody><MD5OfMessageAttributes>a\
             </MD5OfMessageAttributes><MessageId>m</MessageId><SequenceNumber>7</SequenceNumber></SendMessageResult>"
        );
    }

    #[test]
    fn received_messages_flatten_lists_and_maps() {
        let text = document(
            "ReceiveMessage",
            json!({"Messages": [{
                "MessageId": "m", "ReceiptHandle": "r", "MD5OfBody": "d", "Body": "x<y",
                "Attributes": {"SentTimestamp": "1", "ApproximateReceiveCount": "2"},
                "MD5OfMessageAttributes": "a",
                "MessageAttributes": {"B": {"DataType": "Binary", "BinaryValue": "AQID"},
                                      "A": {"DataType": "String", "StringValue": "v"}}
            }]}),
        );
        assert_eq!(
            result_of(&text, "ReceiveMessage"),
            "<ReceiveMessageResult><Message><MessageId>m</MessageId><ReceiptHandle>r</ReceiptHandle>\
             <MD5OfBody>d</MD5OfBody><Body>x&lt;y</Body>\
             <Attribute><Name>ApproximateReceiveCount</Name><Value>2</Value></Attribute>\
             <Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>\
             <MD5OfMessageAttributes>a</MD5OfMessageAttributes>\
             <MessageAttribute><Name>A</Name><Value><StringValue>v</StringValue><DataType>String</DataType></Value>\
             </MessageAttribute><MessageAttribute><Name>B</Name><Value><BinaryValue>AQID</BinaryValue>\
             <DataType>Binary</DataType></Value></MessageAttribute></Message></ReceiveMessageResult>"
        );
    }

    #[test]
    fn batch_results_use_the_entry_element_names() {
        let text = document(
            "DeleteMessageBatch",
            json!({"Successful": [{"Id": "a"}],
                   "Failed": [{"Id": "b", "SenderFault": true, "Code": "ReceiptHandleIsInvalid", "Message": "m"}]}),
        );
        assert_eq!(
            result_of(&text, "DeleteMessageBatch"),
            "<DeleteMessageBatchResult><DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>\
             <BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>ReceiptHandleIsInvalid</Code>\
             <Message>m</Message></BatchResultErrorEntry></DeleteMessageBatchResult>"
        );
    }

    #[test]
    fn lists_of_urls_tags_and_move_tasks() {
        let text = document("ListQueues", json!({"QueueUrls": ["u1", "u2"], "NextToken": "t"}));
        assert_eq!(
            result_of(&text, "ListQueues"),
            "<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl><NextToken>t</NextToken></ListQueuesResult>"
        );
        let text = document("ListDeadLetterSourceQueues", json!({"queueUrls": ["u1"]}));
        assert_eq!(
            result_of(&text, "ListDeadLetterSourceQueues"),
            "<ListDeadLetterSourceQueuesResult><QueueUrl>u1</QueueUrl></ListDeadLetterSourceQueuesResult>"
        );
        let text = document("ListQueueTags", json!({"Tags": {"team": "a&b"}}));
        assert_eq!(
            result_of(&text, "ListQueueTags"),
            "<ListQueueTagsResult><Tag><Key>team</Key><Value>a&amp;b</Value></Tag></ListQueueTagsResult>"
        );
        let text = document(
            "ListMessageMoveTasks",
            json!({"Results": [{"TaskHandle": "h", "Status": "RUNNING", "ApproximateNumberOfMessagesMoved": 3}]}),
        );
        assert_eq!(
            result_of(&text, "ListMessageMoveTasks"),
            "<ListMessageMoveTasksResult><ListMessageMoveTasksResultEntry><TaskHandle>h</TaskHandle>\
             <Status>RUNNING</Status><ApproximateNumberOfMessagesMoved>3</ApproximateNumberOfMessagesMoved>\
             </ListMessageMoveTasksResultEntry></ListMessageMoveTasksResult>"
        );
    }

    #[test]
    fn members_unknown_to_the_model_are_kept() {
        let text = document("CreateQueue", json!({"QueueUrl": "u", "Extra": 5}));
        assert_eq!(
            result_of(&text, "CreateQueue"),
            "<CreateQueueResult><QueueUrl>u</QueueUrl><Extra>5</Extra></CreateQueueResult>"
        );
    }

    #[test]
    fn error_document_matches_spec_section_4_3() {
        let document = error_document("Sender", "AWS.SimpleQueueService.NonExistentQueue", "a < b");
        let mut text = document.text;
        text.insert_str(document.request_id_at, "RID");
        assert_eq!(
            text,
            format!(
                r#"<?xml version="1.0"?><ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>a &lt; b</Message><Detail/></Error><RequestId>RID</RequestId></ErrorResponse>"#
            )
        );
    }
}
