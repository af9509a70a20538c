//! The wire format: serde for `Status` and its parts, as the Go types write them.

use super::*;

// ---------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------

impl<D: Serialize> Serialize for Status<D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Status", 8)?;
        out.serialize_field("kind", KIND)?;
        out.serialize_field("apiVersion", API_VERSION)?;
        out.serialize_field("metadata", &self.metadata)?;
        if is_empty_wire(&self.status) {
            out.skip_field("status")?;
        } else {
            out.serialize_field("status", &self.status)?;
        }
        if self.message.is_empty() {
            out.skip_field("message")?;
        } else {
            out.serialize_field("message", &self.message)?;
        }
        if is_empty_wire(&self.reason) {
            out.skip_field("reason")?;
        } else {
            out.serialize_field("reason", &self.reason)?;
        }
        match &self.details {
            Some(details) => out.serialize_field("details", details)?,
            None => out.skip_field("details")?,
        }
        if self.code == 0 {
            out.skip_field("code")?;
        } else {
            out.serialize_field("code", &self.code)?;
        }
        out.end()
    }
}

// Reading. serde's derived `Deserialize` for a struct also accepts a JSON array of the
// field values in declaration order, so `"details":["nginx"]` would read as a name;
// Go's `encoding/json` rejects it, and so does this module: every struct is read
// through `deserialize_map` ([`read_object`]), which accepts objects only. The derives
// that do the field work live on the private `…Wire` types below; the `remote` ones
// construct the public type directly, and serde checks at compile time that their
// fields match it.

/// What `Status` reads before its `kind` and `apiVersion` are checked.
#[derive(Deserialize)]
#[serde(rename = "Status", rename_all = "camelCase")]
struct StatusWire<D> {
    #[serde(default, deserialize_with = "null_as_default")]
    kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    api_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    metadata: ListMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    status: StatusSummary,
    #[serde(default, deserialize_with = "null_as_default")]
    message: String,
    #[serde(default, deserialize_with = "null_as_default")]
    reason: StatusReason,
    // No `#[serde(default)]`: serde already reads a missing `Option` as `None`, and
    // the attribute would make the derive require `D: Default`.
    details: Option<D>,
    #[serde(default, deserialize_with = "null_as_default")]
    code: i32,
}

/// Reads [`ListMeta`]'s fields.
#[derive(Deserialize)]
#[serde(remote = "ListMeta", rename = "ListMeta", rename_all = "camelCase")]
struct ListMetaWire {
    #[serde(default, deserialize_with = "null_as_default")]
    self_link: String,
    #[serde(default, deserialize_with = "null_as_default")]
    resource_version: String,
    #[serde(rename = "continue", default, deserialize_with = "null_as_default")]
    continue_: String,
    #[serde(default)]
    remaining_item_count: Option<i64>,
}

/// Reads [`StatusCause`]'s fields.
#[derive(Deserialize)]
#[serde(remote = "StatusCause", rename = "StatusCause")]
struct StatusCauseWire {
    #[serde(default, deserialize_with = "null_as_default")]
    reason: CauseType,
    #[serde(default, deserialize_with = "null_as_default")]
    message: String,
    #[serde(default, deserialize_with = "null_as_default")]
    field: String,
}

/// Reads [`StatusDetails`]' fields.
#[derive(Deserialize)]
#[serde(
    remote = "StatusDetails",
    rename = "StatusDetails",
    rename_all = "camelCase"
)]
struct StatusDetailsWire {
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    group: String,
    #[serde(default, deserialize_with = "null_as_default")]
    kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    causes: Vec<StatusCause>,
    #[serde(default, deserialize_with = "null_as_default")]
    retry_after_seconds: i32,
}

/// A type read from the entries of a JSON object (see [`read_object`]).
trait ReadObject<'de>: Sized {
    /// What the error message says was expected.
    const EXPECTING: &'static str;

    /// Reads the value from the object's entries.
    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error>;
}

impl<'de, D: Deserialize<'de>> ReadObject<'de> for StatusWire<D> {
    const EXPECTING: &'static str = "a Status object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        Self::deserialize(MapAccessDeserializer::new(entries))
    }
}

impl<'de> ReadObject<'de> for ListMeta {
    const EXPECTING: &'static str = "a ListMeta object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        ListMetaWire::deserialize(MapAccessDeserializer::new(entries))
    }
}

impl<'de> ReadObject<'de> for StatusCause {
    const EXPECTING: &'static str = "a StatusCause object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        StatusCauseWire::deserialize(MapAccessDeserializer::new(entries))
    }
}

impl<'de> ReadObject<'de> for StatusDetails {
    const EXPECTING: &'static str = "a StatusDetails object";

    fn read<A: de::MapAccess<'de>>(entries: A) -> Result<Self, A::Error> {
        StatusDetailsWire::deserialize(MapAccessDeserializer::new(entries))
    }
}

/// Reads a `T` from a JSON object, and from nothing else.
fn read_object<'de, De: Deserializer<'de>, T: ReadObject<'de>>(
    deserializer: De,
) -> Result<T, De::Error> {
    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: ReadObject<'de>> de::Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }

        fn visit_map<A: de::MapAccess<'de>>(self, entries: A) -> Result<T, A::Error> {
            T::read(entries)
        }
    }

    deserializer.deserialize_map(ObjectVisitor(PhantomData))
}

impl<'de> Deserialize<'de> for ListMeta {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        read_object(deserializer)
    }
}

impl<'de> Deserialize<'de> for StatusCause {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        read_object(deserializer)
    }
}

impl<'de> Deserialize<'de> for StatusDetails {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        read_object(deserializer)
    }
}

impl<'de, D: Deserialize<'de>> Deserialize<'de> for Status<D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        let wire: StatusWire<D> = read_object(deserializer)?;
        if !wire.kind.is_empty() && wire.kind != KIND {
            return Err(de::Error::custom(format_args!(
                "expected kind \"Status\", found {:?}",
                wire.kind
            )));
        }
        if !wire.api_version.is_empty() && !ACCEPTED_API_VERSIONS.contains(&&*wire.api_version) {
            return Err(de::Error::custom(format_args!(
                "expected apiVersion \"v1\" for a Status, found {:?}",
                wire.api_version
            )));
        }
        Ok(Self {
            metadata: wire.metadata,
            status: wire.status,
            message: wire.message,
            reason: wire.reason,
            details: wire.details,
            code: wire.code,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Serde support
// ---------------------------------------------------------------------------------------

/// Reads `null` as the default value, as Go's `encoding/json` leaves a field untouched
/// on `null`; servers in other languages send `null` for empty fields.
fn null_as_default<'de, De, T>(deserializer: De) -> Result<T, De::Error>
where
    De: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// `skip_serializing_if` for the open string enums: omitted when the wire string is
/// empty, as Go's `omitempty` omits an empty string.
pub(super) fn is_empty_wire<T: AsRef<str>>(value: &T) -> bool {
    value.as_ref().is_empty()
}

/// `skip_serializing_if` for numbers: omitted when 0, as Go's `omitempty`.
pub(super) fn is_zero(value: &i32) -> bool {
    *value == 0
}
