//! etcd benchmark: `EtcdSource` + `Reflector` against a real etcd, and a bare
//! `etcd-client` doing the same work against the same etcd in the same run.
//!
//! ```text
//! cargo run --release -p store-bench --bin etcd_bench --features etcd
//! ```
//!
//! 1. **Initial sync**: `--objects` (default 100,000) ConfigMap-shaped JSON objects
//!    under one prefix; a reflector lists them (pages of 500, its default) into a
//!    `ShardedCache`, timed from start to synced, best of `--runs` (default 3).
//!    Beside it, a bare paginated range of the same prefix with the same page size
//!    and no decoding: what etcd and gRPC alone cost.
//! 2. **Put-to-store latency**: `--samples` (default 2,000, after 200 warm-up) puts
//!    of new keys, one at a time; for each, the time from just before the put to
//!    (a) the object being in the reflector's cache (decoded, in the store) and
//!    (b) a bare `etcd-client` watch on the prefix receiving the event. Both watch the
//!    same etcd at once; the difference per put is what the reflector adds.
//!
//! etcd is started by the test harness on loopback (Debian's `etcd-server`, data in
//! a temporary directory), or `--endpoints URL` names one to use instead. Writes go
//! to prefixes under `/bench/`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::etcd_harness::EtcdServer;
use etcd_client::{Client, ConnectOptions, EventType, GetOptions, WatchOptions};
use futures::StreamExt;
use reflector::sources::etcd::{EtcdConfig, EtcdSource};
use reflector::{Change, Reflector, ReflectorConfig, ReflectorStore, StoreError};
use serde::{Deserialize, Serialize};
use store_core::{Cache, Keyed, ShardedCache, Store};
use tokio_util::sync::CancellationToken;

const SYNC_PREFIX: &str = "/bench/sync/";
const LATENCY_PREFIX: &str = "/bench/latency/";
const WARMUP: usize = 200;

/// A ConfigMap-shaped object of about 250 bytes of JSON.
#[derive(Keyed, Debug, Clone, Serialize, Deserialize)]
#[keyed(namespace = "namespace", name = "name")]
struct ConfigMap {
    namespace: String,
    name: String,
    index: u64,
    labels: Vec<String>,
    data: String,
}

fn config_map(namespace: &str, index: u64) -> ConfigMap {
    ConfigMap {
        namespace: namespace.to_owned(),
        name: format!("cm-{index:07}"),
        index,
        labels: vec![format!("app=app-{}", index % 50), "tier=web".to_owned()],
        data: "x".repeat(128),
    }
}

struct Args {
    endpoints: Option<String>,
    objects: u64,
    runs: usize,
    samples: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        endpoints: None,
        objects: 100_000,
        runs: 3,
        samples: 2_000,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words.next().unwrap_or_default();
        match flag.as_str() {
            "--endpoints" => args.endpoints = Some(value),
            "--objects" => args.objects = value.parse().unwrap_or(args.objects),
            "--runs" => args.runs = value.parse().unwrap_or(args.runs).max(1),
            "--samples" => args.samples = value.parse().unwrap_or(args.samples).max(1),
            // `cargo bench`-style harness flags are ignored.
            _ => {}
        }
    }
    args
}

async fn client(endpoint: &str) -> Client {
    Client::connect(
        [endpoint],
        Some(ConnectOptions::new().with_timeout(Duration::from_secs(30))),
    )
    .await
    .unwrap_or_else(|error| panic!("cannot connect to {endpoint}: {error}"))
}

async fn source(endpoint: &str, prefix: &str) -> EtcdSource<ConfigMap> {
    EtcdSource::connect(EtcdConfig::new([endpoint], prefix))
        .await
        .unwrap_or_else(|status| panic!("cannot connect to {endpoint}: {status}"))
}

// --- initial sync -----------------------------------------------------------------------

/// Seconds for one reflector to list the sync prefix into a fresh `ShardedCache`,
/// in pages of `page_size`.
async fn reflector_sync(endpoint: &str, expected: usize, page_size: Option<usize>) -> f64 {
    let source = source(endpoint, SYNC_PREFIX).await;
    let cache = ShardedCache::new();
    let reflector = Reflector::new(source, cache.clone())
        .with_config(ReflectorConfig::default().with_page_size(page_size));
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(reflector.run(shutdown.clone()));
    handle.wait_until_synced().await.expect("synced");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(cache.len(), expected, "the cache holds every object");
    shutdown.cancel();
    let _ = task.await;
    seconds
}

/// Seconds for a bare paginated range over the sync prefix (no decoding; `page`
/// zero: one range), and the number of keys it read.
async fn bare_range(endpoint: &str, page: i64) -> (f64, usize) {
    let mut kv = client(endpoint)
        .await
        .kv_client()
        .max_decoding_message_size(usize::MAX);
    let end = prefix_end(SYNC_PREFIX);
    let started = Instant::now();
    let mut start = SYNC_PREFIX.as_bytes().to_vec();
    let mut revision = 0;
    let mut keys = 0;
    loop {
        let options = GetOptions::new()
            .with_range(end.clone())
            .with_limit(page)
            .with_revision(revision);
        let mut response = kv
            .get(start.clone(), Some(options))
            .await
            .unwrap_or_else(|e| {
                panic!("range failed: {e}");
            });
        if revision == 0 {
            revision = response.header().map_or(0, |header| header.revision());
        }
        let kvs = response.take_kvs();
        keys += kvs.len();
        match kvs.last() {
            Some(last) if response.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => break,
        }
    }
    (started.elapsed().as_secs_f64(), keys)
}

fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

// --- put-to-store latency ---------------------------------------------------------------

/// Arrival times, in nanoseconds since `base` plus one (zero: not arrived yet).
struct Arrivals {
    base: Instant,
    slots: Vec<AtomicU64>,
}

impl Arrivals {
    fn new(base: Instant, len: usize) -> Arc<Self> {
        Arc::new(Arrivals {
            base,
            slots: (0..len).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn record(&self, index: usize) {
        if let Some(slot) = self.slots.get(index) {
            let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let _ = slot.compare_exchange(0, nanos + 1, Ordering::Release, Ordering::Relaxed);
        }
    }

    fn get(&self, index: usize) -> Option<u64> {
        match self.slots[index].load(Ordering::Acquire) {
            0 => None,
            nanos => Some(nanos - 1),
        }
    }
}

/// The reflector's store for the latency run: a `Cache`, and the arrival time of
/// every object once the cache holds it.
struct Timed {
    cache: Cache<ConfigMap>,
    arrivals: Arc<Arrivals>,
}

impl ReflectorStore<ConfigMap> for Timed {
    fn apply(&self, change: Change<ConfigMap>) -> Result<(), StoreError> {
        let index = match &change {
            Change::Added(object, _) | Change::Modified(object, _) => Some(object.index),
            _ => None,
        };
        self.cache.apply(change)?;
        if let Some(index) = index {
            self.arrivals.record(index as usize);
        }
        Ok(())
    }
}

/// A bare etcd-client watch on the latency prefix recording when each put's event
/// arrives (the index is in the key; no value is decoded).
async fn bare_watch(endpoint: &str, arrivals: Arc<Arrivals>, shutdown: CancellationToken) {
    let mut watch_client = client(endpoint).await.watch_client();
    let mut stream = watch_client
        .watch(LATENCY_PREFIX, Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap_or_else(|e| panic!("bare watch failed: {e}"));
    // The `created` response: the watch is registered.
    let _ = stream.message().await;
    tokio::spawn(async move {
        loop {
            let response = tokio::select! {
                _ = shutdown.cancelled() => return,
                response = stream.next() => response,
            };
            let Some(Ok(response)) = response else { return };
            for event in response.events() {
                if event.event_type() != EventType::Put {
                    continue;
                }
                let Some(kv) = event.kv() else { continue };
                let index = kv
                    .key()
                    .rsplit(|&byte| byte == b'-')
                    .next()
                    .and_then(|digits| std::str::from_utf8(digits).ok())
                    .and_then(|digits| digits.parse::<usize>().ok());
                if let Some(index) = index {
                    arrivals.record(index);
                }
            }
        }
    });
}

/// Percentiles of `values` (sorted in place), in milliseconds.
fn percentiles(values: &mut [f64]) -> (f64, f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), at(0.99), values[values.len() - 1])
}

async fn latency(endpoint: &str, samples: usize) {
    let total = WARMUP + samples;
    let base = Instant::now();
    let reflected = Arrivals::new(base, total);
    let bare = Arrivals::new(base, total);
    let shutdown = CancellationToken::new();

    let store = Timed {
        cache: Cache::new(),
        arrivals: Arc::clone(&reflected),
    };
    let reflector = Reflector::new(source(endpoint, LATENCY_PREFIX).await, store)
        .with_config(ReflectorConfig::default());
    let handle = reflector.handle();
    let task = tokio::spawn(reflector.run(shutdown.clone()));
    handle.wait_until_synced().await.expect("synced");
    bare_watch(endpoint, Arc::clone(&bare), shutdown.clone()).await;
    // Give the reflector's watch time to be registered (it starts after the list).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let writer = source(endpoint, LATENCY_PREFIX).await.writer();
    let mut sent = Vec::with_capacity(total);
    for index in 0..total {
        let object = config_map("latency", index as u64);
        let started = base.elapsed().as_nanos() as u64;
        writer
            .put(&object)
            .await
            .unwrap_or_else(|status| panic!("put failed: {status}"));
        sent.push(started);
        let deadline = Instant::now() + Duration::from_secs(10);
        while reflected.get(index).is_none() || bare.get(index).is_none() {
            assert!(Instant::now() < deadline, "put {index} never arrived");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        // A short random gap, so puts do not line up with any periodic work.
        tokio::time::sleep(Duration::from_micros(fastrand::u64(200..1200))).await;
    }
    shutdown.cancel();
    let _ = task.await;

    let millis = |nanos: u64| nanos as f64 / 1e6;
    let (mut through, mut direct, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for (index, &put_at) in sent.iter().enumerate().skip(WARMUP) {
        let (Some(r), Some(b)) = (reflected.get(index), bare.get(index)) else {
            continue;
        };
        through.push(millis(r.saturating_sub(put_at)));
        direct.push(millis(b.saturating_sub(put_at)));
        added.push((r as f64 - b as f64) / 1e6);
    }
    let (r50, r90, r99, rmax) = percentiles(&mut through);
    let (b50, b90, b99, bmax) = percentiles(&mut direct);
    let (d50, d90, d99, dmax) = percentiles(&mut added);
    println!(
        "\nput-to-store latency, {} puts (after {WARMUP} warm-up), ms:",
        through.len()
    );
    println!("| path | p50 | p90 | p99 | max |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| bare etcd-client watch (event received) | {b50:.3} | {b90:.3} | {b99:.3} | {bmax:.3} |"
    );
    println!("| EtcdSource + Reflector (object in the cache) | {r50:.3} | {r90:.3} | {r99:.3} | {rmax:.3} |");
    println!("| reflector minus bare, per put | {d50:.3} | {d90:.3} | {d99:.3} | {dmax:.3} |");
    println!(
        "p99 added by the reflector: {:.3} ms (p99 through it minus p99 of the bare watch)",
        r99 - b99
    );
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let server = match &args.endpoints {
        Some(_) => None,
        None => Some(EtcdServer::start().await),
    };
    let endpoint = match (&args.endpoints, &server) {
        (Some(endpoint), _) => endpoint.clone(),
        (None, Some(server)) => server.endpoint(),
        (None, None) => unreachable!("a server is started when no endpoint is given"),
    };
    println!(
        "etcd at {endpoint}; {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Seed the sync prefix.
    let writer = source(&endpoint, SYNC_PREFIX).await.writer();
    let objects: Vec<ConfigMap> = (0..args.objects)
        .map(|index| config_map(&format!("team-{}", index % 20), index))
        .collect();
    let started = Instant::now();
    writer
        .put_all(&objects)
        .await
        .unwrap_or_else(|status| panic!("seeding failed: {status}"));
    let bytes: usize = objects
        .iter()
        .map(|object| serde_json::to_vec(object).map_or(0, |json| json.len()))
        .sum();
    println!(
        "seeded {} objects ({} bytes of JSON each on average) in {:.2?}",
        args.objects,
        bytes / objects.len().max(1),
        started.elapsed()
    );
    drop(objects);

    println!(
        "\n| initial sync, {} objects, best of {} (median) | EtcdSource + Reflector into a ShardedCache | bare etcd-client range, no decoding |\n| --- | ---: | ---: |",
        args.objects, args.runs
    );
    for page_size in [Some(500), Some(5_000), None] {
        let mut reflector_rates = Vec::new();
        let mut bare_rates = Vec::new();
        for _ in 0..args.runs {
            let page = page_size.map_or(0, |page| page as i64);
            let (bare_seconds, keys) = bare_range(&endpoint, page).await;
            let seconds = reflector_sync(&endpoint, args.objects as usize, page_size).await;
            reflector_rates.push(args.objects as f64 / seconds);
            bare_rates.push(keys as f64 / bare_seconds);
        }
        reflector_rates.sort_by(f64::total_cmp);
        bare_rates.sort_by(f64::total_cmp);
        let best_and_median = |rates: &[f64]| {
            format!(
                "{:.0}/s ({:.0}/s)",
                rates[rates.len() - 1],
                rates[rates.len() / 2]
            )
        };
        println!(
            "| {} | {} | {} |",
            page_size.map_or("one answer (no limit)".to_owned(), |page| format!(
                "pages of {page}"
            )),
            best_and_median(&reflector_rates),
            best_and_median(&bare_rates),
        );
    }

    latency(&endpoint, args.samples).await;
    drop(server);
}
