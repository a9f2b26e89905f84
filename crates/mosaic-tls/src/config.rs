//! Server and client configurations.

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use rustls::client::{AlwaysResolvesClientRawPublicKeys, Resumption};
use rustls::server::{
    AlwaysResolvesServerRawPublicKeys, ClientHello, ResolvesServerCert, ServerConfig,
};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, SupportedProtocolVersion};

use crate::cert::{CertType, peer_key_bytes};
use crate::error::{ConfigError, PeerIdentityError};
use crate::human::{parse_mopub, validate_public_key};
use crate::identity::Identity;
use crate::peer::PeerIdentity;
use crate::provider::crypto_provider;
use crate::verify::{ClientAuth, ClientKeyVerifier, PinnedServerVerifier};

/// The ALPN protocol both sides offer: WebSockets upgrade over HTTP/1.1.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The TLS versions a side accepts. TLS 1.3 is always preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.3 and TLS 1.2 (the default, per spec/websockets.md "at least 1.2").
    #[default]
    Tls12And13,
    /// TLS 1.3 only.
    Tls13Only,
}

static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
static TLS13_AND_12: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

impl TlsVersions {
    /// The rustls versions, for a configuration that may (or may not) use
    /// raw public keys, which only TLS 1.3 carries: rustls would send them in
    /// a TLS 1.2 message no other stack accepts.
    fn rustls(self, raw_public_keys: bool) -> &'static [&'static SupportedProtocolVersion] {
        match self {
            TlsVersions::Tls12And13 if !raw_public_keys => TLS13_AND_12,
            _ => TLS13_ONLY,
        }
    }
}

/// The certificate types a server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerCertTypes {
    /// A self-signed X.509 certificate (the default).
    #[default]
    X509,
    /// An RFC 7250 raw public key, TLS 1.3 only; clients that do not ask for
    /// one fail the handshake.
    RawPublicKey,
    /// Either, chosen per ClientHello by [`ServerTls::config_for`].
    Both,
}

/// Builds a [`ServerTls`]; made by [`ServerTls::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerTlsBuilder {
    identity: Identity,
    cert_types: ServerCertTypes,
    client_auth: ClientAuth,
    versions: TlsVersions,
}

impl ServerTlsBuilder {
    /// The certificate types served (default [`ServerCertTypes::X509`]).
    pub fn cert_types(mut self, cert_types: ServerCertTypes) -> Self {
        self.cert_types = cert_types;
        self
    }

    /// Client authentication (default [`ClientAuth::Optional`]).
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// The TLS versions (default [`TlsVersions::Tls12And13`]; connections
    /// with a raw public key on either side are TLS 1.3 only).
    pub fn versions(mut self, versions: TlsVersions) -> Self {
        self.versions = versions;
        self
    }

    /// Builds every rustls configuration the server may need.
    pub fn build(self) -> Result<ServerTls, ConfigError> {
        let served = match self.cert_types {
            ServerCertTypes::X509 => Served::X509(self.pair(CertType::X509)?),
            ServerCertTypes::RawPublicKey => {
                Served::RawPublicKey(self.pair(CertType::RawPublicKey)?)
            }
            ServerCertTypes::Both => Served::Both {
                x509: self.pair(CertType::X509)?,
                raw: self.pair(CertType::RawPublicKey)?,
            },
        };
        Ok(ServerTls {
            public_key: self.identity.public_key(),
            served,
        })
    }

    /// The configurations serving `server` certificates, for clients with
    /// X.509 (or no) certificates and for clients with raw public keys.
    fn pair(&self, server: CertType) -> Result<Pair, ConfigError> {
        let certified = self.identity.certified_key(server)?;
        Ok(Pair {
            x509_clients: self.config(server, CertType::X509, &certified)?,
            raw_clients: self.config(server, CertType::RawPublicKey, &certified)?,
        })
    }

    fn config(
        &self,
        server: CertType,
        clients: CertType,
        certified: &Arc<CertifiedKey>,
    ) -> Result<Arc<ServerConfig>, ConfigError> {
        let raw = server == CertType::RawPublicKey || clients == CertType::RawPublicKey;
        let resolver: Arc<dyn ResolvesServerCert> = match server {
            CertType::X509 => Arc::new(SingleCertAndKey::from(certified.clone())),
            CertType::RawPublicKey => {
                Arc::new(AlwaysResolvesServerRawPublicKeys::new(certified.clone()))
            }
        };
        let mut config = ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(self.versions.rustls(raw))?
            .with_client_cert_verifier(Arc::new(ClientKeyVerifier::new(self.client_auth, clients)))
            .with_cert_resolver(resolver);
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        // TLS 1.2 only with the extended master secret (RFC 7627), which binds
        // the session to its handshake; OpenSSL and GnuTLS both offer it.
        config.require_ems = true;
        Ok(Arc::new(config))
    }
}

/// A server's TLS policy: the rustls configurations for one identity,
/// certificate types, client authentication mode and TLS versions.
///
/// rustls fixes the certificate types in a `ServerConfig` (the server's
/// through its certificate resolver, the client's through its verifier), so
/// the few configurations a server may need are built once, and
/// [`config_for`](Self::config_for) picks one per ClientHello. Use it with
/// rustls's `Acceptor` (or tokio-rustls's `LazyConfigAcceptor`).
#[derive(Debug, Clone)]
pub struct ServerTls {
    public_key: VerifyingKey,
    served: Served,
}

#[derive(Debug, Clone)]
enum Served {
    X509(Pair),
    RawPublicKey(Pair),
    Both { x509: Pair, raw: Pair },
}

#[derive(Debug, Clone)]
struct Pair {
    /// For clients that send an X.509 certificate or none.
    x509_clients: Arc<ServerConfig>,
    /// For clients that send a raw public key (TLS 1.3 only).
    raw_clients: Arc<ServerConfig>,
}

impl ServerTls {
    /// A builder for the server of `identity`, with the defaults: X.509,
    /// optional client authentication, TLS 1.2 and 1.3.
    pub fn builder(identity: Identity) -> ServerTlsBuilder {
        ServerTlsBuilder {
            identity,
            cert_types: ServerCertTypes::default(),
            client_auth: ClientAuth::default(),
            versions: TlsVersions::default(),
        }
    }

    /// The server's public key, the one clients pin.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    /// The configuration for a ClientHello: a pure, cheap choice among the
    /// prebuilt configurations.
    ///
    /// The server certificate is a raw public key when only raw public keys
    /// are served, or when both are and the client's `server_certificate_type`
    /// extension prefers one (lists it before X.509, and offers TLS 1.3 or
    /// lists no X.509); otherwise X.509. The client certificate type is
    /// chosen by the same rule from the `client_certificate_type` extension.
    /// A choice the client cannot honour fails the handshake in rustls (e.g.
    /// a raw public key to a TLS 1.2-only client). rustls does not expose the
    /// versions a client offers, so TLS 1.3 is inferred from TLS 1.3 cipher
    /// suites in the ClientHello: a client that lists them, speaks only TLS
    /// 1.2 and prefers raw public keys fails rather than falling back to
    /// X.509 (it fails closed).
    pub fn config_for(&self, hello: &ClientHello<'_>) -> Arc<ServerConfig> {
        let tls13 = hello
            .cipher_suites()
            .iter()
            .any(|suite| u16::from(*suite) >> 8 == 0x13);
        let pair = match &self.served {
            Served::X509(pair) | Served::RawPublicKey(pair) => pair,
            Served::Both { x509, raw } => {
                if prefers_raw(hello.server_cert_types(), tls13) {
                    raw
                } else {
                    x509
                }
            }
        };
        if prefers_raw(hello.client_cert_types(), tls13) {
            pair.raw_clients.clone()
        } else {
            pair.x509_clients.clone()
        }
    }

    /// The configuration for clients that send no certificate type
    /// extensions: X.509 client certificates (or none), and the X.509 server
    /// certificate unless only raw public keys are served. Enough for a
    /// server of one certificate type whose clients use X.509 or no
    /// certificate; [`config_for`](Self::config_for) serves every client.
    pub fn config(&self) -> Arc<ServerConfig> {
        match &self.served {
            Served::X509(pair) | Served::RawPublicKey(pair) | Served::Both { x509: pair, .. } => {
                pair.x509_clients.clone()
            }
        }
    }
}

/// Whether a certificate type extension (absent: X.509 only) makes a raw
/// public key the choice: the first type we know in the client's list is a
/// raw public key, and either the client offers TLS 1.3 (its cipher suites
/// include a TLS 1.3 suite) or it lists no X.509 to fall back to.
fn prefers_raw(offered: Option<&[rustls::server::CertificateType]>, tls13: bool) -> bool {
    use rustls::server::CertificateType;
    let Some(offered) = offered else {
        return false;
    };
    let first_known = offered
        .iter()
        .find(|kind| matches!(kind, CertificateType::X509 | CertificateType::RawPublicKey));
    first_known == Some(&CertificateType::RawPublicKey)
        && (tls13 || !offered.contains(&CertificateType::X509))
}

/// Builds a [`ClientTls`]; made by [`ClientTls::builder`] and its siblings.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientTlsBuilder {
    pinned: VerifyingKey,
    identity: Option<(Identity, CertType)>,
    server_cert_type: CertType,
    versions: TlsVersions,
    resumption: Resumption,
}

impl ClientTlsBuilder {
    /// Authenticate with `identity`, sending a certificate of `cert_type`
    /// when the server asks for one (default: no identity, anonymous).
    /// A raw public key makes the connection TLS 1.3 only.
    pub fn identity(mut self, identity: Identity, cert_type: CertType) -> Self {
        self.identity = Some((identity, cert_type));
        self
    }

    /// The certificate type to ask of the server (default
    /// [`CertType::X509`]; a raw public key makes the connection TLS 1.3 only).
    /// rustls asks for exactly one type.
    pub fn server_cert_type(mut self, cert_type: CertType) -> Self {
        self.server_cert_type = cert_type;
        self
    }

    /// The TLS versions (default [`TlsVersions::Tls12And13`]).
    pub fn versions(mut self, versions: TlsVersions) -> Self {
        self.versions = versions;
        self
    }

    /// Session resumption (default: rustls's `Resumption::default()`, an
    /// in-memory cache of sessions with up to 256 servers, kept by the
    /// configuration). A resumed connection skips the
    /// certificate and its signature and keeps the server certificate of the
    /// handshake that made the session, which was checked then.
    /// [`Resumption::disabled`] makes every connection a full handshake: each
    /// proves the pinned key again, and no two connections can be linked by
    /// a ticket.
    pub fn resumption(mut self, resumption: Resumption) -> Self {
        self.resumption = resumption;
        self
    }

    /// Builds the rustls configuration.
    pub fn build(self) -> Result<ClientTls, ConfigError> {
        let verifier = PinnedServerVerifier::new(self.pinned, self.server_cert_type)?;
        let raw = self.server_cert_type == CertType::RawPublicKey
            || matches!(self.identity, Some((_, CertType::RawPublicKey)));
        let builder = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(self.versions.rustls(raw))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((identity, CertType::X509)) => builder.with_client_cert_resolver(Arc::new(
                SingleCertAndKey::from(identity.certified_key(CertType::X509)?),
            )),
            Some((identity, CertType::RawPublicKey)) => {
                builder.with_client_cert_resolver(Arc::new(AlwaysResolvesClientRawPublicKeys::new(
                    identity.certified_key(CertType::RawPublicKey)?,
                )))
            }
        };
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        config.resumption = self.resumption;
        // TLS 1.2 only with the extended master secret (RFC 7627), which binds
        // the session to its handshake; OpenSSL and GnuTLS both offer it.
        config.require_ems = true;
        Ok(ClientTls {
            pinned: self.pinned,
            config: Arc::new(config),
        })
    }
}

/// A client's TLS policy: the rustls configuration that pins the server's
/// master public key.
#[derive(Debug, Clone)]
pub struct ClientTls {
    pinned: VerifyingKey,
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// A builder pinning `server_key`, with the defaults: X.509 server
    /// certificate, no client identity, TLS 1.2 and 1.3, rustls's session
    /// resumption. The key is checked
    /// by [`ClientTlsBuilder::build`].
    pub fn builder(server_key: VerifyingKey) -> ClientTlsBuilder {
        ClientTlsBuilder {
            pinned: server_key,
            identity: None,
            server_cert_type: CertType::X509,
            versions: TlsVersions::default(),
            resumption: Resumption::default(),
        }
    }

    /// A builder pinning the key of a `mopub0` string.
    pub fn builder_from_mopub(server_key: &str) -> Result<ClientTlsBuilder, ConfigError> {
        Ok(Self::builder(parse_mopub(server_key)?))
    }

    /// A builder pinning 32 key bytes.
    pub fn builder_from_bytes(server_key: &[u8; 32]) -> Result<ClientTlsBuilder, ConfigError> {
        Ok(Self::builder(validate_public_key(server_key)?))
    }

    /// The pinned key.
    pub fn pinned_key(&self) -> &VerifyingKey {
        &self.pinned
    }

    /// The server's identity on a connection made with this configuration:
    /// what [`PeerIdentity::from_connection`] gives, without checking the
    /// key's point again when the certificate carries the pinned key (the
    /// verifier required it to, and the pinned key was checked when this
    /// configuration was built). That check decompresses the point (a square
    /// root on the curve), about 15 µs of each connection's set-up here; and
    /// the key is found by walking the certificate's DER to it, not by
    /// parsing the whole certificate a third time (the verifier parsed it).
    ///
    /// # Errors
    /// As [`PeerIdentity::from_connection`].
    pub fn server_identity(
        &self,
        connection: &rustls::CommonState,
    ) -> Result<PeerIdentity, PeerIdentityError> {
        if !connection.is_handshaking()
            && let Some([certificate]) = connection.peer_certificates()
            && peer_key_bytes(certificate).is_some_and(|key| key == *self.pinned.as_bytes())
        {
            return Ok(PeerIdentity::Authenticated(self.pinned));
        }
        PeerIdentity::from_connection(connection)
    }

    /// The rustls configuration.
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}
