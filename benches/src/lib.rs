//! Shared pieces of the store benchmarks: the benchmarked object, the key samples and
//! the client-go-style baseline store.
//!
//! Every contender caches the same object, a Kubernetes [`ConfigMap`] of about 1 KB
//! (see [`config_map`]), so that time and memory figures compare like with like:
//!
//! - `Cache<Cm>` and `ShardedCache<Cm>` from `store_core`, where [`Cm`] is a newtype
//!   keyed by `ObjectName` (with the namespace index every `ObjectName`-keyed type gets);
//! - kube-runtime's reflector store (`kube::runtime::reflector::store()`);
//! - [`ClientGoStore`]: one `RwLock<HashMap<String, Arc<ConfigMap>>>` keyed by the
//!   `"namespace/name"` string built per call, as client-go's `threadSafeMap` does;
//! - a raw `hashbrown::HashMap<ObjectName, Arc<Cm>>` without a lock (a floor for `get`).
//!
//! ```
//! use store_bench::{config_map, Cm, ObjectSpec};
//! use store_core::{Cache, Keyed, ObjectNameRef, Store};
//!
//! let spec = ObjectSpec::default();
//! let cache = Cache::new();
//! cache.add(Cm(config_map(7, &spec)))?;
//! let key = spec.object_name(7);
//! assert!(cache.get(&key.as_ref()).is_some());
//! assert_eq!(cache.get(&ObjectNameRef::namespaced("ns-007", "cm-0000007")).unwrap().key(), key);
//! # Ok::<(), store_core::Error>(())
//! ```
//!
//! Modules: [`object`] (the object and how to make one), `keys` (random key samples),
//! `client_go` (the baseline store), `contender` (the [`Contender`] trait every store
//! is benchmarked through), [`process`] (CPU and memory of a process, for the probes).

mod client_go;
mod contender;
mod keys;
pub mod object;
pub mod process;

pub use client_go::ClientGoStore;
pub use contender::{Contender, KubeStore};
pub use keys::{KeySample, XorShift};
pub use object::{config_map, Cm, ObjectSpec};

/// The queue benches' item: a number key and a payload (8 + 8 bytes).
///
/// ```
/// use store_bench::Job;
/// use store_core::Keyed;
///
/// assert_eq!(Job { id: 7, payload: 1 }.key(), 7);
/// ```
#[derive(Debug)]
pub struct Job {
    /// The key.
    pub id: u64,
    /// What a consumer reads.
    pub payload: u64,
}

impl store_core::Keyed for Job {
    type Key = u64;
    fn key(&self) -> u64 {
        self.id
    }
}

/// The `main` of a two-word probe (`PROBE FIRST SECOND`): runs `run(first, second)`,
/// prints `FIRST SECOND: N UNIT` on success, and `usage` (exit status 1) when the
/// arguments are not two words or `run` does not know them.
pub fn two_word_probe(
    usage: &str,
    unit: &str,
    run: impl FnOnce(&str, &str) -> Option<usize>,
) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let done = match args.as_slice() {
        [first, second] => run(first, second).map(|n| (first, second, n)),
        _ => None,
    };
    match done {
        Some((first, second, n)) => {
            println!("{first} {second}: {n} {unit}");
            std::process::ExitCode::SUCCESS
        }
        None => {
            eprintln!("usage: {usage}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The resident set size of this process in bytes (`VmRSS` of `/proc/self/status`),
/// or `None` where that file cannot be read (not Linux).
///
/// ```
/// if let Some(rss) = store_bench::resident_bytes() {
///     assert!(rss > 0);
/// }
/// ```
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
