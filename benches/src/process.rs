//! What the probes read of a process from `/proc` (Linux): CPU time, RSS, peak RSS.

use std::process::Command;
use std::sync::OnceLock;

/// `/proc/<pid>` of `pid`, or `/proc/self` for `None`.
fn proc_file(pid: Option<u32>, file: &str) -> String {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    };
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 where it cannot be read).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of process `pid` (`None`: this one), in seconds; 0 when unreadable.
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    let stat = proc_file(pid, "stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |at: usize| {
        fields
            .get(at)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) / clock_ticks()
}

/// A `/proc/<pid>/status` memory line (`VmRSS`, `VmHWM`) in MiB; 0 when unreadable.
pub fn memory_mib(pid: Option<u32>, line: &str) -> f64 {
    let status = proc_file(pid, "status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(line).and_then(|rest| rest.strip_prefix(':')))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0)
        / 1024.0
}
