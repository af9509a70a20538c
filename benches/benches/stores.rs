//! Criterion benchmarks of the `store_core` stores against kube-runtime's reflector
//! store, a client-go-style map and a raw `HashMap` floor, all caching the same ~1 KB
//! `ConfigMap`.
//!
//! Groups (the contender is the function id, the store size the parameter):
//! `get_hit` and `get_miss` at 1k, 100k and 1M objects; `update`, `insert`, `delete`,
//! `replace`, `list`, `by_namespace` and `mixed_2_threads` at 100k objects. Every
//! store is driven through [`Contender`], which says what each call does per store.
//!
//! Only one store is alive at a time (1M objects take over 2 GB each), and a store
//! whose benchmarks the command-line filter skips is not built. Set
//! `STORE_BENCH_SIZES=1000,100000` to choose the `get_*` sizes.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion,
    SamplingMode, Throughput,
};
use k8s_openapi::api::core::v1::ConfigMap;
use store_bench::object::config_map_at;
use store_bench::{
    config_map, ClientGoStore, Cm, Contender, KeySample, KubeStore, ObjectSpec, XorShift,
};
use store_core::{Cache, ObjectName, ShardedCache};

/// Objects in the stores of every group but `get_*`.
const N: usize = 100_000;
/// Keys in a look-up sample: enough that 1M-object look-ups miss the CPU cache.
const SAMPLE: usize = 1 << 16;
/// New keys the `insert` ring cycles through (more than one batch).
const RING: usize = 4096;
/// Iterations between a key's `delete` and its return: 20 000 objects (60 MB) are
/// written in between, more than the CPU caches hold.
const DELETE_LAG: usize = 20_000;
/// Inputs made per timed batch of writes: few, so that they are still in the CPU
/// cache when written, like an object just decoded from a watch event.
const BATCH: BatchSize = BatchSize::NumIterations(64);
/// Threads of the mixed run.
const THREADS: usize = 2;
/// The look-up groups.
const GET: [&str; 2] = ["get_hit", "get_miss"];

/// Runs `$bench::<C>($args)` for every store contender, in a fixed order.
macro_rules! each_contender {
    ($bench:ident($($arg:expr),*)) => {
        $bench::<Cache<Cm>>($($arg),*);
        $bench::<ShardedCache<Cm>>($($arg),*);
        $bench::<ClientGoStore>($($arg),*);
        $bench::<KubeStore>($($arg),*);
    };
}

// ---------------------------------------------------------------- selection

/// criterion's flags that take a value (so the value is not the filter).
const VALUE_FLAGS: [&str; 19] = [
    "-c",
    "--color",
    "-s",
    "--save-baseline",
    "-b",
    "--baseline",
    "--baseline-lenient",
    "--format",
    "--profile-time",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--plotting-backend",
    "--output-format",
];

/// The benchmark filter given on the command line, when it is a plain string
/// (criterion reads it as a regex; one with regex syntax is `None` here: build all).
fn plain_filter() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if VALUE_FLAGS.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            let is_regex = arg.contains(|c: char| "\\.^$*+?()[]{}|".contains(c));
            return (!is_regex).then_some(arg);
        }
    }
    None
}

/// Whether criterion will run any of these `group/contender/size` benchmarks, so
/// that a store nobody benchmarks is not built (a 1M-object store takes seconds).
fn selected(groups: &[&str], contender: &str, size: usize) -> bool {
    plain_filter().is_none_or(|filter| {
        groups
            .iter()
            .any(|group| format!("{group}/{contender}/{size}").contains(&filter))
    })
}

fn sizes() -> Vec<usize> {
    std::env::var("STORE_BENCH_SIZES")
        .ok()
        .map(|sizes| {
            sizes
                .split(',')
                .filter_map(|size| size.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1_000, 100_000, 1_000_000])
}

/// Objects `0..n` at resource version 1.
fn objects(n: usize, spec: &ObjectSpec) -> impl Iterator<Item = ConfigMap> + '_ {
    (0..n).map(move |i| config_map(i, spec))
}

/// A group whose iterations each handle `elements` objects.
fn new_group<'c>(c: &'c mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements));
    group
}

// ---------------------------------------------------------------- get

/// Benchmarks one look-up function, `lookup(i)` for i = 1, 2, 3, ….
fn bench_lookup<R>(
    c: &mut Criterion,
    group: &str,
    contender: &str,
    size: usize,
    mut lookup: impl FnMut(usize) -> Option<R>,
) {
    let mut i = 0usize;
    new_group(c, group, 1).bench_function(BenchmarkId::new(contender, size), |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            lookup(i)
        })
    });
}

/// `get_hit` and `get_miss` of a filled contender, with the keys as strings.
fn lookups<C: Contender>(
    c: &mut Criterion,
    store: &C,
    size: usize,
    hits: &KeySample,
    misses: &KeySample,
) {
    for (group, sample) in GET.into_iter().zip([hits, misses]) {
        bench_lookup(c, group, C::NAME, size, |i| {
            let (namespace, name) = sample.parts(i);
            store.get(namespace, name)
        });
    }
}

fn get_of<C: Contender>(
    c: &mut Criterion,
    spec: &ObjectSpec,
    size: usize,
    hits: &KeySample,
    misses: &KeySample,
) {
    if selected(&GET, C::NAME, size) {
        lookups(c, &C::filled(objects(size, spec)), size, hits, misses);
    }
}

/// The floor: a lock-free `hashbrown` map looked up with owned keys.
fn get_floor(
    c: &mut Criterion,
    spec: &ObjectSpec,
    size: usize,
    hits: &KeySample,
    misses: &KeySample,
) {
    if !selected(&GET, "floor", size) {
        return;
    }
    let floor: hashbrown::HashMap<ObjectName, Arc<Cm>> = (0..size)
        .map(|i| (spec.object_name(i), Arc::new(Cm(config_map(i, spec)))))
        .collect();
    for (group, sample) in GET.into_iter().zip([hits, misses]) {
        bench_lookup(c, group, "floor", size, |i| {
            floor.get(sample.owned(i)).cloned()
        });
    }
}

/// kube, as a request path calls it and (`kube_prebuilt_key`) with keys built ahead
/// of time: its best case, which a request path does not have.
fn get_kube(
    c: &mut Criterion,
    spec: &ObjectSpec,
    size: usize,
    hits: &KeySample,
    misses: &KeySample,
) {
    let prebuilt_wanted = selected(&["get_hit"], "kube_prebuilt_key", size);
    if !selected(&GET, KubeStore::NAME, size) && !prebuilt_wanted {
        return;
    }
    let kube = KubeStore::filled(objects(size, spec));
    lookups(c, &kube, size, hits, misses);
    if prebuilt_wanted {
        let keys: Vec<_> = (0..hits.len())
            .map(|i| {
                let (namespace, name) = hits.parts(i);
                KubeStore::key(namespace, name)
            })
            .collect();
        bench_lookup(c, "get_hit", "kube_prebuilt_key", size, |i| {
            kube.get_prebuilt(&keys[i % keys.len()])
        });
    }
}

fn get(c: &mut Criterion) {
    let spec = ObjectSpec::default();
    for size in sizes() {
        let hits = KeySample::hits(&spec, size, SAMPLE, 7);
        let misses = KeySample::misses(&spec, SAMPLE, 11);
        get_floor(c, &spec, size, &hits, &misses);
        get_of::<Cache<Cm>>(c, &spec, size, &hits, &misses);
        get_of::<ShardedCache<Cm>>(c, &spec, size, &hits, &misses);
        get_of::<ClientGoStore>(c, &spec, size, &hits, &misses);
        get_kube(c, &spec, size, &hits, &misses);
    }
}

// ---------------------------------------------------------------- single writes

/// Object templates `0..N`, cloned to make inputs off the clock.
fn templates(spec: &ObjectSpec) -> Vec<ConfigMap> {
    objects(N, spec).collect()
}

/// `update`: a random stored key gets a new object; the replaced object is freed
/// on the clock (by the store, or by our caller dropping what `update` returned).
fn update<C: Contender>(c: &mut Criterion, templates: &[ConfigMap]) {
    if !selected(&["update"], C::NAME, N) {
        return;
    }
    let store = C::filled(templates.iter().cloned());
    let mut rng = XorShift::new(3);
    new_group(c, "update", 1).bench_function(BenchmarkId::new(C::NAME, N), |b| {
        b.iter_batched(
            || C::input(templates[rng.below(N)].clone()),
            |input| store.upsert(input),
            BATCH,
        )
    });
}

/// `update_keep_old`: as `update`, but the replaced object is handed back and freed
/// off the clock where the store allows it (not kube's).
fn update_keep_old<C: Contender>(c: &mut Criterion, templates: &[ConfigMap]) {
    if !selected(&["update_keep_old"], C::NAME, N) {
        return;
    }
    let store = C::filled(templates.iter().cloned());
    let mut rng = XorShift::new(3);
    new_group(c, "update_keep_old", 1).bench_function(BenchmarkId::new(C::NAME, N), |b| {
        b.iter_batched(
            || C::input(templates[rng.below(N)].clone()),
            |input| store.upsert_keep_old(input),
            BATCH,
        )
    });
}

/// `insert`: a key the store does not hold. The setup (off the clock) deletes the
/// key the ring inserted `RING` iterations ago, so the store stays near `N` objects.
fn insert<C: Contender>(c: &mut Criterion, templates: &[ConfigMap]) {
    if !selected(&["insert"], C::NAME, N) {
        return;
    }
    let spec = ObjectSpec::default();
    let store = C::filled(templates.iter().cloned());
    let mut counter = 0;
    new_group(c, "insert", 1).bench_function(BenchmarkId::new(C::NAME, N), |b| {
        b.iter_batched(
            || {
                counter += 1;
                let i = N + counter % RING;
                drop(store.delete(C::delete_input(config_map(i, &spec))));
                C::input(config_map(i, &spec))
            },
            |input| store.upsert(input),
            BATCH,
        )
    });
}

/// `delete`: a stored key, given as the deleted object's last state (what a watch
/// event carries); the stored object is freed on the clock. Keys go in a fixed
/// permutation of `0..N`; the setup (off the clock) puts back the key deleted
/// `DELETE_LAG` iterations ago, so the store holds `N - DELETE_LAG` objects and the
/// deleted object was stored long enough ago to have left the CPU cache, as in life.
fn delete<C: Contender>(c: &mut Criterion, templates: &[ConfigMap]) {
    if !selected(&["delete"], C::NAME, N) {
        return;
    }
    let store = C::filled(templates.iter().cloned());
    let key = |k: usize| k % N * 7919 % N;
    let mut k = 0usize;
    new_group(c, "delete", 1).bench_function(BenchmarkId::new(C::NAME, N), |b| {
        b.iter_batched(
            || {
                k += 1;
                if let Some(back) = k.checked_sub(DELETE_LAG) {
                    drop(store.upsert(C::input(templates[key(back)].clone())));
                }
                C::delete_input(templates[key(k)].clone())
            },
            |input| store.delete(input),
            BATCH,
        )
    });
}

// ---------------------------------------------------------------- whole-store operations

/// A group of whole-store operations: few, long iterations.
fn slow_group<'c>(c: &'c mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'c, WallTime> {
    let mut group = new_group(c, name, elements);
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group
}

/// A group of 100k-object lists: ten samples take about 10 s (this overrides
/// `--measurement-time`), and their spread is wide (the allocator's state).
fn list_group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = slow_group(c, name, N as u64);
    group.measurement_time(Duration::from_secs(10));
    group
}

/// `replace`: a relist of `N` new versions of the stored keys into a store holding
/// them. The relisted objects are made off the clock; wrapping them (ours: `Arc::new`;
/// kube: clone and `Arc::new`) and freeing the old content are on it.
fn replace<C: Contender>(c: &mut Criterion, relist: &[ConfigMap]) {
    if !selected(&["replace"], C::NAME, N) {
        return;
    }
    let store = C::filled(relist.iter().cloned());
    list_group(c, "replace").bench_function(BenchmarkId::new(C::NAME, N), |b| {
        b.iter_batched(
            || C::relist(relist.to_vec()),
            |relist| store.replace(relist),
            BatchSize::PerIteration,
        )
    });
}

/// `initial_list`: the first list into an empty store (a reflector's start), with
/// no old content to free and nothing to report as removed. The filled store is
/// dropped off the clock.
fn initial_list<C: Contender>(c: &mut Criterion, relist: &[ConfigMap]) {
    if !selected(&["initial_list"], C::NAME, N) {
        return;
    }
    list_group(c, "initial_list").bench_function(BenchmarkId::new(C::NAME, N), |b| {
        b.iter_batched(
            || relist.to_vec(),
            |objects| C::filled(objects.into_iter()),
            BatchSize::PerIteration,
        )
    });
}

/// `list`: every object; dropping the returned `Vec` is on the clock.
fn list<C: Contender>(c: &mut Criterion, templates: &[ConfigMap]) {
    if !selected(&["list"], C::NAME, N) {
        return;
    }
    let store = C::filled(templates.iter().cloned());
    slow_group(c, "list", N as u64)
        .bench_function(BenchmarkId::new(C::NAME, N), |b| b.iter(|| store.list()));
}

/// `by_namespace`: the 1 000 objects of one of 100 namespaces. Ours use the
/// namespace index; kube and client-go have none and scan.
fn by_namespace<C: Contender>(c: &mut Criterion, templates: &[ConfigMap]) {
    if !selected(&["by_namespace"], C::NAME, N) {
        return;
    }
    let spec = ObjectSpec::default();
    let namespaces: Vec<String> = (0..spec.namespaces).map(|i| spec.namespace(i)).collect();
    let store = C::filled(templates.iter().cloned());
    let mut i = 0;
    let per_namespace = (N / spec.namespaces) as u64;
    slow_group(c, "by_namespace", per_namespace).bench_function(
        BenchmarkId::new(C::NAME, N),
        |b| {
            b.iter(|| {
                i += 1;
                store.by_namespace(&namespaces[i % namespaces.len()])
            })
        },
    );
}

// ---------------------------------------------------------------- mixed, 2 threads

/// Runs `iters` operations on each of `THREADS` threads at once: every tenth an
/// update (its input made before the clock starts), the rest gets of random keys.
/// Returns the wall time from the common start to the last thread's finish.
fn mixed_run<C: Contender>(
    store: &C,
    iters: u64,
    templates: &[ConfigMap],
    keys: &KeySample,
) -> Duration {
    let start_line = Barrier::new(THREADS + 1);
    let finish_line = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (start_line, finish_line) = (&start_line, &finish_line);
            s.spawn(move || {
                let mut rng = XorShift::new(iters.wrapping_mul(31) + t as u64 + 1);
                let updates = (iters / 10 + 1) as usize;
                let mut inputs: Vec<C::Input> = (0..updates)
                    .map(|_| C::input(templates[rng.below(templates.len())].clone()))
                    .collect();
                let mut leftovers = Vec::with_capacity(updates);
                let offset = rng.below(keys.len());
                start_line.wait();
                for op in 0..iters as usize {
                    if op % 10 == 0 {
                        if let Some(input) = inputs.pop() {
                            leftovers.push(store.upsert(input));
                        }
                    } else {
                        let (namespace, name) = keys.parts(offset + op);
                        black_box(store.get(namespace, name));
                    }
                }
                finish_line.wait();
                drop(leftovers);
            });
        }
        start_line.wait();
        let start = Instant::now();
        finish_line.wait();
        start.elapsed()
    })
}

/// `mixed_2_threads`: two threads, each 90 % `get` / 10 % `update`, on `N` objects.
/// One iteration is one operation on each thread (two in all).
fn mixed<C: Contender>(c: &mut Criterion, templates: &[ConfigMap]) {
    if !selected(&["mixed_2_threads"], C::NAME, N) {
        return;
    }
    let keys = KeySample::hits(&ObjectSpec::default(), N, SAMPLE, 5);
    let store = C::filled(templates.iter().cloned());
    new_group(c, "mixed_2_threads", THREADS as u64)
        .bench_function(BenchmarkId::new(C::NAME, N), |b| {
            b.iter_custom(|iters| mixed_run(&store, iters, templates, &keys))
        });
}

// ---------------------------------------------------------------- main

fn writes(c: &mut Criterion) {
    let spec = ObjectSpec::default();
    let templates = templates(&spec);
    each_contender!(update(c, &templates));
    each_contender!(update_keep_old(c, &templates));
    each_contender!(insert(c, &templates));
    each_contender!(delete(c, &templates));
    let relist: Vec<ConfigMap> = (0..N).map(|i| config_map_at(i, 2, &spec)).collect();
    each_contender!(replace(c, &relist));
    each_contender!(initial_list(c, &relist));
    drop(relist);
    each_contender!(list(c, &templates));
    each_contender!(by_namespace(c, &templates));
    each_contender!(mixed(c, &templates));
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = stores;
    config = config();
    targets = get, writes
}
criterion_main!(stores);
