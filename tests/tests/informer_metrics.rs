//! The informer's and reflector's metrics through the `metrics` facade, read back with
//! metrics-util's debugging recorder (its own test binary: the recorder is global).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use conformance::fixtures::{item, Item};
use conformance::scripted::{Scripted, Then, WatchAnswer};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use reflector::{Informer, WatchEvent};
use store_core::{ResourceVersion, Status};
use tokio_util::sync::CancellationToken;

/// A metric's value, reduced to what the assertions read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(usize),
}

/// One series of a metric: its labels and its value.
type Series = (Vec<(String, String)>, Value);

#[tokio::test(start_paused = true)]
async fn the_informer_publishes_client_go_s_metrics_and_the_reflector_its_restarts() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let source = Scripted::<Item>::new();
    source.list_ok(vec![item(1, 1), item(2, 1)], "41");
    source.watch(WatchAnswer::Stream(
        vec![Ok(WatchEvent::Modified(
            Arc::new(item(1, 2)),
            ResourceVersion::from("42"),
        ))],
        Then::Close,
    ));
    source.watch(WatchAnswer::Stream(
        vec![Ok(WatchEvent::Error(Box::new(Status::expired("old"))))],
        Then::Close,
    ));
    source.list_ok(vec![item(1, 2)], "50");
    source.watch(WatchAnswer::Stream(vec![], Then::Hang));
    let mut builder = Informer::builder(Arc::clone(&source)).with_name("items");
    let handler = builder.on_add(|_, _| {});
    let shutdown = CancellationToken::new();
    let (informer, running) = builder.start(shutdown.clone());
    informer.wait_until_synced().await.expect("synced");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while handler.pending() > 0 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }

    // name -> (labels, value)
    let mut seen: HashMap<String, Vec<Series>> = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let value = match value {
            DebugValue::Counter(n) => Value::Counter(n),
            DebugValue::Gauge(v) => Value::Gauge(v.into_inner()),
            DebugValue::Histogram(samples) => Value::Histogram(samples.len()),
        };
        seen.entry(key.name().to_owned())
            .or_default()
            .push((labels, value));
    }
    let only = |name: &str| -> Value {
        let series = seen
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing: {seen:?}"));
        let (labels, value) = &series[0];
        assert!(
            labels.contains(&("name".to_owned(), "items".to_owned())),
            "{name}: {labels:?}"
        );
        *value
    };
    assert_eq!(only("informer_store_resource_version"), Value::Gauge(50.0));
    assert_eq!(only("informer_queued_items"), Value::Gauge(0.0));
    match only("informer_processing_latency_seconds") {
        Value::Histogram(samples) => assert!(samples >= 3, "{samples} samples"),
        other => panic!("a histogram, not {other:?}"),
    }
    assert!(seen.contains_key("informer_handler_backlog"), "{seen:?}");
    // the reflector is named after its type; its counters carry that name
    let counter = |name: &str| match &seen.get(name).expect(name)[0].1 {
        Value::Counter(n) => *n,
        other => panic!("{name}: a counter, not {other:?}"),
    };
    assert_eq!(counter("reflector_relists_total"), 1);
    assert_eq!(counter("reflector_watch_restarts_total"), 2);
    shutdown.cancel();
    running.await.expect("no panic");
}
