//! Standard base64 with padding (RFC 4648 §4), the encoding of Query `BinaryValue`s in both directions.
//!
//! Written out here because the client crate's dev-dependencies carry no base64 crate; the integrity checks
//! of every binary attribute round trip cover it.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` as base64 text, padded with `=`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, byte)| group | (u32::from(*byte) << (16 - 8 * i)));
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(char::from(ALPHABET[((group >> (18 - 6 * position)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of base64 `text` (padding optional, whitespace ignored); `None` when it is not base64.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u32> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .take_while(|byte| *byte != b'=')
        .map(|byte| ALPHABET.iter().position(|digit| *digit == byte).map(|value| value as u32))
        .collect::<Option<_>>()?;
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, digit)| group | (digit << (18 - 6 * i)));
        for position in 0..chunk.len() - 1 {
            out.push((group >> (16 - 8 * position)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc_4648_vectors_round_trip() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(super::encode(plain.as_bytes()), encoded);
            assert_eq!(super::decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(super::decode("AAEC/w==").as_deref(), Some(&[0u8, 1, 2, 255][..]));
        assert_eq!(super::decode("A"), None);
        assert_eq!(super::decode("A*=="), None);
    }
}
