//! The work a store does per write, without threads or timers: a store of 100,000
//! ConfigMaps (the `stores` bench's objects), then 20,000 writes. Meant to run under
//! `valgrind --tool=cachegrind --cache-sim=yes`, whose instruction and simulated
//! cache-miss counts are repeatable where the wall-clock `update`/`delete` groups are
//! not. The mode `fill` builds the same store and the same inputs and writes nothing;
//! the difference over the write count is the store's own cost per write.
//!
//! `target/release/store_work {Cache|ShardedCache|kube|client-go} {fill|update|update_keep_old|delete}`
//!
//! Inputs are made before the writes; whatever a write hands back (the replaced
//! object for `update_keep_old`, kube's event) is leaked, not freed, so only the
//! store's own work differs between modes: `update` frees the replaced object (as
//! the bench does on the clock), `update_keep_old` does not.

use std::process::ExitCode;

use store_bench::{config_map, ClientGoStore, Cm, Contender, KubeStore, ObjectSpec, XorShift};
use store_core::{Cache, ShardedCache};

const STORED: usize = 100_000;
const WRITES: usize = 20_000;

fn run<C: Contender>(mode: &str) -> Option<usize> {
    let spec = ObjectSpec::default();
    let store = C::filled((0..STORED).map(|i| config_map(i, &spec)));
    let mut rng = XorShift::new(3);
    // Updates go to random stored keys; deletions to distinct keys, spread over the
    // store as the bench's permutation spreads them.
    let inputs: Vec<C::Input> = match mode {
        "delete" => (0..WRITES)
            .map(|k| C::delete_input(config_map(k * 7919 % STORED, &spec)))
            .collect(),
        _ => (0..WRITES)
            .map(|_| C::input(config_map(rng.below(STORED), &spec)))
            .collect(),
    };
    let written = inputs.len();
    // One write at a time, its result leaked where it is made: no copy into a
    // collection, no free.
    match mode {
        "fill" => std::mem::forget(inputs),
        "update" => inputs
            .into_iter()
            .for_each(|input| std::mem::forget(store.upsert(input))),
        "update_keep_old" => inputs
            .into_iter()
            .for_each(|input| std::mem::forget(store.upsert_keep_old(input))),
        "delete" => inputs
            .into_iter()
            .for_each(|input| std::mem::forget(store.delete(input))),
        _ => return None,
    }
    // The store itself is leaked too: its teardown is the same in every mode.
    std::mem::forget(store);
    Some(written)
}

fn main() -> ExitCode {
    store_bench::two_word_probe(
        "store_work {Cache|ShardedCache|kube|client-go} {fill|update|update_keep_old|delete}",
        "writes",
        |contender, mode| match contender {
            "Cache" => run::<Cache<Cm>>(mode),
            "ShardedCache" => run::<ShardedCache<Cm>>(mode),
            "kube" => run::<KubeStore>(mode),
            "client-go" => run::<ClientGoStore>(mode),
            _ => None,
        },
    )
}
