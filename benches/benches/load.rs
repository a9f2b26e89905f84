//! Load without loss, measured: 1,000 clients on tokio in groups of ten, each
//! subscribed to its group's authors and submitting records; checks that every
//! record is accepted exactly once and reaches every subscription of its group
//! exactly once and in order (the same scenario as the `runtimes` test, in a
//! release build), and reports the throughput and the process's peak memory.
//!
//! Run: `cargo bench -p mosaic-benches --bench load` (env `LOAD_CLIENTS`,
//! `LOAD_PER_CLIENT` to change the size).

use std::future::Future;
use std::sync::LazyLock;
use std::time::Instant;

use mosaic_demo::conformance::{Harness, load_without_loss};
use mosaic_ws_tokio::Tokio;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

struct OnTokio;

impl Harness for OnTokio {
    type Transport = Tokio;

    fn transport(&self) -> Tokio {
        Tokio
    }

    fn run<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        RUNTIME.block_on(future)
    }
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let clients = env("LOAD_CLIENTS", 1000);
    let per_client = env("LOAD_PER_CLIENT", 10);
    let before = status_kib("VmRSS:").unwrap_or(0);
    let started = Instant::now();
    load_without_loss(&OnTokio, clients, per_client);
    let elapsed = started.elapsed();
    let records = clients * per_client;
    let deliveries = records * 10;
    let peak = status_kib("VmHWM:").unwrap_or(0);
    println!("load: {clients} clients x {per_client} records, groups of 10, tokio, TLS 1.3");
    println!("  whole scenario (connect, subscribe, submit, deliver, query): {elapsed:.2?}");
    println!(
        "  {records} records accepted, {deliveries} deliveries: {:.0} deliveries/s over the whole scenario",
        deliveries as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  peak resident memory {:.1} MiB (servers and clients in one process; {:.1} MiB before)",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
    println!("  every record exactly once and in order: checked");
}
