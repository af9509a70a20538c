//! The dedup-heavy run: 1,000 keys updated 1,000,000 times while the consumer is
//! stalled, then drained. Prints the peak resident memory of the process (VmHWM)
//! above its baseline, for `Fifo`, `DeltaFifo` and a crossbeam channel.
//!
//! `cargo run --profile bench -p store-bench --bin queue_memory -- all`
//! (each contender runs in a fresh process, so peaks do not mix).

use std::process::Command;
use std::sync::Arc;

use store_core::{DeltaFifo, Fifo, Keyed, Queue, Requeue};

/// A queue item of about 100 bytes.
#[derive(Debug)]
struct Update {
    key: u64,
    body: [u64; 12],
}

impl Keyed for Update {
    type Key = u64;
    fn key(&self) -> u64 {
        self.key
    }
}

const KEYS: u64 = 1_000;
const UPDATES: u64 = 1_000_000;

fn peak_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn update(i: u64) -> Update {
    Update {
        key: i % KEYS,
        body: [i; 12],
    }
}

fn run(contender: &str) -> Option<(usize, u64)> {
    let before = peak_bytes();
    let drained = match contender {
        "fifo" => {
            let queue = Fifo::new();
            (0..UPDATES).for_each(|i| queue.add(update(i)));
            queue.close();
            let mut n = 0;
            while queue.pop(|u, _| Ok::<_, Requeue<()>>(u.body[0])).is_ok() {
                n += 1;
            }
            n
        }
        "delta_fifo" => {
            let queue = DeltaFifo::new();
            (0..UPDATES).for_each(|i| queue.update(update(i)));
            queue.close();
            let mut n = 0;
            while let Ok(len) = queue.pop(|d, _| Ok::<_, Requeue<()>>(d.len())) {
                n += len;
            }
            n
        }
        "crossbeam_channel" => {
            let (sender, receiver) = crossbeam_channel::unbounded();
            (0..UPDATES).for_each(|i| {
                let _ = sender.send(Arc::new(update(i)));
            });
            drop(sender);
            receiver.iter().count()
        }
        _ => return None,
    };
    Some((drained, peak_bytes().saturating_sub(before)))
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    if which == "all" {
        println!("| queue | items delivered | peak memory above baseline |");
        println!("|---|---:|---:|");
        let me = std::env::current_exe().ok();
        for contender in ["fifo", "delta_fifo", "crossbeam_channel"] {
            let output = me
                .as_ref()
                .and_then(|exe| Command::new(exe).arg(contender).output().ok());
            match output {
                Some(output) => print!("{}", String::from_utf8_lossy(&output.stdout)),
                None => println!("| {contender} | failed to run | |"),
            }
        }
        return;
    }
    match run(&which) {
        Some((drained, peak)) => println!(
            "| {which} | {drained} | {:.1} MiB |",
            peak as f64 / (1024.0 * 1024.0)
        ),
        None => {
            eprintln!("unknown contender {which:?}: fifo, delta_fifo, crossbeam_channel or all")
        }
    }
}
