//! What the end-to-end bench binaries share: the TLS fixture, records of an
//! exact size, the raw tungstenite + rustls baseline on both runtimes, and the
//! statistics they print.
//!
//! Every figure is a ratio between Mosaic and its baseline measured in the same
//! run, round by round (Mosaic, then the baseline, then Mosaic again...), so
//! that load from other processes hits both sides alike.

pub mod raw;
pub mod servers;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use mosaic_proto::{Filter, Kind, Record, RecordFlags, RecordParts, Timestamp};
use mosaic_tls::ed25519_dalek::VerifyingKey;
use mosaic_tls::rustls;
use mosaic_tls::{ClientTls, ClientTlsBuilder, Identity, ServerTls, TlsVersions};
use mosaic_ws::{ClientOptions, Limits, ServerOptions};

/// The kind every bench record has.
pub const KIND: Kind = Kind::from_bytes([0, 0, 0, 0, 1, 0, 1, 0x1c]);

/// A record of exactly `len` bytes (a multiple of 8, at least 208): no tags,
/// a payload filling the rest, placeholder signature and hash (the codec and
/// the session do not check them). `seq` makes records distinct.
pub fn record_of_len(len: usize, seq: u64) -> Record {
    assert!(len >= mosaic_proto::MIN_RECORD_LEN && len.is_multiple_of(8));
    let payload = vec![0x5a; len - mosaic_proto::MIN_RECORD_LEN];
    let mut nonce = [0x80, 0, 0, 0, 0, 0, 0, 0];
    nonce[1..].copy_from_slice(&seq.to_be_bytes()[1..]);
    let record = RecordParts {
        signing_key: [0x22; 32],
        author_key: [0x33; 32],
        kind: KIND,
        address_nonce: nonce,
        timestamp: Timestamp::from_nanos(1_750_000_000_000_000_000 + seq * 1_000_000)
            .record_aligned(),
        flags: RecordFlags::empty(),
        tags: &[],
        payload: &payload,
    }
    .lay_out()
    .expect("fits")
    .finish(&[0x5a; 64], &[0x11; 40]);
    assert_eq!(record.len(), len);
    record
}

/// A filter every bench record matches (the client checks each answer
/// against it, as a real client does).
pub fn filter() -> Filter {
    Filter::builder().kinds(&[KIND]).build().expect("filter")
}

/// The TLS configurations both Mosaic and the baseline use: one ed25519
/// identity, TLS 1.3 only, the client pinning the server's key.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Mosaic's server TLS policy.
    pub server_tls: ServerTls,
    /// Mosaic's client TLS policy.
    pub client_tls: ClientTls,
}

impl Fixture {
    /// A fresh identity and its configurations.
    pub fn new() -> Fixture {
        Fixture::from_identity(Identity::generate().expect("identity"))
    }

    /// The configurations for `identity` (so that two processes agree).
    pub fn from_identity(identity: Identity) -> Fixture {
        let key = identity.public_key();
        let server_tls = ServerTls::builder(identity)
            .versions(TlsVersions::Tls13Only)
            .build()
            .expect("server tls");
        let client_tls = client_builder(key).build().expect("client tls");
        Fixture {
            server_tls,
            client_tls,
        }
    }

    /// The same configurations, but the clients resume no sessions: every
    /// connection is a full handshake (certificate, signature, key checks).
    pub fn without_resumption(&self) -> Fixture {
        let client_tls = client_builder(*self.client_tls.pinned_key())
            .resumption(rustls::client::Resumption::disabled())
            .build()
            .expect("client tls");
        Fixture {
            server_tls: self.server_tls.clone(),
            client_tls,
        }
    }

    /// The rustls server configuration (what Mosaic's server picks for these clients).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server_tls.config()
    }

    /// The rustls client configuration.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.client_tls.config()
    }

    /// Mosaic server options for benches: default limits, no idle timeout or
    /// keepalive (a bench connection may sit idle while others are measured),
    /// and room for `max_connections`.
    pub fn server_options(&self, max_connections: usize) -> ServerOptions {
        let mut options = ServerOptions::new(self.server_tls.clone());
        options.session.idle_timeout = None;
        options.session.keepalive = None;
        options.max_connections = max_connections;
        options
    }

    /// Mosaic client options for benches: default limits, no keepalive.
    pub fn client_options(&self) -> ClientOptions {
        let mut options = ClientOptions::new(self.client_tls.clone());
        options.session.keepalive = None;
        options
    }
}

/// The bench clients' TLS policy, pinning `key`: TLS 1.3 only.
fn client_builder(key: VerifyingKey) -> ClientTlsBuilder {
    ClientTls::builder(key).versions(TlsVersions::Tls13Only)
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

/// The WebSocket configuration Mosaic uses ([`Limits::websocket_config`]),
/// which the baseline uses too.
pub fn ws_config() -> tungstenite::protocol::WebSocketConfig {
    Limits::default().websocket_config()
}

/// Whether the bench runs in quick mode: `--quick` among the arguments or
/// `MOSAIC_BENCH_QUICK=1` in the environment (fewer rounds and smaller N).
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
        || std::env::var("MOSAIC_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// The machine, for the README tables: cores, CPU model, kernel, load.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {kernel}, load average {load}")
}

/// The resident memory of this process, in KiB (VmRSS of /proc/self/status).
pub fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

/// The peak resident memory of this process, in KiB (VmHWM).
pub fn peak_rss_kib() -> u64 {
    status_field("VmHWM:")
}

fn status_field(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user and system) this process's threads named with `prefix`
/// have used so far, from `/proc/self/task/*/stat` (Linux; zero elsewhere).
/// The kernel counts it in ticks of 10 ms (USER_HZ is 100 on Linux), so
/// compare sums over many transfers, not single ones.
pub fn threads_cpu(prefix: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut ticks = 0;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // The name is in parentheses and may hold spaces; fields follow it.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        // utime and stime are fields 14 and 15 of proc_pid_stat(5); the
        // first after the name is field 3.
        ticks += stat[close + 1..]
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|field| field.parse::<u64>().ok())
            .sum::<u64>();
    }
    Duration::from_millis(ticks * 10)
}

/// Raises the soft open-files limit to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// The runtime of one side's process in the multi-process benches (fan-out,
/// idle memory): tokio with two workers, after raising the open-files limit.
pub fn process_runtime() -> tokio::runtime::Runtime {
    raise_nofile_limit();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A deadline guard for a scenario: panics with `what` if `future` runs
/// longer than `limit`, so a bench never hangs.
pub async fn bounded<F: std::future::Future>(limit: Duration, what: &str, future: F) -> F::Output {
    use futures_util::future::{Either, select};
    let timer = async_io_sleep(limit);
    match select(std::pin::pin!(future), std::pin::pin!(timer)).await {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("{what}: no result within {limit:?}"),
    }
}

/// A runtime-neutral sleep (a thread and a oneshot), for [`bounded`].
async fn async_io_sleep(limit: Duration) {
    let (tx, rx) = futures_channel_oneshot();
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        let _ = tx.send(());
    });
    let _ = rx.await;
}

fn futures_channel_oneshot() -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::sync::oneshot::Receiver<()>,
) {
    tokio::sync::oneshot::channel()
}

/// The tokio runtimes' worker threads, server side and client side:
/// `MOSAIC_BENCH_WORKERS=server,client` (default `1,1`: like two
/// single-threaded processes sharing the machine's two cores).
pub fn tokio_workers() -> (usize, usize) {
    std::env::var("MOSAIC_BENCH_WORKERS")
        .ok()
        .and_then(|v| {
            let (s, c) = v.split_once(',')?;
            Some((s.trim().parse().ok()?, c.trim().parse().ok()?))
        })
        .unwrap_or((1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A thread that spins is charged CPU time under its own name, and only
    /// there; the spin ends once the count moves (or after 10 s).
    #[test]
    #[cfg(target_os = "linux")]
    fn threads_cpu_counts_the_named_threads_only() {
        const NAME: &str = "cpu-count-test";
        assert_eq!(threads_cpu(NAME), Duration::ZERO);
        let spun = std::thread::Builder::new()
            .name(NAME.into())
            .spawn(|| {
                let start = Instant::now();
                while threads_cpu(NAME) < Duration::from_millis(30)
                    && start.elapsed() < Duration::from_secs(10)
                {
                    std::hint::black_box(start.elapsed());
                }
                threads_cpu(NAME)
            })
            .expect("spawn")
            .join()
            .expect("join");
        assert!(spun >= Duration::from_millis(30), "counted {spun:?}");
        assert_eq!(threads_cpu("no-such-thread"), Duration::ZERO);
    }
}
