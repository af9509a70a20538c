//! Writers, readers and index queries at once, on both backends: invariants hold
//! while they run, index and store agree afterwards, and nothing deadlocks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use conformance::fixtures::{
    expected_postings, label_index, node_index, Pod, INDEX_PROJECTIONS, LABEL_INDEX, NODE_INDEX,
};
use store_core::{Cache, Indexer, Keyed, ShardedCache, NAMESPACE_INDEX};

const WRITES_PER_WRITER: u64 = 20_000;
const NODES: [&str; 4] = ["n0", "n1", "n2", "n3"];

fn pod_for(writer: u64, i: u64) -> Pod {
    let slot = (i * 7 + writer) % 64;
    Pod::new(["web", "db"][(slot % 2) as usize], &format!("p{slot}"))
        .on(NODES[(i % 4) as usize])
        .labelled(if i % 3 == 0 { &["x", "y"] } else { &["y"] })
        .at(i)
}

/// Index answers must match the objects returned with them on both backends: an
/// object comes back only while it is filed under the value asked for.
fn stress<S: Indexer<Pod> + 'static>(store: S) {
    store.add_index(node_index()).expect("fresh name");
    store.add_index(label_index()).expect("fresh name");
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<&'static str>();
    let mut handles = Vec::new();

    for writer in 0..2u64 {
        let (store, done) = (store.clone(), done_tx.clone());
        handles.push(thread::spawn(move || {
            for i in 0..WRITES_PER_WRITER {
                let pod = pod_for(writer, i);
                if i % 5 == 4 {
                    store.delete(&pod.key());
                } else if writer == 0 && i % 2_000 == 1_999 {
                    let list: Vec<Arc<Pod>> =
                        (0..16).map(|j| pod_for(writer, i + j).arc()).collect();
                    store.replace(list, i).expect("replace");
                } else {
                    store.add(pod).expect("add");
                }
            }
            done.send("writer").ok();
        }));
    }
    for reader in 0..2u64 {
        let (store, stop, done) = (store.clone(), Arc::clone(&stop), done_tx.clone());
        handles.push(thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let key = pod_for(reader, round).key();
                if let Some(pod) = store.get(&key) {
                    assert_eq!(pod.key(), key, "get returned another key's object");
                }
                let node = NODES[(round % 4) as usize];
                for pod in store.by_index(NODE_INDEX, node).expect("registered") {
                    assert_eq!(pod.node.as_deref(), Some(node), "index and store disagree");
                }
                let keys = store.index_keys(LABEL_INDEX, "y").expect("registered");
                assert!(
                    keys.windows(2).all(|w| w[0] < w[1]),
                    "index keys unsorted or repeated"
                );
                let _ = store
                    .list_index_values(NAMESPACE_INDEX)
                    .expect("registered");
            }
            done.send("reader").ok();
        }));
    }
    drop(done_tx);

    // Bounded in time: a writer that has not finished within the limit means a deadlock.
    for _ in 0..2 {
        match done_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(who) => assert_eq!(who, "writer"),
            Err(error) => panic!("writers did not finish within 120 s ({error}): deadlock?"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for _ in 0..2 {
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("readers stop promptly");
    }
    for handle in handles {
        handle.join().expect("no thread panicked");
    }
    assert_indexes_agree_with_store(&store);
}

fn assert_indexes_agree_with_store<S: Indexer<Pod>>(store: &S) {
    let content = store.list();
    assert_eq!(content.len(), store.len());
    for (index, project) in INDEX_PROJECTIONS {
        let expected = expected_postings(project, content.iter().map(|pod| &**pod));
        let values = store.list_index_values(index).expect("registered");
        assert_eq!(
            values,
            expected.keys().cloned().collect::<Vec<_>>(),
            "{index} values"
        );
        for (value, keys) in expected {
            let got = store.index_keys(index, &value).expect("registered");
            assert_eq!(got, keys.into_iter().collect::<Vec<_>>(), "{index}={value}");
        }
    }
}

#[test]
fn cache_survives_concurrent_writers_readers_and_queries() {
    stress(Cache::<Pod>::new());
}

#[test]
fn sharded_cache_survives_concurrent_writers_readers_and_queries() {
    stress(ShardedCache::<Pod>::new());
}

/// One object flips between two nodes while readers ask for the objects on one of
/// them: the answer never holds the object at the other node (regression: the
/// sharded backend read the keys, let go of the index, then fetched whatever the key
/// held by then).
fn index_query_never_answers_an_object_filed_elsewhere<S: Indexer<Pod> + 'static>(store: S) {
    store.add_index(node_index()).expect("fresh name");
    let flipped = |i: u64| {
        Pod::new("web", "flipper")
            .on(["left", "right"][(i % 2) as usize])
            .labelled(&[["x", "y"][(i % 2) as usize]])
            .at(i)
    };
    store.add(flipped(0)).expect("add");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                store.add(flipped(i)).expect("add");
            }
        })
    };
    let probe = Pod::new("web", "probe").on("left");
    for _ in 0..200_000 {
        for pod in store.by_index(NODE_INDEX, "left").expect("registered") {
            assert_eq!(
                pod.node.as_deref(),
                Some("left"),
                "by_index answered {pod:?}"
            );
        }
        for pod in store.matching(NODE_INDEX, &probe).expect("registered") {
            assert_eq!(
                pod.node.as_deref(),
                Some("left"),
                "matching answered {pod:?}"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("the writer did not panic");
}

#[test]
fn cache_index_query_never_answers_an_object_filed_elsewhere() {
    index_query_never_answers_an_object_filed_elsewhere(Cache::<Pod>::new());
}

#[test]
fn sharded_index_query_never_answers_an_object_filed_elsewhere() {
    index_query_never_answers_an_object_filed_elsewhere(ShardedCache::<Pod>::new());
}
