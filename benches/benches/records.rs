//! Signed records: construction (lay out, hash, sign) and full validation
//! (keys, hash, signature) at 256 B, 64 KiB and the largest payload that fits
//! a 1 MiB record, plus the BLAKE3 hash alone to show where the time goes;
//! and matching a record's tags against a filter's Included Tags, from the
//! sample record's three tags to the most both can carry.
//!
//! Run: `cargo bench -p mosaic-benches --bench records`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mosaic_benches::{max_payload_len, record_parts, sample_tags, signed_record, signing_key};
use mosaic_proto::{Filter, Tag, Timestamp};
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

/// `count` distinct tags with empty values, of types `first..`.
fn empty_tags(first: u16, count: u16) -> Vec<Tag<'static>> {
    (first..first + count)
        .map(|ty| Tag::new(ty, b"").expect("tag"))
        .collect()
}

/// `Filter::matches` with one Included Tags element and no tag in common,
/// so every record tag is looked for: the sample record against three
/// wanted tags, and the most tags a record carries (21,845: LenT 65,535)
/// against the most one element holds (677), which a peer can send.
fn tag_match(c: &mut Criterion) {
    let mut group = c.benchmark_group("filter_tags");
    let sample = sample_tags();
    let many = empty_tags(1, 21_845);
    for (name, record_tags, wanted) in [
        ("3x3", &sample[..], empty_tags(0x7000, 3)),
        ("21845x677", &many[..], empty_tags(30_000, 677)),
    ] {
        let record = record_parts(record_tags, b"")
            .sign(&signing_key())
            .expect("fits");
        let filter = Filter::builder()
            .included_tags(&wanted)
            .build()
            .expect("filter");
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| assert!(!black_box(&filter).matches(black_box(&record), Timestamp::ZERO)))
        });
    }
    group.finish();
}

criterion_group!(benches, construct, validate, hash, tag_match);
criterion_main!(benches);
