//! The SQS message rules (SPEC §8, §11) checked before any request, so an invalid message fails at once with
//! an error that says what to change, instead of costing a round trip and failing a batch entry.

use std::time::Duration;

use crate::backend::SendEntry;
use crate::error::{Error, Result};
use crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE;
use crate::types::{AttributeValue, MessageAttribute};

/// At most this many message attributes per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// The largest per-message delay SQS accepts.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
const MAX_ATTRIBUTE_NAME_LEN: usize = 256;
const MAX_DATA_TYPE_LEN: usize = 256;
const MAX_ID_LEN: usize = 128;

/// What the producer knows about its queue.
#[derive(Debug, Clone)]
pub(crate) struct QueueRules {
    pub(crate) queue_url: String,
    pub(crate) fifo: bool,
    pub(crate) content_based_deduplication: bool,
    pub(crate) max_message_size: usize,
}

/// Checks one entry against SQS's rules for this queue.
pub(crate) fn validate(entry: &SendEntry, rules: &QueueRules) -> Result<()> {
    if entry.body.is_empty() {
        return Err(Error::invalid("the message body is empty; SQS requires at least one character"));
    }
    if let Some(position) = invalid_char_position(&entry.body) {
        return Err(Error::invalid(format!(
            "the message body contains a character SQS rejects at byte {position} (allowed: #x9, #xA, #xD, \
             #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF); encode binary data, e.g. as base64"
        )));
    }
    validate_attributes(entry)?;
    let size = entry.size();
    if size > rules.max_message_size {
        return Err(Error::invalid(format!(
            "the message is {size} bytes (body {} + attributes {}) but {} accepts at most {} bytes; shrink or \
             compress the payload, or store it elsewhere (e.g. S3) and send a reference",
            entry.body.len(),
            entry.attributes.size(),
            rules.queue_url,
            rules.max_message_size
        )));
    }
    if let Some(delay) = entry.delay {
        if rules.fifo && !delay.is_zero() {
            return Err(Error::invalid(
                "FIFO queues do not accept per-message delays; set DelaySeconds on the queue instead",
            ));
        }
        if delay > MAX_DELAY {
            return Err(Error::invalid(format!(
                "a delay of {delay:?} is over SQS's maximum of 15 minutes; schedule the message elsewhere"
            )));
        }
    }
    if let Some(group) = &entry.group_id {
        validate_id("MessageGroupId", group)?;
    } else if rules.fifo {
        return Err(Error::invalid(format!(
            "{} is a FIFO queue and needs a MessageGroupId: pass SendOptions::group_id or set \
             ProducerBuilder::group_id_fn",
            rules.queue_url
        )));
    }
    if let Some(dedup) = &entry.deduplication_id {
        if !rules.fifo {
            return Err(Error::invalid(
                "MessageDeduplicationId applies to FIFO queues only; on a standard queue use an idempotency key \
                 (it travels as a message attribute)",
            ));
        }
        validate_id("MessageDeduplicationId", dedup)?;
    }
    if let Some(header) = &entry.trace_header {
        if header.is_empty() || invalid_char_position(header).is_some() {
            return Err(Error::invalid("the AWSTraceHeader must be a non-empty X-Ray trace header"));
        }
    }
    Ok(())
}

fn validate_attributes(entry: &SendEntry) -> Result<()> {
    let count = entry.attributes.len();
    if count > MAX_MESSAGE_ATTRIBUTES {
        let note = if entry.attributes.get(IDEMPOTENCY_KEY_ATTRIBUTE).is_some() {
            format!(" (the idempotency key uses one, as attribute {IDEMPOTENCY_KEY_ATTRIBUTE})")
        } else {
            String::new()
        };
        return Err(Error::invalid(format!(
            "the message has {count} attributes{note} but SQS allows {MAX_MESSAGE_ATTRIBUTES}; merge some into the \
             body or into one JSON attribute"
        )));
    }
    for (name, attribute) in entry.attributes.iter() {
        validate_attribute_name(name)?;
        validate_attribute(name, attribute)?;
    }
    Ok(())
}

/// SQS's rule for message attribute names: "alphanumeric characters and the underscore (`_`), hyphen (`-`), and
/// period (`.`)", up to 256 characters, no reserved `AWS.`/`Amazon.` prefix, no leading, trailing or doubled period
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>). Alphanumeric
/// means letters and digits of any script: SQS accepts `José` and `注文.id` (the emulator matches this; see
/// docs/aws-behaviour.md), so the client must not refuse them.
fn validate_attribute_name(name: &str) -> Result<()> {
    let lower = name.to_lowercase();
    let problem = if name.is_empty() || name.chars().count() > MAX_ATTRIBUTE_NAME_LEN {
        Some("must be 1 to 256 characters long")
    } else if !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.') {
        Some("may contain only letters, digits, '_', '-' and '.'")
    } else if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        Some("must not start or end with '.' or contain '..'")
    } else if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        Some("must not start with 'AWS.' or 'Amazon.' (reserved by AWS)")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::invalid(format!("message attribute name {name:?} {problem}"))),
        None => Ok(()),
    }
}

fn validate_attribute(name: &str, attribute: &MessageAttribute) -> Result<()> {
    let data_type = attribute.data_type.as_str();
    let (base, label) = data_type.split_once('.').map_or((data_type, None), |(base, label)| (base, Some(label)));
    let known_base = matches!(base, "String" | "Number" | "Binary");
    if !known_base || data_type.len() > MAX_DATA_TYPE_LEN || label.is_some_and(|l| l.is_empty()) {
        return Err(Error::invalid(format!(
            "message attribute {name:?} has data type {data_type:?}; use String, Number or Binary, optionally \
             followed by '.label' (e.g. Number.float)"
        )));
    }
    if label.is_some_and(|l| invalid_char_position(l).is_some()) {
        return Err(Error::invalid(format!("message attribute {name:?} has characters SQS rejects in its data type")));
    }
    match (&attribute.value, base) {
        (AttributeValue::Binary(bytes), "Binary") => {
            if bytes.is_empty() {
                return Err(Error::invalid(format!("message attribute {name:?} is empty; SQS requires a value")));
            }
        }
        (AttributeValue::Text(text), "String" | "Number") => {
            if text.is_empty() {
                return Err(Error::invalid(format!("message attribute {name:?} is empty; SQS requires a value")));
            }
            if invalid_char_position(text).is_some() {
                return Err(Error::invalid(format!(
                    "message attribute {name:?} contains characters SQS rejects; use a Binary attribute for bytes"
                )));
            }
            if base == "Number" && !is_number(text) {
                return Err(Error::invalid(format!(
                    "message attribute {name:?} is a Number but {text:?} is not a decimal number"
                )));
            }
        }
        _ => {
            return Err(Error::invalid(format!(
                "message attribute {name:?} of type {data_type} needs a {} value",
                if base == "Binary" { "binary" } else { "text" }
            )));
        }
    }
    Ok(())
}

fn validate_id(parameter: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_ID_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(format!(
            "{parameter} {value:?} must be 1 to 128 ASCII letters, digits or punctuation characters"
        )));
    }
    Ok(())
}

/// The byte offset of the first character outside the W3C XML `Char` production SQS enforces, if any.
fn invalid_char_position(text: &str) -> Option<usize> {
    text.char_indices()
        .find(|(_, c)| {
            !matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
        .map(|(position, _)| position)
}

/// Whether `text` is a decimal number (optional sign, digits with an optional fraction, optional exponent).
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = !(int_part.is_empty() && frac_part.is_empty()) && digits(int_part) && digits(frac_part);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MessageAttributes;

    fn rules(fifo: bool) -> QueueRules {
        QueueRules { queue_url: "q".to_owned(), fifo, content_based_deduplication: false, max_message_size: 1_048_576 }
    }

    fn with_attribute(name: &str, attribute: MessageAttribute) -> SendEntry {
        SendEntry { attributes: MessageAttributes::new().with(name, attribute), ..SendEntry::new("1", "b") }
    }

    fn reason(result: Result<()>) -> String {
        match result {
            Err(Error::InvalidMessage { reason }) => reason,
            other => panic!("expected InvalidMessage, got {other:?}"),
        }
    }

    #[test]
    fn size_counts_body_and_attributes() {
        let mut entry = SendEntry::new("1", "x".repeat(1_048_576 - 10));
        assert!(validate(&entry, &rules(false)).is_ok());
        entry.attributes.insert("abc", MessageAttribute::string("12345"));
        assert!(reason(validate(&entry, &rules(false))).contains("1048580 bytes"));
    }

    #[test]
    fn attribute_rules() {
        for bad in ["", ".a", "a.", "a..b", "AWS.x", "amazon.y", "sp ace"] {
            assert!(validate(&with_attribute(bad, MessageAttribute::string("v")), &rules(false)).is_err(), "{bad:?}");
        }
        let bad_type = MessageAttribute::with_type("Integer", AttributeValue::Text("1".to_owned()));
        assert!(reason(validate(&with_attribute("n", bad_type), &rules(false))).contains("String, Number or Binary"));
        let empty_label = MessageAttribute::with_type("String.", AttributeValue::Text("1".to_owned()));
        assert!(validate(&with_attribute("n", empty_label), &rules(false)).is_err());
        assert!(validate(&with_attribute("n", MessageAttribute::number("1.5e3")), &rules(false)).is_ok());
        let not_a_number = MessageAttribute::with_type("Number", AttributeValue::Text("x1".to_owned()));
        assert!(validate(&with_attribute("n", not_a_number), &rules(false)).is_err());
        let mixed = MessageAttribute::with_type("Binary", AttributeValue::Text("x".to_owned()));
        assert!(validate(&with_attribute("n", mixed), &rules(false)).is_err());

        let mut eleven = SendEntry::new("1", "b");
        for i in 0..11 {
            eleven.attributes.insert(format!("a{i}"), MessageAttribute::string("v"));
        }
        assert!(reason(validate(&eleven, &rules(false))).contains("11 attributes"));
    }

    #[test]
    fn attribute_names_may_use_letters_of_any_script() {
        for good in ["José", "注文.id", "Größe-2", "a_b.c-d"] {
            assert!(validate(&with_attribute(good, MessageAttribute::string("v")), &rules(false)).is_ok(), "{good:?}");
        }
        // 256 characters are allowed however many bytes they take; 257 are not.
        let long = "é".repeat(256);
        assert!(validate(&with_attribute(&long, MessageAttribute::string("v")), &rules(false)).is_ok());
        let too_long = "é".repeat(257);
        assert!(
            reason(validate(&with_attribute(&too_long, MessageAttribute::string("v")), &rules(false)))
                .contains("1 to 256 characters")
        );
        for bad in ["注文 id", "a/b", "emoji😀"] {
            assert!(validate(&with_attribute(bad, MessageAttribute::string("v")), &rules(false)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fifo_rules() {
        let entry = SendEntry::new("1", "b");
        assert!(reason(validate(&entry, &rules(true))).contains("MessageGroupId"));
        let grouped = SendEntry { group_id: Some("g".to_owned()), ..SendEntry::new("1", "b") };
        assert!(validate(&grouped, &rules(true)).is_ok());
        let delayed = SendEntry { delay: Some(Duration::from_secs(5)), ..grouped.clone() };
        assert!(reason(validate(&delayed, &rules(true))).contains("per-message delays"));
        let dedup_on_standard = SendEntry { deduplication_id: Some("d".to_owned()), ..SendEntry::new("1", "b") };
        assert!(reason(validate(&dedup_on_standard, &rules(false))).contains("FIFO queues only"));
        let long_group = SendEntry { group_id: Some("g".repeat(129)), ..SendEntry::new("1", "b") };
        assert!(validate(&long_group, &rules(true)).is_err());
    }

    #[test]
    fn body_rules() {
        assert!(validate(&SendEntry::new("1", ""), &rules(false)).is_err());
        assert!(reason(validate(&SendEntry::new("1", "ok\u{1}"), &rules(false))).contains("byte 2"));
        assert!(validate(&SendEntry::new("1", "tab\t😀"), &rules(false)).is_ok());
    }
}
