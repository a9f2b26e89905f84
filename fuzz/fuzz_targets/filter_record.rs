//! Fuzzes the filter and record views directly: arbitrary bytes as a filter
//! and as a record, every accessor and iterator on what parses, full
//! validation of the record (`Record::verify`), matching of the two, and the
//! builders fed with what the views read back (which must rebuild the same
//! bytes).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mosaic_proto::{Filter, FilterElement, Record, RecordParts, Tag, Timestamp};

fn rebuild_filter(filter: &Filter) {
    let mut builder = Filter::builder();
    for element in filter.elements() {
        builder = match element {
            FilterElement::AuthorKeys(k) => builder.author_keys(k),
            FilterElement::SigningKeys(k) => builder.signing_keys(k),
            FilterElement::Kinds(k) => builder.kinds(&k.iter().collect::<Vec<_>>()),
            FilterElement::Timestamps(t) => builder.timestamps(&t.iter().collect::<Vec<_>>()),
            FilterElement::IncludedTags(t) => builder.included_tags(&t.iter().collect::<Vec<_>>()),
            FilterElement::Since(t) => builder.since(t),
            FilterElement::Until(t) => builder.until(t),
            FilterElement::ReceivedSince(t) => builder.received_since(t),
            FilterElement::ReceivedUntil(t) => builder.received_until(t),
            FilterElement::Exclude(p) => builder.exclude(&p.iter().collect::<Vec<_>>()),
            FilterElement::ExcludedTags(t) => builder.excluded_tags(&t.iter().collect::<Vec<_>>()),
        };
    }
    let rebuilt = builder.build().expect("what parsed rebuilds");
    assert_eq!(rebuilt.as_bytes(), filter.as_bytes(), "the builder lays out a parsed filter differently");
}

fn rebuild_record(record: &Record) {
    let tags: Vec<Tag<'_>> = record.tags().collect();
    let unsigned = RecordParts {
        signing_key: *record.signing_key(),
        author_key: *record.author_key(),
        kind: record.kind(),
        address_nonce: record.address_nonce(),
        timestamp: record.timestamp(),
        flags: record.flags(),
        tags: &tags,
        payload: record.payload(),
    }
    .lay_out()
    .expect("what parsed lays out");
    let rebuilt = unsigned.finish(record.signature(), record.hash_prefix());
    assert_eq!(rebuilt.as_bytes(), record.as_bytes(), "the builder lays out a parsed record differently");
}

fuzz_target!(|data: &[u8]| {
    let (a, b) = data.split_at(data.len() / 2);
    for bytes in [data, a, b] {
        if let Ok(filter) = Filter::from_bytes(Bytes::copy_from_slice(bytes)) {
            rebuild_filter(&filter);
            let _ = (filter.has_narrow_element(), format!("{filter:?}"));
        }
        if let Ok(record) = Record::from_bytes(Bytes::copy_from_slice(bytes)) {
            rebuild_record(&record);
            let _ = (record.id(), record.address(), format!("{record:?}"));
            // Full validation on peer bytes: key checks, hash, signature.
            if let Ok(verified) = record.verify() {
                assert_eq!(verified.as_bytes(), record.as_bytes());
            }
        }
    }
    if let (Ok(filter), Ok(record)) = (
        Filter::from_bytes(Bytes::copy_from_slice(a)),
        Record::from_bytes(Bytes::copy_from_slice(b)),
    ) {
        let received = Timestamp::from_nanos(u64::from(data.len() as u32));
        let all = filter.matches(&record, received);
        if all {
            assert!(filter.matches_ignoring_received(&record));
        }
    }
});
