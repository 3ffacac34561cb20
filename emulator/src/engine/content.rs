//! Message content as SQS defines it: bodies, message attributes, their validation, sizes and MD5 digests.
//!
//! The digests follow SPEC.md §9 exactly (length-prefixed, sorted by name, byte lengths); they are computed
//! once at send time and kept with the message.

use std::sync::Arc;

use md5::{Digest, Md5};

use crate::error::{ErrorCode, SqsError};

/// At most this many message attributes per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
const MAX_ATTRIBUTE_NAME_LEN: usize = 256;
const MAX_DATA_TYPE_LEN: usize = 256;

/// The value of a message attribute: text (String and Number types) or bytes (Binary types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// `StringValue`, for `String` and `Number` data types.
    String(String),
    /// `BinaryValue` (raw bytes, base64 on the wire), for `Binary` data types.
    Binary(Vec<u8>),
}

/// One message attribute: its full data type (with any custom suffix) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// The data type as sent, e.g. `String`, `Number.float`, `Binary.png`.
    pub data_type: String,
    /// The value.
    pub value: AttributeValue,
}

impl MessageAttribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        Self { data_type: "String".to_owned(), value: AttributeValue::String(value.into()) }
    }

    /// Bytes this attribute counts toward the message size: its data type and value (the name is added by
    /// the caller).
    fn payload_len(&self) -> usize {
        let value_len = match &self.value {
            AttributeValue::String(text) => text.len(),
            AttributeValue::Binary(bytes) => bytes.len(),
        };
        self.data_type.len() + value_len
    }
}

/// The raw attribute as a protocol decoded it, before validation (either value may be missing or both set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawMessageAttribute {
    /// `DataType`, if sent.
    pub data_type: Option<String>,
    /// `StringValue`, if sent.
    pub string_value: Option<String>,
    /// `BinaryValue`, decoded from base64, if sent.
    pub binary_value: Option<Vec<u8>>,
    /// Whether the reserved `StringListValues` / `BinaryListValues` members were sent non-empty.
    pub has_list_values: bool,
}

/// Validated message attributes, sorted by name (the order AWS hashes and returns them in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageAttributes(Vec<(String, MessageAttribute)>);

impl MessageAttributes {
    /// Validates raw attributes as SQS does and sorts them by name.
    ///
    /// # Errors
    /// `InvalidParameterValue` for too many attributes, bad names, bad types or empty values;
    /// `InvalidMessageContents` for characters SQS does not allow.
    pub fn validate(raw: Vec<(String, RawMessageAttribute)>) -> Result<Self, SqsError> {
        if raw.len() > MAX_MESSAGE_ATTRIBUTES {
            return Err(SqsError::invalid_parameter(format!(
                "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
                raw.len()
            )));
        }
        let mut attributes = Vec::with_capacity(raw.len());
        for (name, raw) in raw {
            validate_attribute_name(&name)?;
            let attribute = validate_attribute(&name, raw)?;
            attributes.push((name, attribute));
        }
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = attributes.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(SqsError::invalid_parameter(format!(
                "Message (user) attribute '{}' was specified multiple times.",
                pair[0].0
            )));
        }
        Ok(Self(attributes))
    }

    /// Attributes from already-valid pairs (sorts them by name).
    pub fn from_valid(mut pairs: Vec<(String, MessageAttribute)>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Self(pairs)
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MessageAttribute)> {
        self.0.iter().map(|(name, attribute)| (name.as_str(), attribute))
    }

    /// Bytes these attributes count toward the message size: names, data types and values.
    pub fn size(&self) -> usize {
        self.0.iter().map(|(name, attribute)| name.len() + attribute.payload_len()).sum()
    }

    /// The attributes whose names match any of `selectors`: `All`, `.*` or `*` select every attribute, a
    /// selector ending in `.*` every name that starts with what precedes it, any other an exact name.
    ///
    /// As AWS answers (its recorded responses in LocalStack's AWS-validated snapshot of
    /// `test_receive_message_message_attribute_names_filters`, <https://github.com/localstack/localstack>,
    /// `tests/integration/test_sqs.snapshot.json`, recorded 2022-05-31): `Hel.*` returns both `Hello` and `Help.Me`
    /// (the prefix is the text before `.*`, not a dotted name), and selectors that are not valid attribute names
    /// (`AWS.`, `..foo`) are not errors, they just match nothing. The API reference: "you can return all of the
    /// attributes by specifying `All` or `.*` in your request. You can also use all message attributes starting
    /// with a prefix, for example `bar.*`"
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>).
    pub fn select(&self, selectors: &[String]) -> MessageAttributes {
        if selectors.iter().any(|s| is_select_all(s)) {
            return self.clone();
        }
        let selected = self
            .0
            .iter()
            .filter(|(name, _)| selectors.iter().any(|selector| selector_matches(selector, name)))
            .cloned()
            .collect();
        MessageAttributes(selected)
    }

    /// The MD5 digest of these attributes (SPEC.md §9), or `None` when there are none.
    pub fn md5(&self) -> Option<Md5Digest> {
        if self.0.is_empty() {
            return None;
        }
        let mut hasher = Md5::new();
        for (name, attribute) in &self.0 {
            update_length_prefixed(&mut hasher, name.as_bytes());
            update_length_prefixed(&mut hasher, attribute.data_type.as_bytes());
            match &attribute.value {
                AttributeValue::String(text) => {
                    hasher.update([1u8]);
                    update_length_prefixed(&mut hasher, text.as_bytes());
                }
                AttributeValue::Binary(bytes) => {
                    hasher.update([2u8]);
                    update_length_prefixed(&mut hasher, bytes);
                }
            }
        }
        Some(Md5Digest(hasher.finalize().into()))
    }
}

/// Whether a `MessageAttributeNames` selector selects every attribute.
fn is_select_all(selector: &str) -> bool {
    matches!(selector, "All" | ".*" | "*")
}

/// Whether one `MessageAttributeNames` selector selects `name` (see [`MessageAttributes::select`]).
fn selector_matches(selector: &str, name: &str) -> bool {
    match selector.strip_suffix(".*") {
        Some(prefix) => name.starts_with(prefix),
        None => selector == name,
    }
}

fn update_length_prefixed(hasher: &mut Md5, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}

/// A message attribute name: "alphanumeric characters and the underscore (`_`), hyphen (`-`), and period (`.`)",
/// up to 256 characters, no reserved `AWS.`/`Amazon.` prefix, no leading, trailing or doubled period
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>). Alphanumeric
/// means letters and digits of any script, as AWS accepts them (issue 21: `José`, `注文.id`), not only ASCII.
fn validate_attribute_name(name: &str) -> Result<(), SqsError> {
    let lower = name.to_lowercase();
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_ATTRIBUTE_NAME_LEN
        && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if valid {
        Ok(())
    } else {
        Err(SqsError::invalid_parameter(format!(
            "The message attribute name '{name}' is invalid. Attribute name can contain A-Z, a-z, 0-9, \
             underscore (_), hyphen (-), and period (.) characters."
        )))
    }
}

/// The base type of a data type (text before the first `.`), if it is one SQS knows.
fn base_type(data_type: &str) -> Option<&'static str> {
    let base = data_type.split('.').next().unwrap_or_default();
    ["String", "Number", "Binary"].into_iter().find(|known| *known == base)
}

fn validate_attribute(name: &str, raw: RawMessageAttribute) -> Result<MessageAttribute, SqsError> {
    if raw.has_list_values {
        return Err(SqsError::invalid_parameter(format!(
            "Message attribute list values in '{name}' are not supported."
        )));
    }
    let data_type = match raw.data_type {
        Some(data_type) if !data_type.is_empty() => data_type,
        _ => {
            return Err(SqsError::invalid_parameter(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
    };
    let base = base_type(&data_type).filter(|_| data_type.len() <= MAX_DATA_TYPE_LEN).ok_or_else(|| {
        SqsError::invalid_parameter(format!(
            "The message attribute '{name}' has an invalid message attribute type, the set of supported type \
             prefixes is Binary, Number, and String."
        ))
    })?;
    if data_type.len() > base.len() && (data_type.len() == base.len() + 1 || !is_valid_text(&data_type)) {
        return Err(SqsError::invalid_parameter(format!(
            "The message attribute '{name}' has an invalid message attribute type, the set of supported type \
             prefixes is Binary, Number, and String."
        )));
    }
    let empty_value = || {
        SqsError::invalid_parameter(format!(
            "The message attribute '{name}' must contain non-empty message attribute value for message attribute \
             type '{base}'."
        ))
    };
    let value = if base == "Binary" {
        if raw.string_value.is_some() {
            return Err(SqsError::invalid_parameter(format!(
                "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
            )));
        }
        match raw.binary_value {
            Some(bytes) if !bytes.is_empty() => AttributeValue::Binary(bytes),
            _ => return Err(empty_value()),
        }
    } else {
        if raw.binary_value.is_some() {
            return Err(SqsError::invalid_parameter(format!(
                "The message attribute '{name}' with type '{base}' must use field 'String'."
            )));
        }
        let text = match raw.string_value {
            Some(text) if !text.is_empty() => text,
            _ => return Err(empty_value()),
        };
        if !is_valid_text(&text) {
            return Err(invalid_characters());
        }
        if base == "Number" && !is_number(&text) {
            return Err(SqsError::invalid_parameter(format!(
                "Can't cast the value of message (user) attribute '{name}' to a number."
            )));
        }
        AttributeValue::String(text)
    };
    Ok(MessageAttribute { data_type, value })
}

/// Whether `text` is a decimal number SQS accepts for `Number` attributes (up to 38 significant digits,
/// magnitude 10^-128..10^+126).
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = !(int_part.is_empty() && frac_part.is_empty())
        && int_part.bytes().all(|b| b.is_ascii_digit())
        && frac_part.bytes().all(|b| b.is_ascii_digit());
    let exponent: i64 = match exponent {
        Some(exp) => match exp.parse() {
            Ok(value) => value,
            Err(_) => return false,
        },
        None => 0,
    };
    if !digits_ok {
        return false;
    }
    let all_digits: String = format!("{int_part}{frac_part}");
    let significant = all_digits.trim_start_matches('0');
    if significant.is_empty() {
        return true;
    }
    let significant_digits = significant.trim_end_matches('0').len();
    // Decimal exponent of the leading significant digit.
    let leading_zeros_in_int = int_part.len() as i64 - int_part.trim_start_matches('0').len() as i64;
    let magnitude = if int_part.trim_start_matches('0').is_empty() {
        let frac_leading_zeros = frac_part.len() - frac_part.trim_start_matches('0').len();
        -(frac_leading_zeros as i64) - 1 + exponent
    } else {
        int_part.len() as i64 - leading_zeros_in_int - 1 + exponent
    };
    significant_digits <= 38 && (-128..=126).contains(&magnitude)
}

/// Whether every character is one SQS allows in bodies and string values (the W3C XML `Char` production:
/// `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`).
///
/// A Rust `str` cannot hold surrogates or code points above U+10FFFF, so the only characters to reject are the
/// C0 controls other than tab, line feed and carriage return, and U+FFFE / U+FFFF (UTF-8 `EF BF BE` /
/// `EF BF BF`). Checking bytes keeps this hot path (every body and string attribute) cheap.
pub fn is_valid_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Fast path: text without C0 controls and without the lead byte of U+F000..U+FFFF holds nothing to reject.
    // The fold has no early exit inside a chunk, so the compiler vectorises it (about 0.3 instructions per byte,
    // against 7 for the checks below).
    let needs_a_closer_look =
        bytes.chunks(64).any(|chunk| chunk.iter().fold(false, |seen, &b| seen | (b < 0x20) | (b == 0xEF)));
    if !needs_a_closer_look {
        return true;
    }
    if bytes.iter().any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) {
        return false;
    }
    if !bytes.contains(&0xEF) {
        return true;
    }
    !bytes.windows(3).any(|w| w[0] == 0xEF && w[1] == 0xBF && (w[2] == 0xBE || w[2] == 0xBF))
}

/// `InvalidMessageContents` with AWS's text.
pub fn invalid_characters() -> SqsError {
    SqsError::new(
        ErrorCode::InvalidMessageContents,
        "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to \
         #xFFFD | #x10000 to #x10FFFF",
    )
}

/// A message body. It keeps the buffer the decoder produced (no copy on the way in) behind a reference count,
/// so receives, journal entries and dead-letter moves share it (no copy on the way out either). The count and
/// the buffer's pointer take 32 bytes of their own, against the 16-byte header that an `Arc<str>` would put in
/// front of a copy of the text.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageBody(Arc<Box<str>>);

impl MessageBody {
    /// The body `text`, keeping its buffer (shrunk to its length if it has spare capacity).
    pub fn new(text: String) -> Self {
        Self(Arc::new(text.into_boxed_str()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for MessageBody {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for MessageBody {
    fn from(text: &str) -> Self {
        Self::new(text.to_owned())
    }
}

impl std::fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for MessageBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

/// An MD5 digest, shown as 32 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// The MD5 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Md5::digest(bytes).into())
    }
}

impl Md5Digest {
    /// The digest as 32 lower-case hex digits, without going through `fmt` (this runs for every message).
    pub fn to_hex(&self) -> String {
        lower_hex(&self.0)
    }

    /// The 32 lower-case hex digits as ASCII bytes, without allocating (for encoders that write them out).
    pub fn hex_digits(&self) -> [u8; 32] {
        let mut digits = [0_u8; 32];
        write_lower_hex(&self.0, &mut digits);
        digits
    }
}

/// Writes `bytes` as lower-case hex digits into `out` (two per byte, as far as `out` reaches).
fn write_lower_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Bytes as lower-case hex digits, without going through `fmt` (every content-based deduplication id; MD5s use
/// [`Md5Digest::hex_digits`]).
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut hex = vec![0_u8; bytes.len() * 2];
    write_lower_hex(bytes, &mut hex);
    // Hex digits are ASCII, so this never fails; the fallback only keeps the signature infallible.
    String::from_utf8(hex).unwrap_or_default()
}

impl std::fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_string(data_type: &str, value: &str) -> RawMessageAttribute {
        RawMessageAttribute {
            data_type: Some(data_type.to_owned()),
            string_value: Some(value.to_owned()),
            ..Default::default()
        }
    }

    fn spec_example() -> MessageAttributes {
        MessageAttributes::validate(vec![
            ("OrderId".to_owned(), raw_string("String", "A-1001")),
            ("Priority".to_owned(), raw_string("Number", "5")),
            (
                "Blob".to_owned(),
                RawMessageAttribute {
                    data_type: Some("Binary".to_owned()),
                    binary_value: Some(vec![1, 2, 3]),
                    ..Default::default()
                },
            ),
        ])
        .expect("valid")
    }

    #[test]
    fn attribute_md5_matches_the_spec_worked_example() {
        let attributes = spec_example();

        assert_eq!(attributes.md5().expect("digest").to_string(), "55d9d49634bd05768defd42ef21e185d");
        let only_order = attributes.select(&["OrderId".to_owned()]);
        assert_eq!(only_order.md5().expect("digest").to_string(), "7cc2e4344147578b847411f21bade715");
    }

    #[test]
    fn attribute_md5_uses_byte_lengths_for_multibyte_text() {
        let attributes =
            MessageAttributes::validate(vec![("note".to_owned(), raw_string("String.utf8", "héllo"))]).expect("valid");

        assert_eq!(attributes.md5().expect("digest").to_string(), "82736dbcd91069d0953092b0e6fdaebc");
    }

    #[test]
    fn npm_reference_vector_matches() {
        let attributes =
            MessageAttributes::validate(vec![("attribName1".to_owned(), raw_string("String", "attribValue 1"))])
                .expect("valid");

        assert_eq!(attributes.md5().expect("digest").to_string(), "19e27d4e946b072f3f58da80d94fd778");
    }

    #[test]
    fn body_md5_matches_the_spec() {
        assert_eq!(Md5Digest::of(b"Hello from sqskit").to_string(), "09077c1cb05a9e73a1620c07e4bea548");
    }

    #[test]
    fn empty_attributes_have_no_digest() {
        assert_eq!(MessageAttributes::default().md5(), None);
    }

    #[test]
    fn attribute_names_follow_aws_rules() {
        for bad in ["", ".lead", "trail.", "a..b", "AWS.x", "amazon.y", "sp ace", &"n".repeat(257)] {
            assert!(validate_attribute_name(bad).is_err(), "{bad:?} should be rejected");
        }
        for bad in ["na me", "emoji😀", "tab\t", "quote'"] {
            assert!(validate_attribute_name(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in ["a", "a.b", "A-b_c.d", &"n".repeat(256), "José", "注文.id", "Ünïcödé_1", &"é".repeat(256)]
        {
            assert!(validate_attribute_name(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn data_types_need_a_known_base_and_a_non_empty_label() {
        for bad in ["Str", "string", "String.", "Integer", ""] {
            let result = validate_attribute("x", raw_string(bad, "1"));
            assert!(result.is_err(), "{bad:?} should be rejected");
        }
        for good in ["String", "String.json", "Number", "Number.float"] {
            assert!(validate_attribute("x", raw_string(good, "1")).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn numbers_are_checked() {
        for good in ["0", "-1", "3.14", "1e10", ".5", "00012", &"9".repeat(38)] {
            assert!(is_number(good), "{good:?}");
        }
        for bad in ["abc", "1.2.3", "", "-", "1e", &"9".repeat(39), "1e200"] {
            assert!(!is_number(bad), "{bad:?}");
        }
    }

    #[test]
    fn selectors_match_names_prefixes_and_all() {
        let attributes = MessageAttributes::validate(vec![
            ("order.id".to_owned(), raw_string("String", "1")),
            ("order.total".to_owned(), raw_string("Number", "2")),
            ("other".to_owned(), raw_string("String", "3")),
        ])
        .expect("valid");

        let names = |selected: MessageAttributes| selected.iter().map(|(n, _)| n.to_owned()).collect::<Vec<_>>();
        assert_eq!(names(attributes.select(&["order.*".to_owned()])), ["order.id", "order.total"]);
        assert_eq!(names(attributes.select(&["ord.*".to_owned()])), ["order.id", "order.total"]);
        assert_eq!(names(attributes.select(&["o.*".to_owned()])), ["order.id", "order.total", "other"]);
        assert_eq!(names(attributes.select(&["other".to_owned()])), ["other"]);
        for all in ["All", ".*", "*"] {
            assert_eq!(names(attributes.select(&[all.to_owned()])).len(), 3, "{all}");
        }
        assert!(attributes.select(&["missing".to_owned()]).is_empty());
        assert!(attributes.select(&["AWS.".to_owned(), "..foo".to_owned(), "all".to_owned()]).is_empty());
    }

    #[test]
    fn text_validation_follows_the_xml_char_production() {
        assert!(is_valid_text("tab\tnewline\ncr\r ok é 😀"));
        for bad in ["\u{0}", "\u{8}", "\u{1F}", "\u{FFFE}", "\u{FFFF}", "ok\u{FFFF}ok", "a\u{B}"] {
            assert!(!is_valid_text(bad), "{bad:?}");
        }
        for good in ["\u{7F}", "\u{85}", "\u{D7FF}", "\u{E000}", "\u{FFFD}", "\u{EFBF}", "\u{10FFFF}"] {
            assert!(is_valid_text(good), "{good:?}");
        }
    }

    #[test]
    fn text_validation_agrees_with_a_char_by_char_check_at_every_position_of_long_texts() {
        let allowed =
            |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
        for odd in ['\u{0}', '\u{1F}', '\t', '\u{FFFE}', '\u{FFFF}', '\u{F000}', '\u{FFFD}', 'é'] {
            for at in 0..140 {
                let text: String = (0..140).map(|i| if i == at { odd } else { 'x' }).collect();
                assert_eq!(is_valid_text(&text), text.chars().all(allowed), "{odd:?} at {at}");
            }
        }
    }
}
