//! Query ids and the 48-byte record references: IDs, addresses and ID prefixes.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::{BuildError, Kind, Timestamp};

/// The client-chosen number that ties server answers to the query they answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u16);

impl QueryId {
    /// The little-endian wire form.
    pub const fn to_le_bytes(self) -> [u8; 2] {
        self.0.to_le_bytes()
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query {}", self.0)
    }
}

impl From<u16> for QueryId {
    fn from(raw: u16) -> Self {
        QueryId(raw)
    }
}

/// Writes bytes as lower-case hex; references are long, so `max` bytes at most.
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8], max: usize) -> fmt::Result {
    for b in bytes.iter().take(max) {
        write!(f, "{b:02x}")?;
    }
    if bytes.len() > max {
        f.write_str("…")?;
    }
    Ok(())
}

/// The 48-byte ID of a record: its big-endian timestamp followed by 40 bytes of
/// its BLAKE3 hash (record bytes `[64:112]`). The first bit is always 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 48]);

impl Id {
    /// An ID from its bytes, `None` when the first bit is 1 (that is an address).
    pub const fn from_bytes(bytes: [u8; 48]) -> Option<Id> {
        if bytes[0] & 0x80 == 0 {
            Some(Id(bytes))
        } else {
            None
        }
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &[u8; 48] {
        &self.0
    }

    /// The record timestamp the ID starts with.
    pub fn timestamp(&self) -> Timestamp {
        let (ts, _) = self.0.split_first_chunk::<8>().expect("48 > 8");
        Timestamp::from_be_bytes(*ts)
    }

    /// The 40 bytes of hash after the timestamp.
    pub fn hash_bytes(&self) -> &[u8; 40] {
        let (_, hash) = self.0.split_last_chunk::<40>().expect("48 > 40");
        hash
    }

    /// The first 32 bytes, as Submission Result and the Exclude filter carry them.
    pub fn prefix(&self) -> IdPrefix {
        let (prefix, _) = self.0.split_first_chunk::<32>().expect("48 > 32");
        IdPrefix(*prefix)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Id(")?;
        write_hex(f, &self.0, 16)?;
        f.write_str(")")
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0, 48)
    }
}

/// The 48-byte address of a record: an 8-byte nonce whose first bit is 1, the
/// 8-byte kind and the 32-byte author key (record bytes `[144:192]`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address([u8; 48]);

impl Address {
    /// An address from its bytes, `None` when the first bit is 0 (that is an ID).
    pub const fn from_bytes(bytes: [u8; 48]) -> Option<Address> {
        if bytes[0] & 0x80 != 0 {
            Some(Address(bytes))
        } else {
            None
        }
    }

    /// An address from its parts, `None` when the nonce does not start with a 1 bit.
    pub fn from_parts(nonce: [u8; 8], kind: Kind, author_key: &[u8; 32]) -> Option<Address> {
        let mut bytes = [0u8; 48];
        let (n, rest) = bytes.split_at_mut(8);
        let (k, a) = rest.split_at_mut(8);
        n.copy_from_slice(&nonce);
        k.copy_from_slice(kind.as_bytes());
        a.copy_from_slice(author_key);
        Address::from_bytes(bytes)
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &[u8; 48] {
        &self.0
    }

    /// The unique address nonce (first 8 bytes).
    pub fn nonce(&self) -> [u8; 8] {
        let (nonce, _) = self.0.split_first_chunk::<8>().expect("48 > 8");
        *nonce
    }

    /// The kind (bytes 8..16).
    pub fn kind(&self) -> Kind {
        let (_, rest) = self.0.split_first_chunk::<8>().expect("48 > 8");
        let (kind, _) = rest.split_first_chunk::<8>().expect("40 > 8");
        Kind::from_bytes(*kind)
    }

    /// The author's master public key (last 32 bytes).
    pub fn author_key(&self) -> &[u8; 32] {
        let (_, author) = self.0.split_last_chunk::<32>().expect("48 > 32");
        author
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address(")?;
        write_hex(f, &self.0, 16)?;
        f.write_str(")")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0, 48)
    }
}

/// A reference to a record by [`Id`] or by [`Address`], told apart by the top bit
/// (0 for an ID, 1 for an address), as Get carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// A reference to one record by its ID.
    Id(Id),
    /// A reference to the record(s) at an address.
    Address(Address),
}

impl Reference {
    /// Reads a reference; every 48-byte value is one or the other.
    pub const fn from_bytes(bytes: [u8; 48]) -> Reference {
        if bytes[0] & 0x80 == 0 {
            Reference::Id(Id(bytes))
        } else {
            Reference::Address(Address(bytes))
        }
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &[u8; 48] {
        match self {
            Reference::Id(id) => id.as_bytes(),
            Reference::Address(addr) => addr.as_bytes(),
        }
    }
}

impl From<Id> for Reference {
    fn from(id: Id) -> Self {
        Reference::Id(id)
    }
}

impl From<Address> for Reference {
    fn from(addr: Address) -> Self {
        Reference::Address(addr)
    }
}

/// The first 32 bytes of a record ID, as Submission Result and the Exclude filter
/// element carry them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdPrefix(pub [u8; 32]);

impl IdPrefix {
    /// The wire bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &Id) -> bool {
        id.prefix() == *self
    }
}

impl fmt::Debug for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdPrefix(")?;
        write_hex(f, &self.0, 16)?;
        f.write_str(")")
    }
}

impl fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0, 32)
    }
}

/// The references a Get asks for: a whole number of 48-byte [`Reference`]s,
/// held as a slice of the received message (never copied on decode).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct References(Bytes);

impl References {
    /// The most references one Get can carry within the 24-bit message length.
    pub const MAX_COUNT: usize = (crate::MAX_MESSAGE_LEN - crate::wire::HEADER_LEN) / 48;

    /// Wraps bytes that hold whole references (the Get body).
    ///
    /// # Errors
    /// [`BuildError::ReferencesNotWhole`] when the length is not a multiple of 48,
    /// [`BuildError::TooManyReferences`] beyond [`References::MAX_COUNT`].
    pub fn from_bytes(bytes: Bytes) -> Result<References, BuildError> {
        if !bytes.len().is_multiple_of(48) {
            return Err(BuildError::ReferencesNotWhole { len: bytes.len() });
        }
        if bytes.len() / 48 > Self::MAX_COUNT {
            return Err(BuildError::TooManyReferences {
                count: bytes.len() / 48,
                max: Self::MAX_COUNT,
            });
        }
        Ok(References(bytes))
    }

    /// Lays out a list of references.
    ///
    /// # Errors
    /// [`BuildError::TooManyReferences`] beyond [`References::MAX_COUNT`].
    pub fn from_refs<'a, I>(refs: I) -> Result<References, BuildError>
    where
        I: IntoIterator<Item = &'a Reference>,
    {
        let mut buf = BytesMut::new();
        for r in refs {
            buf.extend_from_slice(r.as_bytes());
        }
        References::from_bytes(buf.freeze())
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// How many references there are.
    pub fn len(&self) -> usize {
        self.0.len() / 48
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The references in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Reference> + '_ {
        let (refs, _) = self.0.as_chunks::<48>();
        refs.iter().map(|r| Reference::from_bytes(*r))
    }
}

impl fmt::Debug for References {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_bit_tells_ids_from_addresses() {
        let mut bytes = [0x11u8; 48];
        assert!(matches!(Reference::from_bytes(bytes), Reference::Id(_)));
        assert!(Id::from_bytes(bytes).is_some());
        assert!(Address::from_bytes(bytes).is_none());
        bytes[0] = 0x80;
        assert!(matches!(
            Reference::from_bytes(bytes),
            Reference::Address(_)
        ));
        assert!(Id::from_bytes(bytes).is_none());
        assert!(Address::from_bytes(bytes).is_some());
    }

    #[test]
    fn id_parts_come_from_their_offsets() {
        let mut bytes = [0u8; 48];
        bytes[..8].copy_from_slice(&0x0102_0304_0506_0000u64.to_be_bytes());
        for (i, b) in bytes[8..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let id = Id::from_bytes(bytes).expect("top bit clear");
        assert_eq!(id.timestamp().as_nanos(), 0x0102_0304_0506_0000);
        assert_eq!(id.hash_bytes()[0], 0);
        assert_eq!(id.hash_bytes()[39], 39);
        assert_eq!(id.prefix().as_bytes()[..], bytes[..32]);
        assert!(id.prefix().matches(&id));
    }

    #[test]
    fn address_parts_come_from_their_offsets() {
        let kind = Kind::from_bytes([1, 2, 3, 4, 5, 6, 7, 8]);
        let author = [0xaa; 32];
        let addr = Address::from_parts([0x80, 0, 0, 0, 0, 0, 0, 1], kind, &author)
            .expect("nonce starts with a 1 bit");
        assert_eq!(addr.nonce(), [0x80, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(addr.kind(), kind);
        assert_eq!(addr.author_key(), &author);
        assert!(Address::from_parts([0x7f; 8], kind, &author).is_none());
    }

    #[test]
    fn references_must_be_whole() {
        assert_eq!(
            References::from_bytes(Bytes::from_static(&[0; 47])),
            Err(BuildError::ReferencesNotWhole { len: 47 })
        );
        let refs = [
            Reference::from_bytes([0x01; 48]),
            Reference::from_bytes([0x81; 48]),
        ];
        let list = References::from_refs(&refs).expect("two fit");
        assert_eq!(list.len(), 2);
        assert_eq!(list.iter().collect::<Vec<_>>(), refs);
        assert!(References::default().is_empty());
    }
}
