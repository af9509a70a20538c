//! Resident memory per cached object, each contender measured in a fresh process.
//!
//! `memory CONTENDER [N]` fills one store with `N` (default 100 000) ConfigMaps the
//! way a reflector's initial list does, and prints the growth of the resident set
//! (`VmRSS`) divided by `N`. `memory all [N]` runs every contender in its own child
//! process and prints a Markdown table.
//!
//! Each store is filled through [`Contender::filled`], as a reflector's initial list
//! fills it (ours: `replace`; kube: `Init`, `InitApply` per object, `InitDone`).
//! Objects are made one at a time and handed over (ours: moved into an `Arc`; kube:
//! cloned by `InitApply` and the original freed at once), so the heap holds what the
//! store keeps plus, at most, one object's worth of freed chunks. `objects` (a `Vec`
//! of `Arc`s) is the payload alone; `floor` adds a bare `hashbrown` map.

use std::hint::black_box;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use store_bench::{
    config_map, resident_bytes, ClientGoStore, Cm, Contender, KubeStore, ObjectSpec,
};
use store_core::{Cache, Keyed, ShardedCache};

const CONTENDERS: [&str; 6] = [
    "objects",
    "floor",
    "client-go",
    "kube",
    "Cache",
    "ShardedCache",
];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let contender = args.next().unwrap_or_else(|| "all".to_owned());
    let count = match args.next().map(|n| n.parse::<usize>()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: memory [all|{}] [N > 0]", CONTENDERS.join("|"));
            return ExitCode::FAILURE;
        }
    };
    if contender == "all" {
        return all(count);
    }
    match measure(&contender, count) {
        Some(bytes) => {
            println!("RESULT {contender} {count} {bytes}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("unknown contender {contender:?}, or /proc/self/status unreadable");
            ExitCode::FAILURE
        }
    }
}

/// Fills `contender` with `count` objects; returns the resident-set growth in bytes.
fn measure(contender: &str, count: usize) -> Option<u64> {
    let spec = ObjectSpec::default();
    // Warm the allocator and the formatting machinery before the first reading.
    black_box(config_map(0, &spec));
    let before = resident_bytes()?;
    let objects = (0..count).map(|i| config_map(i, &spec));
    let (after, stored) = match contender {
        "objects" => {
            let objects: Vec<Arc<Cm>> = objects.map(|obj| Arc::new(Cm(obj))).collect();
            (resident_bytes()?, black_box(objects).len())
        }
        "floor" => {
            let floor: hashbrown::HashMap<_, _> = objects
                .map(|obj| {
                    let obj = Cm(obj);
                    (obj.key(), Arc::new(obj))
                })
                .collect();
            (resident_bytes()?, black_box(floor).len())
        }
        "Cache" => filled::<Cache<Cm>>(objects)?,
        "ShardedCache" => filled::<ShardedCache<Cm>>(objects)?,
        "client-go" => filled::<ClientGoStore>(objects)?,
        "kube" => filled::<KubeStore>(objects)?,
        _ => return None,
    };
    assert_eq!(stored, count, "every object is stored");
    Some(after.saturating_sub(before))
}

/// Fills a contender; returns the resident set size and how many objects it holds.
fn filled<C: Contender>(objects: impl Iterator<Item = ConfigMap>) -> Option<(u64, usize)> {
    let store = C::filled(objects);
    Some((resident_bytes()?, black_box(store).list().len()))
}

/// Runs every contender in a child process; prints a Markdown table.
fn all(count: usize) -> ExitCode {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("cannot find this executable to re-run it");
        return ExitCode::FAILURE;
    };
    let mut rows = Vec::new();
    for contender in CONTENDERS {
        let output = Command::new(&exe)
            .arg(contender)
            .arg(count.to_string())
            .output();
        let bytes = output.ok().and_then(|output| {
            let stdout = String::from_utf8_lossy(&output.stdout);
            stdout
                .lines()
                .find_map(|line| line.strip_prefix("RESULT "))
                .and_then(|line| line.split_whitespace().nth(2)?.parse::<u64>().ok())
        });
        let Some(bytes) = bytes else {
            eprintln!("{contender}: no result");
            return ExitCode::FAILURE;
        };
        rows.push((contender, bytes));
    }
    let kube = rows
        .iter()
        .find(|(name, _)| *name == "kube")
        .map(|(_, bytes)| *bytes as f64 / count as f64);
    println!("| contender | RSS growth for {count} objects | bytes per object | vs kube |");
    println!("|---|---:|---:|---:|");
    for (contender, bytes) in rows {
        let per_object = bytes as f64 / count as f64;
        let ratio = kube.map_or_else(String::new, |kube| format!("{:.2}×", per_object / kube));
        println!(
            "| {contender} | {:.1} MiB | {per_object:.0} | {ratio} |",
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
    ExitCode::SUCCESS
}
