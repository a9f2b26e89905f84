//! Fuzzes what a peer's certificate goes through: the client's pinned-key
//! verifier, the server's client-certificate verifier (both certificate
//! types), and `PeerIdentity`, which reads the key by walking the DER rather
//! than parsing the certificate again. The handshake signature check is not
//! called (rustls has no public constructor for the signature it takes); it
//! reads the key through the same function as `PeerIdentity`.
//!
//! The first input byte chooses the mode, the rest is the bytes:
//! - even: the bytes are the certificate (an X.509 certificate or a raw
//!   public key, as a peer sends it).
//! - odd: the bytes are the signed part (TBSCertificate) of an X.509
//!   certificate that the target wraps and signs with a fixed key, so that
//!   the self-signature holds and the parsers decide. Whenever the verifier
//!   accepts such a certificate, the walk must read the key the verifier
//!   read: `PeerIdentity` must name the fixed key.
//!
//! In both modes, whatever the pinned verifier accepts has the fixed key as
//! its identity, and no verifier accepts a chain.

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

/// A verifier pinning the fixed key, and one of any client key, per type.
static VERIFIERS: LazyLock<[(CertType, PinnedServerVerifier, ClientKeyVerifier); 2]> =
    LazyLock::new(|| {
        [CertType::X509, CertType::RawPublicKey].map(|cert_type| {
            (
                cert_type,
                PinnedServerVerifier::new(KEY.verifying_key(), cert_type).expect("a valid key"),
                ClientKeyVerifier::new(ClientAuth::Optional, cert_type),
            )
        })
    });

/// Which verifiers accepted a certificate as X.509.
struct Accepted {
    pinned: bool,
    client: bool,
}

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

/// Runs every check a peer certificate meets, asserting what holds for any
/// input; returns which verifiers accepted it as an X.509 certificate.
fn check(certificate: &CertificateDer<'_>) -> Accepted {
    let name = ServerName::try_from("fuzz.invalid").expect("a valid name");
    let now = UnixTime::now();
    let alone = std::slice::from_ref(certificate);
    let identity = PeerIdentity::from_certificates(Some(alone));
    let mut x509 = Accepted {
        pinned: false,
        client: false,
    };
    for (cert_type, pinned, clients) in VERIFIERS.iter() {
        let pinned_accepted = pinned
            .verify_server_cert(certificate, &[], &name, &[], now)
            .is_ok();
        let client_accepted = clients.verify_client_cert(certificate, &[], now).is_ok();
        assert!(
            pinned
                .verify_server_cert(certificate, alone, &name, &[], now)
                .is_err()
                && clients.verify_client_cert(certificate, alone, now).is_err(),
            "a chain was accepted"
        );
        // The same checks but for the pinning.
        assert!(
            client_accepted || !pinned_accepted,
            "the pinned verifier accepted what the client verifier refused"
        );
        if client_accepted {
            assert!(
                matches!(identity, Ok(PeerIdentity::Authenticated(_))),
                "an accepted certificate gives no identity: {identity:?}"
            );
        }
        if pinned_accepted {
            // The full parse read the fixed key; the walk must read it too.
            assert_eq!(
                identity.as_ref().ok().and_then(PeerIdentity::key),
                Some(&KEY.verifying_key()),
                "the walk read another key than the pinned verifier"
            );
        }
        if *cert_type == CertType::X509 {
            x509 = Accepted {
                pinned: pinned_accepted,
                client: client_accepted,
            };
        }
    }
    x509
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
    let accepted = check(&certificate);
    // Only the fixed key verifies the self-signature, so a certificate the
    // client verifier accepts carries it, and the pinned verifier accepts
    // it too (check asserted the identity then).
    assert!(
        accepted.pinned || !accepted.client,
        "a certificate signed by the fixed key was accepted with another key"
    );
});
