//! What the example client does against a server, printed as a transcript:
//! subscribe, submit, get, query, unsubscribe, each with its timing. Records
//! are signed for real, and every record received is fully validated.

use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mosaic_proto::{
    DuplicateHandling, Filter, Kind, ReadAccess, Record, RecordFlags, RecordParts, Reference,
    References, Tag, Timestamp,
};
use mosaic_tls::{Identity, PeerIdentity, encode_mopub};
use mosaic_ws::{ClientConnection, ConnectionInfo, SubscriptionEvent};

/// The kind of the example records: app 99 (Examples), kind 1, unique,
/// readable by everybody, printable.
pub fn demo_kind() -> Kind {
    Kind::new(
        99,
        1,
        DuplicateHandling::Unique,
        ReadAccess::Everybody,
        true,
    )
    .expect("99 fits five bytes")
}

/// Now, as a record may carry it.
pub fn record_now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix(since.as_secs(), since.subsec_nanos()).record_aligned()
}

/// A record by `identity` (as author and signer) carrying `text`.
pub fn note(identity: &Identity, text: &str, timestamp: Timestamp) -> Record {
    note_with(
        identity,
        text,
        timestamp,
        demo_kind(),
        RecordFlags::empty(),
        &[],
    )
}

/// A record by `identity` (as author and signer) of `kind`, with `flags` and `tags`.
pub fn note_with(
    identity: &Identity,
    text: &str,
    timestamp: Timestamp,
    kind: Kind,
    flags: RecordFlags,
    tags: &[Tag<'_>],
) -> Record {
    let key = identity.public_key().to_bytes();
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&timestamp.as_nanos().to_be_bytes());
    nonce[0] |= 0x80;
    RecordParts {
        signing_key: key,
        author_key: key,
        kind,
        address_nonce: nonce,
        timestamp,
        flags,
        tags,
        payload: text.as_bytes(),
    }
    .sign(identity.signing_key())
    .expect("a short note by the signer fits")
}

/// A person's view of a peer identity.
pub fn describe(peer: &PeerIdentity) -> String {
    match peer.key() {
        Some(key) => encode_mopub(key),
        None => "anonymous".to_owned(),
    }
}

/// One line about what a handshake negotiated.
pub fn describe_info(info: &ConnectionInfo) -> String {
    let extensions = info.extensions().to_string();
    let service = info
        .service_url()
        .map_or_else(|| "-".to_owned(), |u| u.to_string());
    format!("subprotocol mosaic2024, extensions {extensions}, service URL {service}")
}

fn ms(d: Duration) -> String {
    format!("{:8.3} ms", d.as_secs_f64() * 1000.0)
}

/// A record's payload as text, after full validation (record.md: clients
/// MUST validate what they are sent).
fn text(record: &Record) -> String {
    match record.verify() {
        Ok(_) => String::from_utf8_lossy(record.payload()).into_owned(),
        Err(e) => format!("<invalid record: {e}>"),
    }
}

/// Runs the example exchange on `client` as `identity`, writing the transcript
/// to `out`.
///
/// # Errors
/// The first request that fails, or a write error.
pub async fn run(
    client: &ClientConnection,
    identity: &Identity,
    out: &mut impl Write,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let me = identity.public_key().to_bytes();
    let mine = Filter::builder().author_keys(&[me]).build()?;

    let started = Instant::now();
    let mut subscription = client.subscribe(mine.clone(), 0).await?;
    let id = subscription.query_id().0;
    writeln!(out, "→ Subscribe #{id} (author = me, no limit)")?;
    loop {
        match subscription.next().await {
            Some(Ok(SubscriptionEvent::LocallyComplete)) => break,
            Some(Ok(SubscriptionEvent::Record(r))) => {
                writeln!(out, "← Record #{id} (stored) {:?}", text(&r))?
            }
            Some(Err(e)) => return Err(e.into()),
            None => return Err("subscription ended early".into()),
        }
    }
    writeln!(out, "← Locally Complete #{id}{:>26}", ms(started.elapsed()))?;

    let mut submitted = Vec::new();
    for words in ["hello, mosaic", "a second note"] {
        let record = note(identity, words, record_now());
        let started = Instant::now();
        let code = client.submit(record.clone()).await?;
        writeln!(out, "→ Submission {words:?} ({} bytes)", record.len())?;
        writeln!(
            out,
            "← Submission Result {code}{:>22}",
            ms(started.elapsed())
        )?;
        if code != mosaic_proto::SubmissionResultCode::Ok {
            return Err(format!("the server did not store the record: {code}").into());
        }
        let live = subscription.next().await;
        match live {
            Some(Ok(SubscriptionEvent::Record(r))) => {
                writeln!(out, "← Record #{id} (live) {:?}", text(&r))?
            }
            other => return Err(format!("expected a live record, got {other:?}").into()),
        }
        submitted.push(record);
    }

    let first = &submitted[0];
    let started = Instant::now();
    let records = client
        .get(References::from_refs(&[Reference::Id(first.id())])?)
        .await?;
    let id_get = records.query_id().0;
    let got = records.collect_all().await?;
    writeln!(
        out,
        "→ Get #{id_get} by ID {}…",
        &first.id().to_string()[..16]
    )?;
    let mut line = String::new();
    for r in &got {
        write!(line, "{:?} ", text(r))?;
    }
    writeln!(
        out,
        "← Record #{id_get} {line}then Query Closed ON_REQUEST{:>4}",
        ms(started.elapsed())
    )?;

    let started = Instant::now();
    let records = client.query(mine, 10).await?;
    let id_query = records.query_id().0;
    let got = records.collect_all().await?;
    writeln!(out, "→ Query #{id_query} (author = me, limit 10)")?;
    let texts: Vec<String> = got.iter().map(text).collect();
    writeln!(
        out,
        "← {} records newest first {texts:?}, then Query Closed ON_REQUEST{:>4}",
        got.len(),
        ms(started.elapsed())
    )?;

    let started = Instant::now();
    subscription.unsubscribe().await?;
    writeln!(out, "→ Unsubscribe #{id}")?;
    while let Some(event) = subscription.next().await {
        event?;
    }
    writeln!(
        out,
        "← Query Closed #{id} ON_REQUEST{:>20}",
        ms(started.elapsed())
    )?;
    Ok(())
}
