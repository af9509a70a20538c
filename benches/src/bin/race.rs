//! The race: kube-runtime (`watcher` + `reflector` + `Store`) against `KubeSource`
//! + `Reflector` + `Cache` (and the `Informer`), each reading the same watch-server.
//!
//! ```text
//! cargo build --release -p watch-server --features bin
//! cargo run --release -p store-bench --bin race -- [--server target/release/watch-server] [--objects 100000] [--writes 2000] [--seconds 10]
//! ```
//!
//! It starts the watch-server binary (`--objects` ConfigMaps of ~0.8 KB, churning at
//! `--writes` updates/s), then runs every contender in a child process of its own —
//! so RSS and CPU are the contender's alone — in both sync modes (list+watch, and
//! streaming lists). Each child prints one line of figures: the initial-sync time,
//! the peak RSS of the process after it (VmHWM), then for `--seconds` of churn the
//! events applied and the CPU time per event (utime + stime of the process), then the
//! median `get` of 100 000 random keys on the resulting store.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::{self as kube_reflector, ObjectRef as KubeRef};
use kube::runtime::{watcher, WatchStreamExt};
use reflector::{
    Change, Informer, KubeSource, Reflector, ReflectorConfig, ReflectorStore, StoreError,
};
use store_core::{Cache, ObjectNameRef, ResourceVersion, Store};
use tokio_util::sync::CancellationToken;

/// `kube-client floor`: kube-client's list and watch alone, decoded and dropped — what
/// every contender pays before its store does anything.
const CONTENDERS: [&str; 4] = [
    "kube-client floor",
    "kube-runtime",
    "Reflector+Cache",
    "Informer",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1))
            .cloned()
    };
    if let Some(contender) = value("--contender") {
        let url = value("--url").expect("--url");
        let streaming = args.iter().any(|arg| arg == "--streaming");
        let seconds: u64 = value("--seconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10);
        let objects: usize = value("--objects")
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let line = runtime.block_on(contend(&contender, &url, streaming, seconds, objects));
        println!("{line}");
        return;
    }
    let server = value("--server").unwrap_or_else(|| "target/release/watch-server".into());
    let objects = value("--objects").unwrap_or_else(|| "100000".into());
    let writes = value("--writes").unwrap_or_else(|| "2000".into());
    let seconds = value("--seconds").unwrap_or_else(|| "10".into());
    let mut child = Command::new(&server)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--objects",
            &objects,
            "--writes-per-sec",
            &writes,
            "--window",
            "200000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start {server}: {error} (cargo build --release -p watch-server --features bin)")
        });
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .expect("the listening line")
        .to_owned();
    println!("watch-server at {url}: {objects} ConfigMaps, {writes} updates/s; {seconds} s of churn per contender");
    println!();
    println!("| contender | sync mode | initial sync | peak RSS | events/s applied | CPU per event | get (median) |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let me = std::env::current_exe().expect("the probe's path");
    for streaming in [false, true] {
        for contender in CONTENDERS {
            let mut command = Command::new(&me);
            command.args([
                "--contender",
                contender,
                "--url",
                &url,
                "--seconds",
                &seconds,
                "--objects",
                &objects,
            ]);
            if streaming {
                command.arg("--streaming");
            }
            let output = command.output().expect("the contender runs");
            let line = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                eprintln!("{contender}: {}", String::from_utf8_lossy(&output.stderr));
            }
            print!("{line}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// utime + stime of this process, in seconds.
fn cpu_seconds() -> f64 {
    store_bench::process::cpu_seconds(None)
}

/// VmHWM (peak RSS) of this process, in MiB.
fn peak_rss_mib() -> f64 {
    store_bench::process::memory_mib(None, "VmHWM")
}

/// A `Cache` that counts the watch events applied to it.
#[derive(Clone)]
struct Counted {
    cache: Cache<ConfigMap>,
    events: Arc<AtomicU64>,
}

impl ReflectorStore<ConfigMap> for Counted {
    fn apply(&self, change: Change<ConfigMap>) -> Result<(), StoreError> {
        if let Change::Added(..) | Change::Modified(..) | Change::Deleted(..) = change {
            self.events.fetch_add(1, Ordering::Relaxed);
        }
        self.cache.apply(change)
    }
}

/// The keys to look up: namespace and name of the watch-server binary's objects.
fn keys(objects: usize) -> Vec<(String, String)> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let index = usize::try_from(state % objects as u64).unwrap_or(0);
            let namespace = if index % 10 == 0 {
                "default".to_owned()
            } else {
                format!("team-{}", index % 10)
            };
            (namespace, format!("config-{index:06}"))
        })
        .collect()
}

/// The median of 10 rounds of `lookups` gets, per get.
fn median_get(keys: &[(String, String)], mut get: impl FnMut(&str, &str) -> bool) -> Duration {
    let mut rounds: Vec<Duration> = (0..10)
        .map(|_| {
            let started = Instant::now();
            let found = keys.iter().filter(|(ns, name)| get(ns, name)).count();
            assert!(found > keys.len() / 2, "the keys exist");
            started.elapsed() / u32::try_from(keys.len()).unwrap_or(1)
        })
        .collect();
    rounds.sort();
    rounds[rounds.len() / 2]
}

/// At the end of the initial sync: its time, the peak RSS so far, the CPU time the
/// churn phase starts from; the event count starts afresh.
fn synced(started: Instant, events: &AtomicU64) -> (Duration, f64, f64) {
    let sync = started.elapsed();
    let rss = peak_rss_mib();
    events.store(0, Ordering::Relaxed);
    (sync, rss, cpu_seconds())
}

fn source(url: &str) -> KubeSource<ConfigMap> {
    KubeSource::from_config(kube::Config::new(url.parse().expect("a URL"))).expect("a client")
}

async fn contend(
    contender: &str,
    url: &str,
    streaming: bool,
    seconds: u64,
    objects: usize,
) -> String {
    let started = Instant::now();
    let events = Arc::new(AtomicU64::new(0));
    let shutdown = CancellationToken::new();
    let keys = keys(objects);
    let (sync, rss, cpu_before, get): (Duration, f64, f64, Box<dyn Fn() -> Duration>);
    match contender {
        "kube-runtime" => {
            let mut config = kube::Config::new(url.parse().expect("a URL"));
            config.default_retry = false;
            let client = kube::Client::try_from(config).expect("a client");
            let api: kube::Api<ConfigMap> = kube::Api::all(client);
            let (reader, writer) = kube_reflector::store();
            let mut watcher_config = watcher::Config::default();
            if streaming {
                watcher_config = watcher_config.streaming_lists();
            }
            let counter = Arc::clone(&events);
            let stream =
                kube_reflector::reflector(writer, watcher(api, watcher_config)).default_backoff();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        item = stream.next() => match item {
                            Some(Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))) => {
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(_) => {}
                            None => return,
                        },
                    }
                }
            });
            reader.wait_until_ready().await.expect("the watcher syncs");
            (sync, rss, cpu_before) = synced(started, &events);
            get = Box::new(move || {
                median_get(&keys, |ns, name| {
                    reader.get(&KubeRef::new(name).within(ns)).is_some()
                })
            });
        }
        "kube-client floor" => {
            let source = source(url);
            // kube-client's own list: the body read whole, then decoded.
            let list = source
                .api()
                .list(&kube::api::ListParams::default().match_any())
                .await
                .expect("the list");
            let rv =
                ResourceVersion::from(list.metadata.resource_version.clone().unwrap_or_default());
            sync = started.elapsed();
            drop(list);
            rss = peak_rss_mib();
            let options = reflector::WatchOptions {
                timeout: Some(Duration::from_secs(seconds + 30)),
                ..Default::default()
            };
            let mut stream = reflector::ListerWatcher::watch(&source, rv, options)
                .await
                .expect("the watch");
            let counter = Arc::clone(&events);
            let stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        item = stream.next() => match item {
                            Some(Ok(_)) => { counter.fetch_add(1, Ordering::Relaxed); }
                            _ => return,
                        },
                    }
                }
            });
            cpu_before = cpu_seconds();
            get = Box::new(|| Duration::ZERO);
        }
        "Reflector+Cache" => {
            let cache = Cache::<ConfigMap>::new();
            let store = Counted {
                cache: cache.clone(),
                events: Arc::clone(&events),
            };
            let reflector = Reflector::new(source(url), store)
                .with_config(ReflectorConfig::default().with_streaming_list(streaming));
            let handle = reflector.handle();
            tokio::spawn(reflector.run(shutdown.clone()));
            handle
                .wait_until_synced()
                .await
                .expect("the reflector syncs");
            (sync, rss, cpu_before) = synced(started, &events);
            get = Box::new(move || {
                median_get(&keys, |ns, name| {
                    cache.get(&ObjectNameRef::new(Some(ns), name)).is_some()
                })
            });
        }
        _ => {
            let mut informer = Informer::builder(source(url))
                .with_config(ReflectorConfig::default().with_streaming_list(streaming));
            let counter = Arc::clone(&events);
            informer.on_update(move |_, _| {
                counter.fetch_add(1, Ordering::Relaxed);
            });
            let (informer, running) = informer.start(shutdown.clone());
            informer
                .wait_until_synced()
                .await
                .expect("the informer syncs");
            (sync, rss, cpu_before) = synced(started, &events);
            let store = informer.store().clone();
            drop(running);
            get = Box::new(move || {
                median_get(&keys, |ns, name| {
                    store.get(&ObjectNameRef::new(Some(ns), name)).is_some()
                })
            });
        }
    }
    let churn_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let applied = events.load(Ordering::Relaxed) as f64;
    let cpu = cpu_seconds() - cpu_before;
    let elapsed = churn_started.elapsed().as_secs_f64();
    shutdown.cancel();
    let get = get();
    format!(
        "| {contender} | {} | {:.2} s | {:.0} MiB | {:.0} | {:.1} µs | {} |",
        if streaming {
            "streaming list"
        } else {
            "list+watch"
        },
        sync.as_secs_f64(),
        rss,
        applied / elapsed,
        if applied > 0.0 {
            cpu / applied * 1e6
        } else {
            f64::NAN
        },
        if get.is_zero() {
            "—".to_owned()
        } else {
            format!("{} ns", get.as_nanos())
        }
    )
}
