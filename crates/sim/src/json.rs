//! A minimal JSON writer: fields in the order CloudTrail writes them, raw fragments
//! embedded as they are, no intermediate tree.

/// Writes one JSON value into a byte buffer.
pub struct JsonWriter<'a> {
    buf: &'a mut Vec<u8>,
    /// One entry per open object: true until its first field is written.
    first: Vec<bool>,
}

impl<'a> JsonWriter<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Self {
            buf,
            first: Vec::with_capacity(4),
        }
    }

    /// Opens an object (top level or as an array element).
    pub fn begin(&mut self) {
        self.buf.push(b'{');
        self.first.push(true);
    }

    /// Opens an object under `key`.
    pub fn begin_obj(&mut self, key: &str) {
        self.key(key);
        self.begin();
    }

    /// Closes the innermost object.
    pub fn end(&mut self) {
        self.first.pop();
        self.buf.push(b'}');
    }

    /// `"key": "value"`.
    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        escape(self.buf, value);
    }

    /// `"key": true|false`.
    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// `"key": <raw JSON>`; the caller guarantees `raw` is valid JSON.
    pub fn raw(&mut self, key: &str, raw: &str) {
        self.key(key);
        self.buf.extend_from_slice(raw.as_bytes());
    }

    fn key(&mut self, key: &str) {
        if let Some(first) = self.first.last_mut() {
            if !*first {
                self.buf.push(b',');
            }
            *first = false;
        }
        escape(self.buf, key);
        self.buf.push(b':');
    }
}

/// Appends `s` as a JSON string literal.
pub fn escape(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    // A branch-free scan (it vectorises); most strings need no escaping at all.
    let needs_escape = bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        buf.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        match esc {
            Some(e) => buf.extend_from_slice(e),
            None => buf.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    buf.extend_from_slice(bytes.get(start..).unwrap_or_default());
    buf.push(b'"');
}

/// `s` as a JSON string literal.
pub fn quoted(s: &str) -> String {
    let mut buf = Vec::with_capacity(s.len() + 2);
    escape(&mut buf, s);
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_objects_that_parse() {
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.begin();
        w.str("a", "x\"y\\z\n\u{1}");
        w.begin_obj("b");
        w.bool("c", true);
        w.end();
        w.raw("e", "null");
        w.end();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["a"], "x\"y\\z\n\u{1}");
        assert_eq!(v["b"]["c"], true);
        assert!(v["e"].is_null());
    }
}
