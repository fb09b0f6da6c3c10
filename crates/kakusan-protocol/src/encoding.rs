//! Byte-level encodings shared by the wire format: strict base64url, lowercase hex and the
//! ASCII-only compact JSON writer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use std::io;

/// Encodes bytes as base64url (RFC 4648 §5) without padding.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes strict base64url without padding.
///
/// The engine rejects padding characters and non-zero trailing bits, so every byte string has
/// exactly one accepted text form; that matters because signatures and ids must not have
/// look-alike spellings.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes strict base64url into exactly `N` bytes.
pub(crate) fn b64_decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    b64_decode(text)?.try_into().ok()
}

/// Encodes bytes as lowercase hexadecimal.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes lowercase hexadecimal into exactly `N` bytes; upper case is refused so that each
/// value has one spelling.
pub(crate) fn hex_decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// A compact JSON formatter that escapes every non-ASCII character as `\uXXXX` (UTF-16, with
/// surrogate pairs).
///
/// Keeping the wire text pure ASCII makes "2,000 characters" mean 2,000 bytes however Discord
/// counts characters, so the size check and the chunker can work on byte lengths.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = index + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Serialises a value as compact, ASCII-only JSON.
pub(crate) fn to_ascii_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    value.serialize(&mut serializer)?;
    // The formatter only ever writes ASCII, so this conversion cannot fail; mapping the error
    // keeps the function total without a panic path.
    String::from_utf8(out)
        .map_err(|error| serde_json::Error::io(io::Error::new(io::ErrorKind::InvalidData, error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_json_escapes_non_ascii_including_astral_characters() {
        let text = to_ascii_json("times-日記 😀 \"q\"").unwrap();
        assert_eq!(text, r#""times-\u65e5\u8a18 \ud83d\ude00 \"q\"""#);
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, "times-日記 😀 \"q\"");
    }

    #[test]
    fn base64_refuses_padding_and_trailing_bits() {
        assert_eq!(b64_encode(&[0xff]), "_w");
        assert_eq!(b64_decode("_w"), Some(vec![0xff]));
        assert_eq!(b64_decode("_w=="), None);
        assert_eq!(
            b64_decode("_x"),
            None,
            "non-zero trailing bits must be refused"
        );
        assert_eq!(
            b64_decode("/w"),
            None,
            "the standard alphabet must be refused"
        );
    }

    #[test]
    fn hex_round_trips_and_refuses_upper_case() {
        let bytes = [0x00, 0xab, 0xff];
        assert_eq!(hex_encode(&bytes), "00abff");
        assert_eq!(hex_decode_array::<3>("00abff"), Some(bytes));
        assert_eq!(hex_decode_array::<3>("00ABff"), None);
        assert_eq!(hex_decode_array::<3>("00ab"), None);
    }
}
