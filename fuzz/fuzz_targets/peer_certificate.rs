//! Fuzzes what a peer's certificate goes through: the client's pinned-key
//! verifier, the server's client-certificate verifier (both certificate
//! types), and `PeerIdentity`, which reads the key by walking the DER rather
//! than parsing the certificate again (the handshake signature check reads
//! it the same way, through the same function).
//!
//! The first input byte chooses the mode, the rest is the bytes:
//! - even: the bytes are the certificate (an X.509 certificate or a raw
//!   public key, as a peer sends it).
//! - odd: the bytes are the signed part (TBSCertificate) of an X.509
//!   certificate that the target wraps and signs with a fixed key, so that
//!   the self-signature holds and the parsers decide. Whenever the verifier
//!   accepts such a certificate, the walk must read the key the verifier
//!   read: `PeerIdentity` must name the fixed key.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mosaic_tls::ed25519_dalek::{Signer, SigningKey};
use mosaic_tls::rustls::client::danger::ServerCertVerifier;
use mosaic_tls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use mosaic_tls::rustls::server::danger::ClientCertVerifier;
use mosaic_tls::{CertType, ClientAuth, ClientKeyVerifier, PeerIdentity, PinnedServerVerifier};

/// The fixed key that signs the certificates of the odd mode.
static KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[7; 32]));

/// `tbs` inside an ed25519-signed certificate: SEQUENCE { tbs,
/// SEQUENCE { id-Ed25519 }, BIT STRING signature }. `tbs` is used as it is,
/// whatever it holds.
fn signed_certificate(tbs: &[u8]) -> Vec<u8> {
    fn push_length(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    let signature = KEY.sign(tbs).to_bytes();
    let mut body = tbs.to_vec();
    body.extend_from_slice(&[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70]);
    body.push(0x03);
    push_length(&mut body, signature.len() + 1);
    body.push(0);
    body.extend_from_slice(&signature);
    let mut certificate = vec![0x30];
    push_length(&mut certificate, body.len());
    certificate.extend_from_slice(&body);
    certificate
}

/// Runs every check a peer certificate meets; returns whether the client
/// certificate verifier accepted it as an X.509 certificate.
fn check(certificate: &CertificateDer<'_>) -> bool {
    let name = ServerName::try_from("fuzz.invalid").expect("a valid name");
    let now = UnixTime::now();
    let alone = std::slice::from_ref(certificate);
    let mut x509_accepted = false;
    for cert_type in [CertType::X509, CertType::RawPublicKey] {
        let pinned =
            PinnedServerVerifier::new(KEY.verifying_key(), cert_type).expect("a valid key");
        let pinned_accepted = pinned
            .verify_server_cert(certificate, &[], &name, &[], now)
            .is_ok();
        assert!(
            pinned
                .verify_server_cert(certificate, alone, &name, &[], now)
                .is_err(),
            "a chain was accepted"
        );
        let clients = ClientKeyVerifier::new(ClientAuth::Optional, cert_type);
        let accepted = clients.verify_client_cert(certificate, &[], now).is_ok();
        // The same checks but for the pinning.
        assert!(
            accepted || !pinned_accepted,
            "the pinned verifier accepted what the client verifier refused"
        );
        if accepted {
            let identity = PeerIdentity::from_certificates(Some(alone));
            assert!(
                matches!(identity, Ok(PeerIdentity::Authenticated(_))),
                "an accepted certificate gives no identity: {identity:?}"
            );
            x509_accepted |= cert_type == CertType::X509;
        }
    }
    let _ = PeerIdentity::from_certificates(Some(alone));
    x509_accepted
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check(&CertificateDer::from(bytes));
        return;
    }
    let certificate = CertificateDer::from(signed_certificate(bytes));
    if check(&certificate) {
        // Only the fixed key verifies the self-signature, so the verifier's
        // full parse read it; the walk must read the same.
        let identity = PeerIdentity::from_certificates(Some(std::slice::from_ref(&certificate)))
            .expect("an accepted certificate has an identity");
        assert_eq!(
            identity.key(),
            Some(&KEY.verifying_key()),
            "the walk read another key"
        );
    }
});
