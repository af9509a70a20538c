//! What the watch-server tests share: an in-process server on a churnable
//! MemoryServer, a raw HTTP/1.1 client, and the real clients' presence checks.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use reflector::{MemoryServer, MemoryServerConfig, Reflector, ReflectorConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use watch_server::{ConfigMap, ServerConfig, WatchCache, WatchCacheConfig, WatchServer};

/// A watch-server on loopback, fed from a MemoryServer by a Reflector.
pub struct TestServer {
    pub address: SocketAddr,
    pub source: MemoryServer<ConfigMap>,
    pub cache: WatchCache<ConfigMap>,
    pub server: WatchServer,
    pub shutdown: CancellationToken,
    server_stop: CancellationToken,
    serving: Option<JoinHandle<std::io::Result<()>>>,
    pub server_config: ServerConfig,
}

/// `n` ConfigMaps over namespaces `default`, `team-1`, `team-2`; every third is
/// labelled `tier=frontend`.
pub fn configmap(index: usize, generation: u64) -> ConfigMap {
    let namespace = match index % 3 {
        0 => "default".to_owned(),
        n => format!("team-{n}"),
    };
    ConfigMap::new(&namespace, &format!("cm-{index:05}"))
        .with_label(
            "tier",
            if index % 3 == 0 {
                "frontend"
            } else {
                "backend"
            },
        )
        .with_data("generation", &generation.to_string())
}

impl TestServer {
    pub async fn start(objects: usize) -> TestServer {
        Self::start_with(
            objects,
            WatchCacheConfig::default(),
            ServerConfig::default(),
        )
        .await
    }

    pub async fn start_with(
        objects: usize,
        cache_config: WatchCacheConfig,
        server_config: ServerConfig,
    ) -> TestServer {
        let source = MemoryServer::with_config(
            MemoryServerConfig::default().with_history_len(cache_config.window.max(1)),
        );
        for index in 0..objects {
            source.create(configmap(index, 0)).unwrap();
        }
        let cache = WatchCache::new(cache_config);
        let shutdown = CancellationToken::new();
        let reflector = Reflector::new(source.clone(), cache.clone())
            .with_config(ReflectorConfig::default().with_min_watch_duration(Duration::ZERO));
        let synced = reflector.handle();
        tokio::spawn(reflector.run(shutdown.clone()));
        synced.wait_until_synced().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = WatchServer::new(server_config.clone()).serve(cache.clone());
        let server_stop = shutdown.child_token();
        let serving = tokio::spawn(server.clone().run(listener, server_stop.clone()));
        TestServer {
            address,
            source,
            cache,
            server,
            shutdown,
            server_stop,
            serving: Some(serving),
            server_config,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the HTTP server (every stream ends), keeping the cache and its reflector.
    pub async fn stop_http(&mut self) {
        self.server_stop.cancel();
        if let Some(serving) = self.serving.take() {
            serving.await.unwrap().unwrap();
        }
    }

    /// Starts the HTTP server again on the same address.
    pub async fn restart_http(&mut self) {
        self.stop_http().await;
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.server = WatchServer::new(self.server_config.clone()).serve(self.cache.clone());
        self.server_stop = self.shutdown.child_token();
        self.serving = Some(tokio::spawn(
            self.server.clone().run(listener, self.server_stop.clone()),
        ));
    }

    /// Updates ConfigMap `index` to `generation`; answers the write's version.
    pub fn write(&self, index: usize, generation: u64) -> u64 {
        self.source
            .apply(configmap(index, generation))
            .as_str()
            .parse()
            .unwrap()
    }

    /// Waits until the cache has applied version `rv`.
    pub async fn cache_reaches(&self, rv: u64) {
        for _ in 0..500 {
            if self.cache.resource_version() >= rv {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the cache did not reach {rv} (at {})",
            self.cache.resource_version()
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An HTTP answer: status, headers (lower-cased names), body (de-chunked).
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }

    /// The body's lines as JSON (a watch).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.body
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))
            })
            .collect()
    }
}

/// Sends `GET target` (path and query exactly as given, no Accept or User-Agent
/// header) and reads the whole answer, within `limit`.
pub async fn get(address: SocketAddr, target: &str, limit: Duration) -> Answer {
    tokio::time::timeout(limit, async {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        parse_answer(&raw)
    })
    .await
    .unwrap_or_else(|_| panic!("GET {target} took longer than {limit:?}"))
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// The path of a real client program, or a panic saying how to install it (the
/// README's test command installs them; these tests are never skipped).
pub fn require(program: &str) -> String {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    found.unwrap_or_else(|| {
        panic!("{program} is not installed: run scripts/test.sh (it installs what the tests need)")
    })
}

pub fn names(items: &[serde_json::Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `(namespace, name, data.generation)` of every object: what convergence compares.
pub type Content = std::collections::BTreeSet<(String, String, String)>;

/// What the source holds.
pub fn source_content(server: &TestServer) -> Content {
    server
        .source
        .snapshot()
        .iter()
        .map(|cm| {
            (
                cm.metadata.namespace.clone().unwrap_or_default(),
                cm.metadata.name.clone(),
                cm.data["generation"].clone(),
            )
        })
        .collect()
}

/// `(namespace, name, data.generation)` of a k8s-openapi ConfigMap.
pub fn kube_row(cm: &k8s_openapi::api::core::v1::ConfigMap) -> (String, String, String) {
    (
        cm.metadata.namespace.clone().unwrap_or_default(),
        cm.metadata.name.clone().unwrap_or_default(),
        cm.data
            .as_ref()
            .and_then(|data| data.get("generation").cloned())
            .unwrap_or_default(),
    )
}

/// What a client holds, as k8s-openapi ConfigMaps.
pub fn kube_content<'a>(
    configmaps: impl IntoIterator<Item = &'a k8s_openapi::api::core::v1::ConfigMap>,
) -> Content {
    configmaps.into_iter().map(kube_row).collect()
}

/// Waits (up to 30 s) until `content` equals the source's; panics with the difference.
pub async fn converges(what: &str, server: &TestServer, content: impl Fn() -> Content) {
    for _ in 0..300 {
        if content() == source_content(server) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (got, expected) = (content(), source_content(server));
    panic!(
        "{what} did not converge: {} objects, {} expected; missing {:?}; extra {:?}",
        got.len(),
        expected.len(),
        expected.difference(&got).take(3).collect::<Vec<_>>(),
        got.difference(&expected).take(3).collect::<Vec<_>>()
    );
}

/// `writes` paced updates over ConfigMaps 0..100 (creating those not there yet).
pub async fn churn(server: &TestServer, writes: u64, from_generation: u64) {
    for n in 0..writes {
        server.write(usize::try_from(n * 7 % 100).unwrap(), from_generation + n);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
