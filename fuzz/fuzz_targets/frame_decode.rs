//! Decodes arbitrary bytes as a client message, as a server message and through
//! the stream framer. Any panic is a defect; whenever decoding succeeds,
//! encoding must give back the exact input, and every accessor must work.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mosaic_proto::{
    ClientMessage, DecodeOptions, ExtensionTypes, Filter, Framer, Next, Record, ServerMessage,
    Timestamp,
};

fn exercise_record(record: &Record) {
    let _ = (record.id(), record.address(), record.kind(), record.flags());
    let _ = (record.signing_key(), record.author_key(), record.signature());
    assert_eq!(record.id().timestamp(), record.timestamp());
    assert_eq!(record.id().prefix(), record.id_prefix());
    let tag_bytes: usize = record.tags().map(|t| t.encoded_len()).sum();
    assert!(tag_bytes <= record.len());
    assert!(record.payload().len() <= record.len() - 208);
    assert_eq!(record.signed_bytes().len(), record.len() - 112);
    let reparsed = Record::from_bytes(record.as_bytes().clone()).expect("valid record reparses");
    assert_eq!(&reparsed, record);
}

fn exercise_filter(filter: &Filter, record: Option<&Record>) {
    for element in filter.elements() {
        let _ = format!("{element:?}");
    }
    let _ = filter.has_narrow_element();
    if let Some(record) = record {
        let _ = filter.matches(record, Timestamp::from_nanos(12345));
    }
}

fn check(input: &Bytes, options: &DecodeOptions) {
    match ClientMessage::decode(input.clone(), options) {
        Ok(message) => {
            assert_eq!(&message.to_bytes(), input, "client re-encoding differs");
            assert_eq!(message.encoded_len(), input.len());
            match &message {
                ClientMessage::Submission { record } => exercise_record(record),
                ClientMessage::Query { filter, .. } | ClientMessage::Subscribe { filter, .. } => {
                    exercise_filter(filter, None)
                }
                ClientMessage::Get { references, .. } => {
                    assert_eq!(references.iter().count(), references.len())
                }
                _ => {}
            }
        }
        Err(error) => {
            let _ = (error.to_string(), error.disposition().answer(), error.message_type());
        }
    }
    match ServerMessage::decode(input.clone(), options) {
        Ok(message) => {
            assert_eq!(&message.to_bytes(), input, "server re-encoding differs");
            if let ServerMessage::Record { record, .. } = &message {
                exercise_record(record);
            }
        }
        Err(error) => {
            let _ = (error.to_string(), error.disposition().answer());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    let plain = DecodeOptions::default();
    let with_sync = DecodeOptions::default().with_extensions(ExtensionTypes::sync());
    check(&input, &plain);
    check(&input, &with_sync);

    // A filter or record parsed from the raw bytes, matched against each other.
    let filter = input.get(8..).and_then(|b| Filter::from_bytes(Bytes::copy_from_slice(b)).ok());
    let record = Record::from_bytes(input.clone()).ok();
    if let Some(record) = &record {
        exercise_record(record);
    }
    if let Some(filter) = &filter {
        exercise_filter(filter, record.as_ref());
    }

    // The stream framer, fed in chunks sized by the first byte.
    let Ok(mut framer) = Framer::new(4096) else { return };
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut taken = 0usize;
    for piece in data.chunks(chunk) {
        if framer.push(piece).is_err() {
            break;
        }
        loop {
            match framer.next_message() {
                Ok(Next::Message(message)) => {
                    taken += message.len();
                    assert!(message.len() >= 4);
                    check(&message, &with_sync);
                }
                Ok(Next::NeedMore(n)) => {
                    assert!(n > 0);
                    break;
                }
                Err(_) => return,
            }
        }
    }
    assert!(taken + framer.buffered() <= data.len());
    assert!(framer.buffered() <= framer.capacity());
});
