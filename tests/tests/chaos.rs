//! Convergence under chaos: for 100 seeds, a `MemoryServer` takes random churn while
//! faults are injected (dropped watches, compaction forcing Expired, throttling,
//! internal errors, stalls, malformed events, failing lists and watches). Once the
//! churn stops, the informer's store must equal the server's state exactly, and the
//! handler calls, replayed onto an empty map, must give that same state: nothing
//! lost, nothing resurrected.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use conformance::fixtures::{item, Item};
use parking_lot::Mutex;
use reflector::{
    BackoffConfig, Informer, MemoryServer, MemoryServerConfig, ReflectorConfig, RelistMode,
};
use store_core::{Cache, DeletedObject, Status, Store};
use tokio_util::sync::CancellationToken;

const SEEDS: u64 = 100;
const STEPS: usize = 300;
const KEYS: u32 = 40;

type Replay = Arc<Mutex<BTreeMap<u32, u32>>>;

fn replaying_handler(replay: &Replay) -> reflector::HandlerFns<Item> {
    let (a, u, d) = (Arc::clone(replay), Arc::clone(replay), Arc::clone(replay));
    reflector::HandlerFns::<Item>::new()
        .on_add(move |obj, _| {
            a.lock().insert(obj.key, obj.version);
        })
        .on_update(move |_, new| {
            u.lock().insert(new.key, new.version);
        })
        .on_delete(move |deleted: &DeletedObject<Item>| {
            d.lock().remove(&deleted.key());
        })
}

fn server_state(server: &MemoryServer<Item>) -> BTreeMap<u32, u32> {
    server
        .snapshot()
        .iter()
        .map(|i| (i.key, i.version))
        .collect()
}

fn cache_state(cache: &Cache<Item>) -> BTreeMap<u32, u32> {
    cache.list().iter().map(|i| (i.key, i.version)).collect()
}

async fn inject_fault(server: &MemoryServer<Item>, rng: &mut fastrand::Rng) {
    match rng.u8(0..9) {
        0 => server.drop_watches(),
        1 => server.compact(),
        2 => server.inject_watch_error(Status::too_many_requests("slow down", 1)),
        3 => server.inject_watch_error(Status::internal_error("etcd hiccup")),
        4 => server.inject_malformed_event(),
        5 => server.fail_next_lists(1, Status::internal_error("list failed")),
        6 => server.fail_next_watches(1, Status::service_unavailable("connection refused")),
        7 => {
            server.set_latency(Some(Duration::from_millis(rng.u64(10..300))));
        }
        _ => server.set_latency(None),
    }
}

async fn churn(server: &MemoryServer<Item>, rng: &mut fastrand::Rng) {
    let mut version = 1000;
    for _ in 0..STEPS {
        let key = rng.u32(0..KEYS);
        version += 1;
        match rng.u8(0..10) {
            0..=3 => {
                let _ = server.apply(item(key, version));
            }
            4..=5 => {
                let _ = server.create(item(key, version));
            }
            6..=7 => {
                let _ = server.update(item(key, version));
            }
            _ => {
                let _ = server.delete(&key);
            }
        }
        if rng.u8(0..10) == 0 {
            inject_fault(server, rng).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..20))).await;
    }
    server.set_latency(None);
}

async fn run_seed(seed: u64, relist_mode: RelistMode) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let server = MemoryServer::with_config(
        MemoryServerConfig::default()
            .with_history_len(50)
            .with_watch_buffer(64),
    );
    for key in 0..20 {
        let _ = server.create(item(key, 1));
    }
    let config = ReflectorConfig::default()
        .with_page_size(Some(7))
        .with_watch_timeout(Duration::from_secs(1)..=Duration::from_secs(3))
        .with_backoff(
            BackoffConfig::default()
                .with_initial(Duration::from_millis(10))
                .with_max(Duration::from_millis(500)),
        )
        .with_relist_mode(relist_mode);
    // a clone of the cache to compare with (the informer is its only writer)
    let cache = Cache::<Item>::new();
    let mut informer = Informer::builder_with_store(server.clone(), cache.clone())
        .with_config(config)
        // both queue modes: one ReplacedAll per relist, or entries
        .with_relist_as_one_entry(seed % 2 == 0);
    let replay = Replay::default();
    let registration = informer.add_handler(replaying_handler(&replay));
    let shutdown = CancellationToken::new();
    let (_informer, running) = informer.start(shutdown.clone());

    churn(&server, &mut rng).await;

    let want = server_state(&server);
    let mut converged = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if cache_state(&cache) == want && registration.pending() == 0 && *replay.lock() == want {
            converged = true;
            break;
        }
    }
    assert!(
        converged,
        "seed {seed} ({relist_mode:?}): no convergence\nserver: {want:?}\ncache:  {:?}\nreplay: {:?}",
        cache_state(&cache),
        replay.lock()
    );
    shutdown.cancel();
    running.await.expect("informer task ends cleanly");
}

fn run_seeds(relist_mode: RelistMode) {
    for seed in 0..SEEDS {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        runtime.block_on(run_seed(seed, relist_mode));
    }
}

#[test]
fn informer_converges_under_churn_and_faults_for_100_seeds() {
    run_seeds(RelistMode::Atomic);
}

/// The same chaos with relists written page by page (pages of 7 over ~20–40 keys, so
/// a relist spans several pages, and faults land between them).
#[test]
fn informer_with_in_place_relists_converges_under_churn_and_faults_for_100_seeds() {
    run_seeds(RelistMode::InPlace);
}
