//! Certificates: making our own (self-signed X.509 with rcgen, RFC 7250 raw
//! public keys) and checking a peer's.

use ed25519_dalek::VerifyingKey;
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::error::{ConfigError, PeerCertError};
use crate::human::{encode_mopub, validate_public_key};
use crate::provider::verify_ed25519;

/// The DER SubjectPublicKeyInfo of an ed25519 key, up to the 32 key bytes:
/// SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits) }.
pub(crate) const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// Length of an ed25519 SubjectPublicKeyInfo.
const ED25519_SPKI_LEN: usize = ED25519_SPKI_PREFIX.len() + 32;
/// id-Ed25519 (RFC 8410), as x509-parser spells OIDs.
const OID_ED25519: &str = "1.3.101.112";
/// id-Ed25519, the content octets of its DER OBJECT IDENTIFIER.
const OID_ED25519_DER: [u8; 3] = [0x2b, 0x65, 0x70];

/// What the peer sent as its certificate: an X.509 certificate or an RFC 7250
/// raw public key (the certificate type is negotiated in the handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertType {
    /// A self-signed X.509 certificate carrying the ed25519 key.
    X509,
    /// An RFC 7250 raw public key (a DER SubjectPublicKeyInfo); TLS 1.3 only.
    RawPublicKey,
}

/// The DER SubjectPublicKeyInfo of an ed25519 key: the RFC 7250 raw public key.
pub(crate) fn ed25519_spki(key: &VerifyingKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(ED25519_SPKI_LEN);
    out.extend_from_slice(&ED25519_SPKI_PREFIX);
    out.extend_from_slice(key.as_bytes());
    out
}

/// The self-signed X.509 certificate of a signing key, made by rcgen with the
/// key through rcgen's external-key traits (rcgen needs no crypto backend).
///
/// Subject and issuer: `CN=<mopub0 string>`; serial: the first 16 bytes of the
/// key; validity: 1975-01-01 to 4096-01-01 (dates are not checked: the pinned
/// key is the trust); key usage digitalSignature; extended key usage
/// serverAuth and clientAuth, so the same certificate serves either side.
pub(crate) fn self_signed_certificate(
    key: &ed25519_dalek::SigningKey,
) -> Result<CertificateDer<'static>, ConfigError> {
    let public = key.verifying_key();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, encode_mopub(&public));
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&public.as_bytes()[..16]));
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let certificate = params
        .self_signed(&RcgenKey(key))
        .map_err(|error| ConfigError::Certificate(error.to_string()))?;
    Ok(certificate.der().clone())
}

/// A signing key as rcgen sees it.
struct RcgenKey<'a>(&'a ed25519_dalek::SigningKey);

impl rcgen::PublicKeyData for RcgenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        AsRef::<VerifyingKey>::as_ref(self.0).as_bytes()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ED25519
    }
}

impl rcgen::SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use ed25519_dalek::Signer;
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

/// The key in a peer's certificate, after every check this crate makes on
/// it except pinning.
///
/// `certificates` is the end-entity certificate followed by the rest of the
/// chain, which must be empty: a Mosaic certificate is self-signed and stands
/// alone. For [`CertType::X509`] the certificate must carry an ed25519 key
/// (RFC 8410: OID 1.3.101.112, no parameters, 32 bytes) that is valid,
/// canonical and not of small order, and be signed with ed25519 by that key
/// (checked with `verify_strict` over the exact TBS bytes). Names, dates and
/// extensions are not checked: the key is the identity. For
/// [`CertType::RawPublicKey`] the bytes must be exactly an ed25519
/// SubjectPublicKeyInfo with an acceptable key.
pub(crate) fn check_peer_certificate(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    cert_type: CertType,
) -> Result<VerifyingKey, PeerCertError> {
    if !intermediates.is_empty() {
        return Err(PeerCertError::ChainNotAllowed {
            count: intermediates.len() + 1,
        });
    }
    match cert_type {
        CertType::RawPublicKey => raw_public_key(end_entity),
        CertType::X509 => {
            let (key, certificate) = x509_key(end_entity)?;
            let signature = &certificate.signature_value;
            if signature.unused_bits != 0
                || !verify_ed25519(&key, certificate.tbs_certificate.as_ref(), &signature.data)
            {
                return Err(PeerCertError::BadSelfSignature);
            }
            Ok(key)
        }
    }
}

/// The key of a peer certificate that a verifier already checked, telling
/// the two certificate types apart by their form: an ed25519 raw public key
/// has a fixed 44-byte DER form that no X.509 certificate has. The key is
/// checked again; the self-signature is not.
pub(crate) fn peer_key(certificate: &CertificateDer<'_>) -> Result<VerifyingKey, PeerCertError> {
    if certificate.len() == ED25519_SPKI_LEN && certificate.starts_with(&ED25519_SPKI_PREFIX) {
        raw_public_key(certificate)
    } else {
        x509_key(certificate).map(|(key, _)| key)
    }
}

/// The key of a peer certificate that a verifier of this crate checks in the
/// same handshake, as [`peer_key`] reads it, but an X.509 certificate's key
/// is found by walking its DER (see [`x509_spki`]; parsing the certificate
/// again for its key cost about 17,000 instructions per handshake). The key
/// is checked as [`peer_key`] checks it.
pub(crate) fn checked_peer_key(
    certificate: &CertificateDer<'_>,
) -> Result<VerifyingKey, PeerCertError> {
    match peer_key_bytes(certificate) {
        Some(bytes) => validate_public_key(&bytes).map_err(PeerCertError::InvalidKey),
        None => peer_key(certificate),
    }
}

/// The key bytes a peer certificate carries, read without the curve
/// arithmetic of [`peer_key`]'s checks: for comparing with a key already
/// known to be valid. `None` when the certificate is not in the form the
/// walk reads.
pub(crate) fn peer_key_bytes(certificate: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let spki = if certificate.len() == ED25519_SPKI_LEN {
        certificate
    } else {
        x509_spki(certificate)?
    };
    ed25519_spki_key(spki).copied()
}

/// The 32 key bytes of an ed25519 SubjectPublicKeyInfo in its one DER form.
fn ed25519_spki_key(spki: &[u8]) -> Option<&[u8; 32]> {
    spki.strip_prefix(&ED25519_SPKI_PREFIX[..])?.try_into().ok()
}

/// The SubjectPublicKeyInfo of an X.509 certificate, found by walking the DER
/// to it (RFC 5280 4.1: the TBSCertificate's optional version, then serial
/// number, signature algorithm, issuer, validity and subject). Nothing else
/// is parsed or checked. Every element must carry exactly its DER tag, so
/// that the walk reads the elements a full parser reads: x509-parser also
/// takes any context tag [0] for the version and multi-byte tag forms, and a
/// certificate using them could put a second key where this walk, counting
/// fields, would find it. Such a certificate gets `None` (and the full path).
fn x509_spki(der: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const VERSION: u8 = 0xa0;
    let (SEQUENCE, certificate, _) = der_element(der)? else {
        return None;
    };
    let (SEQUENCE, mut fields, _) = der_element(certificate)? else {
        return None;
    };
    if fields.first() == Some(&VERSION) {
        fields = der_element(fields)?.2;
    }
    // Serial number, signature algorithm, issuer, validity, subject.
    for tag in [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE] {
        let (found, _, rest) = der_element(fields)?;
        if found != tag {
            return None;
        }
        fields = rest;
    }
    let (SEQUENCE, _, after) = der_element(fields)? else {
        return None;
    };
    Some(&fields[..fields.len() - after.len()])
}

/// The DER element at the start of `input`: its tag, its content and what
/// follows it. Definite lengths of at most four length bytes only; `None` for
/// anything else or anything cut short.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, mut input) = input.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = input.split_at_checked(count)?;
        input = rest;
        bytes
            .iter()
            .fold(0usize, |len, &byte| (len << 8) | usize::from(byte))
    };
    let (content, rest) = input.split_at_checked(len)?;
    Some((tag, content, rest))
}

fn raw_public_key(spki: &[u8]) -> Result<VerifyingKey, PeerCertError> {
    if let Some(bytes) = ed25519_spki_key(spki) {
        return validate_public_key(bytes).map_err(PeerCertError::InvalidKey);
    }
    // Not the one ed25519 form: name what it is, if it is an SPKI at all.
    match SubjectPublicKeyInfo::from_der(spki) {
        Ok(([], parsed)) => match ed25519_key_bytes(&parsed) {
            Err(error @ PeerCertError::NotEd25519 { .. }) => Err(error),
            // An ed25519 SPKI in another form than the one DER form.
            _ => Err(PeerCertError::MalformedRawPublicKey),
        },
        _ => Err(PeerCertError::MalformedRawPublicKey),
    }
}

/// Parses an X.509 certificate and checks its key (not its signature).
fn x509_key<'a>(der: &'a [u8]) -> Result<(VerifyingKey, X509Certificate<'a>), PeerCertError> {
    let (rest, certificate) = X509Certificate::from_der(der)
        .map_err(|error| PeerCertError::Malformed(error.to_string()))?;
    if !rest.is_empty() {
        return Err(PeerCertError::Malformed(format!(
            "{} bytes after the certificate",
            rest.len()
        )));
    }
    let key = ed25519_key_bytes(certificate.public_key())?;
    let key = validate_public_key(key).map_err(PeerCertError::InvalidKey)?;
    // The outer signature algorithm, and the copy inside the signed part
    // (RFC 5280 4.1.1.2: they must be equal).
    for algorithm in [
        &certificate.signature_algorithm,
        &certificate.tbs_certificate.signature,
    ] {
        if !is_ed25519(algorithm) {
            return Err(PeerCertError::SignatureNotEd25519 {
                algorithm: algorithm_name(algorithm),
            });
        }
    }
    // x509-parser tolerates some tags it should not (e.g. in the outer
    // SEQUENCE and signature algorithm); the TBS bytes are signed, but the
    // shell around them is not: require it to be the one DER encoding.
    if der
        != der_certificate_shell(
            certificate.tbs_certificate.as_ref(),
            &certificate.signature_value.data,
        )
    {
        return Err(PeerCertError::Malformed(
            "the certificate is not DER-encoded around its signed part".into(),
        ));
    }
    Ok((key, certificate))
}

/// The DER encoding of an ed25519-signed certificate with these signed
/// bytes and signature: SEQUENCE { tbs, SEQUENCE { id-Ed25519 }, BIT STRING }.
fn der_certificate_shell(tbs: &[u8], signature: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
    let mut bit_string = vec![0x03];
    push_der_length(&mut bit_string, signature.len() + 1);
    bit_string.push(0); // no unused bits
    let body = tbs.len() + ALGORITHM.len() + bit_string.len() + signature.len();
    let mut out = Vec::with_capacity(body + 6);
    out.push(0x30);
    push_der_length(&mut out, body);
    out.extend_from_slice(tbs);
    out.extend_from_slice(&ALGORITHM);
    out.extend_from_slice(&bit_string);
    out.extend_from_slice(signature);
    out
}

/// A DER length: short form below 128, else the fewest big-endian bytes.
fn push_der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8); // < 0x80: lossless
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8); // at most 8: lossless
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// The 32 key bytes of an ed25519 SubjectPublicKeyInfo.
fn ed25519_key_bytes<'a>(
    spki: &'a SubjectPublicKeyInfo<'_>,
) -> Result<&'a [u8; 32], PeerCertError> {
    if !is_ed25519(&spki.algorithm) {
        return Err(PeerCertError::NotEd25519 {
            algorithm: algorithm_name(&spki.algorithm),
        });
    }
    let bits = &spki.subject_public_key;
    if bits.unused_bits != 0 {
        return Err(PeerCertError::Malformed(
            "the ed25519 key BIT STRING has unused bits".into(),
        ));
    }
    <&[u8; 32]>::try_from(&bits.data[..]).map_err(|_| {
        PeerCertError::Malformed(format!(
            "an ed25519 key has 32 bytes, this one {}",
            bits.data.len()
        ))
    })
}

/// id-Ed25519 with absent parameters (RFC 8410 section 3).
fn is_ed25519(algorithm: &AlgorithmIdentifier<'_>) -> bool {
    // Compared as DER bytes: formatting the OID as a string allocates.
    algorithm.algorithm.as_bytes() == OID_ED25519_DER && algorithm.parameters.is_none()
}

fn algorithm_name(algorithm: &AlgorithmIdentifier<'_>) -> String {
    let oid = algorithm.algorithm.to_id_string();
    let name = match oid.as_str() {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.2.840.113549.1.1.11" => "RSA with SHA-256",
        "1.2.840.113549.1.1.12" => "RSA with SHA-384",
        "1.2.840.113549.1.1.13" => "RSA with SHA-512",
        "1.2.840.10045.2.1" => "ECDSA",
        "1.2.840.10045.4.3.2" => "ECDSA with SHA-256",
        "1.2.840.10045.4.3.3" => "ECDSA with SHA-384",
        "1.2.840.10045.4.3.4" => "ECDSA with SHA-512",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        OID_ED25519 => "ed25519 with parameters (RFC 8410 forbids them)",
        _ => return format!("OID {oid}"),
    };
    format!("{name} (OID {oid})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KeyError;
    use proptest::prelude::*;

    fn certificate() -> (VerifyingKey, CertificateDer<'static>) {
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        (key.verifying_key(), self_signed_certificate(&key).unwrap())
    }

    #[test]
    fn key_bytes_are_read_from_both_forms_and_nothing_else() {
        let (key, cert) = certificate();
        let spki = ed25519_spki(&key);
        assert_eq!(peer_key_bytes(&cert), Some(*key.as_bytes()));
        assert_eq!(peer_key_bytes(&spki.clone().into()), Some(*key.as_bytes()));
        // A raw key one byte short, and bytes that are no certificate.
        assert_eq!(peer_key_bytes(&spki[..43].to_vec().into()), None);
        assert_eq!(peer_key_bytes(&vec![0x30, 0x03, 1, 2, 3].into()), None);
    }

    /// The key as the full parser reads it, for comparing with the walk.
    fn parsed_key_bytes(der: &[u8]) -> Option<[u8; 32]> {
        let (_, parsed) = X509Certificate::from_der(der).ok()?;
        ed25519_key_bytes(parsed.public_key()).ok().copied()
    }

    #[test]
    fn a_key_read_by_the_walk_is_checked_as_a_point() {
        let (key, cert) = certificate();
        let mut identity_point = [0; 32];
        identity_point[0] = 1;
        // The first whole copy of the key is the SPKI's (the serial holds
        // only half of it).
        let mut der = cert.to_vec();
        let at = der.windows(32).position(|w| w == key.as_bytes()).unwrap();
        der[at..at + 32].copy_from_slice(&identity_point);
        let der = CertificateDer::from(der);
        assert_eq!(peer_key_bytes(&der), Some(identity_point));
        assert!(matches!(
            checked_peer_key(&der),
            Err(PeerCertError::InvalidKey(KeyError::SmallOrder))
        ));
        let spki = [&ED25519_SPKI_PREFIX[..], &identity_point].concat();
        assert!(matches!(
            checked_peer_key(&spki.into()),
            Err(PeerCertError::InvalidKey(KeyError::SmallOrder))
        ));
        assert_eq!(checked_peer_key(&cert).unwrap(), key);
    }

    /// A DER element of `tag` around `content`.
    fn tlv(tag: &[u8], content: &[u8]) -> Vec<u8> {
        let mut out = tag.to_vec();
        push_der_length(&mut out, content.len());
        out.extend_from_slice(content);
        out
    }

    /// A certificate around these TBSCertificate fields, with the ed25519
    /// algorithm and shell that [`x509_key`] requires (the signature is not
    /// checked by [`peer_key`]).
    fn certificate_of(fields: &[Vec<u8>]) -> CertificateDer<'static> {
        let tbs = tlv(&[0x30], &fields.concat());
        der_certificate_shell(&tbs, &[0x11; 64]).into()
    }

    /// Two ed25519 SubjectPublicKeyInfos: (the one the walk must not take,
    /// the certificate's).
    fn two_spkis() -> (Vec<u8>, Vec<u8>, VerifyingKey) {
        let decoy = ed25519_dalek::SigningKey::from_bytes(&[6; 32]).verifying_key();
        let real = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        (ed25519_spki(&decoy), ed25519_spki(&real), real)
    }

    /// A certificate whose TBSCertificate has this version element, issuer,
    /// subject and SPKI around a fixed serial, algorithm and validity.
    fn certificate_with(
        version: &[u8],
        issuer: &[u8],
        subject: &[u8],
        spki: &[u8],
    ) -> CertificateDer<'static> {
        let serial = tlv(&[0x02], &[1]);
        let algorithm = vec![0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
        let validity = tlv(
            &[0x30],
            &[
                tlv(&[0x17], b"250101000000Z"),
                tlv(&[0x17], b"300101000000Z"),
            ]
            .concat(),
        );
        certificate_of(&[
            version.to_vec(),
            serial,
            algorithm,
            issuer.to_vec(),
            validity,
            subject.to_vec(),
            spki.to_vec(),
        ])
    }

    #[test]
    fn the_walk_reads_the_key_a_loosely_tagged_certificate_carries() {
        let (decoy, real, key) = two_spkis();
        let name = tlv(&[0x30], &[]);
        let version = tlv(&[0xa0], &tlv(&[0x02], &[2]));
        // The control: a version [0] as DER has it, then the fields.
        let plain = certificate_with(&version, &name, &name, &real);
        assert_eq!(peer_key(&plain).unwrap(), key);
        assert_eq!(checked_peer_key(&plain).unwrap(), key);
        assert_eq!(peer_key_bytes(&plain), Some(*key.as_bytes()));
        // The version under a primitive context tag [0] (x509-parser takes
        // it): a walk counting fields would take the subject, here shaped
        // as an ed25519 SPKI, for the key.
        let primitive_version = tlv(&[0x80], &tlv(&[0x02], &[2]));
        let loose = certificate_with(&primitive_version, &name, &decoy, &real);
        assert_eq!(peer_key(&loose).unwrap(), key);
        assert_eq!(peer_key_bytes(&loose), None);
        assert_eq!(checked_peer_key(&loose).unwrap(), key);
        // The issuer under the multi-byte form of the SEQUENCE tag.
        let high = certificate_with(&version, &tlv(&[0x3f, 0x10], &[]), &name, &real);
        assert_eq!(peer_key_bytes(&high), None);
        assert_eq!(checked_peer_key(&high).ok(), peer_key(&high).ok());
    }

    #[test]
    fn der_elements_have_definite_lengths_of_at_most_four_bytes() {
        let long = [[0x04, 0x81, 0x80].as_slice(), &[7; 0x80], &[9]].concat();
        assert_eq!(der_element(&long), Some((0x04, &[7; 0x80][..], &[9][..])));
        let two = [[0x04, 0x82, 0x01, 0x00].as_slice(), &[7; 0x100]].concat();
        assert_eq!(der_element(&two).map(|(_, c, _)| c.len()), Some(0x100));
        assert_eq!(der_element(&[0x04, 0x00]), Some((0x04, &[][..], &[][..])));
        // Indefinite, five length bytes, cut short.
        assert_eq!(der_element(&[0x30, 0x80, 0, 0]), None);
        assert_eq!(der_element(&[0x04, 0x85, 0, 0, 0, 0, 1, 7]), None);
        assert_eq!(der_element(&[0x04, 0x03, 1, 2]), None);
        assert_eq!(der_element(&[0x04, 0x82, 0x01]), None);
        assert_eq!(der_element(&[0x04]), None);
        assert_eq!(der_element(&[]), None);
    }

    #[test]
    fn the_walk_finds_the_key_of_a_certificate_without_a_version() {
        // A version 1 TBSCertificate: no [0] version before the serial.
        let (key, _) = certificate();
        let spki = ed25519_spki(&key);
        let empty_sequences = [0x30, 0x00].repeat(4);
        let tbs = [&[0x02, 0x01, 0x01][..], &empty_sequences, &spki].concat();
        let tbs = [&[0x30, tbs.len() as u8][..], &tbs].concat();
        let signature = [0x03, 0x02, 0x00, 0x00];
        let body = [&tbs[..], &[0x30, 0x00], &signature].concat();
        let der = [&[0x30, body.len() as u8][..], &body].concat();
        assert_eq!(x509_spki(&der), Some(&spki[..]));
        assert_eq!(peer_key_bytes(&der.into()), Some(*key.as_bytes()));
    }

    #[test]
    fn raw_public_key_forms() {
        let (key, _) = certificate();
        let spki = ed25519_spki(&key);
        assert_eq!(raw_public_key(&spki), Ok(key));
        // One byte more, or less.
        let mut long = spki.clone();
        long.push(0);
        assert_eq!(
            raw_public_key(&long),
            Err(PeerCertError::MalformedRawPublicKey)
        );
        assert_eq!(
            raw_public_key(&spki[..43]),
            Err(PeerCertError::MalformedRawPublicKey)
        );
        // An X.509 certificate where a raw public key is expected.
        let (_, cert) = certificate();
        assert_eq!(
            check_peer_certificate(&cert, &[], CertType::RawPublicKey),
            Err(PeerCertError::MalformedRawPublicKey)
        );
        // A raw public key where a certificate is expected.
        assert!(matches!(
            check_peer_certificate(&spki.into(), &[], CertType::X509),
            Err(PeerCertError::Malformed(_))
        ));
        // An ECDSA P-256 SubjectPublicKeyInfo.
        let mut ecdsa = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ];
        ecdsa.extend_from_slice(&[1; 64]);
        match raw_public_key(&ecdsa) {
            Err(PeerCertError::NotEd25519 { algorithm }) => {
                assert_eq!(algorithm, "ECDSA (OID 1.2.840.10045.2.1)")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn x509_trailing_bytes_and_chains_fail() {
        let (key, cert) = certificate();
        assert_eq!(check_peer_certificate(&cert, &[], CertType::X509), Ok(key));
        let mut long = cert.to_vec();
        long.push(0);
        assert!(matches!(
            check_peer_certificate(&long.into(), &[], CertType::X509),
            Err(PeerCertError::Malformed(_))
        ));
        assert_eq!(
            check_peer_certificate(&cert, std::slice::from_ref(&cert), CertType::X509),
            Err(PeerCertError::ChainNotAllowed { count: 2 })
        );
    }

    /// Each bit of a certificate matters: flipping any one is refused.
    #[test]
    fn every_changed_byte_is_refused() {
        let (_, cert) = certificate();
        for at in 0..cert.len() {
            for flip in (0..8).map(|bit| 1u8 << bit) {
                let mut der = cert.to_vec();
                der[at] ^= flip;
                assert!(
                    check_peer_certificate(&der.into(), &[], CertType::X509).is_err(),
                    "byte {at} ^ {flip:#04x} accepted"
                );
            }
        }
    }

    #[test]
    fn der_lengths() {
        for (len, encoding) in [
            (0usize, &[0x00][..]),
            (0x7f, &[0x7f]),
            (0x80, &[0x81, 0x80]),
            (0xff, &[0x81, 0xff]),
            (0x100, &[0x82, 0x01, 0x00]),
            (0x1_0000, &[0x83, 0x01, 0x00, 0x00]),
        ] {
            let mut out = Vec::new();
            push_der_length(&mut out, len);
            assert_eq!(out, encoding, "{len}");
        }
    }

    proptest! {
        /// No single changed byte leaves a certificate acceptable: every byte
        /// is signed, or is the signature, or frames them.
        #[test]
        fn any_changed_byte_is_refused(index in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let (_, cert) = certificate();
            let mut der = cert.to_vec();
            let at = index.index(der.len());
            der[at] ^= flip;
            prop_assert!(check_peer_certificate(&der.into(), &[], CertType::X509).is_err());
        }

        /// Arbitrary bytes never panic, as either certificate type or as a
        /// connection's peer certificate.
        #[test]
        fn arbitrary_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let der = CertificateDer::from(bytes);
            let _ = check_peer_certificate(&der, &[], CertType::X509);
            let _ = check_peer_certificate(&der, &[], CertType::RawPublicKey);
            let _ = peer_key(&der);
            let _ = peer_key_bytes(&der);
        }

        /// The walk to the key agrees with the full parser on every
        /// certificate: made for any key, and with any one byte changed
        /// (where both still read a key).
        #[test]
        fn the_walk_reads_the_key_the_parser_reads(
            seed in any::<[u8; 32]>(),
            index in any::<prop::sample::Index>(),
            flip in 0u8..=255,
        ) {
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let cert = self_signed_certificate(&key).unwrap();
            prop_assert_eq!(peer_key_bytes(&cert), Some(*key.verifying_key().as_bytes()));
            let mut der = cert.to_vec();
            let at = index.index(der.len());
            der[at] ^= flip;
            let der = CertificateDer::from(der);
            if let (Some(walked), Some(parsed)) = (peer_key_bytes(&der), parsed_key_bytes(&der)) {
                prop_assert_eq!(walked, parsed);
            }
            // Whatever the full path reads, the walk reads too (or leaves
            // to the full path); and a key the walk reads is checked.
            if let Ok(full) = peer_key(&der) {
                prop_assert_eq!(checked_peer_key(&der).ok(), Some(full));
            }
            if let Some(walked) = peer_key_bytes(&der) {
                prop_assert_eq!(checked_peer_key(&der).ok(), validate_public_key(&walked).ok());
            }
        }

        /// Truncations of a valid certificate never panic, and fail.
        #[test]
        fn truncations_fail(cut in 0usize..400) {
            let (_, cert) = certificate();
            let der = CertificateDer::from(cert[..cut.min(cert.len() - 1)].to_vec());
            prop_assert!(check_peer_certificate(&der, &[], CertType::X509).is_err());
            prop_assert_eq!(peer_key_bytes(&der), None);
        }
    }
}
