//! Compact JSON text of a [`Value`], byte for byte what serde_json writes, appended to a
//! buffer. Every event is serialized once into its datagram; most of that time is spent
//! looking for bytes to escape, which here is done eight bytes at a time.

use super::{Map, Value};
use serde::Serialize;

/// Append `value` as compact JSON.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // serde_json's own formatting (itoa, ryu); writing to a Vec cannot fail.
            let _ = n.serialize(&mut serde_json::Serializer::new(&mut *out));
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_map(out, map),
    }
}

fn write_map(out: &mut Vec<u8>, map: &Map) {
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes is a control character, `"` or `\`.
fn needs_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v;
    (below_space | zero_byte(quote) | zero_byte(backslash)) & HIGHS != 0
}

/// How many leading bytes need no escaping, looked at eight at a time; the last, shorter word
/// is read overlapping the one before it, so that a clean string (most of them) is looked at
/// byte by byte only when it is shorter than a word.
fn clean_prefix(bytes: &[u8]) -> usize {
    let mut words = bytes.chunks_exact(8);
    let mut clean = 0;
    for word in &mut words {
        if needs_escape(u64::from_le_bytes(word.try_into().expect("8 bytes"))) {
            return clean;
        }
        clean += 8;
    }
    let rest = words.remainder();
    if rest.is_empty() {
        return clean;
    }
    let clean_tail = match bytes.len().checked_sub(8) {
        Some(start) => !needs_escape(u64::from_le_bytes(
            bytes[start..].try_into().expect("8 bytes"),
        )),
        // Shorter than a word: byte by byte (a padded copy read back whole made the CPU wait).
        None => rest.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\'),
    };
    match clean_tail {
        true => bytes.len(),
        false => clean,
    }
}

/// A JSON string, escaped as serde_json does: `"`, `\`, the short forms of \b \t \n \f \r,
/// other control characters as `\u00xx`; everything else (non-ASCII included) as it is.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let clean = clean_prefix(bytes);
    out.extend_from_slice(&bytes[..clean]);
    let mut start = clean;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match short {
            b'u' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            c => out.extend_from_slice(&[b'\\', c]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(v: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_character_is_escaped_as_serde_json_does() {
        let mut all: String = (0u8..=127).map(char::from).collect();
        all.push_str("é€😀\u{2028}\u{7f}");
        for start in 0..all.len() {
            if let Some(s) = all.get(start..) {
                let v = Value::from(s);
                assert_eq!(ours(&v), serde_json::to_string(&v).unwrap(), "from {start}");
            }
        }
        for s in [
            "",
            "a",
            "plain text, no escapes at all here",
            "eight!!!\"",
            "1234567\n",
        ] {
            let v = Value::from(s);
            assert_eq!(ours(&v), serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let text = r#"{"a":[1,-2,3.5,1e300,0.1,18446744073709551615,-9223372036854775808],
            "b":{"c":null,"d":true,"e":false,"f":{},"g":[]},"h\u0001":"\u001f\\\"/"}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours(&v), serde_json::to_string(&v).unwrap());
        assert_eq!(ours(&Value::from(2.0f64)), "2.0");
    }
}
