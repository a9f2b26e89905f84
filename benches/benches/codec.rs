//! Decode and encode cost per message type, and Record decode at 1 KiB vs 1 MiB.
//!
//! Run: `cargo bench -p mosaic-benches --bench codec`

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mosaic_benches::{client_messages, max_payload_len, record, server_messages};
use mosaic_proto::{ClientMessage, DecodeOptions, QueryId, ServerMessage};
use std::hint::black_box;

fn decode(c: &mut Criterion) {
    let options = DecodeOptions::default();
    let mut group = c.benchmark_group("decode");
    for (name, bytes) in client_messages() {
        group.bench_with_input(BenchmarkId::from_parameter(name), &bytes, |b, bytes| {
            b.iter(|| ClientMessage::decode(black_box(bytes.clone()), &options).expect("valid"))
        });
    }
    for (name, bytes) in server_messages() {
        group.bench_with_input(BenchmarkId::from_parameter(name), &bytes, |b, bytes| {
            b.iter(|| ServerMessage::decode(black_box(bytes.clone()), &options).expect("valid"))
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let options = DecodeOptions::default();
    let mut group = c.benchmark_group("encode");
    let mut buf = BytesMut::with_capacity(4096);
    for (name, bytes) in client_messages() {
        let message = ClientMessage::decode(bytes, &options).expect("valid");
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                buf.clear();
                black_box(&message).encode(&mut buf);
                black_box(buf.len())
            })
        });
    }
    for (name, bytes) in server_messages() {
        let message = ServerMessage::decode(bytes, &options).expect("valid");
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                buf.clear();
                black_box(&message).encode(&mut buf);
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

/// Decoding must not grow with the record's size: the body is sliced, not copied,
/// and the structural checks read only the header, tags and padding.
fn record_decode_by_size(c: &mut Criterion) {
    let options = DecodeOptions::default();
    let mut group = c.benchmark_group("record_decode_by_size");
    for (name, payload) in [("1KiB", 1024), ("1MiB", max_payload_len())] {
        let bytes: Bytes = ServerMessage::Record {
            query_id: QueryId(1),
            record: record(payload),
        }
        .to_bytes();
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(name), &bytes, |b, bytes| {
            b.iter(|| ServerMessage::decode(black_box(bytes.clone()), &options).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode, record_decode_by_size);
criterion_main!(benches);
