//! JSON text exactly as JavaScript's `JSON.stringify(value, null, 2)` writes it:
//! two-space indentation, `"key": value`, `[]`/`{}` for empty containers,
//! members in insertion order, non-ASCII text written raw.

use serde::Serialize;

/// Pretty JSON without a trailing newline (the devices files, lock files).
pub fn to_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    let mut buf = Vec::with_capacity(256);
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serialising a serde_json::Value or plain data into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        return String::from("null");
    }
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Pretty JSON followed by one `\n` (the credentials files, identity files, CLI `--json`).
pub fn to_pretty_nl<T: Serialize + ?Sized>(value: &T) -> String {
    let mut s = to_pretty(value);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_js_stringify() {
        let v =
            json!({"version": 1, "requests": [], "m": {}, "s": "é\u{1}\"/", "n": [1, {"a": null}]});
        assert_eq!(
            to_pretty(&v),
            "{\n  \"version\": 1,\n  \"requests\": [],\n  \"m\": {},\n  \"s\": \"é\\u0001\\\"/\",\n  \"n\": [\n    1,\n    {\n      \"a\": null\n    }\n  ]\n}"
        );
    }
}
