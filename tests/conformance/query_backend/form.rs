//! Query requests (SPEC.md §4.2): `Action=…&Version=2012-11-05&…`, form-encoded as botocore does, with lists and
//! maps flattened into indexed parameters (`AttributeName.1`, `Attribute.1.Name` / `.Value`,
//! `SendMessageBatchRequestEntry.1.Id`, `MessageAttribute.1.Value.StringValue`, `Tag.1.Key` …).

use std::fmt::Display;

use sqskit::types::{AttributeValue, MessageAttributes};

use super::base64;

/// The API version every Query request names.
const VERSION: &str = "2012-11-05";

/// The parameters of one Query request, in the order they are added.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    action: &'static str,
    params: Vec<(String, String)>,
}

impl QueryRequest {
    /// A request for `action` (`Action` and `Version` are added when encoding).
    pub fn new(action: &'static str) -> Self {
        Self { action, params: Vec::new() }
    }

    /// The action, e.g. `SendMessageBatch`.
    pub fn action(&self) -> &'static str {
        self.action
    }

    /// Adds `name=value`.
    pub fn param(mut self, name: impl Into<String>, value: impl Display) -> Self {
        self.params.push((name.into(), value.to_string()));
        self
    }

    /// Adds `name=value` when there is a value.
    pub fn optional(self, name: &str, value: Option<impl Display>) -> Self {
        match value {
            Some(value) => self.param(name, value),
            None => self,
        }
    }

    /// Adds a flattened list: `{name}.1`, `{name}.2`, …
    pub fn list<T: Display>(self, name: &str, items: impl IntoIterator<Item = T>) -> Self {
        items.into_iter().enumerate().fold(self, |request, (i, item)| request.param(format!("{name}.{}", i + 1), item))
    }

    /// Adds a flattened map: `{name}.N.{key_name}` / `{name}.N.{value_name}` for each pair.
    pub fn map<K: Display, V: Display>(
        self,
        name: &str,
        (key_name, value_name): (&str, &str),
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        pairs.into_iter().enumerate().fold(self, |request, (i, (key, value))| {
            let prefix = format!("{name}.{}", i + 1);
            request.param(format!("{prefix}.{key_name}"), key).param(format!("{prefix}.{value_name}"), value)
        })
    }

    /// Adds the entries of a batch request: `{entry_name}.N.` followed by the names `entry` adds for item N.
    pub fn entries<T>(
        self,
        entry_name: &str,
        items: &[T],
        mut entry: impl FnMut(QueryRequest, &str, &T) -> QueryRequest,
    ) -> Self {
        items
            .iter()
            .enumerate()
            .fold(self, |request, (i, item)| entry(request, &format!("{entry_name}.{}.", i + 1), item))
    }

    /// Adds message attributes under `{prefix}MessageAttribute.N.Name` / `.Value.DataType` /
    /// `.Value.StringValue` or `.Value.BinaryValue` (base64).
    pub fn message_attributes(self, prefix: &str, attributes: &MessageAttributes) -> Self {
        attributes.iter().enumerate().fold(self, |request, (i, (name, attribute))| {
            let at = format!("{prefix}MessageAttribute.{}", i + 1);
            let request =
                request.param(format!("{at}.Name"), name).param(format!("{at}.Value.DataType"), &attribute.data_type);
            match &attribute.value {
                AttributeValue::Text(text) => request.param(format!("{at}.Value.StringValue"), text),
                AttributeValue::Binary(bytes) => {
                    request.param(format!("{at}.Value.BinaryValue"), base64::encode(bytes))
                }
            }
        })
    }

    /// The `AWSTraceHeader` system attribute under `{prefix}MessageSystemAttribute.1.*`, when there is one.
    pub fn trace_header(self, prefix: &str, trace_header: Option<&str>) -> Self {
        let Some(header) = trace_header else { return self };
        let at = format!("{prefix}MessageSystemAttribute.1");
        self.param(format!("{at}.Name"), "AWSTraceHeader")
            .param(format!("{at}.Value.DataType"), "String")
            .param(format!("{at}.Value.StringValue"), header)
    }

    /// The form body: `Action`, `Version`, then every parameter, each name and value percent-encoded.
    pub fn encode(&self) -> String {
        [("Action", self.action), ("Version", VERSION)]
            .into_iter()
            .chain(self.params.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `application/x-www-form-urlencoded` escaping: unreserved characters stay, a space becomes `+`, every other
/// byte of the UTF-8 text becomes `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use sqskit::types::{MessageAttribute, MessageAttributes};

    use super::QueryRequest;

    #[test]
    fn parameters_are_indexed_and_escaped_like_botocore() {
        let attributes = MessageAttributes::new()
            .with("Blob", MessageAttribute::binary(vec![1, 2, 3]))
            .with("OrderId", MessageAttribute::string("A-1001"));
        let request = QueryRequest::new("SendMessage")
            .param("MessageBody", "Hello from sqskit & 100%")
            .message_attributes("", &attributes)
            .trace_header("", Some("Root=1;Sampled=1"))
            .list("AttributeName", ["All"]);

        assert_eq!(
            request.encode(),
            "Action=SendMessage&Version=2012-11-05&MessageBody=Hello+from+sqskit+%26+100%25\
             &MessageAttribute.1.Name=Blob&MessageAttribute.1.Value.DataType=Binary\
             &MessageAttribute.1.Value.BinaryValue=AQID&MessageAttribute.2.Name=OrderId\
             &MessageAttribute.2.Value.DataType=String&MessageAttribute.2.Value.StringValue=A-1001\
             &MessageSystemAttribute.1.Name=AWSTraceHeader&MessageSystemAttribute.1.Value.DataType=String\
             &MessageSystemAttribute.1.Value.StringValue=Root%3D1%3BSampled%3D1&AttributeName.1=All"
        );
    }
}
