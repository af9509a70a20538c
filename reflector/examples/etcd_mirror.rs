//! etcd mirror: keeps a `ShardedCache` in sync with the Kubernetes-shaped JSON
//! objects under one etcd key prefix, and prints every change as it happens, with a
//! progress line while the initial list runs.
//!
//! ```text
//! cargo run --example etcd_mirror --features etcd -- \
//!     --endpoints http://127.0.0.1:2379 --prefix /registry/configmaps/
//! ```
//!
//! Options: `--endpoints URL[,URL...]` (default `http://127.0.0.1:2379`),
//! `--prefix PREFIX` (default `/registry/configmaps/`), `--user NAME:PASSWORD`,
//! `--seed N` (first write N sample objects under the prefix), `--duration SECONDS`
//! (stop after that long; default: run until Ctrl-C).
//!
//! An object is any JSON object with `metadata.name` (and, optionally,
//! `metadata.namespace`) stored under `<prefix><namespace>/<name>`; try
//!
//! ```text
//! etcdctl put /registry/configmaps/default/hello \
//!     '{"metadata":{"namespace":"default","name":"hello"},"data":{"greeting":"hi"}}'
//! ```
//!
//! A value that is not such an object is reported and skipped.

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reflector::sources::etcd::{EtcdConfig, EtcdSource};
use reflector::{
    Informer, ListOptions, ListPage, ListerWatcher, ReflectorConfig, WatchOptions, WatchStream,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store_core::{DeletedObject, Keyed, ResourceVersion, Status};
use tokio_util::sync::CancellationToken;

/// A Kubernetes-shaped object: its key is `metadata.namespace`/`metadata.name`,
/// everything else is kept as it came.
#[derive(Keyed, Debug, Serialize, Deserialize)]
#[keyed(namespace = "metadata.namespace", name = "metadata.name")]
struct Object {
    metadata: ObjectMeta,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    name: String,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl Object {
    /// The object's JSON, cut to `max` characters for one line of output.
    fn summary(&self, max: usize) -> String {
        let json = serde_json::to_string(&self.rest).unwrap_or_default();
        match json.char_indices().nth(max) {
            Some((cut, _)) => format!("{}…", &json[..cut]),
            None => json,
        }
    }
}

/// The command line.
struct Args {
    endpoints: Vec<String>,
    prefix: String,
    user: Option<(String, String)>,
    seed: u64,
    duration: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        endpoints: vec!["http://127.0.0.1:2379".to_owned()],
        prefix: "/registry/configmaps/".to_owned(),
        user: None,
        seed: 0,
        duration: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let mut value = || words.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoints" => args.endpoints = value()?.split(',').map(str::to_owned).collect(),
            "--prefix" => args.prefix = value()?,
            "--user" => {
                let value = value()?;
                let (name, password) = value.split_once(':').ok_or("--user takes NAME:PASSWORD")?;
                args.user = Some((name.to_owned(), password.to_owned()));
            }
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--duration" => {
                let seconds: f64 = value()?.parse().map_err(|e| format!("--duration: {e}"))?;
                args.duration = Some(Duration::from_secs_f64(seconds.max(0.0)));
            }
            "--help" | "-h" => {
                return Err(
                    "usage: etcd_mirror [--endpoints URL,...] [--prefix PREFIX] \
                     [--user NAME:PASSWORD] [--seed N] [--duration SECONDS]"
                        .to_owned(),
                )
            }
            other => return Err(format!("unknown option {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// Passes list and watch calls through, printing a progress line for every page of
/// a list.
struct ListProgress<L> {
    inner: L,
    /// How many keys the prefix held when we started (for "n of total").
    total: u64,
    /// Objects listed so far in the current list.
    listed: Arc<AtomicU64>,
}

impl<L: ListerWatcher<Object>> ListerWatcher<Object> for ListProgress<L> {
    fn list(
        &self,
        options: ListOptions,
    ) -> impl Future<Output = Result<ListPage<Object>, Box<Status>>> + Send {
        let first_page = options.continue_token.is_none();
        let page = self.inner.list(options);
        let (listed, total) = (Arc::clone(&self.listed), self.total);
        async move {
            if first_page {
                listed.store(0, Ordering::Relaxed);
            }
            let page = page.await?;
            let so_far = listed.fetch_add(page.items.len() as u64, Ordering::Relaxed)
                + page.items.len() as u64;
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\rlisting at revision {}: {so_far} of ~{total} objects{}",
                page.resource_version,
                if page.continue_token.is_none() {
                    "\n"
                } else {
                    ""
                }
            );
            let _ = err.flush();
            Ok(page)
        }
    }

    fn watch(
        &self,
        resource_version: ResourceVersion,
        options: WatchOptions,
    ) -> impl Future<Output = Result<WatchStream<Object>, Box<Status>>> + Send {
        self.inner.watch(resource_version, options)
    }
}

/// A sample object for `--seed`.
fn sample(i: u64) -> Object {
    let data = serde_json::json!({ "index": i.to_string(), "payload": "x".repeat(64) });
    Object {
        metadata: ObjectMeta {
            namespace: Some(format!("team-{}", i % 10)),
            name: format!("sample-{i:06}"),
            rest: Map::new(),
        },
        rest: Map::from_iter([("data".to_owned(), data)]),
    }
}

/// Waits (up to 10 s) for etcd to answer, for an etcd started just before us.
async fn wait_for_etcd(source: &EtcdSource<Object>) -> Result<(), Box<Status>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match source.count().await {
            Ok(_) => return Ok(()),
            Err(status) if status.is_service_unavailable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => return Err(status),
        }
    }
}

async fn run(args: Args) -> Result<(), Box<Status>> {
    let config = EtcdConfig::new(args.endpoints.clone(), args.prefix.clone()).with_user(args.user);
    let source = EtcdSource::<Object>::connect(config)
        .await?
        .on_decode_error(|error| println!("SKIPPED  {error}"));

    wait_for_etcd(&source).await?;
    if args.seed > 0 {
        let objects: Vec<Object> = (0..args.seed).map(sample).collect();
        let started = Instant::now();
        source.writer().put_all(&objects).await?;
        println!(
            "seeded {} objects under {} in {:.2?}",
            args.seed,
            args.prefix,
            started.elapsed()
        );
    }
    let (total, revision) = source.count().await?;
    println!(
        "mirroring {} from {} (etcd at revision {revision}, {total} keys under the prefix)",
        args.prefix,
        args.endpoints.join(",")
    );

    let listed = Arc::new(AtomicU64::new(0));
    let progress = ListProgress {
        inner: source.clone(),
        total,
        listed,
    };
    let mut informer = Informer::builder(progress)
        .with_config(ReflectorConfig::default())
        .on_error(|error| eprintln!("reflector: {error}"));
    let _registration = informer.add_handler(
        reflector::HandlerFns::new()
            .on_add(|object: &Arc<Object>, initial_list| {
                if !initial_list {
                    println!("ADDED    {}  {}", object.key(), object.summary(100));
                }
            })
            .on_update(|_, object| println!("MODIFIED {}  {}", object.key(), object.summary(100)))
            .on_delete(|deleted| match deleted {
                DeletedObject::Final(object) => println!("DELETED  {}", object.key()),
                DeletedObject::Unknown { key, .. } => {
                    println!("DELETED  {key} (missed while disconnected)")
                }
            }),
    );
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let (informer, running) = informer.start(shutdown.clone());

    // Stop after `--duration`, or at Ctrl-C.
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            match args.duration {
                Some(duration) => tokio::time::sleep(duration).await,
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            shutdown.cancel();
        }
    });
    tokio::select! {
        synced = informer.wait_until_synced() => match synced {
            Ok(()) => {
                let elapsed = started.elapsed();
                let objects = informer.store().len();
                println!(
                    "synced {objects} objects at revision {} in {elapsed:.2?} ({:.0} objects/s); \
                     watching for changes",
                    informer.last_sync_resource_version().map(|rv| rv.to_string()).unwrap_or_default(),
                    objects as f64 / elapsed.as_secs_f64().max(1e-9),
                );
            }
            // It stops before syncing only once `shutdown` is cancelled.
            Err(error) => eprintln!("etcd_mirror: {error}"),
        },
        _ = shutdown.cancelled() => {}
    }
    shutdown.cancelled().await;
    if let Err(error) = running.await {
        eprintln!("the informer task failed: {error}");
    }
    println!(
        "stopped: {} objects in the cache, {} values skipped",
        informer.store().len(),
        source.decode_errors()
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(status) = run(args).await {
        eprintln!("etcd_mirror: {status}");
        std::process::exit(1);
    }
}
