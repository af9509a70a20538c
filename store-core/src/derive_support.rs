//! Conversions the derive's generated code uses to read key parts from fields of
//! any string-like type. Hidden: reached through `store_core::__private`, not part
//! of the public API.

use crate::index::IndexDef;
use crate::keyed::Keyed;
use crate::keyed::ObjectName;
use std::any::Any;
use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

/// A field that can give its text to a key: strings, options of strings (a
/// missing value is empty), integers. Never fails.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read as key text",
    label = "a key path must end at a string, an `Option` of one, or an integer",
    note = "for another key type, use `#[keyed(with = \"path::to::fn\", key = Type)]`"
)]
pub trait KeyString {
    /// Appends the field's text to `out`.
    fn push_key_string(&self, out: &mut String);

    /// The field's text.
    fn key_string(&self) -> String {
        let mut out = String::new();
        self.push_key_string(&mut out);
        out
    }
}

macro_rules! key_string_as_str {
    ($($ty:ty),*) => {$(
        impl KeyString for $ty {
            fn push_key_string(&self, out: &mut String) {
                out.push_str(self.as_ref());
            }
        }
    )*};
}
key_string_as_str!(str, String, Cow<'_, str>, Box<str>, Arc<str>, Rc<str>);

macro_rules! key_string_by_display {
    ($($ty:ty),*) => {$(
        impl KeyString for $ty {
            fn push_key_string(&self, out: &mut String) {
                use std::fmt::Write;
                // Writing to a String cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
key_string_by_display!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, char, bool);

impl<V: KeyString + ?Sized> KeyString for &V {
    fn push_key_string(&self, out: &mut String) {
        (**self).push_key_string(out);
    }
}

impl<V: KeyString> KeyString for Option<V> {
    fn push_key_string(&self, out: &mut String) {
        if let Some(value) = self {
            value.push_key_string(out);
        }
    }
}

/// The `ObjectName` of a namespace field (an empty one means cluster-scoped, as in
/// client-go) and a name field (a missing one is the empty name).
pub fn object_name<N, M>(namespace: &N, name: &M) -> ObjectName
where
    N: KeyString + ?Sized,
    M: KeyString + ?Sized,
{
    let namespace = namespace.key_string();
    ObjectName {
        namespace: (!namespace.is_empty()).then_some(namespace),
        name: name.key_string(),
    }
}

/// The `ObjectName` of a cluster-scoped type (no namespace field).
pub fn cluster_name<M: KeyString + ?Sized>(name: &M) -> ObjectName {
    // Built field by field: a derived key never fails (`ObjectName::validate` tells
    // whether it is fit for a string key).
    ObjectName {
        namespace: None,
        name: name.key_string(),
    }
}

/// The namespace index values of a namespace field: none when it is empty.
pub fn namespace_values<N: KeyString + ?Sized>(namespace: &N) -> Vec<String> {
    let namespace = namespace.key_string();
    if namespace.is_empty() {
        Vec::new()
    } else {
        vec![namespace]
    }
}

/// The namespace index of a type whose key the derive cannot see the type of (and
/// the trait's default): the namespace of the key when it is an `ObjectName`.
pub fn namespace_index_from_key<T: Keyed + 'static>() -> IndexDef<T> {
    IndexDef::new(crate::NAMESPACE_INDEX, |obj: &T| {
        let key = obj.key();
        // Callers check that `T::Key` is `ObjectName`; should it not be, the index
        // simply files nothing.
        (&key as &dyn Any)
            .downcast_ref::<ObjectName>()
            .and_then(|name| name.namespace.clone())
            .into_iter()
            .collect()
    })
    .depends_only_on_key()
}

/// A field `#[keyed(resource_version = "...")]` can name: something that reads as an
/// optional resource version.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read as a resource version",
    label = "a resource version path must end at a `String`, an `Option<String>` or a `ResourceVersion`"
)]
pub trait ResourceVersionField {
    /// The field as a resource version (`None`: the object has none yet).
    fn resource_version_str(&self) -> Option<&str>;

    /// Writes `rv` into the field, for `Keyed::set_resource_version`. A field that
    /// cannot be rewritten in place (a `str`, an `Arc` shared elsewhere) is left as
    /// it is.
    fn set_resource_version_str(&mut self, rv: &str) {
        let _ = rv;
    }

    /// A new field holding `rv` (for an `Option` that holds none yet).
    fn from_resource_version_str(rv: &str) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = rv;
        None
    }
}

impl ResourceVersionField for String {
    fn resource_version_str(&self) -> Option<&str> {
        Some(self)
    }

    fn set_resource_version_str(&mut self, rv: &str) {
        rv.clone_into(self);
    }

    fn from_resource_version_str(rv: &str) -> Option<Self> {
        Some(rv.to_owned())
    }
}

impl ResourceVersionField for str {
    fn resource_version_str(&self) -> Option<&str> {
        Some(self)
    }
}

impl ResourceVersionField for crate::resource_version::ResourceVersion {
    fn resource_version_str(&self) -> Option<&str> {
        Some(self.as_str())
    }

    fn set_resource_version_str(&mut self, rv: &str) {
        *self = crate::resource_version::ResourceVersion::from(rv);
    }

    fn from_resource_version_str(rv: &str) -> Option<Self> {
        Some(crate::resource_version::ResourceVersion::from(rv))
    }
}

impl<F: ResourceVersionField + ?Sized> ResourceVersionField for Box<F> {
    fn resource_version_str(&self) -> Option<&str> {
        (**self).resource_version_str()
    }

    fn set_resource_version_str(&mut self, rv: &str) {
        (**self).set_resource_version_str(rv);
    }
}

impl<F: ResourceVersionField + ?Sized> ResourceVersionField for Arc<F> {
    fn resource_version_str(&self) -> Option<&str> {
        (**self).resource_version_str()
    }

    fn set_resource_version_str(&mut self, rv: &str) {
        if let Some(field) = Arc::get_mut(self) {
            field.set_resource_version_str(rv);
        }
    }
}

impl<F: ResourceVersionField> ResourceVersionField for Option<F> {
    fn resource_version_str(&self) -> Option<&str> {
        self.as_ref()?.resource_version_str()
    }

    fn set_resource_version_str(&mut self, rv: &str) {
        match self {
            Some(field) => field.set_resource_version_str(rv),
            None => *self = F::from_resource_version_str(rv),
        }
    }
}
