//! The watch-server fan-out benchmark: one writer, N concurrent watchers on
//! loopback.
//!
//! ```text
//! cargo build --release -p watch-server --features bin
//! cargo run --release -p store-bench --bin fanout -- [--server target/release/watch-server] [--seconds 10] [--svg benches/fanout.svg]
//! ```
//!
//! For each (watchers, writes/s) it starts the watch-server binary (its embedded
//! churning MemoryServer, 1 000 ConfigMaps of ~0.6 KB), opens the watchers, and for
//! `--seconds` counts the events delivered, the write-to-receive latency (every
//! ConfigMap carries the time it was written, `data.written-at-ns`; read by the
//! first ten watchers, which see every event) and the server's CPU time per
//! delivered event (`/proc/PID/stat`). Then RSS per idle watcher: the server's RSS
//! with 1 000 idle watches open, less without. Prints Markdown tables and writes an
//! SVG plot. Standard library and tokio only.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    server: String,
    seconds: u64,
    svg: String,
}

fn main() {
    let mut options = Options {
        server: "target/release/watch-server".into(),
        seconds: 10,
        svg: "benches/fanout.svg".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--server" => options.server = value,
            "--seconds" => {
                options.seconds = value
                    .parse()
                    .unwrap_or_else(|_| usage("--seconds: a number"))
            }
            "--svg" => options.svg = value,
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let scenarios = [
        (10, 5_000),
        (100, 5_000),
        (1_000, 250),
        (1_000, 500),
        (1_000, 1_000),
    ];
    let mut rows = Vec::new();
    for (watchers, writes) in scenarios {
        let row = runtime.block_on(measure(&options, watchers, writes));
        eprintln!("{row:?}");
        rows.push(row);
    }
    let idle = runtime.block_on(idle_rss(&options, 1_000));
    println!("| watchers | writes/s | delivered events/s | p50 latency | p99 latency | server CPU per delivered event | server CPU |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} µs | {:.0} % |",
            row.watchers,
            row.writes,
            row.delivered_per_sec,
            row.p50_ms,
            row.p99_ms,
            row.cpu_per_event_us,
            row.server_cpu_percent
        );
    }
    println!();
    println!(
        "RSS per idle watcher: {:.1} KiB ({} idle watches: server RSS {:.1} MiB -> {:.1} MiB)",
        idle.per_watcher_kib, idle.watchers, idle.before_mib, idle.after_mib
    );
    std::fs::write(&options.svg, svg(&rows)).expect("the SVG is written");
    eprintln!("wrote {}", options.svg);
}

fn usage(message: &str) -> ! {
    eprintln!("fanout: {message}\nusage: fanout [--server PATH] [--seconds S] [--svg PATH]");
    std::process::exit(2)
}

#[derive(Debug)]
struct Row {
    watchers: usize,
    writes: u64,
    delivered_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_per_event_us: f64,
    server_cpu_percent: f64,
}

struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(options: &Options, writes: u64) -> Server {
        let mut child = Command::new(&options.server)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--objects",
                "1000",
                "--window",
                "100000",
            ])
            .args(["--writes-per-sec", &writes.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error} (cargo build --release -p watch-server --features bin)",
                    options.server
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the first line");
        let address = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, address }
    }

    /// utime + stime of the server, in seconds.
    fn cpu_seconds(&self) -> f64 {
        store_bench::process::cpu_seconds(Some(self.child.id()))
    }

    fn rss_mib(&self) -> f64 {
        store_bench::process::memory_mib(Some(self.child.id()), "VmRSS")
    }

    async fn resource_version(&self) -> String {
        let mut stream = TcpStream::connect(&self.address).await.expect("connect");
        let request = format!(
            "GET /api/v1/configmaps?limit=1 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        let at = answer
            .find("\"resourceVersion\":\"")
            .expect("a resource version")
            + 19;
        answer[at..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

struct Counters {
    events: AtomicU64,
    counting: AtomicBool,
    latencies: Mutex<Vec<u64>>,
}

/// One watcher: reads the stream, counts event lines, and (if `sample`) records
/// each event's write-to-receive latency.
async fn watcher(
    address: String,
    rv: String,
    counters: Arc<Counters>,
    sample: bool,
    stop: tokio_util::sync::CancellationToken,
) {
    let Ok(mut stream) = TcpStream::connect(&address).await else {
        return;
    };
    let request = format!(
        "GET /api/v1/configmaps?watch=1&resourceVersion={rv} HTTP/1.1\r\nHost: {address}\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return;
    }
    let mut buffer = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut previous = 0u8;
    loop {
        let read = tokio::select! {
            _ = stop.cancelled() => return,
            read = stream.read(&mut buffer) => read,
        };
        let Ok(read) = read else { return };
        if read == 0 {
            return;
        }
        let mut events = 0;
        for &byte in &buffer[..read] {
            if byte == b'\n' && previous == b'}' {
                events += 1;
                if sample {
                    record_latency(&line, &counters);
                    line.clear();
                }
            } else if sample {
                line.push(byte);
            }
            previous = byte;
        }
        if counters.counting.load(Ordering::Relaxed) {
            counters.events.fetch_add(events, Ordering::Relaxed);
        }
    }
}

fn record_latency(line: &[u8], counters: &Counters) {
    const FIELD: &[u8] = b"\"written-at-ns\":\"";
    let Some(at) = line.windows(FIELD.len()).position(|window| window == FIELD) else {
        return;
    };
    let digits = &line[at + FIELD.len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let Some(written) = std::str::from_utf8(&digits[..end])
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
    else {
        return;
    };
    if counters.counting.load(Ordering::Relaxed) {
        counters
            .latencies
            .lock()
            .push(now_ns().saturating_sub(written));
    }
}

/// N open watches and what they count.
struct Watchers {
    counters: Arc<Counters>,
    stop: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watchers {
    /// Opens `watchers` watches from `rv`; the first `sampled` record latencies.
    fn open(server: &Server, rv: &str, watchers: usize, sampled: usize) -> Watchers {
        let counters = Arc::new(Counters {
            events: AtomicU64::new(0),
            counting: AtomicBool::new(false),
            latencies: Mutex::new(Vec::new()),
        });
        let stop = tokio_util::sync::CancellationToken::new();
        let tasks = (0..watchers)
            .map(|n| {
                let (address, rv) = (server.address.clone(), rv.to_owned());
                tokio::spawn(watcher(
                    address,
                    rv,
                    Arc::clone(&counters),
                    n < sampled,
                    stop.clone(),
                ))
            })
            .collect();
        Watchers {
            counters,
            stop,
            tasks,
        }
    }

    async fn close(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn measure(options: &Options, watchers: usize, writes: u64) -> Row {
    let server = Server::start(options, writes);
    let rv = server.resource_version().await;
    let watching = Watchers::open(&server, &rv, watchers, 10);
    let counters = Arc::clone(&watching.counters);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    counters.counting.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    counters.counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    watching.close().await;
    let delivered = counters.events.load(Ordering::Relaxed) as f64;
    let mut latencies = std::mem::take(&mut *counters.latencies.lock());
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let at = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[at] as f64 / 1e6
    };
    Row {
        watchers,
        writes,
        delivered_per_sec: delivered / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        cpu_per_event_us: if delivered > 0.0 {
            cpu / delivered * 1e6
        } else {
            f64::NAN
        },
        server_cpu_percent: cpu / elapsed * 100.0,
    }
}

struct Idle {
    watchers: usize,
    before_mib: f64,
    after_mib: f64,
    per_watcher_kib: f64,
}

async fn idle_rss(options: &Options, watchers: usize) -> Idle {
    let server = Server::start(options, 0);
    let rv = server.resource_version().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_mib = server.rss_mib();
    let watching = Watchers::open(&server, &rv, watchers, 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_mib = server.rss_mib();
    watching.close().await;
    Idle {
        watchers,
        before_mib,
        after_mib,
        per_watcher_kib: (after_mib - before_mib) * 1024.0 / watchers as f64,
    }
}

/// A plot panel: its title and the value it draws of each row.
type Panel = (&'static str, fn(&Row) -> f64);

/// Three panels, one bar per row: delivered events/s, server CPU per delivered
/// event, p99 latency.
fn svg(rows: &[Row]) -> String {
    let mut out = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1140\" height=\"330\" font-family=\"sans-serif\" font-size=\"12\">\n",
    );
    let panels: [Panel; 3] = [
        ("delivered events/s", |row| row.delivered_per_sec),
        ("server CPU µs per delivered event", |row| {
            row.cpu_per_event_us
        }),
        ("p99 write-to-receive latency, ms", |row| row.p99_ms),
    ];
    for (panel, (title, value)) in panels.iter().enumerate() {
        let x0 = 60.0 + panel as f64 * 380.0;
        let (width, height, top) = (300.0, 220.0, 40.0);
        let max = rows.iter().map(value).fold(0.0f64, f64::max).max(1e-9) * 1.1;
        out.push_str(&format!("<text x=\"{x0}\" y=\"20\">{title}</text>\n"));
        out.push_str(&format!(
            "<rect x=\"{x0}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" fill=\"none\" stroke=\"#999\"/>\n"
        ));
        let bar = width / rows.len() as f64;
        for (at, row) in rows.iter().enumerate() {
            let v = value(row);
            let h = if v.is_finite() { v / max * height } else { 0.0 };
            let x = x0 + at as f64 * bar + 4.0;
            let y = top + height - h;
            out.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#1b7837\"/>\n",
                bar - 8.0
            ));
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{}</text>\n",
                x + (bar - 8.0) / 2.0,
                y - 4.0,
                if v >= 1000.0 {
                    format!("{:.0}k", v / 1000.0)
                } else {
                    format!("{v:.2}")
                }
            ));
            for (line, label) in [format!("N={}", row.watchers), format!("W={}", row.writes)]
                .iter()
                .enumerate()
            {
                out.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{label}</text>\n",
                    x + (bar - 8.0) / 2.0,
                    top + height + 14.0 + line as f64 * 12.0,
                ));
            }
        }
    }
    out.push_str("</svg>\n");
    out
}
