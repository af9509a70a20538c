//! Peak resident memory during a relist, against the steady state, for each store
//! and relist mode (DESIGN §10), each in a fresh process.
//!
//! `relist_memory CONTENDER MODE [N]` (CONTENDER `cache`, `sharded` or `informer`,
//! MODE `default` (the reflector's default configuration), `atomic` or `in-place`, over
//! paginated lists, or `stream-default`, `stream-atomic` or `stream-in-place`, over
//! streaming lists) syncs a reflector (or an informer) from a source that
//! decodes fresh ConfigMaps of about 3 KB for every list, as a real API server's
//! client does, in pages of 500; it reads the steady resident set (`VmRSS`), resets
//! the peak (`/proc/self/clear_refs`), makes the watch answer Expired so that the
//! reflector relists, and once the store holds the relisted objects reads the peak
//! (`VmHWM`). `relist_memory all [N]` runs every combination in a child process, once
//! with glibc's default arenas and once with `MALLOC_ARENA_MAX=1`, and prints a
//! Markdown table. `relist_memory defaults [N]` runs each contender in its default
//! configuration over paginated and streaming lists, with glibc's default arenas and no
//! environment variable, one process per row, in the same table. The reflector runs
//! on a tokio runtime of two workers; `RELIST_CURRENT_THREAD=1` runs it (and the
//! informer) on a current-thread runtime instead, `RELIST_OWN_THREAD=0` turns
//! [`ReflectorConfig::own_thread`] off.

use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use reflector::{
    Informer, ListOptions, ListPage, ListerWatcher, Reflector, ReflectorConfig, ReflectorStore,
    RelistMode, WatchEvent, WatchOptions, WatchStream,
};
use store_bench::object::config_map_at;
use store_bench::ObjectSpec;
use store_core::{Cache, ResourceVersion, ShardedCache, Status, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const CONTENDERS: [&str; 3] = ["cache", "sharded", "informer"];
/// The relist mode, over paginated lists or (`stream-`) streaming lists.
const MODES: [&str; 4] = ["atomic", "in-place", "stream-atomic", "stream-in-place"];
/// The default configuration, over paginated lists or (`stream-`) streaming lists.
const DEFAULT_MODES: [&str; 2] = ["default", "stream-default"];

/// About 3 KB per object: 24 data values of 100 bytes plus the metadata.
fn spec() -> ObjectSpec {
    ObjectSpec {
        namespaces: 100,
        data_entries: 24,
        value_len: 100,
    }
}

/// A source whose every list decodes fresh objects (generation `g` at resource
/// version `g`), and whose first watch answers Expired once told to. A streaming
/// list (a watch asking for initial events) sends the same objects as `Added`
/// events, made as they are polled, then its end marker.
struct Generator {
    count: usize,
    spec: ObjectSpec,
    generation: AtomicU64,
    watches: AtomicUsize,
    relist: Arc<Notify>,
}

impl ListerWatcher<ConfigMap> for Generator {
    async fn list(&self, options: ListOptions) -> Result<ListPage<ConfigMap>, Box<Status>> {
        let start: usize = match &options.continue_token {
            None => {
                self.generation.fetch_add(1, Ordering::SeqCst);
                0
            }
            Some(token) => token
                .parse()
                .map_err(|_| Status::bad_request(format!("bad continue token {token:?}")))?,
        };
        let generation = self.generation.load(Ordering::SeqCst);
        let end = options
            .limit
            .map_or(self.count, |limit| (start + limit).min(self.count));
        let items = (start..end)
            .map(|i| Arc::new(config_map_at(i, generation, &self.spec)))
            .collect();
        Ok(ListPage {
            items,
            resource_version: ResourceVersion::from(generation.to_string()),
            continue_token: (end < self.count).then(|| end.to_string()),
            source_id: None,
        })
    }

    async fn watch(
        &self,
        _resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> Result<WatchStream<ConfigMap>, Box<Status>> {
        if options.send_initial_events {
            let first = self.watches.fetch_add(1, Ordering::SeqCst) == 0;
            let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            let version = ResourceVersion::from(generation.to_string());
            let spec = self.spec.clone();
            let events = futures::stream::iter(0..self.count).map(move |i| {
                let obj = Arc::new(config_map_at(i, generation, &spec));
                Ok(WatchEvent::Added(
                    obj,
                    ResourceVersion::from(generation.to_string()),
                ))
            });
            let end = futures::stream::iter([Ok(WatchEvent::InitialEventsEnd(version))]);
            let relist = Arc::clone(&self.relist);
            let then = futures::stream::once(async move {
                if first {
                    relist.notified().await;
                    Ok(WatchEvent::Error(Box::new(Status::expired("relist now"))))
                } else {
                    futures::future::pending().await
                }
            });
            return Ok(events.chain(end).chain(then).boxed());
        }
        if self.watches.fetch_add(1, Ordering::SeqCst) > 0 {
            return Ok(futures::stream::pending().boxed());
        }
        self.relist.notified().await;
        let expired = WatchEvent::Error(Box::new(Status::expired("relist now")));
        Ok(futures::stream::iter([Ok(expired)]).boxed())
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let contender = args.next().unwrap_or_else(|| "all".to_owned());
    if contender == "all" || contender == "defaults" {
        let Some(count) = parse_count(args.next()) else {
            return ExitCode::FAILURE;
        };
        return if contender == "all" {
            table(count, &MODES, &[None, Some("1")], false)
        } else {
            table(count, &DEFAULT_MODES, &[None], true)
        };
    }
    let mode = args.next().unwrap_or_default();
    let Some(count) = parse_count(args.next()) else {
        return ExitCode::FAILURE;
    };
    let streaming = mode.starts_with("stream-");
    let relist_mode = match mode.trim_start_matches("stream-") {
        "default" => ReflectorConfig::default().relist_mode,
        "atomic" => RelistMode::Atomic,
        "in-place" => RelistMode::InPlace,
        _ => return usage(),
    };
    if !CONTENDERS.contains(&contender.as_str()) {
        return usage();
    }
    match measure(&contender, relist_mode, streaming, count) {
        Some((steady, peak)) => {
            println!("RESULT {contender} {mode} {count} {steady} {peak}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("/proc/self/status or /proc/self/clear_refs unusable");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: relist_memory all|defaults [N] | relist_memory {} {}|{} [N]",
        CONTENDERS.join("|"),
        DEFAULT_MODES.join("|"),
        MODES.join("|")
    );
    ExitCode::FAILURE
}

fn parse_count(arg: Option<String>) -> Option<usize> {
    match arg.map(|n| n.parse::<usize>()) {
        None => Some(100_000),
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            usage();
            None
        }
    }
}

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak resident set to the current one (Linux `clear_refs` value 5).
fn reset_peak() -> Option<()> {
    std::fs::write("/proc/self/clear_refs", "5").ok()
}

/// Steady and peak resident bytes of one relist.
fn measure(contender: &str, mode: RelistMode, streaming: bool, count: usize) -> Option<(u64, u64)> {
    // `RELIST_CURRENT_THREAD=1`: everything on one thread, so that the first list and
    // the relist allocate from the same glibc arena.
    let runtime = if std::env::var_os("RELIST_CURRENT_THREAD").is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .ok()?
    };
    runtime.block_on(async {
        let source = Arc::new(Generator {
            count,
            spec: spec(),
            generation: AtomicU64::new(0),
            watches: AtomicUsize::new(0),
            relist: Arc::new(Notify::new()),
        });
        let own_thread = std::env::var_os("RELIST_OWN_THREAD").is_none_or(|value| value != "0");
        let config = ReflectorConfig::default()
            .with_relist_mode(mode)
            .with_streaming_list(streaming)
            .with_own_thread(own_thread);
        let shutdown = CancellationToken::new();
        // Whether the store holds the list at this version.
        let at: Box<dyn Fn(&str) -> bool> = match contender {
            "cache" => reflect(&source, Cache::<ConfigMap>::new(), config, &shutdown),
            "sharded" => reflect(&source, ShardedCache::<ConfigMap>::new(), config, &shutdown),
            _ => {
                let (informer, _running) = Informer::builder(Arc::clone(&source))
                    .with_config(config)
                    .start(shutdown.clone());
                Box::new(move |version| {
                    let metrics = informer.metrics();
                    metrics.queued_items == 0
                        && metrics
                            .store_resource_version
                            .as_ref()
                            .map(|rv| rv.as_str())
                            == Some(version)
                })
            }
        };
        wait_for(|| at("1")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (steady, _) = memory()?;
        reset_peak()?;
        source.relist.notify_one();
        wait_for(|| at("2")).await;
        let (_, peak) = memory()?;
        shutdown.cancel();
        Some((steady, peak))
    })
}

/// A reflector into `store`; answers whether the store holds the list at a version.
fn reflect<S>(
    source: &Arc<Generator>,
    store: S,
    config: ReflectorConfig,
    shutdown: &CancellationToken,
) -> Box<dyn Fn(&str) -> bool>
where
    S: ReflectorStore<ConfigMap> + Store<ConfigMap> + Clone,
{
    let reflector = Reflector::new(Arc::clone(source), store.clone()).with_config(config);
    tokio::spawn(reflector.run(shutdown.clone()));
    Box::new(move |version| {
        store
            .last_sync_resource_version()
            .is_some_and(|rv| rv.as_str() == version)
    })
}

async fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One row per contender, mode and malloc arena setting, each in a child process;
/// `defaults`: without this program's own environment variables either.
fn table(
    count: usize,
    modes: &[&str],
    arena_settings: &[Option<&str>],
    defaults: bool,
) -> ExitCode {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("cannot find this program to run it per contender");
        return ExitCode::FAILURE;
    };
    println!(
        "| {count} × ~3 KB, relist | malloc arenas | steady RSS | peak RSS in the relist | peak ÷ steady |"
    );
    println!("|---|---|---:|---:|---:|");
    let mut failed = false;
    for contender in CONTENDERS {
        for (mode, arenas) in modes
            .iter()
            .flat_map(|&mode| arena_settings.iter().map(move |&arenas| (mode, arenas)))
        {
            let mut command = Command::new(&exe);
            command.args([contender, mode, &count.to_string()]);
            if defaults {
                command
                    .env_remove("RELIST_CURRENT_THREAD")
                    .env_remove("RELIST_OWN_THREAD");
            }
            match arenas {
                None => command.env_remove("MALLOC_ARENA_MAX"),
                Some(max) => command.env("MALLOC_ARENA_MAX", max),
            };
            let output = command.output();
            let line = output.ok().and_then(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .find_map(|line| line.strip_prefix("RESULT ").map(str::to_owned))
            });
            let Some(line) = line else {
                eprintln!("{contender} {mode}: no result");
                failed = true;
                continue;
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(steady), Some(peak)) = (
                fields.get(3).and_then(|v| v.parse::<u64>().ok()),
                fields.get(4).and_then(|v| v.parse::<u64>().ok()),
            ) else {
                eprintln!("{contender} {mode}: unreadable result {line:?}");
                failed = true;
                continue;
            };
            let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
            println!(
                "| {contender} {mode} | {} | {:.0} MiB | {:.0} MiB | **{:.2}** |",
                arenas.map_or("default".to_owned(), |max| format!(
                    "MALLOC_ARENA_MAX={max}"
                )),
                mib(steady),
                mib(peak),
                peak as f64 / steady as f64
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
