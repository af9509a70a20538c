//! [`EtcdServer`]: a real, single-member `etcd` for tests, on loopback ports in a
//! temporary directory; [`Partition`]: a loopback TCP proxy in front of it that a
//! test can cut, to disconnect a client while etcd keeps running.
//!
//! The server is Debian's `etcd-server` (or whatever `$ETCD_BIN` names), started
//! with fast raft timings (`--heartbeat-interval=10 --election-timeout=100`), so it
//! is serving within a fraction of a second. It listens on 127.0.0.1 only, on two
//! free ports, and keeps its data (and its log, `etcd.log`) in a temporary
//! directory. Dropping the [`EtcdServer`] kills the process by its id (SIGKILL) and
//! removes the directory — also when the test panics, since the drop runs while the
//! panic unwinds.
//!
//! This is test support: setup failures panic, with the end of etcd's log in the
//! message.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, CompactionOptions, ConnectOptions, GetOptions};
use parking_lot::Mutex;
use tempfile::TempDir;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a start (or restart) may take before the harness gives up.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many times a start is tried with fresh ports (another process may take a
/// port between the harness finding it free and etcd binding it).
const START_ATTEMPTS: usize = 3;

/// Settings of an [`EtcdServer`].
#[derive(Debug, Clone)]
pub struct EtcdServerOptions {
    /// The `etcd` binary: `$ETCD_BIN`, else `etcd` on the `PATH`.
    pub binary: PathBuf,
    /// etcd's `--experimental-watch-progress-notify-interval`: how often an idle
    /// watch that asked for progress notifications gets one. `None` keeps etcd's
    /// default (10 minutes).
    pub progress_notify_interval: Option<Duration>,
}

impl Default for EtcdServerOptions {
    fn default() -> Self {
        EtcdServerOptions {
            binary: std::env::var_os("ETCD_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("etcd")),
            progress_notify_interval: None,
        }
    }
}

/// A running `etcd` process; see the [module documentation](self).
pub struct EtcdServer {
    options: EtcdServerOptions,
    dir: TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
    /// `--initial-cluster-token`, when a cluster was recreated under a new one.
    cluster_token: Option<String>,
}

impl EtcdServer {
    /// Starts etcd with the default options and waits until it serves requests.
    pub async fn start() -> EtcdServer {
        Self::start_with(EtcdServerOptions::default()).await
    }

    /// Starts etcd with `options` and waits until it serves requests.
    pub async fn start_with(options: EtcdServerOptions) -> EtcdServer {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("etcd-test-")
                .tempdir()
                .unwrap_or_else(|error| panic!("cannot create a temporary directory: {error}"));
            let (client_port, peer_port) = free_ports();
            let mut server = EtcdServer {
                options: options.clone(),
                dir,
                client_port,
                peer_port,
                child: None,
                cluster_token: None,
            };
            match server.launch().await {
                Ok(()) => return server,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("etcd did not start:\n{}", failures.join("\n---\n"));
    }

    /// The client URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.client_port
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The data directory (kept across [`restart`](Self::restart)s).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A new client of this server (connections are made lazily).
    pub async fn client(&self) -> Client {
        Client::connect(
            [self.endpoint()],
            Some(
                ConnectOptions::new()
                    .with_connect_timeout(Duration::from_secs(2))
                    .with_timeout(Duration::from_secs(10)),
            ),
        )
        .await
        .unwrap_or_else(|error| panic!("cannot build an etcd client: {error}"))
    }

    /// Kills etcd with SIGKILL (by its process id) and waits for it to exit; the
    /// data directory stays for [`restart`](Self::restart).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL to this child's pid; an already exited child
            // answers an error that means the same thing.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same data directory and ports (after
    /// [`kill9`](Self::kill9)) and waits until it serves requests.
    pub async fn restart(&mut self) {
        self.kill9();
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match self.launch().await {
                Ok(()) => return,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("etcd did not restart:\n{}", failures.join("\n---\n"));
    }

    /// Replaces the cluster by a new, empty one on the same ports (what restoring an
    /// older backup or recreating a lost cluster looks like to a client): kills etcd,
    /// wipes its data directory and starts a fresh cluster bootstrapped with
    /// `cluster_token` (etcd derives the cluster id from it, so the new cluster has
    /// another id).
    pub async fn recreate(&mut self, cluster_token: &str) {
        self.kill9();
        let data = self.data_dir();
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .unwrap_or_else(|error| panic!("cannot wipe {}: {error}", data.display()));
        }
        self.cluster_token = Some(cluster_token.to_owned());
        self.restart().await;
    }

    /// etcd's current revision.
    pub async fn revision(&self) -> i64 {
        let mut client = self.client().await;
        let response = client
            .get("\0", Some(GetOptions::new().with_count_only()))
            .await
            .unwrap_or_else(|error| panic!("cannot read etcd's revision: {error}"));
        response.header().map_or(0, |header| header.revision())
    }

    /// Compacts etcd's history up to `revision` (physically: the call returns once
    /// the old revisions are gone).
    pub async fn compact(&self, revision: i64) {
        let mut client = self.client().await;
        client
            .compact(revision, Some(CompactionOptions::new().with_physical()))
            .await
            .unwrap_or_else(|error| panic!("cannot compact at {revision}: {error}"));
    }

    /// The value of etcd's Prometheus gauge or counter `name` (the sum over its
    /// label sets), read from `/metrics` on the client port.
    pub async fn metric(&self, name: &str) -> f64 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.client_port))
            .await
            .unwrap_or_else(|error| panic!("cannot reach etcd's /metrics: {error}"));
        let request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap_or_else(|error| panic!("cannot ask for /metrics: {error}"));
        let mut body = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut body)
            .await
            .unwrap_or_else(|error| panic!("cannot read /metrics: {error}"));
        body.lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The last `bytes` of etcd's log.
    pub fn log_tail(&self, bytes: u64) -> String {
        log_tail(&self.dir.path().join("etcd.log"), bytes)
    }

    /// Spawns etcd on this server's directory and ports and waits until it serves,
    /// or kills it and says why not.
    async fn launch(&mut self) -> Result<(), String> {
        let log_path = self.dir.path().join("etcd.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|error| format!("cannot open {}: {error}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|error| format!("cannot share the log file: {error}"))?;
        let client_url = format!("http://127.0.0.1:{}", self.client_port);
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.options.binary);
        command
            .arg("--name=test")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .args(
                self.cluster_token
                    .iter()
                    .map(|token| format!("--initial-cluster-token={token}")),
            )
            .arg("--heartbeat-interval=10")
            .arg("--election-timeout=100")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if let Some(interval) = self.options.progress_notify_interval {
            command.arg(format!(
                "--experimental-watch-progress-notify-interval={}ms",
                interval.as_millis()
            ));
        }
        let child = command.spawn().map_err(|error| {
            format!(
                "cannot run {} (install Debian's etcd-server, or set ETCD_BIN): {error}",
                self.options.binary.display()
            )
        })?;
        self.child = Some(child);
        match self.wait_until_serving().await {
            Ok(()) => Ok(()),
            Err(why) => {
                self.kill9();
                Err(format!("{why}\n{}", self.log_tail(4096)))
            }
        }
    }

    /// Polls etcd until a read succeeds (a leader is elected and the client port
    /// serves), the process exits, or [`START_TIMEOUT`] passes.
    async fn wait_until_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut client = Client::connect(
            [self.endpoint()],
            Some(
                ConnectOptions::new()
                    .with_connect_timeout(Duration::from_millis(500))
                    .with_timeout(Duration::from_secs(1)),
            ),
        )
        .await
        .map_err(|error| format!("cannot build an etcd client: {error}"))?;
        loop {
            if let Some(child) = &mut self.child {
                if let Ok(Some(exit)) = child.try_wait() {
                    return Err(format!("etcd exited at start: {exit}"));
                }
            }
            if client.get("health", None).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("etcd did not serve within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill9();
        // `dir` (a `TempDir`) removes the directory after this.
    }
}

impl std::fmt::Debug for EtcdServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdServer")
            .field("endpoint", &self.endpoint())
            .field("pid", &self.pid())
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// Two distinct free ports on 127.0.0.1: both bound at once (so they differ), then
/// released for etcd to take.
fn free_ports() -> (u16, u16) {
    let bind = || {
        StdTcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|error| panic!("cannot bind a loopback port: {error}"))
    };
    let (first, second) = (bind(), bind());
    let port = |listener: &StdTcpListener| {
        listener
            .local_addr()
            .unwrap_or_else(|error| panic!("a bound listener has no address: {error}"))
            .port()
    };
    (port(&first), port(&second))
}

/// The last `bytes` of the file at `path` (lossy UTF-8), or why it cannot be read.
fn log_tail(path: &Path, bytes: u64) -> String {
    let mut tail = Vec::new();
    let read = File::open(path).and_then(|mut file| {
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(bytes)))?;
        file.read_to_end(&mut tail)
    });
    match read {
        Ok(_) => String::from_utf8_lossy(&tail).into_owned(),
        Err(error) => format!("(no log at {}: {error})", path.display()),
    }
}

/// A loopback TCP proxy to a [`EtcdServer`] (or any loopback port) that a test can
/// cut: [`cut`](Self::cut) drops every proxied connection and refuses new ones
/// (they are accepted and closed at once) until [`heal`](Self::heal).
///
/// Clients connect to [`endpoint`](Self::endpoint) instead of the server's.
pub struct Partition {
    port: u16,
    state: Arc<Mutex<PartitionState>>,
    accept: JoinHandle<()>,
}

struct PartitionState {
    /// Whether connections are cut.
    cut: bool,
    /// Cancels the connections open now.
    connections: CancellationToken,
}

impl Partition {
    /// A proxy on a free loopback port to `127.0.0.1:target_port`; needs a Tokio
    /// runtime.
    pub async fn to(target_port: u16) -> Partition {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("cannot bind a loopback port: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("a bound listener has no address: {error}"))
            .port();
        let state = Arc::new(Mutex::new(PartitionState {
            cut: false,
            connections: CancellationToken::new(),
        }));
        let accept = tokio::spawn(accept_loop(listener, target_port, Arc::clone(&state)));
        Partition {
            port,
            state,
            accept,
        }
    }

    /// The proxy's URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Drops every proxied connection and refuses new ones.
    pub fn cut(&self) {
        let mut state = self.state.lock();
        state.cut = true;
        state.connections.cancel();
        state.connections = CancellationToken::new();
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        self.state.lock().cut = false;
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.accept.abort();
        self.state.lock().connections.cancel();
    }
}

/// Accepts connections and proxies each to the target, unless cut.
async fn accept_loop(listener: TcpListener, target_port: u16, state: Arc<Mutex<PartitionState>>) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        let token = {
            let state = state.lock();
            if state.cut {
                continue; // `inbound` is dropped: closed at once
            }
            state.connections.clone()
        };
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await else {
                return;
            };
            tokio::select! {
                _ = token.cancelled() => {}
                _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
            }
        });
    }
}
