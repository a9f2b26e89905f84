//! Signed records: construction (lay out, hash, sign) and full validation
//! (keys, hash, signature) at 256 B, 64 KiB and the largest payload that fits
//! a 1 MiB record, plus the BLAKE3 hash alone to show where the time goes.
//!
//! Run: `cargo bench -p mosaic-benches --bench records`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mosaic_benches::{max_payload_len, record_parts, sample_tags, signed_record, signing_key};
use std::hint::black_box;

fn sizes() -> [(&'static str, usize); 3] {
    [
        ("256B", 256),
        ("64KiB", 64 << 10),
        ("1MiB", max_payload_len()),
    ]
}

fn construct(c: &mut Criterion) {
    let key = signing_key();
    let tags = sample_tags();
    let mut group = c.benchmark_group("record_sign");
    for (name, len) in sizes() {
        let payload = vec![0x5a; len];
        let parts = record_parts(&tags, &payload);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(&parts).sign(&key).expect("fits"))
        });
    }
    group.finish();
}

fn validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_verify");
    for (name, len) in sizes() {
        let record = signed_record(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(&record).verify().expect("valid"))
        });
    }
    group.finish();
}

/// The 64-byte BLAKE3 hash of `[112:]` alone: the part of both signing and
/// validation that grows with the record.
fn hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_hash");
    for (name, len) in sizes() {
        let record = signed_record(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(&record).full_hash())
        });
    }
    group.finish();
}

criterion_group!(benches, construct, validate, hash);
criterion_main!(benches);
