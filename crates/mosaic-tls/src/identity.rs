//! Identities: an ed25519 signing key, its storage forms and its TLS
//! credentials.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

use crate::cert::{CertType, ed25519_spki, self_signed_certificate};
use crate::error::ConfigError;
use crate::human::{decode_mosec, encode_mopub, encode_mosec};
use crate::sign::TlsSigningKey;

/// A Mosaic identity: an ed25519 signing key (a server's master key, or a
/// client's signing key), and the TLS credentials made from it.
///
/// The secret lives once, behind an [`Arc`]; clones share it and the TLS
/// handshake signs through it (rustls never gets the secret bytes). It is
/// zeroized when the last clone is dropped. `Debug` shows only the public key.
#[derive(Clone)]
pub struct Identity {
    key: Arc<ed25519_dalek::SigningKey>,
}

impl Identity {
    /// A new identity from the operating system's random number generator.
    pub fn generate() -> Result<Self, ConfigError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut seed[..]).map_err(|error| ConfigError::Random(error.to_string()))?;
        Ok(Self::from_signing_key(
            ed25519_dalek::SigningKey::from_bytes(&seed),
        ))
    }

    /// The identity of an existing signing key.
    pub fn from_signing_key(key: ed25519_dalek::SigningKey) -> Self {
        Self { key: Arc::new(key) }
    }

    /// The signing key.
    pub fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }

    /// The public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as a `mopub0` string.
    pub fn mopub(&self) -> String {
        encode_mopub(&self.public_key())
    }

    /// The secret key as a `mosec0` string (prefix and zbase32 of the 32-byte
    /// seed), zeroized when dropped.
    pub fn to_mosec(&self) -> Zeroizing<String> {
        encode_mosec(self.key.as_bytes())
    }

    /// The identity of a `mosec0` string.
    pub fn from_mosec(text: &str) -> Result<Self, ConfigError> {
        let seed = decode_mosec(text)?;
        Ok(Self::from_signing_key(
            ed25519_dalek::SigningKey::from_bytes(&seed),
        ))
    }

    /// The secret key as PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`, RFC
    /// 8410: the 32-byte seed, no public key), the form OpenSSL and GnuTLS
    /// read (they do not read the v2 form ed25519-dalek writes by default).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, ConfigError> {
        KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| ConfigError::Pkcs8(error.to_string()))
    }

    /// The identity of an unencrypted ed25519 PKCS#8 PEM private key, v1
    /// (OpenSSL's `genpkey -algorithm ed25519`) or v2 (with the public key,
    /// which must match the secret).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, ConfigError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_signing_key)
            .map_err(|error| {
                let hint = if pem.contains("ENCRYPTED PRIVATE KEY") {
                    " (the key is encrypted: decrypt it first, e.g. `openssl pkey -in KEY -out PLAIN`)"
                } else {
                    ""
                };
                ConfigError::Pkcs8(format!("{error}{hint}"))
            })
    }

    /// Writes the secret key to `path` as PKCS#8 v1 PEM (see
    /// [`to_pkcs8_pem`](Self::to_pkcs8_pem)), replacing the file atomically:
    /// the key goes to a new file beside it (mode 0600 on unix, created
    /// before the key is written), which is then renamed over `path`, so a
    /// failed write never loses the key already there.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ConfigError> {
        use std::io::Write;
        let path = path.as_ref();
        let pem = self.to_pkcs8_pem()?;
        let error = |source| ConfigError::KeyFile {
            action: "write",
            path: path.to_path_buf(),
            source,
        };
        // Written to a new file beside the target, then renamed over it: a
        // failed or interrupted write never destroys the key already there,
        // and the new file is created with mode 0600 (never following a link).
        let file_name = path.file_name().ok_or_else(|| {
            error(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a file path",
            ))
        })?;
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(file_name);
        temporary_name.push(".tmp");
        let temporary = path.with_file_name(temporary_name);
        // A leftover from an interrupted save (or a link planted there) goes.
        let _ = std::fs::remove_file(&temporary);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = options.open(&temporary).and_then(|mut file| {
            file.write_all(pem.as_bytes())?;
            file.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, path)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(error(e));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename durable; a failure here leaves a valid key file.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    /// Reads a secret key written by [`save`](Self::save), by OpenSSL
    /// (`openssl genpkey -algorithm ed25519`) or by GnuTLS
    /// (`certtool --generate-privkey --key-type ed25519`).
    ///
    /// At most [`Identity::MAX_KEY_FILE_LEN`] bytes are read: a key is about
    /// 120, and a path to a large file (or `/dev/zero`) must not fill memory.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        use std::io::Read as _;

        let path = path.as_ref();
        let failed = |source| ConfigError::KeyFile {
            action: "read",
            path: path.to_path_buf(),
            source,
        };
        let mut pem = Zeroizing::new(String::new());
        std::fs::File::open(path)
            .and_then(|file| {
                file.take(Self::MAX_KEY_FILE_LEN + 1)
                    .read_to_string(&mut pem)
            })
            .map_err(failed)?;
        if pem.len() as u64 > Self::MAX_KEY_FILE_LEN {
            return Err(failed(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "larger than {} bytes: not a key file",
                    Self::MAX_KEY_FILE_LEN
                ),
            )));
        }
        Self::from_pkcs8_pem(&pem)
    }

    /// The most bytes [`Identity::load`] reads.
    pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

    /// The self-signed X.509 certificate (DER) carrying the public key; see
    /// the crate documentation for its contents. The same key always gives
    /// the same certificate.
    pub fn certificate(&self) -> Result<CertificateDer<'static>, ConfigError> {
        self_signed_certificate(&self.key)
    }

    /// The RFC 7250 raw public key: the DER SubjectPublicKeyInfo of the key.
    pub fn raw_public_key(&self) -> SubjectPublicKeyInfoDer<'static> {
        ed25519_spki(&self.public_key()).into()
    }

    /// A rustls signing key that signs (ED25519 only) with this identity's
    /// key, sharing it rather than copying the secret.
    pub fn tls_signing_key(&self) -> Arc<dyn rustls::sign::SigningKey> {
        Arc::new(TlsSigningKey(self.key.clone()))
    }

    /// The rustls credentials of this identity: the certificate of
    /// `cert_type` and [`tls_signing_key`](Self::tls_signing_key).
    pub fn certified_key(&self, cert_type: CertType) -> Result<Arc<CertifiedKey>, ConfigError> {
        let certificate = match cert_type {
            CertType::X509 => self.certificate()?,
            CertType::RawPublicKey => CertificateDer::from(self.raw_public_key().to_vec()),
        };
        Ok(Arc::new(CertifiedKey::new(
            vec![certificate],
            self.tls_signing_key(),
        )))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &self.mopub())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_v1_round_trip() {
        let identity = Identity::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
        let pem = identity.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        // v1 (RFC 8410 section 10.3 layout): version 0, id-Ed25519, the seed
        // in an OCTET STRING inside the OCTET STRING, nothing else: 48 bytes,
        // exactly one line of base64.
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert_eq!(
            &body[..22],
            "MC4CAQAwBQYDK2VwBCIEIA",
            "PKCS#8 v1 header 302e020100300506032b657004220420"
        );
        assert_eq!(body.len(), 64);
        let back = Identity::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public_key(), identity.public_key());
        assert_eq!(back.signing_key().to_bytes(), [9; 32]);
    }

    #[test]
    fn pkcs8_reads_v2_and_rfc8410_example() {
        // RFC 8410 section 10.3, the v1 example.
        let v1 = "-----BEGIN PRIVATE KEY-----\n\
                  MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
                  -----END PRIVATE KEY-----\n";
        let identity = Identity::from_pkcs8_pem(v1).unwrap();
        // v2 as ed25519-dalek writes it (with the public key).
        let v2 = identity.signing_key().to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_ne!(*v2, *identity.to_pkcs8_pem().unwrap());
        let back = Identity::from_pkcs8_pem(&v2).unwrap();
        assert_eq!(back.public_key(), identity.public_key());
    }

    #[test]
    fn pkcs8_errors_are_clear() {
        assert!(matches!(
            Identity::from_pkcs8_pem("not a key"),
            Err(ConfigError::Pkcs8(_))
        ));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let error = Identity::from_pkcs8_pem(encrypted).unwrap_err().to_string();
        assert!(error.contains("decrypt"), "{error}");
    }

    #[test]
    fn mosec_round_trip_and_debug_hides_secret() {
        let identity = Identity::generate().unwrap();
        let mosec = identity.to_mosec();
        let back = Identity::from_mosec(&mosec).unwrap();
        assert_eq!(back.public_key(), identity.public_key());
        let debug = format!("{identity:?}");
        assert!(debug.contains(&identity.mopub()));
        assert!(!debug.contains(&mosec[6..]), "{debug}");
    }

    /// A key file is read up to 64 KiB: a large file, or one without end,
    /// is refused without filling memory.
    #[test]
    fn loading_reads_a_bounded_file() {
        let dir = std::env::temp_dir().join(format!("mosaic-tls-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'A'; 64 * 1024 + 1]).unwrap();
        let error = Identity::load(&big).unwrap_err().to_string();
        assert!(error.contains("larger than 65536 bytes"), "{error}");
        #[cfg(target_os = "linux")]
        {
            let error = Identity::load("/dev/zero").unwrap_err().to_string();
            assert!(error.contains("larger than"), "{error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn save_and_load() {
        let dir = std::env::temp_dir().join(format!("mosaic-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.pem");
        let identity = Identity::generate().unwrap();
        identity.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = Identity::load(&path).unwrap();
        assert_eq!(back.public_key(), identity.public_key());
        // Saving again replaces the key, also past a leftover temporary file,
        // and leaves no temporary file behind.
        std::fs::write(dir.join(".key.pem.tmp"), b"leftover").unwrap();
        let other = Identity::generate().unwrap();
        other.save(&path).unwrap();
        assert_eq!(
            Identity::load(&path).unwrap().public_key(),
            other.public_key()
        );
        assert!(!dir.join(".key.pem.tmp").exists());
        // A save that cannot happen leaves the old key in place.
        assert!(other.save(dir.join("no-such-dir").join("key.pem")).is_err());
        assert_eq!(
            Identity::load(&path).unwrap().public_key(),
            other.public_key()
        );
        let missing = Identity::load(dir.join("missing.pem")).unwrap_err();
        assert!(matches!(
            missing,
            ConfigError::KeyFile { action: "read", .. }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn certificate_is_deterministic_and_checks() {
        let identity = Identity::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        let cert = identity.certificate().unwrap();
        assert_eq!(cert, identity.certificate().unwrap());
        let key = crate::cert::check_peer_certificate(&cert, &[], CertType::X509).unwrap();
        assert_eq!(key, identity.public_key());
        let rpk = CertificateDer::from(identity.raw_public_key().to_vec());
        assert_eq!(rpk.len(), 44);
        let key = crate::cert::check_peer_certificate(&rpk, &[], CertType::RawPublicKey).unwrap();
        assert_eq!(key, identity.public_key());
    }
}
