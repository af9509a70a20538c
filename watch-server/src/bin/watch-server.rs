//! `watch-server`: serves `v1` ConfigMaps in the Kubernetes list/watch protocol from
//! a watch cache, fed by an embedded churning MemoryServer (default) or by etcd.
//!
//! ```text
//! cargo run --release -p watch-server --features bin -- [--listen ADDR] [--objects N]
//!     [--writes-per-sec W] [--window E] [--create-delete] [--etcd URL --prefix P]
//! ```
//!
//! It is built only with the crate's `bin` feature (its log output and Ctrl-C
//! handling are no dependencies of the library); `--etcd` needs `--features bin,etcd`.
//!
//! Its first line on stdout, once it serves, is `listening on http://IP:PORT`. Logs go
//! to stderr at `RUST_LOG`'s level (default `warn`; `RUST_LOG=info` shows syncs and
//! relists, `debug` every request refused and every watch opened).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reflector::{MemoryServer, MemoryServerConfig, Reflector};
use tokio_util::sync::CancellationToken;
use watch_server::{ConfigMap, ServerConfig, WatchCache, WatchCacheConfig, WatchServer};

const USAGE: &str = "usage: watch-server [--listen ADDR] [--objects N] [--writes-per-sec W] \
[--window E] [--create-delete] [--etcd URL --prefix P]

  --listen ADDR        where to serve (default 127.0.0.1:8001; port 0 picks a free port)
  --objects N          ConfigMaps in the embedded source (default 10000)
  --writes-per-sec W   updates per second to existing ConfigMaps (default 100; 0 = none)
  --window E           recent events kept for resuming watches (default 10000); older
                       resource versions answer 410
  --create-delete      the churn also creates and deletes ConfigMaps
  --etcd URL           serve the JSON ConfigMaps under --prefix of this etcd instead
  --prefix P           the etcd key prefix (with --etcd)";

/// The command line.
#[derive(Debug)]
struct Options {
    listen: SocketAddr,
    objects: usize,
    writes_per_sec: u64,
    window: usize,
    create_delete: bool,
    etcd: Option<(String, String)>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 8001)),
        objects: 10_000,
        writes_per_sec: 100,
        window: 10_000,
        create_delete: false,
        etcd: None,
    };
    let mut etcd = None;
    let mut prefix = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let text = value("--listen")?;
                options.listen = text
                    .parse()
                    .map_err(|_| format!("--listen: {text:?} is not an IP:PORT address"))?;
            }
            "--objects" => options.objects = number(&value("--objects")?, "--objects")?,
            "--writes-per-sec" => {
                options.writes_per_sec = number(&value("--writes-per-sec")?, "--writes-per-sec")?;
            }
            "--window" => options.window = number(&value("--window")?, "--window")?,
            "--create-delete" => options.create_delete = true,
            "--etcd" => etcd = Some(value("--etcd")?),
            "--prefix" => prefix = Some(value("--prefix")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    options.etcd = match (etcd, prefix) {
        (Some(url), Some(prefix)) => Some((url, prefix)),
        (None, None) => None,
        _ => return Err("--etcd and --prefix go together".into()),
    };
    Ok(options)
}

fn number<N: std::str::FromStr>(text: &str, name: &str) -> Result<N, String> {
    text.parse()
        .map_err(|_| format!("{name}: {text:?} is not a non-negative integer"))
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("watch-server: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Logs go to stderr, at RUST_LOG's level (default: warnings and errors).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("watch-server: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("watch-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let cache =
        WatchCache::<ConfigMap>::new(WatchCacheConfig::default().with_window(options.window));
    let synced = match &options.etcd {
        Some((url, prefix)) => reflect_etcd(url, prefix, &cache, &shutdown).await?,
        None => {
            let source = MemoryServer::with_config(
                MemoryServerConfig::default().with_history_len(options.window),
            );
            seed(&source, options.objects);
            let reflector = Reflector::new(source.clone(), cache.clone());
            let synced = reflector.handle();
            tokio::spawn(reflector.run(shutdown.clone()));
            if options.writes_per_sec > 0 {
                tokio::spawn(churn(
                    source,
                    options.writes_per_sec,
                    options.create_delete,
                    shutdown.clone(),
                ));
            }
            synced
        }
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", options.listen))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listening address: {error}"))?;
    synced
        .wait_until_synced()
        .await
        .map_err(|error| format!("the cache did not sync: {error}"))?;
    let server = WatchServer::new(ServerConfig::default()).serve(cache);
    let serving = tokio::spawn(server.run(listener, shutdown.clone()));
    println!("listening on http://{address}");
    let _ = std::io::stdout().flush();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let served = serving
        .await
        .map_err(|error| format!("the server task failed: {error}"))?;
    shutdown.cancel();
    served.map_err(|error| format!("serving failed: {error}"))
}

#[cfg(feature = "etcd")]
async fn reflect_etcd(
    url: &str,
    prefix: &str,
    cache: &WatchCache<ConfigMap>,
    shutdown: &CancellationToken,
) -> Result<reflector::ReflectorHandle, String> {
    let config = reflector::EtcdConfig::new([url], prefix);
    let source = reflector::EtcdSource::<ConfigMap>::connect(config)
        .await
        .map_err(|status| format!("cannot use etcd at {url}: {status}"))?;
    let reflector = Reflector::new(source, cache.clone());
    let synced = reflector.handle();
    tokio::spawn(reflector.run(shutdown.clone()));
    Ok(synced)
}

#[cfg(not(feature = "etcd"))]
async fn reflect_etcd(
    _url: &str,
    _prefix: &str,
    _cache: &WatchCache<ConfigMap>,
    _shutdown: &CancellationToken,
) -> Result<reflector::ReflectorHandle, String> {
    Err("built without etcd: cargo run --release -p watch-server --features bin,etcd -- --etcd URL --prefix P".into())
}

/// The namespace of the `index`th ConfigMap: `default` and `team-1`…`team-9`.
fn namespace(index: usize) -> String {
    match index % 10 {
        0 => "default".to_owned(),
        n => format!("team-{n}"),
    }
}

fn configmap(index: usize, generation: u64) -> ConfigMap {
    let mut cm = ConfigMap::new(&namespace(index), &format!("config-{index:06}"))
        .with_label("app", &format!("app-{}", index % 7))
        .with_label(
            "tier",
            if index % 3 == 0 {
                "frontend"
            } else {
                "backend"
            },
        )
        .with_data("generation", &generation.to_string())
        .with_data("written-at-ns", &now_ns().to_string());
    cm.metadata.uid = Some(format!("00000000-0000-4000-8000-{index:012}"));
    cm.metadata.creation_timestamp = Some("2026-01-01T00:00:00Z".to_owned());
    cm.data.insert("settings".to_owned(), settings(index));
    cm
}

/// A few hundred bytes of configuration, like a real ConfigMap's.
fn settings(index: usize) -> String {
    let entries: BTreeMap<String, String> = (0..8)
        .map(|n| (format!("key-{n}"), format!("value-{index}-{n}")))
        .collect();
    entries
        .iter()
        .map(|(key, value)| format!("{key}={value}\n"))
        .collect()
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}

fn seed(source: &MemoryServer<ConfigMap>, objects: usize) {
    for index in 0..objects {
        source.apply(configmap(index, 0));
    }
}

/// Updates existing ConfigMaps at `per_sec` writes a second, in ticks of 10 ms (with
/// `create_delete`, one write in five creates and one in five deletes).
async fn churn(
    source: MemoryServer<ConfigMap>,
    per_sec: u64,
    create_delete: bool,
    shutdown: CancellationToken,
) {
    let tick = Duration::from_millis(10);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = tokio::time::Instant::now();
    let mut written: u64 = 0;
    let mut next_index = source.len();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        let due = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX) * per_sec / 1000;
        while written < due {
            written += 1;
            let roll = fastrand::u8(0..5);
            if create_delete && roll == 0 {
                source.apply(configmap(next_index, 0));
                next_index += 1;
                continue;
            }
            let Some(victim) = pick(&source, next_index) else {
                source.apply(configmap(next_index, 0));
                next_index += 1;
                continue;
            };
            if create_delete && roll == 1 {
                let _ = source.delete(&store_core::Keyed::key(&*victim));
                continue;
            }
            let generation = victim
                .data
                .get("generation")
                .and_then(|text| text.parse::<u64>().ok())
                .unwrap_or(0)
                + 1;
            let mut next = (*victim).clone();
            next.data
                .insert("generation".into(), generation.to_string());
            next.data
                .insert("written-at-ns".into(), now_ns().to_string());
            source.apply(Arc::new(next));
        }
    }
}

/// A random stored ConfigMap (tries a few indexes; deleted ones are skipped).
fn pick(source: &MemoryServer<ConfigMap>, indexes: usize) -> Option<Arc<ConfigMap>> {
    if indexes == 0 {
        return None;
    }
    (0..8).find_map(|_| {
        let index = fastrand::usize(0..indexes);
        let key =
            store_core::ObjectName::namespaced(namespace(index), format!("config-{index:06}"))
                .ok()?;
        source.get(&key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<Options, String> {
        parse(text.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn the_command_line_parses_and_rejects_mistakes() {
        let options =
            args("--listen 127.0.0.1:0 --objects 5 --writes-per-sec 0 --window 7 --create-delete")
                .unwrap();
        assert_eq!(options.listen.port(), 0);
        assert_eq!(
            (options.objects, options.writes_per_sec, options.window),
            (5, 0, 7)
        );
        assert!(options.create_delete);
        assert_eq!(args("").unwrap().listen.port(), 8001);
        for bad in [
            "--objects",
            "--objects -1",
            "--listen nowhere",
            "--etcd http://127.0.0.1:2379",
            "--frobnicate",
        ] {
            assert!(!args(bad).unwrap_err().is_empty(), "{bad}");
        }
        assert_eq!(args("--help").unwrap_err(), "");
    }

    #[test]
    fn seeded_configmaps_spread_over_namespaces() {
        let source = MemoryServer::new();
        seed(&source, 20);
        let namespaces: std::collections::BTreeSet<_> = source
            .snapshot()
            .iter()
            .filter_map(|cm| cm.metadata.namespace.clone())
            .collect();
        assert_eq!(namespaces.len(), 10);
        assert!(namespaces.contains("default"));
        assert!(pick(&source, 20).is_some());
    }
}
