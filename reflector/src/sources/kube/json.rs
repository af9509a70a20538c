//! [`ValueScanner`]: finds where one JSON value ends in a byte stream fed in chunks,
//! copying its bytes — and, on request, writing `null` in place of the value at one
//! path (`metadata.managedFields`), so that those bytes are never decoded.
//!
//! The scanner only tracks what it needs to find boundaries (strings and their
//! escapes, container depth, which strings are keys); it does not validate. The bytes
//! it hands on are decoded by serde_json, which does: a malformed value is found
//! there, and a value that never ends is found by its caller when the input does.

/// Scans one JSON value. Feed it chunks with [`scan`](ValueScanner::scan) until it
/// reports the value's end; then [`reset`](ValueScanner::reset) it for the next.
#[derive(Debug)]
pub(super) struct ValueScanner {
    /// The containers open inside the value, innermost last: `true` for an object.
    stack: Vec<bool>,
    /// Inside a string.
    string: Option<StringState>,
    /// A scalar (number, `true`, `false`, `null`) at the top of the value is being read.
    top_scalar: bool,
    /// The next string in the innermost container is a key.
    expect_key: bool,
    /// The path whose value is replaced by `null` (empty: none).
    skip: &'static [&'static str],
    /// How many of the path's keys the open containers match (the root matches none).
    matched: usize,
    /// The key just read matched the next path segment: its value enters the path (or,
    /// for the last segment, is skipped).
    key_matched: bool,
    /// The key being read, where it may match the path.
    key: Vec<u8>,
    /// The value of the path's last key is about to start (after its `:`).
    skip_next_value: bool,
    /// Skipping a value: the depth it started at, and whether it is a bare scalar.
    skipping: Option<(usize, bool)>,
}

#[derive(Debug, Clone, Copy)]
struct StringState {
    /// The last byte was a backslash.
    escaped: bool,
    /// Its bytes are gathered in `key` (a key that may match the path).
    tracked: bool,
}

/// Whether `byte` ends a bare scalar.
fn ends_scalar(byte: u8) -> bool {
    matches!(byte, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
}

impl ValueScanner {
    /// A scanner that replaces the value at `skip` (keys from the value's root; empty
    /// for none) by `null`.
    pub(super) fn new(skip: &'static [&'static str]) -> Self {
        ValueScanner {
            stack: Vec::new(),
            string: None,
            top_scalar: false,
            expect_key: false,
            skip,
            matched: 0,
            key_matched: false,
            key: Vec::new(),
            skip_next_value: false,
            skipping: None,
        }
    }

    /// Ready for the next value.
    pub(super) fn reset(&mut self) {
        self.stack.clear();
        self.string = None;
        self.top_scalar = false;
        self.expect_key = false;
        self.matched = 0;
        self.key_matched = false;
        self.key.clear();
        self.skip_next_value = false;
        self.skipping = None;
    }

    /// Whether a skip path is set (then every byte must go through `out`).
    pub(super) fn skips(&self) -> bool {
        !self.skip.is_empty()
    }

    /// Scans `input`, which continues the value (or starts it: `input[0]` must be its
    /// first byte). Returns `Some(n)` when the value ends after `input[..n]` (a bare
    /// scalar ends before the byte that ends it), `None` when all of `input` belongs
    /// to it. With `out`, the value's bytes scanned here are appended to it, with
    /// `null` in place of the skipped value.
    pub(super) fn scan(&mut self, input: &[u8], mut out: Option<&mut Vec<u8>>) -> Option<usize> {
        let mut kept_from = 0;
        let mut i = 0;
        let end = loop {
            if i >= input.len() {
                break None;
            }
            if let Some(state) = self.string {
                match self.scan_string(input, i, state) {
                    Some(next) => {
                        i = next;
                        if self.stack.is_empty() && self.skipping.is_none() {
                            break Some(i);
                        }
                        if self.end_skip() {
                            if let Some(out) = out.as_deref_mut() {
                                out.extend_from_slice(b"null");
                            }
                            kept_from = i;
                        }
                        continue;
                    }
                    None => {
                        i = input.len();
                        continue;
                    }
                }
            }
            let byte = input[i];
            if self.skip_next_value && !byte.is_ascii_whitespace() {
                self.skip_next_value = false;
                // The skipped value starts here: keep what came before it.
                if let Some(out) = out.as_deref_mut() {
                    out.extend_from_slice(&input[kept_from..i]);
                }
                let scalar = !matches!(byte, b'{' | b'[' | b'"');
                self.skipping = Some((self.stack.len(), scalar));
                if scalar {
                    i += 1;
                    continue;
                }
            }
            if let Some((depth, true)) = self.skipping {
                if ends_scalar(byte) && self.stack.len() == depth {
                    self.skipping = None;
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(b"null");
                    }
                    kept_from = i;
                    // the byte itself is handled below
                } else {
                    i += 1;
                    continue;
                }
            }
            if self.top_scalar && ends_scalar(byte) {
                break Some(i);
            }
            match byte {
                b'"' => {
                    let key = self.expect_key;
                    self.expect_key = false;
                    let tracked = key
                        && self.skipping.is_none()
                        && self.matched < self.skip.len()
                        && self.stack.len() == self.matched + 1;
                    if tracked {
                        self.key.clear();
                    }
                    self.string = Some(StringState {
                        escaped: false,
                        tracked,
                    });
                }
                b'{' | b'[' => {
                    let object = byte == b'{';
                    if self.key_matched {
                        self.key_matched = false;
                        self.matched += 1;
                    }
                    self.stack.push(object);
                    self.expect_key = object;
                }
                b'}' | b']' => {
                    let depth = self.stack.len();
                    if depth == 0 {
                        // Not ours: a malformed value; serde_json will say so.
                        break Some(i);
                    }
                    self.stack.pop();
                    if self.skipping.is_none() && depth >= 2 && self.matched == depth - 1 {
                        self.matched -= 1;
                    }
                    i += 1;
                    if self.stack.is_empty() && self.skipping.is_none() {
                        break Some(i);
                    }
                    if self.end_skip() {
                        if let Some(out) = out.as_deref_mut() {
                            out.extend_from_slice(b"null");
                        }
                        kept_from = i;
                    }
                    continue;
                }
                b',' => {
                    if self.stack.is_empty() {
                        break Some(i);
                    }
                    self.key_matched = false;
                    self.expect_key = self.stack.last() == Some(&true);
                }
                b':' => {
                    if self.key_matched && self.matched + 1 == self.skip.len() {
                        self.key_matched = false;
                        self.skip_next_value = true;
                    }
                }
                b' ' | b'\n' | b'\r' | b'\t' => {}
                _ => {
                    if self.stack.is_empty() {
                        self.top_scalar = true;
                    }
                }
            }
            i += 1;
        };
        if let Some(out) = out {
            let until = end.unwrap_or(input.len());
            if self.skipping.is_none() && kept_from < until {
                out.extend_from_slice(&input[kept_from..until]);
            }
        }
        end
    }

    /// Scans a string from `input[i]`; the index after its closing quote, or `None`
    /// when it goes on past `input`.
    fn scan_string(&mut self, input: &[u8], mut i: usize, mut state: StringState) -> Option<usize> {
        let start = i;
        loop {
            if state.escaped {
                state.escaped = false;
                i += 1;
                if i >= input.len() {
                    break;
                }
            }
            match memchr::memchr2(b'"', b'\\', &input[i..]) {
                None => {
                    i = input.len();
                    break;
                }
                Some(at) if input[i + at] == b'\\' => {
                    state.escaped = true;
                    i += at + 1;
                    if i >= input.len() {
                        break;
                    }
                }
                Some(at) => {
                    let close = i + at;
                    if state.tracked {
                        self.key.extend_from_slice(&input[start..close]);
                        let segment = self.skip[self.matched].as_bytes();
                        self.key_matched = self.key == segment;
                    }
                    self.string = None;
                    return Some(close + 1);
                }
            }
        }
        if state.tracked {
            self.key
                .extend_from_slice(&input[start..i.min(input.len())]);
        }
        self.string = Some(state);
        None
    }

    /// After a string or a container closed: whether that ended the value being
    /// skipped.
    fn end_skip(&mut self) -> bool {
        match self.skipping {
            Some((depth, false)) if self.stack.len() == depth => {
                self.skipping = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANAGED_FIELDS: &[&str] = &["metadata", "managedFields"];

    /// Scans `text` fed in chunks of `chunk` bytes; the value's bytes and where it
    /// ended in `text`.
    fn scan_chunked(
        text: &str,
        chunk: usize,
        skip: &'static [&'static str],
    ) -> (String, Option<usize>) {
        let mut scanner = ValueScanner::new(skip);
        let mut out = Vec::new();
        let mut offset = 0;
        for piece in text.as_bytes().chunks(chunk) {
            if let Some(end) = scanner.scan(piece, Some(&mut out)) {
                return (String::from_utf8(out).unwrap(), Some(offset + end));
            }
            offset += piece.len();
        }
        (String::from_utf8(out).unwrap(), None)
    }

    #[test]
    fn values_end_where_json_says_at_every_chunk_size() {
        let cases = [
            (
                r#"{"a":"}\"]","b":[1,{"c":"{"}]} ,"#,
                r#"{"a":"}\"]","b":[1,{"c":"{"}]}"#,
            ),
            (r#""a \\\" string","#, r#""a \\\" string""#),
            ("12.5e3]", "12.5e3"),
            ("null,", "null"),
            ("[[],{}]x", "[[],{}]"),
        ];
        for (text, value) in cases {
            for chunk in 1..=text.len() {
                let (got, end) = scan_chunked(text, chunk, &[]);
                assert_eq!(got, value, "{text:?} in chunks of {chunk}");
                assert_eq!(end, Some(value.len()), "{text:?} in chunks of {chunk}");
            }
        }
    }

    #[test]
    fn an_unfinished_value_takes_all_its_input() {
        let (got, end) = scan_chunked(r#"{"a":[1,2"#, 3, &[]);
        assert_eq!((got.as_str(), end), (r#"{"a":[1,2"#, None));
    }

    #[test]
    fn managed_fields_become_null_and_nothing_else_changes() {
        let object = r#"{"kind":"ConfigMap","metadata":{"name":"a","managedFields":[{"manager":"kubectl","fieldsV1":{"f:data":{"managedFields":{}}}}],"uid":"u"},"data":{"managedFields":"kept"},"items":[{"metadata":{"managedFields":1}}]}"#;
        let expected = r#"{"kind":"ConfigMap","metadata":{"name":"a","managedFields":null,"uid":"u"},"data":{"managedFields":"kept"},"items":[{"metadata":{"managedFields":1}}]}"#;
        for chunk in 1..=object.len() {
            let (got, end) = scan_chunked(object, chunk, MANAGED_FIELDS);
            assert_eq!(got, expected, "chunks of {chunk}");
            assert_eq!(end, Some(object.len()));
        }
    }

    #[test]
    fn a_skipped_scalar_string_or_last_field_keeps_the_json_valid() {
        let cases = [
            (
                r#"{"metadata":{"managedFields": 17 ,"b":1}}"#,
                r#"{"metadata":{"managedFields": null ,"b":1}}"#,
            ),
            (
                r#"{"metadata":{"b":1,"managedFields":"x\"}"}}"#,
                r#"{"metadata":{"b":1,"managedFields":null}}"#,
            ),
            (
                r#"{"metadata":{"managedFields":[]}}"#,
                r#"{"metadata":{"managedFields":null}}"#,
            ),
            (
                r#"{"metadata":{"managedFields":null}}"#,
                r#"{"metadata":{"managedFields":null}}"#,
            ),
        ];
        for (text, expected) in cases {
            for chunk in 1..=text.len() {
                let (got, _) = scan_chunked(text, chunk, MANAGED_FIELDS);
                assert_eq!(got, expected, "{text:?} in chunks of {chunk}");
                serde_json::from_str::<serde_json::Value>(&got).expect("valid JSON");
            }
        }
    }

    #[test]
    fn the_path_is_matched_from_the_root_only() {
        let text =
            r#"{"spec":{"metadata":{"managedFields":[1]}},"metadata":{"x":{"managedFields":[2]}}}"#;
        let (got, _) = scan_chunked(text, 7, MANAGED_FIELDS);
        assert_eq!(got, text);
    }
}
