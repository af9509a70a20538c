//! The postings engine behind every index: which objects are filed under which value,
//! and the one filing routine ([`reindex`], [`refile`]) both caches use, whatever holds
//! the value → objects map.

use std::hash::Hash;
use std::sync::Arc;

use dashmap::DashMap;

use crate::error::Error;

/// An object as an index files it: hashed and compared by the address of its `Arc`,
/// so a posting is one pointer and holds no copy of the key. A store files the very
/// `Arc` its map holds, and an update moves the postings to the new `Arc`.
pub(crate) struct Filed<T>(pub(crate) Arc<T>);

impl<T> Filed<T> {
    fn address(obj: &Arc<T>) -> usize {
        Arc::as_ptr(obj).cast::<()>() as usize
    }
}

impl<T> Hash for Filed<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Filed::address(&self.0).hash(state);
    }
}

impl<T> PartialEq for Filed<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for Filed<T> {}

/// A look-up of a [`Filed`] by an `Arc` the caller holds, without cloning it.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
pub(crate) struct Address(usize);

impl Address {
    pub(crate) fn of<T>(obj: &Arc<T>) -> Self {
        Address(Filed::address(obj))
    }
}

impl<T> equivalent::Equivalent<Filed<T>> for Address {
    fn equivalent(&self, filed: &Filed<T>) -> bool {
        self.0 == Filed::address(&filed.0)
    }
}

/// The objects filed under one value.
pub(crate) type FiledSet<T> = hashbrown::HashSet<Filed<T>>;

/// One index's value → objects map, whatever holds it (a plain map under the
/// cache's lock, or a sharded map). A holder gives access to the set of a value; the
/// filing itself is written once, here.
pub(crate) trait Postings<T> {
    /// Runs `f` on the set under `value`, created empty when missing.
    fn with_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>));
    /// Runs `f` on the set under `value`, if any, dropping the value when its set
    /// ends up empty.
    fn with_existing_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>));
    /// Runs `f` on every set, dropping the values whose sets end up empty.
    fn with_every_set(&mut self, f: impl FnMut(&mut FiledSet<T>));

    /// Files `obj` under `value`.
    fn insert(&mut self, value: &str, obj: &Arc<T>) {
        self.with_set(value, |set| {
            set.insert(Filed(Arc::clone(obj)));
        });
    }

    /// Takes `obj` out of `value`, dropping the value when its set empties.
    fn remove(&mut self, value: &str, obj: &Arc<T>) {
        self.with_existing_set(value, |set| {
            set.remove(&Address::of(obj));
        });
    }

    /// Files `new` under `value` in place of `old` (an update of the same key).
    fn swap(&mut self, value: &str, old: &Arc<T>, new: &Arc<T>) {
        self.with_set(value, |set| {
            set.remove(&Address::of(old));
            set.insert(Filed(Arc::clone(new)));
        });
    }

    /// Takes `obj` out of every value: the slow path when the values `obj` was
    /// filed under cannot be computed (its index function panicked).
    fn remove_everywhere(&mut self, obj: &Arc<T>) {
        self.with_every_set(|set| {
            set.remove(&Address::of(obj));
        });
    }
}

/// An object leaving its postings, with the values it was filed under (or the panic
/// computing them raised).
pub(crate) type Leaving<'a, T> = (&'a Arc<T>, Result<Vec<String>, Error>);

/// Moves an object's postings: `old` is the object leaving (with its values, or the
/// panic that computing them raised: then it is taken out of every value), `new`
/// the object arriving with its values. Values both share are swapped in place.
pub(crate) fn reindex<T, P: Postings<T>>(
    postings: &mut P,
    old: Option<Leaving<'_, T>>,
    new: Option<(&Arc<T>, &[String])>,
) {
    let kept = match old {
        None => Vec::new(),
        Some((old, Ok(old_values))) => {
            for value in &old_values {
                match new {
                    Some((new, new_values)) if new_values.contains(value) => {
                        postings.swap(value, old, new)
                    }
                    _ => postings.remove(value, old),
                }
            }
            old_values
        }
        Some((old, Err(_))) => {
            postings.remove_everywhere(old);
            Vec::new()
        }
    };
    if let Some((new, new_values)) = new {
        new_values
            .iter()
            .filter(|value| !kept.contains(value))
            .for_each(|value| postings.insert(value, new));
    }
}

/// Moves the postings of a key-derived index from `old` to `new`, an update of the
/// same key: both are filed under the same `values`.
pub(crate) fn refile<T, P: Postings<T>>(
    postings: &mut P,
    values: &[String],
    old: &Arc<T>,
    new: &Arc<T>,
) {
    values
        .iter()
        .for_each(|value| postings.swap(value, old, new));
}

impl<T> Postings<T> for hashbrown::HashMap<String, FiledSet<T>> {
    fn with_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        match self.get_mut(value) {
            Some(set) => f(set),
            None => {
                // The value's string is allocated only for a new value.
                let mut set = FiledSet::default();
                f(&mut set);
                self.insert(value.to_owned(), set);
            }
        }
    }

    fn with_existing_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        if let Some(set) = self.get_mut(value) {
            f(set);
            if set.is_empty() {
                self.remove(value);
            }
        }
    }

    fn with_every_set(&mut self, mut f: impl FnMut(&mut FiledSet<T>)) {
        self.retain(|_, set| {
            f(set);
            !set.is_empty()
        });
    }
}

/// A sharded value → objects map, for [`ShardedCache`](crate::ShardedCache).
pub(crate) struct ShardedPostings<'a, T>(
    pub(crate) &'a DashMap<String, FiledSet<T>, hashbrown::DefaultHashBuilder>,
);

impl<T> Postings<T> for ShardedPostings<'_, T> {
    fn with_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        match self.0.get_mut(value) {
            Some(mut set) => f(&mut set),
            None => f(&mut self.0.entry(value.to_owned()).or_default()),
        }
    }

    fn with_existing_set(&mut self, value: &str, f: impl FnOnce(&mut FiledSet<T>)) {
        self.0.remove_if_mut(value, |_, set| {
            f(set);
            set.is_empty()
        });
    }

    fn with_every_set(&mut self, mut f: impl FnMut(&mut FiledSet<T>)) {
        self.0.retain(|_, set| {
            f(set);
            !set.is_empty()
        });
    }
}
