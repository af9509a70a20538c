//! kube mirror: mirrors the ConfigMaps of a Kubernetes cluster into an `Informer`
//! (a `ShardedCache` of k8s-openapi's own `ConfigMap`, no newtype) through
//! `KubeSource`, and prints a live summary every second.
//!
//! ```text
//! cargo run --release -p reflector --example kube_mirror --features kube -- [--server URL] [--streaming] [--duration SECONDS]
//! ```
//!
//! Without `--server` it uses the cluster of the kubeconfig (`$KUBECONFIG`,
//! `~/.kube/config`) or the in-cluster config, as kubectl does; `--server
//! http://127.0.0.1:8001` reads a local `watch-server`. `--streaming` syncs with a
//! streaming list (watch-list) instead of a list. It runs until Ctrl-C, or for
//! `--duration` seconds.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use reflector::{Informer, KubeSource, ReflectorConfig};
use store_core::NAMESPACE_INDEX;
use tokio_util::sync::CancellationToken;

struct Options {
    server: Option<String>,
    streaming: bool,
    duration: Option<Duration>,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        server: None,
        streaming: false,
        duration: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => options.server = Some(args.next().ok_or("--server needs a URL")?),
            "--streaming" => options.streaming = true,
            "--duration" => {
                let seconds = args.next().ok_or("--duration needs a number of seconds")?;
                let seconds: u64 = seconds
                    .parse()
                    .map_err(|_| format!("--duration: {seconds:?} is not a number"))?;
                options.duration = Some(Duration::from_secs(seconds));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("kube_mirror: {message}\nusage: kube_mirror [--server URL] [--streaming] [--duration SECONDS]");
            return ExitCode::from(2);
        }
    };
    let source = match &options.server {
        Some(url) => match url.parse() {
            Ok(url) => KubeSource::<ConfigMap>::from_config(kube::Config::new(url)),
            Err(error) => Err(Box::new(store_core::Status::bad_request(format!(
                "--server {url:?}: {error}"
            )))),
        },
        None => KubeSource::try_default().await,
    };
    let source = match source {
        Ok(source) => source,
        Err(status) => {
            eprintln!("kube_mirror: {status}");
            return ExitCode::FAILURE;
        }
    };
    let mut informer = Informer::builder(source)
        .with_config(ReflectorConfig::default().with_streaming_list(options.streaming))
        .on_error(|error| eprintln!("kube_mirror: {error}"));
    let events = Arc::new(AtomicU64::new(0));
    let (adds, updates, deletes) = (
        Arc::clone(&events),
        Arc::clone(&events),
        Arc::clone(&events),
    );
    informer.on_add(move |_, _| {
        adds.fetch_add(1, Ordering::Relaxed);
    });
    informer.on_update(move |_, _| {
        updates.fetch_add(1, Ordering::Relaxed);
    });
    informer.on_delete(move |_| {
        deletes.fetch_add(1, Ordering::Relaxed);
    });
    let shutdown = CancellationToken::new();
    let (informer, running) = informer.start(shutdown.clone());
    let started = Instant::now();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    tokio::select! {
        synced = informer.wait_until_synced() => {
            if synced.is_err() {
                eprintln!("kube_mirror: stopped before syncing");
                return ExitCode::FAILURE;
            }
        }
        _ = shutdown.cancelled() => return ExitCode::SUCCESS,
    }
    println!(
        "synced {} ConfigMaps in {:.1?} (resource version {})",
        informer.store().len(),
        started.elapsed(),
        informer.last_sync_resource_version().unwrap_or_default()
    );
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut seen = events.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let store = informer.store();
        let mut namespaces: BTreeMap<String, usize> = BTreeMap::new();
        for namespace in store.list_index_values(NAMESPACE_INDEX).unwrap_or_default() {
            let count = store
                .by_index(NAMESPACE_INDEX, &namespace)
                .map(|items| items.len())
                .unwrap_or(0);
            namespaces.insert(namespace, count);
        }
        let busiest: Vec<String> = {
            let mut by_count: Vec<_> = namespaces.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            by_count
                .iter()
                .take(3)
                .map(|(ns, n)| format!("{ns}: {n}"))
                .collect()
        };
        let now = events.load(Ordering::Relaxed);
        println!(
            "{} ConfigMaps in {} namespaces ({}) | {} events/s | resource version {}",
            store.len(),
            namespaces.len(),
            busiest.join(", "),
            now - seen,
            informer.last_sync_resource_version().unwrap_or_default()
        );
        seen = now;
        if options
            .duration
            .is_some_and(|duration| started.elapsed() >= duration)
        {
            shutdown.cancel();
        }
    }
    let _ = running.await;
    println!("done: {} ConfigMaps mirrored", informer.store().len());
    ExitCode::SUCCESS
}
