//! Random key samples for look-ups: the same sample serves every contender.

use store_core::ObjectName;

use crate::ObjectSpec;

/// A tiny xorshift generator: reproducible samples without a `rand` dependency.
///
/// ```
/// use store_bench::XorShift;
///
/// let mut a = XorShift::new(1);
/// let mut b = XorShift::new(1);
/// assert_eq!(a.below(100), b.below(100));
/// ```
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a seed (zero is replaced by a fixed non-zero seed).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// A fixed sample of keys, as the separate strings a request path has
/// (`namespace`, `name`) and as owned `ObjectName`s (for the raw map floor).
///
/// The sample is large (65 536 keys by default) so that at 1M objects the looked-up
/// entries do not all sit in the CPU cache.
///
/// ```
/// use store_bench::{KeySample, ObjectSpec};
///
/// let spec = ObjectSpec::default();
/// let hits = KeySample::hits(&spec, 1000, 16, 1);
/// assert!(hits.parts(0).1.starts_with("cm-"));
/// let misses = KeySample::misses(&spec, 16, 1);
/// assert!(misses.parts(3).1.starts_with("missing-"));
/// ```
#[derive(Clone, Debug)]
pub struct KeySample {
    parts: Vec<(String, String)>,
    owned: Vec<ObjectName>,
}

impl KeySample {
    /// `count` random keys of objects `0..stored` (every one a hit).
    pub fn hits(spec: &ObjectSpec, stored: usize, count: usize, seed: u64) -> Self {
        let mut rng = XorShift::new(seed);
        Self::from_parts(
            (0..count)
                .map(|_| {
                    let i = rng.below(stored);
                    (spec.namespace(i), spec.name(i))
                })
                .collect(),
        )
    }

    /// `count` random keys in the stored namespaces whose names no object has.
    pub fn misses(spec: &ObjectSpec, count: usize, seed: u64) -> Self {
        let mut rng = XorShift::new(seed);
        Self::from_parts(
            (0..count)
                .map(|_| {
                    let i = rng.below(1 << 30);
                    (spec.namespace(i), format!("missing-{i:07}"))
                })
                .collect(),
        )
    }

    fn from_parts(parts: Vec<(String, String)>) -> Self {
        let owned = parts
            .iter()
            .map(|(namespace, name)| ObjectName {
                namespace: Some(namespace.clone()),
                name: name.clone(),
            })
            .collect();
        KeySample { parts, owned }
    }

    /// How many keys the sample holds.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether the sample is empty.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Key `i` (modulo the sample size) as `(namespace, name)`.
    pub fn parts(&self, i: usize) -> (&str, &str) {
        let (namespace, name) = &self.parts[i % self.parts.len()];
        (namespace, name)
    }

    /// Key `i` (modulo the sample size) as an owned `ObjectName`.
    pub fn owned(&self, i: usize) -> &ObjectName {
        &self.owned[i % self.owned.len()]
    }
}
