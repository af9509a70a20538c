//! [`ListBody`]: a Kubernetes list answer (`{"kind":"…List","apiVersion","metadata",
//! "items":[…]}`) decoded as its bytes arrive — each item as soon as its last byte is
//! in, the body never held whole.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use store_core::Status;

use super::json::ValueScanner;

/// The path, from an item's root, whose value is replaced by `null` when
/// `managedFields` are dropped.
pub(super) const MANAGED_FIELDS: &[&str] = &["metadata", "managedFields"];

/// A buffer that grew past this for one big item is let go after it, not kept.
const KEEP_BUFFER: usize = 1 << 20;

/// The list's own metadata.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListMeta {
    /// The version the list was served at.
    #[serde(rename = "resourceVersion", default)]
    pub(super) resource_version: Option<String>,
    /// Set when more pages follow.
    #[serde(rename = "continue", default)]
    pub(super) continue_token: Option<String>,
}

/// Where the decoder is in the list object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the opening `{`.
    Start,
    /// Expecting a key, or `}` (`first`: right after `{`).
    Key { first: bool },
    /// Inside a key.
    InKey,
    /// After a key, expecting `:`.
    Colon(Field),
    /// After `:`, expecting the value.
    Value(Field),
    /// Inside a value.
    InValue(Field),
    /// Inside `items`, expecting an item or `]` (`first`: right after `[`).
    Item { first: bool },
    /// Inside an item.
    InItem,
    /// After an item, expecting `,` or `]`.
    AfterItem,
    /// After a value, expecting `,` or `}`.
    AfterValue,
    /// After the closing `}`: only whitespace may follow.
    Done,
}

/// The fields of a list that matter; the others are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Items,
    Metadata,
    Other,
}

/// Decodes a list answer fed in chunks ([`feed`](ListBody::feed)), handing out its
/// items as they complete ([`take_items`](ListBody::take_items)); [`finish`](ListBody::finish)
/// at the end of the body gives the list's metadata.
///
/// An item that does not decode as `K` is skipped and counted
/// ([`decode_errors`](ListBody::decode_errors)); a body that is not a list object, or
/// ends before it closes, is an error.
pub(super) struct ListBody<K> {
    at: At,
    /// Bytes of the key or value being read that arrived in earlier chunks.
    pending: Vec<u8>,
    /// Scans items (with the skip path, if any).
    items_scanner: ValueScanner,
    /// Scans keys and every other value.
    scanner: ValueScanner,
    metadata: Option<ListMeta>,
    items: Vec<Arc<K>>,
    decode_errors: u64,
    /// Bytes fed so far, for error messages.
    offset: usize,
}

impl<K: DeserializeOwned> ListBody<K> {
    /// A decoder; `drop_managed_fields` decodes every item without its
    /// `metadata.managedFields` (their bytes are skipped, never decoded).
    pub(super) fn new(drop_managed_fields: bool) -> Self {
        ListBody {
            at: At::Start,
            pending: Vec::new(),
            items_scanner: ValueScanner::new(if drop_managed_fields {
                MANAGED_FIELDS
            } else {
                &[]
            }),
            scanner: ValueScanner::new(&[]),
            metadata: None,
            items: Vec::new(),
            decode_errors: 0,
            offset: 0,
        }
    }

    /// How many items are decoded and not yet taken.
    pub(super) fn ready(&self) -> usize {
        self.items.len()
    }

    /// The items decoded so far, in list order.
    pub(super) fn take_items(&mut self) -> Vec<Arc<K>> {
        std::mem::take(&mut self.items)
    }

    /// How many items did not decode (and were skipped) so far.
    pub(super) fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// Decodes what `chunk` completes.
    ///
    /// # Errors
    ///
    /// `InternalError` when the body is not a list object.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<(), Box<Status>> {
        let mut i = 0;
        while i < chunk.len() {
            let byte = chunk[i];
            match self.at {
                At::Start
                | At::Key { .. }
                | At::Colon(_)
                | At::Value(_)
                | At::Item { .. }
                | At::AfterItem
                | At::AfterValue
                | At::Done
                    if byte.is_ascii_whitespace() =>
                {
                    i += 1;
                }
                At::Start => {
                    self.require(byte == b'{', i, "a list object")?;
                    self.at = At::Key { first: true };
                    i += 1;
                }
                At::Key { first } => {
                    if byte == b'}' && first {
                        self.at = At::Done;
                        i += 1;
                    } else {
                        self.require(byte == b'"', i, "a key")?;
                        self.scanner.reset();
                        self.pending.clear();
                        self.at = At::InKey;
                    }
                }
                At::InKey => {
                    let rest = &chunk[i..];
                    match self.scanner.scan(rest, Some(&mut self.pending)) {
                        Some(end) => {
                            let field = match self.pending.as_slice() {
                                b"\"items\"" => Field::Items,
                                b"\"metadata\"" => Field::Metadata,
                                _ => Field::Other,
                            };
                            self.at = At::Colon(field);
                            i += end;
                        }
                        None => i = chunk.len(),
                    }
                }
                At::Colon(field) => {
                    self.require(byte == b':', i, "`:`")?;
                    self.at = At::Value(field);
                    i += 1;
                }
                At::Value(Field::Items) if byte == b'[' => {
                    self.at = At::Item { first: true };
                    i += 1;
                }
                At::Value(field) => {
                    self.scanner.reset();
                    self.pending.clear();
                    self.at = At::InValue(field);
                }
                At::InValue(field) => {
                    let rest = &chunk[i..];
                    let out = (field == Field::Metadata).then_some(&mut self.pending);
                    match self.scanner.scan(rest, out) {
                        Some(end) => {
                            if field == Field::Metadata {
                                self.metadata = Some(self.list_meta()?);
                            }
                            self.at = At::AfterValue;
                            i += end;
                        }
                        None => i = chunk.len(),
                    }
                }
                At::Item { first } => {
                    if byte == b']' && first {
                        self.at = At::AfterValue;
                        i += 1;
                    } else {
                        self.items_scanner.reset();
                        self.pending.clear();
                        self.at = At::InItem;
                    }
                }
                At::InItem => {
                    i = self.scan_item(chunk, i);
                }
                At::AfterItem => {
                    match byte {
                        b',' => self.at = At::Item { first: false },
                        b']' => self.at = At::AfterValue,
                        _ => self.require(false, i, "`,` or `]` after an item")?,
                    }
                    i += 1;
                }
                At::AfterValue => {
                    match byte {
                        b',' => self.at = At::Key { first: false },
                        b'}' => self.at = At::Done,
                        _ => self.require(false, i, "`,` or `}`")?,
                    }
                    i += 1;
                }
                At::Done => self.require(false, i, "nothing after the list object")?,
            }
        }
        self.offset += chunk.len();
        Ok(())
    }

    /// Scans an item from `chunk[i]` on; the index after what it used. An item that
    /// starts and ends in this chunk, with nothing to skip, decodes from the chunk
    /// itself; any other is gathered in `pending` first.
    fn scan_item(&mut self, chunk: &[u8], i: usize) -> usize {
        let rest = &chunk[i..];
        let direct = self.pending.is_empty() && !self.items_scanner.skips();
        if direct {
            match self.items_scanner.scan(rest, None) {
                Some(end) => {
                    self.decode_item(&rest[..end]);
                    self.at = At::AfterItem;
                    i + end
                }
                None => {
                    self.pending.extend_from_slice(rest);
                    chunk.len()
                }
            }
        } else {
            match self.items_scanner.scan(rest, Some(&mut self.pending)) {
                Some(end) => {
                    let item = std::mem::take(&mut self.pending);
                    self.decode_item(&item);
                    self.pending = item;
                    self.pending.clear();
                    if self.pending.capacity() > KEEP_BUFFER {
                        self.pending = Vec::new();
                    }
                    self.at = At::AfterItem;
                    i + end
                }
                None => chunk.len(),
            }
        }
    }

    /// Decodes one item: one UTF-8 check of the whole item, then serde_json's `&str`
    /// path, which skips the per-string check of its `&[u8]` path.
    fn decode_item(&mut self, bytes: &[u8]) {
        let decoded = match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str::<K>(text),
            Err(_) => serde_json::from_slice::<K>(bytes),
        };
        match decoded {
            Ok(item) => self.items.push(Arc::new(item)),
            Err(error) => {
                self.decode_errors += 1;
                tracing::warn!(%error, "kube source: a listed item that does not decode was skipped");
            }
        }
    }

    fn list_meta(&mut self) -> Result<ListMeta, Box<Status>> {
        let meta = serde_json::from_slice(&self.pending).map_err(|error| {
            Status::internal_error(format!(
                "the list answer's metadata does not decode: {error}"
            ))
        });
        self.pending.clear();
        Ok(meta?)
    }

    fn require(&self, ok: bool, i: usize, what: &str) -> Result<(), Box<Status>> {
        if ok {
            Ok(())
        } else {
            Err(Box::new(Status::internal_error(format!(
                "the list answer is not a Kubernetes list: expected {what} at byte {}",
                self.offset + i
            ))))
        }
    }

    /// The end of the body: the list's metadata (empty when it had none).
    ///
    /// # Errors
    ///
    /// `InternalError` when the body ended before the list object closed.
    pub(super) fn finish(&mut self) -> Result<ListMeta, Box<Status>> {
        if self.at != At::Done {
            return Err(Box::new(Status::internal_error(format!(
                "the list answer ended early, after {} bytes: the connection was cut or the body truncated",
                self.offset
            ))));
        }
        Ok(self.metadata.take().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Obj {
        metadata: Meta,
        #[serde(default)]
        data: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Meta {
        name: String,
        #[serde(rename = "managedFields", default)]
        managed_fields: Option<serde_json::Value>,
    }

    fn body(items: &[&str]) -> String {
        format!(
            r#"{{"kind":"ObjList","apiVersion":"v1","metadata":{{"resourceVersion":"42","continue":"next"}},"items":[{}]}}"#,
            items.join(",")
        )
    }

    fn object(name: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"{name}","managedFields":[{{"manager":"kubectl","operation":"Apply","fieldsV1":{{"f:data":{{}}}}}}]}},"data":{{"k":"v \" }} ] ,"}}}}"#
        )
    }

    /// Decodes `text` fed in chunks of `chunk` bytes.
    fn decode(
        text: &str,
        chunk: usize,
        drop: bool,
    ) -> Result<(Vec<Obj>, ListMeta, u64), Box<Status>> {
        let mut list = ListBody::<Obj>::new(drop);
        let mut items = Vec::new();
        for piece in text.as_bytes().chunks(chunk) {
            list.feed(piece)?;
            items.extend(list.take_items());
        }
        let meta = list.finish()?;
        items.extend(list.take_items());
        let items = items
            .into_iter()
            .map(|item| Arc::try_unwrap(item).expect("one owner"))
            .collect();
        Ok((items, meta, list.decode_errors()))
    }

    #[test]
    fn a_list_cut_at_every_chunk_boundary_decodes_the_same() {
        let (a, b) = (object("a"), object("b"));
        let text = body(&[&a, &b]);
        for chunk in 1..=text.len() {
            let (items, meta, errors) = decode(&text, chunk, false).expect("a list");
            let names: Vec<&str> = items.iter().map(|o| o.metadata.name.as_str()).collect();
            assert_eq!(names, ["a", "b"], "chunks of {chunk}");
            assert!(items.iter().all(|o| o.metadata.managed_fields.is_some()));
            assert_eq!(meta.resource_version.as_deref(), Some("42"));
            assert_eq!(meta.continue_token.as_deref(), Some("next"));
            assert_eq!(errors, 0);
        }
    }

    #[test]
    fn managed_fields_are_dropped_at_every_chunk_boundary() {
        let (a, b) = (object("a"), object("b"));
        let text = body(&[&a, &b]);
        for chunk in 1..=text.len() {
            let (items, _, _) = decode(&text, chunk, true).expect("a list");
            assert_eq!(items.len(), 2);
            assert!(
                items.iter().all(|o| o.metadata.managed_fields.is_none()),
                "chunks of {chunk}"
            );
            assert_eq!(items[0].data, Some(serde_json::json!({"k": "v \" } ] ,"})));
        }
    }

    #[test]
    fn an_item_that_does_not_decode_is_skipped_and_counted() {
        let text = body(&[
            &object("a"),
            r#"{"metadata":{"nom":"x"}}"#,
            "17",
            &object("c"),
        ]);
        for chunk in [1, 7, text.len()] {
            let (items, meta, errors) = decode(&text, chunk, false).expect("a list");
            let names: Vec<&str> = items.iter().map(|o| o.metadata.name.as_str()).collect();
            assert_eq!(names, ["a", "c"]);
            assert_eq!(errors, 2);
            assert_eq!(meta.resource_version.as_deref(), Some("42"));
        }
    }

    #[test]
    fn a_truncated_body_is_an_error_wherever_it_is_cut() {
        let text = body(&[&object("a"), &object("b")]);
        for cut in 0..text.len() {
            let outcome = decode(&text[..cut], 5, false);
            let error = outcome
                .err()
                .unwrap_or_else(|| panic!("cut at {cut} accepted"));
            assert!(error.is_internal_error(), "{error:?}");
        }
    }

    #[test]
    fn metadata_after_items_and_unknown_fields_are_fine() {
        let text = format!(
            r#" {{ "items" : [ {} ] , "extra" : {{"items":[1]}} , "metadata" : {{ "resourceVersion" : "7" }} , "kind" : "ObjList" }} "#,
            object("a")
        );
        for chunk in 1..=text.len() {
            let (items, meta, _) = decode(&text, chunk, false).expect("a list");
            assert_eq!(items.len(), 1);
            assert_eq!(meta.resource_version.as_deref(), Some("7"));
        }
    }

    #[test]
    fn an_empty_list_and_a_null_items_are_empty() {
        for text in [
            r#"{"metadata":{"resourceVersion":"3"},"items":[]}"#,
            r#"{"metadata":{"resourceVersion":"3"},"items":null}"#,
            r#"{"metadata":{"resourceVersion":"3"}}"#,
        ] {
            let (items, meta, _) = decode(text, 3, false).expect("a list");
            assert!(items.is_empty());
            assert_eq!(meta.resource_version.as_deref(), Some("3"));
        }
    }

    #[test]
    fn what_is_not_a_list_object_is_an_error() {
        for text in [
            "[]",
            r#"{"items":{}}x"#,
            r#"{"items":[{}}"#,
            r#"{"a" 1}"#,
            "{}{}",
        ] {
            let outcome = decode(text, 2, false);
            assert!(outcome.is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn a_50_mb_item_decodes_and_its_buffer_is_let_go() {
        let big = "x".repeat(50 << 20);
        let item = format!(r#"{{"metadata":{{"name":"big"}},"data":{{"blob":"{big}"}}}}"#);
        let text = body(&[&item, &object("after")]);
        let mut list = ListBody::<Obj>::new(true);
        for piece in text.as_bytes().chunks(64 << 10) {
            list.feed(piece).expect("a list");
        }
        list.finish().expect("complete");
        let items = list.take_items();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].data.as_ref().unwrap()["blob"]
                .as_str()
                .map(str::len),
            Some(50 << 20)
        );
        assert!(list.pending.capacity() <= KEEP_BUFFER);
    }
}
