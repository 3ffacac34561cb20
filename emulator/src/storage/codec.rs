//! Compact binary encoding of message attributes for the `messages.attributes` column.
//!
//! Per attribute: name, data type and value, each as a 4-byte big-endian length and bytes, with a kind byte
//! (1 = text, 2 = binary) before the value. Decoding checks every length, so a damaged row is an error, not a
//! panic.

use crate::engine::{AttributeValue, MessageAttribute, MessageAttributes};

/// Encodes attributes (sorted as stored).
pub fn encode_attributes(attributes: &MessageAttributes) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for (name, attribute) in attributes.iter() {
        put(&mut out, name.as_bytes());
        put(&mut out, attribute.data_type.as_bytes());
        match &attribute.value {
            AttributeValue::String(text) => {
                out.push(1);
                put(&mut out, text.as_bytes());
            }
            AttributeValue::Binary(bytes) => {
                out.push(2);
                put(&mut out, bytes);
            }
        }
    }
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Decodes what [`encode_attributes`] wrote; `None` for damaged input.
pub fn decode_attributes(mut input: &[u8]) -> Option<MessageAttributes> {
    let mut pairs = Vec::new();
    while !input.is_empty() {
        let name = String::from_utf8(take(&mut input)?.to_vec()).ok()?;
        let data_type = String::from_utf8(take(&mut input)?.to_vec()).ok()?;
        let (&kind, rest) = input.split_first()?;
        input = rest;
        let value = take(&mut input)?.to_vec();
        let value = match kind {
            1 => AttributeValue::String(String::from_utf8(value).ok()?),
            2 => AttributeValue::Binary(value),
            _ => return None,
        };
        pairs.push((name, MessageAttribute { data_type, value }));
    }
    Some(MessageAttributes::from_valid(pairs))
}

fn take<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (length, rest) = input.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
    let (value, rest) = (rest.get(..length)?, rest.get(length..)?);
    *input = rest;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_and_damage_is_detected() {
        let attributes = MessageAttributes::from_valid(vec![
            (
                "b".to_owned(),
                MessageAttribute { data_type: "Binary.png".to_owned(), value: AttributeValue::Binary(vec![0, 1, 2]) },
            ),
            ("a".to_owned(), MessageAttribute::string("héllo")),
        ]);

        let encoded = encode_attributes(&attributes);

        assert_eq!(decode_attributes(&encoded), Some(attributes));
        assert_eq!(decode_attributes(&encoded[..encoded.len() - 1]), None);
        assert_eq!(decode_attributes(&[0, 0, 0, 9, b'x']), None);
    }
}
