//! End to end: events per second from a `MemoryServer` through a `Reflector` into a
//! `Cache` and a `ShardedCache`, and through an `Informer` to one trivial handler;
//! and the time to the initial sync of 100,000 objects.
//!
//! `cargo bench -p store-bench --bench reflector`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use reflector::{Informer, MemoryServer, MemoryServerConfig, Reflector, ReflectorStore};
use store_core::{Cache, Keyed, ResourceVersion, ShardedCache};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// A small object: the benchmark measures the pipeline, not cloning.
#[derive(Debug)]
struct Obj {
    id: u64,
    generation: u64,
}

impl Keyed for Obj {
    type Key = u64;
    fn key(&self) -> u64 {
        self.id
    }
}

const KEYS: u64 = 10_000;
const EVENTS: u64 = 200_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("a tokio runtime: {error}"))
}

/// A server whose watch buffer and history hold a whole burst, so the measurement
/// is of the pipeline and not of relists after a dropped watcher.
fn server() -> MemoryServer<Obj> {
    let server = MemoryServer::with_config(
        MemoryServerConfig::default()
            .with_watch_buffer((EVENTS as usize) * 2)
            .with_history_len((EVENTS as usize) * 2),
    );
    for id in 0..KEYS {
        server.apply(Obj { id, generation: 0 });
    }
    server
}

fn burst(server: &MemoryServer<Obj>) -> ResourceVersion {
    let mut last = server.resource_version();
    for i in 0..EVENTS {
        last = server.apply(Obj {
            id: i % KEYS,
            generation: i,
        });
    }
    last
}

/// Writes a burst into a synced reflector and waits until it has applied the last
/// event; returns the time from the first write to the last apply.
fn reflector_burst<S: ReflectorStore<Obj> + Clone>(rt: &Runtime, store: S) -> Duration {
    rt.block_on(async {
        let server = server();
        let reflector = Reflector::new(server.clone(), store);
        let handle = reflector.handle();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(reflector.run(shutdown.clone()));
        handle.wait_until_synced().await.expect("synced");
        let start = Instant::now();
        let last = burst(&server);
        while handle.last_sync_resource_version().as_ref() != Some(&last) {
            // polled, not spun: a spinning waiter would take a core from the pipeline
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let elapsed = start.elapsed();
        shutdown.cancel();
        let _ = task.await;
        elapsed
    })
}

fn informer_burst(rt: &Runtime) -> Duration {
    rt.block_on(async {
        let server = server();
        let mut informer = Informer::builder(server.clone());
        let handled = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&handled);
        let registration = informer.on_update(move |old, new| {
            // a real handler reads the objects; this one checks they move forward
            counter.fetch_add(
                u64::from(new.generation >= old.generation),
                Ordering::Relaxed,
            );
        });
        let shutdown = CancellationToken::new();
        let (informer, task) = informer.start(shutdown.clone());
        informer.wait_until_synced().await.expect("synced");
        registration.caught_up().await.expect("synced");
        let start = Instant::now();
        burst(&server);
        while handled.load(Ordering::Relaxed) < EVENTS {
            // polled, not spun: a spinning waiter would take a core from the pipeline
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let elapsed = start.elapsed();
        shutdown.cancel();
        let _ = task.await;
        elapsed
    })
}

fn events_per_second(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("reflector_events");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.bench_function("into_cache", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| reflector_burst(&rt, Cache::new())).sum())
    });
    group.bench_function("into_sharded_cache", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| reflector_burst(&rt, ShardedCache::new()))
                .sum()
        })
    });
    group.bench_function("through_informer", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| informer_burst(&rt)).sum())
    });
    group.finish();
}

const INITIAL: u64 = 100_000;

/// Starts a reflector (or an informer) on `server` and times it to its first sync.
fn sync_once(rt: &Runtime, server: &MemoryServer<Obj>, store: &str) -> Duration {
    rt.block_on(async {
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        let task = match store {
            "cache" => {
                let reflector = Reflector::new(server.clone(), Cache::<Obj>::new());
                let handle = reflector.handle();
                let task = tokio::spawn(reflector.run(shutdown.clone()));
                handle.wait_until_synced().await.expect("synced");
                task
            }
            "sharded" => {
                let reflector = Reflector::new(server.clone(), ShardedCache::<Obj>::new());
                let handle = reflector.handle();
                let task = tokio::spawn(reflector.run(shutdown.clone()));
                handle.wait_until_synced().await.expect("synced");
                task
            }
            _ => {
                let (informer, task) = Informer::builder(server.clone()).start(shutdown.clone());
                informer.wait_until_synced().await.expect("synced");
                task
            }
        };
        let elapsed = start.elapsed();
        shutdown.cancel();
        let _ = task.await;
        elapsed
    })
}

fn initial_sync(c: &mut Criterion) {
    let rt = runtime();
    let server = MemoryServer::new();
    for id in 0..INITIAL {
        server.apply(Obj { id, generation: 0 });
    }
    let mut group = c.benchmark_group("initial_sync_100k");
    group.throughput(Throughput::Elements(INITIAL));
    group.sample_size(10);
    for store in ["cache", "sharded", "informer"] {
        group.bench_function(store, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| sync_once(&rt, &server, store)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, events_per_second, initial_sync);
criterion_main!(benches);
