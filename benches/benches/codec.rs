//! Decode and encode cost per message type, Record decode at 1 KiB vs 1 MiB,
//! and what a client session does with each record it receives.
//!
//! Run: `cargo bench -p mosaic-benches --bench codec`

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mosaic_benches::e2e::{filter as matching_filter, record_of_len};
use mosaic_benches::{client_messages, max_payload_len, record, server_messages};
use mosaic_proto::session::{ClientConfig, ClientEvent, ClientSession};
use mosaic_proto::{ClientMessage, DecodeOptions, QueryId, ServerMessage};
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;

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

/// Records handed to the session per iteration, as the driver feeds a batch.
const RECEIVE_BATCH: usize = 16;

/// The sans-IO part of a client receiving a query's records, per record:
/// decode and structure check, the answer check against the query's filter
/// (`ClientConfig::check_answers`, on by default) or without it, routing to
/// the query and queueing the event, then taking the events the way a
/// query's stream does. The records and filter are e2e_throughput's, so this
/// is the least the Mosaic layer adds per record there, before the driver
/// and the async stream.
fn client_receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_receive");
    group.throughput(Throughput::Elements(RECEIVE_BATCH as u64));
    for len in [256, 1024] {
        for (checked, check_answers) in [("checked", true), ("unchecked", false)] {
            let now = Instant::now();
            let config = ClientConfig {
                check_answers,
                ..ClientConfig::default()
            };
            let mut session = ClientSession::new(config, now);
            let query = session.query(matching_filter(), 0, now).expect("query");
            while session.poll_transmit(now).is_some() {}
            let message = ServerMessage::Record {
                query_id: query,
                record: record_of_len(len, 1),
            }
            .to_bytes();
            let mut events = VecDeque::new();
            let name = format!("{len}B_{checked}");
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    for _ in 0..RECEIVE_BATCH {
                        session.handle_binary(black_box(message.clone()), now);
                    }
                    session.take_events_for(query, &mut events);
                    let records = events
                        .drain(..)
                        .filter(|event| matches!(event, ClientEvent::Record { .. }))
                        .count();
                    assert_eq!(records, RECEIVE_BATCH, "every record is an answer");
                    records
                })
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    decode,
    encode,
    record_decode_by_size,
    client_receive
);
criterion_main!(benches);
