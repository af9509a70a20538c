//! `RelistMode::InPlace` (DESIGN §10): a relist's pages reach the store as they arrive,
//! the unseen keys go at the end; the first list is one replace. It is the default (since
//! 0.2); a store that does not take in-place relists, or `RelistMode::Atomic`, gets one
//! `Replaced`. An informer relisting in place holds its queue to about a page.

use std::sync::Arc;
use std::time::Duration;

use conformance::fixtures::{item, Item};
use conformance::scripted::{Scripted, Then, WatchAnswer};
use parking_lot::Mutex;
use reflector::{
    Change, Reflector, ReflectorConfig, ReflectorError, ReflectorStore, RelistMode, StoreError,
    WatchEvent,
};
use store_core::{Cache, Status, Store};
use tokio_util::sync::CancellationToken;

/// A cache that records what the reflector hands it, and can refuse pages.
struct Recording {
    cache: Cache<Item>,
    log: Mutex<Vec<String>>,
    in_place: bool,
    refuse_pages: Mutex<usize>,
}

impl Recording {
    fn new(in_place: bool) -> Arc<Self> {
        Arc::new(Recording {
            cache: Cache::new(),
            log: Mutex::new(Vec::new()),
            in_place,
            refuse_pages: Mutex::new(0),
        })
    }

    fn note(&self, entry: String) {
        self.log.lock().push(entry);
    }

    fn content(&self) -> Vec<(u32, u32)> {
        let mut content: Vec<(u32, u32)> = self
            .cache
            .list()
            .iter()
            .map(|i| (i.key, i.version))
            .collect();
        content.sort_unstable();
        content
    }
}

impl ReflectorStore<Item> for Recording {
    fn apply(&self, change: Change<Item>) -> Result<(), StoreError> {
        match &change {
            Change::Replaced(items, rv) => self.note(format!("replaced {} at {rv}", items.len())),
            Change::RelistPage(page) => {
                let mut refuse = self.refuse_pages.lock();
                if *refuse > 0 {
                    *refuse -= 1;
                    self.note("page refused".into());
                    return Err(StoreError::InPlaceRelistUnsupported);
                }
                let keys: Vec<u32> = page.iter().map(|i| i.key).collect();
                self.note(format!("page {keys:?}"));
            }
            Change::RelistEnd {
                seen,
                resource_version,
            } => {
                let mut seen: Vec<u32> = seen.iter().copied().collect();
                seen.sort_unstable();
                self.note(format!("end {seen:?} at {resource_version}"));
            }
            _ => {}
        }
        self.cache.apply(change)
    }

    fn supports_in_place_relist(&self) -> bool {
        self.in_place
    }
}

/// A first list of 1..=3, a watch that expires, then a relist in two pages that
/// changes 1 and 2, drops 3 and adds 4.
fn scripted() -> Arc<Scripted<Item>> {
    let source = Scripted::new();
    source.list_ok(vec![item(1, 1), item(2, 1), item(3, 1)], "10");
    source.watch(WatchAnswer::Stream(
        vec![Ok(WatchEvent::Error(Box::new(Status::expired("too old"))))],
        Then::Close,
    ));
    source.list_page(vec![item(1, 2), item(2, 2)], "20", Some("next"));
    source.list_page(vec![item(4, 1)], "20", None);
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    source
}

/// A reflector's configuration in `mode`, over paginated or streaming lists.
fn config(mode: RelistMode, streaming_list: bool) -> ReflectorConfig {
    ReflectorConfig::default()
        .with_relist_mode(mode)
        .with_streaming_list(streaming_list)
}

async fn run(
    store: Arc<Recording>,
    mode: RelistMode,
    source: Arc<Scripted<Item>>,
) -> Vec<ReflectorError> {
    run_with(store, config(mode, false), source).await
}

/// [`run`] with streaming lists.
async fn run_streaming(
    store: Arc<Recording>,
    mode: RelistMode,
    source: Arc<Scripted<Item>>,
) -> Vec<ReflectorError> {
    run_with(store, config(mode, true), source).await
}

/// Runs a reflector from `source` into `store` until it has synced at "20".
async fn run_with(
    store: Arc<Recording>,
    config: ReflectorConfig,
    source: Arc<Scripted<Item>>,
) -> Vec<ReflectorError> {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&errors);
    let reflector = Reflector::new(source, Arc::clone(&store))
        .with_config(config)
        .on_error(move |error| seen.lock().push(error.clone()));
    let handle = reflector.handle();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(reflector.run(shutdown.clone()));
    for _ in 0..100 {
        if handle
            .last_sync_resource_version()
            .as_ref()
            .map(|rv| rv.as_str())
            == Some("20")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    task.await.expect("reflector ends");
    let errors = errors.lock().clone();
    errors
}

#[tokio::test(start_paused = true)]
async fn an_in_place_relist_writes_each_page_then_removes_the_unseen_keys() {
    let store = Recording::new(true);
    run(Arc::clone(&store), RelistMode::InPlace, scripted()).await;
    assert_eq!(
        *store.log.lock(),
        [
            "replaced 3 at 10", // the first list: one replace
            "page [1, 2]",
            "page [4]",
            "end [1, 2, 4] at 20",
        ]
    );
    assert_eq!(store.content(), [(1, 2), (2, 2), (4, 1)]);
    assert_eq!(
        store.cache.last_sync_resource_version().unwrap().as_str(),
        "20"
    );
}

#[tokio::test(start_paused = true)]
async fn atomic_mode_and_stores_without_in_place_relists_get_one_replace() {
    for (mode, in_place) in [(RelistMode::Atomic, true), (RelistMode::InPlace, false)] {
        let store = Recording::new(in_place);
        run(Arc::clone(&store), mode, scripted()).await;
        assert_eq!(
            *store.log.lock(),
            ["replaced 3 at 10", "replaced 3 at 20"],
            "{mode:?}, in place supported: {in_place}"
        );
        assert_eq!(store.content(), [(1, 2), (2, 2), (4, 1)]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_page_is_reported_and_the_relist_starts_over() {
    let store = Recording::new(true);
    *store.refuse_pages.lock() = 1;
    // The script's next answer after the refused first page is its last page: the
    // relist that starts over lists only 4.
    let source = scripted();
    let errors = run(Arc::clone(&store), RelistMode::InPlace, source).await;
    assert!(
        errors.iter().any(|e| matches!(
            e,
            ReflectorError::Store(StoreError::InPlaceRelistUnsupported)
        )),
        "{errors:?}"
    );
    let log = store.log.lock().clone();
    assert_eq!(
        log,
        [
            "replaced 3 at 10",
            "page refused",
            "page [4]",
            "end [4] at 20",
        ]
    );
    // The fresh relist decides: what it did not list is gone.
    assert_eq!(store.content(), [(4, 1)]);
}

/// Through an informer: the relist's objects reach the handlers as they are listed,
/// the tombstones after them, and the cache ends equal to the relist.
#[tokio::test(start_paused = true)]
async fn an_informer_hears_an_in_place_relist_page_by_page_then_its_deletions() {
    for atomic in [true, false] {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (a, u, d) = (Arc::clone(&log), Arc::clone(&log), Arc::clone(&log));
        let cache = Cache::<Item>::new();
        let mut builder = reflector::Informer::builder_with_store(scripted(), cache.clone())
            .with_config(ReflectorConfig::default().with_relist_mode(RelistMode::InPlace))
            .with_relist_as_one_entry(atomic);
        let handler = builder.add_handler(
            reflector::HandlerFns::<Item>::new()
                .on_add(move |obj, _| a.lock().push(format!("add {}@{}", obj.key, obj.version)))
                .on_update(move |_, new| {
                    u.lock().push(format!("update {}@{}", new.key, new.version))
                })
                .on_delete(move |gone: &store_core::DeletedObject<Item>| {
                    d.lock().push(format!("delete {}", gone.key()));
                }),
        );
        let shutdown = CancellationToken::new();
        let (informer, running) = builder.start(shutdown.clone());
        for _ in 0..100 {
            let at = informer.metrics().store_resource_version;
            if at.as_ref().map(|rv| rv.as_str()) == Some("20") && handler.pending() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        shutdown.cancel();
        running.await.expect("informer ends");
        assert_eq!(
            *log.lock(),
            [
                "add 1@1",
                "add 2@1",
                "add 3@1",
                "update 1@2",
                "update 2@2",
                "add 4@1",
                "delete 3",
            ],
            "atomic queue mode: {atomic}"
        );
        let mut content: Vec<(u32, u32)> =
            cache.list().iter().map(|i| (i.key, i.version)).collect();
        content.sort_unstable();
        assert_eq!(content, [(1, 2), (2, 2), (4, 1)]);
    }
}

fn added(obj: Item, rv: &str) -> Result<WatchEvent<Item>, Box<Status>> {
    Ok(WatchEvent::Added(Arc::new(obj), rv.into()))
}

/// A first streaming list of 1..=3 that expires, then a streaming relist that changes
/// 1 and 3, deletes 3 again before its end, and adds 4 (2 is never sent).
fn streamed() -> Arc<Scripted<Item>> {
    streamed_relists(1)
}

/// [`streamed`] with the streaming relist answered `relists` times.
fn streamed_relists(relists: usize) -> Arc<Scripted<Item>> {
    let source = Scripted::new();
    source.watch(WatchAnswer::Stream(
        vec![
            added(item(1, 1), "8"),
            added(item(2, 1), "9"),
            added(item(3, 1), "10"),
            Ok(WatchEvent::InitialEventsEnd("10".into())),
            Ok(WatchEvent::Error(Box::new(Status::expired("too old")))),
        ],
        Then::Close,
    ));
    for _ in 0..relists {
        source.watch(WatchAnswer::Stream(
            vec![
                added(item(1, 2), "17"),
                added(item(3, 2), "18"),
                Ok(WatchEvent::Deleted(Arc::new(item(3, 2)), "19".into())),
                added(item(4, 1), "20"),
                Ok(WatchEvent::InitialEventsEnd("20".into())),
            ],
            Then::Hang,
        ));
    }
    source
}

#[tokio::test(start_paused = true)]
async fn a_streaming_relist_in_place_writes_its_events_then_removes_the_unseen_and_deleted_keys() {
    let store = Recording::new(true);
    run_streaming(Arc::clone(&store), RelistMode::InPlace, streamed()).await;
    assert_eq!(
        *store.log.lock(),
        [
            "replaced 3 at 10", // the first streaming list: one replace
            "page [1, 3]",      // written up to the deletion
            "page [4]",
            "end [1, 4] at 20", // 2 never came, 3 was deleted
        ]
    );
    assert_eq!(store.content(), [(1, 2), (4, 1)]);

    // The same stream, relisted atomically, leaves the same content in one replace.
    let atomic = Recording::new(true);
    run_streaming(Arc::clone(&atomic), RelistMode::Atomic, streamed()).await;
    assert_eq!(*atomic.log.lock(), ["replaced 3 at 10", "replaced 2 at 20"]);
    assert_eq!(atomic.content(), store.content());
}

#[tokio::test(start_paused = true)]
async fn a_refused_streamed_page_is_reported_and_the_streaming_relist_starts_over() {
    let store = Recording::new(true);
    *store.refuse_pages.lock() = 1;
    let errors = run_streaming(Arc::clone(&store), RelistMode::InPlace, streamed_relists(2)).await;
    assert!(
        errors.iter().any(|error| matches!(
            error,
            ReflectorError::Store(StoreError::InPlaceRelistUnsupported)
        )),
        "the refusal is reported: {errors:?}"
    );
    assert_eq!(
        *store.log.lock(),
        [
            "replaced 3 at 10",
            "page refused",
            "page [1, 3]",
            "page [4]",
            "end [1, 4] at 20",
        ]
    );
    assert_eq!(store.content(), [(1, 2), (4, 1)]);
}

#[tokio::test(start_paused = true)]
async fn a_streaming_relist_in_place_writes_pages_of_the_configured_size() {
    let store = Recording::new(true);
    let config = config(RelistMode::InPlace, true).with_page_size(Some(1));
    run_with(Arc::clone(&store), config, streamed()).await;
    assert_eq!(
        *store.log.lock(),
        [
            "replaced 3 at 10",
            "page [1]",
            "page [3]",
            "page [4]",
            "end [1, 4] at 20",
        ]
    );
    assert_eq!(store.content(), [(1, 2), (4, 1)]);
}

/// An informer relisting in place waits for its processing task between pages: its
/// queue never holds much more than a page, however fast the source lists (without the
/// wait, a source answering at once queued thousands here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_informer_relisting_in_place_keeps_its_queue_to_about_a_page() {
    const PAGES: u32 = 20;
    const PAGE: u32 = 500;
    let source = Scripted::new();
    let all = |version| {
        (0..PAGES * PAGE)
            .map(|key| item(key, version))
            .collect::<Vec<_>>()
    };
    source.list_ok(all(1), "10");
    source.watch(WatchAnswer::Stream(
        vec![Ok(WatchEvent::Error(Box::new(Status::expired("relist"))))],
        Then::Close,
    ));
    for page in 0..PAGES {
        let items = (page * PAGE..(page + 1) * PAGE)
            .map(|key| item(key, 2))
            .collect();
        let next = (page + 1 < PAGES).then(|| (page + 1).to_string());
        source.list_page(items, "20", next.as_deref());
    }
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));

    let informer_cell = Arc::new(std::sync::OnceLock::new());
    let most_queued = Arc::new(Mutex::new(0usize));
    let (cell, most) = (Arc::clone(&informer_cell), Arc::clone(&most_queued));
    let mut builder = reflector::Informer::builder_with_store(Arc::clone(&source), Cache::new())
        .with_config(
            ReflectorConfig::default()
                .with_page_size(Some(PAGE as usize))
                .with_always_paginate(true),
        );
    builder.add_handler(reflector::HandlerFns::<Item>::new().on_update(move |_, _| {
        if let Some(informer) = cell.get() {
            let informer: &reflector::Informer<Item, Cache<Item>> = informer;
            let queued = informer.metrics().queued_items;
            let mut most = most.lock();
            *most = (*most).max(queued);
        }
    }));
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    let _ = informer_cell.set(informer.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = informer.metrics();
        let at = metrics.store_resource_version;
        if at.as_ref().map(|rv| rv.as_str()) == Some("20") && metrics.queued_items == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "relisted in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    running.await.expect("informer ends");
    assert!(informer.store().list().iter().all(|i| i.version == 2));
    let most = *most_queued.lock();
    // The backlog allowed (1 000) plus the page written before the wait.
    assert!(
        most <= 1_000 + PAGE as usize,
        "the queue held {most} entries"
    );
}
