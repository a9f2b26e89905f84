//! Handshakes over real loopback TCP (127.0.0.1) with rustls's blocking
//! streams: the full matrix of what the policy allows, and each case it
//! forbids, failing with the expected error.
//!
//! Peers that mosaic-tls cannot be configured to be (TLS 1.2 only, RSA
//! certificates, tampered certificates, a signer that does not match its
//! certificate) are built here from rustls and mosaic-tls's public pieces.

mod common;

use std::sync::Arc;

use common::{Outcome, Server, run};
use mosaic_tls::rustls::client::AlwaysResolvesClientRawPublicKeys;
use mosaic_tls::rustls::pki_types::CertificateDer;
use mosaic_tls::rustls::pki_types::pem::PemObject;
use mosaic_tls::rustls::server::{AlwaysResolvesServerRawPublicKeys, ResolvesServerCert};
use mosaic_tls::rustls::sign::{CertifiedKey, SingleCertAndKey};
use mosaic_tls::rustls::{
    self, AlertDescription, ClientConfig, ProtocolVersion, ServerConfig, SupportedProtocolVersion,
};
use mosaic_tls::{
    ALPN_HTTP_1_1, CertType, ClientAuth, ClientKeyVerifier, ClientTls, Identity, KeyError,
    PeerCertError, PeerIdentity, PinnedServerVerifier, ServerCertTypes, ServerTls, TlsVersions,
    crypto_provider, encode_mopub,
};

fn identity(seed: u8) -> Identity {
    Identity::from_signing_key(mosaic_tls::ed25519_dalek::SigningKey::from_bytes(
        &[seed; 32],
    ))
}

fn server_identity() -> Identity {
    identity(1)
}

fn client_identity() -> Identity {
    identity(2)
}

static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

// ---------------------------------------------------------------------------
// Deviant peers, built from rustls and public mosaic-tls pieces.

/// A server with a fixed certificate chain and signer (anything the test
/// wants to present), Mosaic's provider and client verifier.
fn plain_server(
    versions: &[&'static SupportedProtocolVersion],
    certified: CertifiedKey,
    raw: bool,
    client_auth: ClientAuth,
) -> Server {
    let certified = Arc::new(certified);
    let resolver: Arc<dyn ResolvesServerCert> = if raw {
        Arc::new(AlwaysResolvesServerRawPublicKeys::new(certified))
    } else {
        Arc::new(SingleCertAndKey::from(certified))
    };
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_client_cert_verifier(Arc::new(ClientKeyVerifier::new(
            client_auth,
            CertType::X509,
        )))
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Server::Plain(Arc::new(config))
}

/// A client with a fixed certificate (or none), Mosaic's provider and a
/// verifier pinning `pinned`.
fn plain_client(
    versions: &[&'static SupportedProtocolVersion],
    pinned: &Identity,
    server_cert_type: CertType,
    certified: Option<(CertifiedKey, CertType)>,
) -> Arc<ClientConfig> {
    let verifier = PinnedServerVerifier::new(pinned.public_key(), server_cert_type).unwrap();
    let builder = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match certified {
        None => builder.with_no_client_auth(),
        Some((certified, CertType::X509)) => {
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
        }
        Some((certified, CertType::RawPublicKey)) => builder.with_client_cert_resolver(Arc::new(
            AlwaysResolvesClientRawPublicKeys::new(Arc::new(certified)),
        )),
    };
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Arc::new(config)
}

fn certified(identity: &Identity, certificate: CertificateDer<'static>) -> CertifiedKey {
    CertifiedKey::new(vec![certificate], identity.tls_signing_key())
}

fn mosaic_server(cert_types: ServerCertTypes, client_auth: ClientAuth) -> Server {
    Server::from(
        ServerTls::builder(server_identity())
            .cert_types(cert_types)
            .client_auth(client_auth)
            .build()
            .unwrap(),
    )
}

fn mosaic_client(server_cert_type: CertType) -> Arc<ClientConfig> {
    ClientTls::builder(server_identity().public_key())
        .server_cert_type(server_cert_type)
        .build()
        .unwrap()
        .config()
}

fn pem_cert(pem: &[u8]) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem).unwrap()
}

// ---------------------------------------------------------------------------
// The matrix.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Versions {
    Both,
    Only13,
    /// Not a mosaic-tls mode: a deviant peer built in the test.
    Only12,
}

impl Versions {
    fn offers(self, version: ProtocolVersion) -> bool {
        match self {
            Versions::Both => true,
            Versions::Only13 => version == ProtocolVersion::TLSv1_3,
            Versions::Only12 => version == ProtocolVersion::TLSv1_2,
        }
    }

    fn mosaic(self) -> TlsVersions {
        match self {
            Versions::Both => TlsVersions::Tls12And13,
            Versions::Only13 => TlsVersions::Tls13Only,
            Versions::Only12 => unreachable!("no TLS 1.2-only mode in mosaic-tls"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ServerCase {
    versions: Versions,
    cert_types: ServerCertTypes,
    client_auth: ClientAuth,
}

#[derive(Debug, Clone, Copy)]
struct ClientCase {
    versions: Versions,
    server_cert_type: CertType,
    identity: Option<CertType>,
}

impl ServerCase {
    fn build(self) -> Server {
        if self.versions == Versions::Only12 {
            let raw = match self.cert_types {
                ServerCertTypes::X509 => false,
                ServerCertTypes::RawPublicKey => true,
                ServerCertTypes::Both => unreachable!("not built"),
            };
            let cert_type = if raw {
                CertType::RawPublicKey
            } else {
                CertType::X509
            };
            let certified = server_identity().certified_key(cert_type).unwrap();
            return plain_server(TLS12, (*certified).clone(), raw, self.client_auth);
        }
        Server::from(
            ServerTls::builder(server_identity())
                .versions(self.versions.mosaic())
                .cert_types(self.cert_types)
                .client_auth(self.client_auth)
                .build()
                .unwrap(),
        )
    }
}

impl ClientCase {
    fn build(self) -> Arc<ClientConfig> {
        let client = client_identity();
        if self.versions == Versions::Only12 {
            let certified = self
                .identity
                .map(|kind| ((*client.certified_key(kind).unwrap()).clone(), kind));
            return plain_client(TLS12, &server_identity(), self.server_cert_type, certified);
        }
        let mut builder = ClientTls::builder(server_identity().public_key())
            .versions(self.versions.mosaic())
            .server_cert_type(self.server_cert_type);
        if let Some(kind) = self.identity {
            builder = builder.identity(client, kind);
        }
        builder.build().unwrap().config()
    }

    fn uses_raw(self) -> bool {
        self.server_cert_type == CertType::RawPublicKey
            || self.identity == Some(CertType::RawPublicKey)
    }
}

/// What the policy says should happen: the negotiated version and what the
/// server sees of the client, or `None` for a failed handshake.
fn expected(server: ServerCase, client: ClientCase) -> Option<(ProtocolVersion, PeerIdentity)> {
    // The certificate type the server presents.
    let server_raw = match server.cert_types {
        ServerCertTypes::X509 => false,
        ServerCertTypes::RawPublicKey => true,
        // A rustls client asks for exactly one type; config_for follows it.
        ServerCertTypes::Both => client.server_cert_type == CertType::RawPublicKey,
    };
    if server_raw != (client.server_cert_type == CertType::RawPublicKey) {
        return None; // the client cannot take what the server serves
    }
    // A raw public key anywhere makes a mosaic-tls side TLS 1.3 only.
    let client_versions = if client.versions != Versions::Only12 && client.uses_raw() {
        Versions::Only13
    } else {
        client.versions
    };
    let client_raw = client.identity == Some(CertType::RawPublicKey);
    let server_versions = if server.versions != Versions::Only12 && (server_raw || client_raw) {
        Versions::Only13
    } else {
        server.versions
    };
    let version = [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]
        .into_iter()
        .find(|&v| client_versions.offers(v) && server_versions.offers(v))?;
    if version == ProtocolVersion::TLSv1_2 && (server_raw || client_raw) {
        return None; // raw public keys are TLS 1.3 only
    }
    if server.versions == Versions::Only12 && client_raw {
        return None; // the deviant server verifies X.509 client certificates only
    }
    let seen = match (server.client_auth, client.identity) {
        (ClientAuth::None, _) | (ClientAuth::Optional, None) => PeerIdentity::Anonymous,
        (ClientAuth::Required, None) => return None,
        (_, Some(_)) => PeerIdentity::Authenticated(client_identity().public_key()),
    };
    Some((version, seen))
}

fn check_matrix(server_versions: Versions) {
    let versions = [Versions::Both, Versions::Only13, Versions::Only12];
    let cert_types = [
        ServerCertTypes::X509,
        ServerCertTypes::RawPublicKey,
        ServerCertTypes::Both,
    ];
    let auth_modes = [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required];
    let kinds = [CertType::X509, CertType::RawPublicKey];
    let identities = [None, Some(CertType::X509), Some(CertType::RawPublicKey)];
    let (mut succeeded, mut failed) = (0, 0);
    for cert_types in cert_types {
        if server_versions == Versions::Only12 && cert_types == ServerCertTypes::Both {
            continue; // choosing per hello is mosaic-tls's job, not the deviant's
        }
        for client_auth in auth_modes {
            let server = ServerCase {
                versions: server_versions,
                cert_types,
                client_auth,
            };
            let built_server = server.build();
            for client_versions in versions {
                if server_versions == Versions::Only12 && client_versions == Versions::Only12 {
                    continue; // two deviants test nothing of ours
                }
                for server_cert_type in kinds {
                    for identity in identities {
                        let client = ClientCase {
                            versions: client_versions,
                            server_cert_type,
                            identity,
                        };
                        let (server_result, client_result) = run(&built_server, client.build());
                        let case = format!("{server:?} {client:?}");
                        match expected(server, client) {
                            Some((version, seen)) => {
                                let on_server = server_result
                                    .unwrap_or_else(|e| panic!("{case}: server failed: {e:?}"));
                                let on_client = client_result
                                    .unwrap_or_else(|e| panic!("{case}: client failed: {e:?}"));
                                assert_eq!(
                                    on_server,
                                    Outcome {
                                        version,
                                        peer: seen,
                                        alpn: Some(ALPN_HTTP_1_1.to_vec())
                                    },
                                    "{case}: server side"
                                );
                                assert_eq!(
                                    on_client,
                                    Outcome {
                                        version,
                                        peer: PeerIdentity::Authenticated(
                                            server_identity().public_key()
                                        ),
                                        alpn: Some(ALPN_HTTP_1_1.to_vec())
                                    },
                                    "{case}: client side"
                                );
                                succeeded += 1;
                            }
                            None => {
                                assert!(
                                    server_result.is_err() && client_result.is_err(),
                                    "{case}: should fail on both sides, got server \
                                     {server_result:?} client {client_result:?}"
                                );
                                failed += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "{server_versions:?} servers: {succeeded} allowed cases succeeded, {failed} forbidden cases failed"
    );
    assert!(succeeded > 0 && failed > 0);
}

#[test]
fn matrix_server_tls12_and_13() {
    check_matrix(Versions::Both);
}

#[test]
fn matrix_server_tls13_only() {
    check_matrix(Versions::Only13);
}

#[test]
fn matrix_server_tls12_only_deviant() {
    check_matrix(Versions::Only12);
}

// ---------------------------------------------------------------------------
// Forbidden cases, each with its error.

/// The client's error, which must be a PeerCertError; the server must fail too.
fn client_rejects(server: &Server, client: Arc<ClientConfig>) -> PeerCertError {
    let (server_result, client_result) = run(server, client);
    let failure = client_result.expect_err("client must fail");
    let error = failure
        .peer_cert_error()
        .unwrap_or_else(|| panic!("client failed without a PeerCertError: {failure:?}"))
        .clone();
    let server_failure = server_result.expect_err("server must fail");
    assert!(
        matches!(
            server_failure.tls(),
            Some(rustls::Error::AlertReceived(
                AlertDescription::CertificateUnknown
                    | AlertDescription::BadCertificate
                    | AlertDescription::DecryptError
            ))
        ),
        "server saw {server_failure:?}"
    );
    error
}

/// The server's error, which must be a PeerCertError; the client must fail too.
fn server_rejects(server: &Server, client: Arc<ClientConfig>) -> PeerCertError {
    let (server_result, client_result) = run(server, client);
    let failure = server_result.expect_err("server must fail");
    let error = failure
        .peer_cert_error()
        .unwrap_or_else(|| panic!("server failed without a PeerCertError: {failure:?}"))
        .clone();
    client_result.expect_err("client must fail");
    error
}

#[test]
fn wrong_pinned_key_fails_with_both_keys_named() {
    let impostor = identity(9);
    for (versions, raw) in [(TLS13, false), (TLS12, false), (TLS13, true)] {
        let kind = if raw {
            CertType::RawPublicKey
        } else {
            CertType::X509
        };
        let certificate = (*impostor.certified_key(kind).unwrap()).clone();
        let server = plain_server(versions, certificate, raw, ClientAuth::None);
        let error = client_rejects(&server, mosaic_client(kind));
        assert_eq!(
            error,
            PeerCertError::WrongKey {
                presented: impostor.public_key().to_bytes(),
                pinned: server_identity().public_key().to_bytes(),
            }
        );
        let message = error.to_string();
        assert!(
            message.contains(&impostor.mopub()) && message.contains(&server_identity().mopub()),
            "{message}"
        );
    }
    // The same through mosaic-tls's own server, with the mopub0 builder.
    let server = Server::from(ServerTls::builder(impostor.clone()).build().unwrap());
    let client = ClientTls::builder_from_mopub(&server_identity().mopub())
        .unwrap()
        .build()
        .unwrap();
    assert!(matches!(
        client_rejects(&server, client.config()),
        PeerCertError::WrongKey { .. }
    ));
}

#[test]
fn non_ed25519_server_certificates_fail() {
    for (pem, name) in [
        (&include_bytes!("data/rsa-cert.pem")[..], "RSA"),
        (&include_bytes!("data/ecdsa-p256-cert.pem")[..], "ECDSA"),
        (&include_bytes!("data/ed448-cert.pem")[..], "Ed448"),
    ] {
        for versions in [TLS13, TLS12] {
            let server = plain_server(
                versions,
                certified(&server_identity(), pem_cert(pem)),
                false,
                ClientAuth::None,
            );
            match client_rejects(&server, mosaic_client(CertType::X509)) {
                PeerCertError::NotEd25519 { algorithm } => {
                    assert!(algorithm.starts_with(name), "{algorithm}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

/// An X.509 certificate with the identity's key whose self-signature is
/// broken: a flipped bit in the signature, or in the signed part.
fn tampered(identity: &Identity, at_signature: bool) -> CertificateDer<'static> {
    let mut der = identity.certificate().unwrap().to_vec();
    let len = der.len();
    let index = if at_signature {
        len - 1 // last byte of the signature
    } else {
        // A byte of the subject's mopub0 string, inside the TBS.
        let needle = identity.mopub();
        der.windows(needle.len())
            .position(|window| window == needle.as_bytes())
            .unwrap()
            + 10
    };
    der[index] ^= 0x01;
    der.into()
}

#[test]
fn tampered_self_signature_fails() {
    for at_signature in [true, false] {
        for versions in [TLS13, TLS12] {
            let server = plain_server(
                versions,
                certified(
                    &server_identity(),
                    tampered(&server_identity(), at_signature),
                ),
                false,
                ClientAuth::None,
            );
            assert_eq!(
                client_rejects(&server, mosaic_client(CertType::X509)),
                PeerCertError::BadSelfSignature
            );
        }
    }
}

/// A key whose bytes are a small-order point, as rcgen sees it: the
/// "signature" is garbage, which the key check must reject first.
struct WeakKey([u8; 32]);

impl rcgen::PublicKeyData for WeakKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ED25519
    }
}

impl rcgen::SigningKey for WeakKey {
    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(vec![0; 64])
    }
}

/// The identity point (order 1) and a point of order 8.
const WEAK_POINTS: [[u8; 32]; 2] = [
    {
        let mut point = [0u8; 32];
        point[0] = 1;
        point
    },
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

fn spki(key: &[u8; 32]) -> CertificateDer<'static> {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(key);
    der.into()
}

fn weak_x509(point: [u8; 32]) -> CertificateDer<'static> {
    let mut params = rcgen::CertificateParams::default();
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[1]));
    params.self_signed(&WeakKey(point)).unwrap().der().clone()
}

#[test]
fn weak_server_keys_fail() {
    for point in WEAK_POINTS {
        for versions in [TLS13, TLS12] {
            let server = plain_server(
                versions,
                certified(&server_identity(), weak_x509(point)),
                false,
                ClientAuth::None,
            );
            assert_eq!(
                client_rejects(&server, mosaic_client(CertType::X509)),
                PeerCertError::InvalidKey(KeyError::SmallOrder)
            );
        }
        let server = plain_server(
            TLS13,
            certified(&server_identity(), spki(&point)),
            true,
            ClientAuth::None,
        );
        assert_eq!(
            client_rejects(&server, mosaic_client(CertType::RawPublicKey)),
            PeerCertError::InvalidKey(KeyError::SmallOrder)
        );
    }
}

#[test]
fn non_canonical_raw_public_key_fails() {
    // y = p + 9 encodes y = 9 non-canonically; find a sign bit that decodes.
    let key = [0u8, 0x80]
        .into_iter()
        .map(|sign| {
            let mut key = [0xffu8; 32];
            key[0] = 0xed + 9;
            key[31] = 0x7f | sign;
            key
        })
        .find(|key| mosaic_tls::validate_public_key(key) == Err(KeyError::NonCanonical))
        .or_else(|| {
            // Fall back to any y = p + k that decodes.
            (2u8..19).find_map(|k| {
                let mut key = [0xffu8; 32];
                key[0] = 0xed + k;
                key[31] = 0x7f;
                (mosaic_tls::validate_public_key(&key) == Err(KeyError::NonCanonical))
                    .then_some(key)
            })
        })
        .expect("a non-canonical encoding on the curve");
    let server = plain_server(
        TLS13,
        certified(&server_identity(), spki(&key)),
        true,
        ClientAuth::None,
    );
    assert_eq!(
        client_rejects(&server, mosaic_client(CertType::RawPublicKey)),
        PeerCertError::InvalidKey(KeyError::NonCanonical)
    );
}

#[test]
fn certificate_chain_fails() {
    let certificate = server_identity().certificate().unwrap();
    let server = plain_server(
        TLS13,
        CertifiedKey::new(
            vec![certificate.clone(), certificate],
            server_identity().tls_signing_key(),
        ),
        false,
        ClientAuth::None,
    );
    assert_eq!(
        client_rejects(&server, mosaic_client(CertType::X509)),
        PeerCertError::ChainNotAllowed { count: 2 }
    );
}

#[test]
fn server_signing_with_another_key_fails() {
    // The pinned key's certificate, but the handshake signed by another key:
    // the server does not hold the key it presents.
    let impostor = identity(9);
    for (versions, kind) in [
        (TLS13, CertType::X509),
        (TLS12, CertType::X509),
        (TLS13, CertType::RawPublicKey),
    ] {
        let genuine = server_identity().certified_key(kind).unwrap();
        let server = plain_server(
            versions,
            CertifiedKey::new(genuine.cert.clone(), impostor.tls_signing_key()),
            kind == CertType::RawPublicKey,
            ClientAuth::None,
        );
        assert_eq!(
            client_rejects(&server, mosaic_client(kind)),
            PeerCertError::BadHandshakeSignature,
            "{versions:?} {kind:?}"
        );
    }
}

#[test]
fn client_certificate_missing_under_required_fails() {
    for versions in [TlsVersions::Tls12And13, TlsVersions::Tls13Only] {
        let server = Server::from(
            ServerTls::builder(server_identity())
                .client_auth(ClientAuth::Required)
                .build()
                .unwrap(),
        );
        let client = ClientTls::builder(server_identity().public_key())
            .versions(versions)
            .build()
            .unwrap();
        let (server_result, client_result) = run(&server, client.config());
        let server_failure = server_result.expect_err("server must fail");
        assert!(
            matches!(
                server_failure.tls(),
                Some(rustls::Error::NoCertificatesPresented)
            ),
            "{server_failure:?}"
        );
        let client_failure = client_result.expect_err("client must fail");
        assert!(
            matches!(
                client_failure.tls(),
                Some(rustls::Error::AlertReceived(
                    AlertDescription::CertificateRequired
                ))
            ),
            "{client_failure:?}"
        );
    }
    // Over TLS 1.2 (a deviant 1.2-only client), the alert is handshake_failure.
    let server = mosaic_server(ServerCertTypes::X509, ClientAuth::Required);
    let (server_result, client_result) = run(
        &server,
        plain_client(TLS12, &server_identity(), CertType::X509, None),
    );
    assert!(matches!(
        server_result.expect_err("server must fail").tls(),
        Some(rustls::Error::NoCertificatesPresented)
    ));
    client_result.expect_err("client must fail");
}

#[test]
fn bad_client_certificates_fail() {
    let client = client_identity();
    let impostor = identity(9);
    let cases: Vec<(CertifiedKey, CertType, PeerCertError)> = vec![
        (
            certified(&client, pem_cert(include_bytes!("data/rsa-cert.pem"))),
            CertType::X509,
            PeerCertError::NotEd25519 {
                algorithm: "RSA (OID 1.2.840.113549.1.1.1)".into(),
            },
        ),
        (
            certified(
                &client,
                pem_cert(include_bytes!("data/ecdsa-p256-cert.pem")),
            ),
            CertType::X509,
            PeerCertError::NotEd25519 {
                algorithm: "ECDSA (OID 1.2.840.10045.2.1)".into(),
            },
        ),
        (
            certified(&client, tampered(&client, true)),
            CertType::X509,
            PeerCertError::BadSelfSignature,
        ),
        (
            certified(&client, weak_x509(WEAK_POINTS[1])),
            CertType::X509,
            PeerCertError::InvalidKey(KeyError::SmallOrder),
        ),
        (
            certified(&client, spki(&WEAK_POINTS[0])),
            CertType::RawPublicKey,
            PeerCertError::InvalidKey(KeyError::SmallOrder),
        ),
        (
            CertifiedKey::new(
                vec![client.certificate().unwrap()],
                impostor.tls_signing_key(),
            ),
            CertType::X509,
            PeerCertError::BadHandshakeSignature,
        ),
        (
            CertifiedKey::new(
                vec![CertificateDer::from(client.raw_public_key().to_vec())],
                impostor.tls_signing_key(),
            ),
            CertType::RawPublicKey,
            PeerCertError::BadHandshakeSignature,
        ),
    ];
    for (certified, kind, expected) in cases {
        for auth in [ClientAuth::Optional, ClientAuth::Required] {
            let server = mosaic_server(ServerCertTypes::X509, auth);
            let config = plain_client(
                TLS13,
                &server_identity(),
                CertType::X509,
                Some((certified.clone(), kind)),
            );
            assert_eq!(server_rejects(&server, config), expected, "{auth:?}");
        }
        if kind == CertType::X509 {
            // And over TLS 1.2.
            let server = mosaic_server(ServerCertTypes::X509, ClientAuth::Optional);
            let config = plain_client(
                TLS12,
                &server_identity(),
                CertType::X509,
                Some((certified, kind)),
            );
            assert_eq!(server_rejects(&server, config), expected, "TLS 1.2");
        }
    }
}

#[test]
fn raw_public_key_over_tls12_fails() {
    // A TLS 1.2-only client asking for a raw public key: mosaic-tls serves
    // raw public keys over TLS 1.3 only.
    for cert_types in [ServerCertTypes::RawPublicKey, ServerCertTypes::Both] {
        let server = mosaic_server(cert_types, ClientAuth::None);
        let client = plain_client(TLS12, &server_identity(), CertType::RawPublicKey, None);
        let (server_result, client_result) = run(&server, client);
        let server_failure = server_result.expect_err("server must fail");
        assert!(
            matches!(
                server_failure.tls(),
                Some(rustls::Error::PeerIncompatible(
                    rustls::PeerIncompatible::Tls12NotOfferedOrEnabled
                ))
            ),
            "{server_failure:?}"
        );
        client_result.expect_err("client must fail");
    }
    // A TLS 1.2-only client offering a raw public key as its certificate.
    let server = mosaic_server(ServerCertTypes::X509, ClientAuth::Optional);
    let client = plain_client(
        TLS12,
        &server_identity(),
        CertType::X509,
        Some((
            (*client_identity()
                .certified_key(CertType::RawPublicKey)
                .unwrap())
            .clone(),
            CertType::RawPublicKey,
        )),
    );
    let (server_result, client_result) = run(&server, client);
    server_result.expect_err("server must fail");
    client_result.expect_err("client must fail");
    // A mosaic-tls client asking for a raw public key never offers TLS 1.2,
    // even when told TLS 1.2 is fine: a TLS 1.2-only server cannot serve it.
    let certified = (*server_identity()
        .certified_key(CertType::RawPublicKey)
        .unwrap())
    .clone();
    let server = plain_server(TLS12, certified, true, ClientAuth::None);
    let client = ClientTls::builder(server_identity().public_key())
        .versions(TlsVersions::Tls12And13)
        .server_cert_type(CertType::RawPublicKey)
        .build()
        .unwrap();
    let (server_result, client_result) = run(&server, client.config());
    let server_failure = server_result.expect_err("server must fail");
    assert!(
        matches!(
            server_failure.tls(),
            Some(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::Tls12NotOfferedOrEnabled
            ))
        ),
        "{server_failure:?}"
    );
    client_result.expect_err("client must fail");
}

#[test]
fn downgrade_to_tls12_fails_when_tls13_only() {
    // A TLS 1.3-only mosaic-tls client against a TLS 1.2-only server.
    let certified = (*server_identity().certified_key(CertType::X509).unwrap()).clone();
    let server = plain_server(TLS12, certified, false, ClientAuth::None);
    let client = ClientTls::builder(server_identity().public_key())
        .versions(TlsVersions::Tls13Only)
        .build()
        .unwrap();
    let (server_result, client_result) = run(&server, client.config());
    let server_failure = server_result.expect_err("server must fail");
    assert!(
        matches!(
            server_failure.tls(),
            Some(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::Tls12NotOfferedOrEnabled
            ))
        ),
        "{server_failure:?}"
    );
    client_result.expect_err("client must fail");
    // A TLS 1.3-only mosaic-tls server against a TLS 1.2-only client.
    let server = Server::from(
        ServerTls::builder(server_identity())
            .versions(TlsVersions::Tls13Only)
            .build()
            .unwrap(),
    );
    let client = plain_client(TLS12, &server_identity(), CertType::X509, None);
    let (server_result, client_result) = run(&server, client);
    let server_failure = server_result.expect_err("server must fail");
    let client_failure = client_result.expect_err("client must fail");
    assert!(
        matches!(
            client_failure.tls(),
            Some(rustls::Error::AlertReceived(
                AlertDescription::ProtocolVersion
            ))
        ),
        "{server_failure:?} {client_failure:?}"
    );
}

#[test]
fn weak_or_invalid_pinned_keys_are_refused_locally() {
    for point in WEAK_POINTS {
        assert!(matches!(
            ClientTls::builder_from_bytes(&point),
            Err(mosaic_tls::ConfigError::InvalidPublicKey(
                KeyError::SmallOrder
            ))
        ));
    }
    // ed25519-dalek makes a VerifyingKey of a weak point; its mopub0
    // string must still be refused.
    let weak_mopub = encode_mopub(
        &mosaic_tls::ed25519_dalek::VerifyingKey::from_bytes(&WEAK_POINTS[0]).unwrap(),
    );
    assert!(matches!(
        ClientTls::builder_from_mopub(&weak_mopub),
        Err(mosaic_tls::ConfigError::InvalidPublicKey(
            KeyError::SmallOrder
        ))
    ));
    let weak = mosaic_tls::ed25519_dalek::VerifyingKey::from_bytes(&WEAK_POINTS[1]).unwrap();
    assert!(matches!(
        ClientTls::builder(weak).build(),
        Err(mosaic_tls::ConfigError::InvalidPublicKey(
            KeyError::SmallOrder
        ))
    ));
}

#[test]
fn config_for_follows_the_client_hello() {
    // Both served: an X.509 client, a raw public key client, and each with a
    // raw public key identity, all through the same ServerTls.
    let server = mosaic_server(ServerCertTypes::Both, ClientAuth::Optional);
    for kind in [CertType::X509, CertType::RawPublicKey] {
        for identity in [CertType::X509, CertType::RawPublicKey] {
            let client = ClientTls::builder(server_identity().public_key())
                .server_cert_type(kind)
                .identity(client_identity(), identity)
                .build()
                .unwrap();
            let (server_result, client_result) = run(&server, client.config());
            assert_eq!(
                server_result.unwrap().peer,
                PeerIdentity::Authenticated(client_identity().public_key())
            );
            assert_eq!(client_result.unwrap().version, ProtocolVersion::TLSv1_3);
        }
    }
    // The plain config() serves X.509 to clients that send no extension.
    let server = ServerTls::builder(server_identity()).build().unwrap();
    let (server_result, client_result) = run(
        &Server::Plain(server.config()),
        mosaic_client(CertType::X509),
    );
    assert_eq!(server_result.unwrap().peer, PeerIdentity::Anonymous);
    assert_eq!(client_result.unwrap().version, ProtocolVersion::TLSv1_3);
}

#[test]
fn peer_identity_before_the_handshake_is_an_error() {
    let client = mosaic_client(CertType::X509);
    let connection =
        rustls::ClientConnection::new(client, "mosaic.test".try_into().unwrap()).unwrap();
    assert_eq!(
        PeerIdentity::from_connection(&connection),
        Err(mosaic_tls::PeerIdentityError::HandshakeIncomplete)
    );
}

/// Both sides of a handshake over memory: the client's connection once done.
fn handshake_in_memory(
    client: Arc<ClientConfig>,
    server: Arc<rustls::ServerConfig>,
) -> rustls::ClientConnection {
    let mut client =
        rustls::ClientConnection::new(client, "mosaic.test".try_into().unwrap()).unwrap();
    let mut server = rustls::ServerConnection::new(server).unwrap();
    let mut buffer = Vec::new();
    for _ in 0..10 {
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
        buffer.clear();
        client.write_tls(&mut buffer).unwrap();
        server.read_tls(&mut &buffer[..]).unwrap();
        server.process_new_packets().unwrap();
        buffer.clear();
        server.write_tls(&mut buffer).unwrap();
        client.read_tls(&mut &buffer[..]).unwrap();
        client.process_new_packets().unwrap();
    }
    assert!(!client.is_handshaking(), "handshake did not finish");
    client
}

#[test]
fn server_identity_is_the_pinned_key_and_agrees_with_from_connection() {
    let pinned = server_identity().public_key();
    for (kind, served) in [
        (CertType::X509, ServerCertTypes::X509),
        (CertType::RawPublicKey, ServerCertTypes::RawPublicKey),
    ] {
        let server = ServerTls::builder(server_identity())
            .cert_types(served)
            .build()
            .unwrap();
        let client = ClientTls::builder(pinned)
            .server_cert_type(kind)
            .build()
            .unwrap();
        let connection = handshake_in_memory(client.config(), server.config());
        assert_eq!(
            client.server_identity(&connection),
            Ok(PeerIdentity::Authenticated(pinned)),
            "{kind:?}"
        );
        assert_eq!(
            client.server_identity(&connection),
            PeerIdentity::from_connection(&connection)
        );
    }
}

#[test]
fn reconnections_resume_unless_resumption_is_disabled() {
    use mosaic_tls::rustls::HandshakeKind;
    use mosaic_tls::rustls::client::Resumption;
    let pinned = server_identity().public_key();
    let server = ServerTls::builder(server_identity()).build().unwrap();
    for (resumption, again) in [
        (None, HandshakeKind::Resumed),
        (Some(Resumption::disabled()), HandshakeKind::Full),
    ] {
        let mut builder = ClientTls::builder(pinned);
        if let Some(resumption) = resumption {
            builder = builder.resumption(resumption);
        }
        let client = builder.build().unwrap();
        let first = handshake_in_memory(client.config(), server.config());
        assert_eq!(first.handshake_kind(), Some(HandshakeKind::Full));
        let second = handshake_in_memory(client.config(), server.config());
        assert_eq!(second.handshake_kind(), Some(again));
        // A resumed connection keeps the certificate checked when the
        // session was made, and with it the server's identity.
        assert_eq!(
            client.server_identity(&second),
            Ok(PeerIdentity::Authenticated(pinned)),
            "{again:?}"
        );
    }
}

#[test]
fn server_identity_reads_the_certificate_when_it_carries_another_key() {
    // A connection made with another configuration (pinning the server's
    // real key) is judged by its certificate, not by this one's pin.
    let real = server_identity().public_key();
    let server = ServerTls::builder(server_identity()).build().unwrap();
    let made_with = ClientTls::builder(real).build().unwrap();
    let connection = handshake_in_memory(made_with.config(), server.config());
    let other = ClientTls::builder(client_identity().public_key())
        .build()
        .unwrap();
    assert_eq!(
        other.server_identity(&connection),
        Ok(PeerIdentity::Authenticated(real))
    );
}

#[test]
fn server_identity_before_the_handshake_is_an_error() {
    let client = ClientTls::builder(server_identity().public_key())
        .build()
        .unwrap();
    let connection =
        rustls::ClientConnection::new(client.config(), "mosaic.test".try_into().unwrap()).unwrap();
    assert_eq!(
        client.server_identity(&connection),
        Err(mosaic_tls::PeerIdentityError::HandshakeIncomplete)
    );
}
