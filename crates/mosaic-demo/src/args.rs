//! The flags of the example programs, the same for every runtime.

use std::path::PathBuf;

use mosaic_handshake::{Extensions, ServerPolicy};
use mosaic_tls::{
    CertType, ClientAuth, ClientTls, Identity, ServerCertTypes, ServerTls, TlsVersions,
};
use mosaic_ws::{ClientOptions, ServerOptions};

/// Usage of the `server` example.
pub const SERVER_USAGE: &str = "\
usage: server [--listen ADDR] [--key-file PATH] [--extensions NAMES] [--service-url URL]
              [--nostr] [--client-auth none|optional|required] [--cert-type x509|rpk|both]
              [--tls13-only]
  --listen ADDR        address to listen on (default 127.0.0.1:8443)
  --key-file PATH      server key, PKCS#8 PEM; loaded when present, generated and saved
                       otherwise (default mosaic-server.pem)
  --extensions NAMES   ';'-separated extension names the server supports
  --service-url URL    absolute http(s) URL sent as X-Mosaic-Service-Url
  --nostr              dual-stack: hand connections without mosaic2024 over as nostr
  --client-auth MODE   client certificates: none, optional (default) or required
  --cert-type TYPE     server certificate: x509 (default), rpk (raw public key) or both
  --tls13-only         refuse TLS 1.2";

/// Usage of the `client` example.
pub const CLIENT_USAGE: &str = "\
usage: client --server-key MOPUB [--url URL] [--key-file PATH] [--cert-type x509|rpk]
              [--server-cert-type x509|rpk] [--extensions NAMES] [--tls13-only]
  --server-key MOPUB   the server's mopub0 key (pinned: any other key fails the handshake)
  --url URL            wss://host[:port]/ (default wss://127.0.0.1:8443/)
  --key-file PATH      client key for client authentication, PKCS#8 PEM; loaded when
                       present, generated and saved otherwise (default: anonymous)
  --cert-type TYPE     client certificate: x509 (default) or rpk (needs --key-file)
  --server-cert-type TYPE  the server certificate to ask for: x509 (default) or rpk
  --extensions NAMES   ';'-separated extension names to request
  --tls13-only         refuse TLS 1.2";

/// Parsed `server` flags.
#[derive(Clone, Debug)]
pub struct ServerArgs {
    /// `--listen`.
    pub listen: String,
    /// `--key-file`.
    pub key_file: PathBuf,
    /// `--extensions`.
    pub extensions: Option<String>,
    /// `--service-url`.
    pub service_url: Option<String>,
    /// `--nostr`.
    pub nostr: bool,
    /// `--client-auth`.
    pub client_auth: ClientAuth,
    /// `--cert-type`.
    pub cert_types: ServerCertTypes,
    /// `--tls13-only`.
    pub tls13_only: bool,
}

/// Parsed `client` flags.
#[derive(Clone, Debug)]
pub struct ClientArgs {
    /// `--url`.
    pub url: String,
    /// `--server-key`.
    pub server_key: String,
    /// `--key-file`.
    pub key_file: Option<PathBuf>,
    /// `--cert-type`.
    pub cert_type: CertType,
    /// `--server-cert-type`.
    pub server_cert_type: CertType,
    /// `--extensions`.
    pub extensions: Option<String>,
    /// `--tls13-only`.
    pub tls13_only: bool,
}

/// A `--cert-type` value: x509 or rpk.
fn cert_type(flag: &str, value: &str) -> Result<CertType, String> {
    match value {
        "x509" => Ok(CertType::X509),
        "rpk" => Ok(CertType::RawPublicKey),
        other => Err(format!("{flag}: unknown type {other:?}")),
    }
}

/// Takes the value after a flag.
fn value(flag: &str, args: &mut impl Iterator<Item = String>) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn versions(tls13_only: bool) -> TlsVersions {
    if tls13_only {
        TlsVersions::Tls13Only
    } else {
        TlsVersions::Tls12And13
    }
}

/// Loads the key at `path`, or generates one and saves it there.
pub fn load_or_generate(path: &PathBuf) -> Result<Identity, String> {
    if path.exists() {
        return Identity::load(path).map_err(|e| format!("cannot load {}: {e}", path.display()));
    }
    let identity = Identity::generate().map_err(|e| e.to_string())?;
    identity
        .save(path)
        .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
    Ok(identity)
}

fn extensions(names: Option<&str>) -> Result<Extensions, String> {
    match names {
        None => Ok(Extensions::default()),
        Some(names) => {
            Extensions::parse_header_value(names).map_err(|e| format!("--extensions: {e}"))
        }
    }
}

impl ServerArgs {
    /// Parses the flags after the program name.
    ///
    /// # Errors
    /// A message naming the bad flag, or the usage for `--help`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<ServerArgs, String> {
        let mut parsed = ServerArgs {
            listen: "127.0.0.1:8443".to_owned(),
            key_file: PathBuf::from("mosaic-server.pem"),
            extensions: None,
            service_url: None,
            nostr: false,
            client_auth: ClientAuth::Optional,
            cert_types: ServerCertTypes::X509,
            tls13_only: false,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--listen" => parsed.listen = value(&flag, &mut args)?,
                "--key-file" => parsed.key_file = value(&flag, &mut args)?.into(),
                "--extensions" => parsed.extensions = Some(value(&flag, &mut args)?),
                "--service-url" => parsed.service_url = Some(value(&flag, &mut args)?),
                "--nostr" => parsed.nostr = true,
                "--tls13-only" => parsed.tls13_only = true,
                "--client-auth" => {
                    parsed.client_auth = match value(&flag, &mut args)?.as_str() {
                        "none" => ClientAuth::None,
                        "optional" => ClientAuth::Optional,
                        "required" => ClientAuth::Required,
                        other => return Err(format!("--client-auth: unknown mode {other:?}")),
                    }
                }
                "--cert-type" => {
                    parsed.cert_types = match value(&flag, &mut args)?.as_str() {
                        "x509" => ServerCertTypes::X509,
                        "rpk" => ServerCertTypes::RawPublicKey,
                        "both" => ServerCertTypes::Both,
                        other => return Err(format!("--cert-type: unknown type {other:?}")),
                    }
                }
                "--help" | "-h" => return Err(SERVER_USAGE.to_owned()),
                other => return Err(format!("unknown flag {other:?}\n{SERVER_USAGE}")),
            }
        }
        Ok(parsed)
    }

    /// The server's options with `identity` as its key.
    ///
    /// # Errors
    /// A message for a bad extension list, service URL or TLS combination.
    pub fn options(&self, identity: Identity) -> Result<ServerOptions, String> {
        let tls = ServerTls::builder(identity)
            .cert_types(self.cert_types)
            .client_auth(self.client_auth)
            .versions(versions(self.tls13_only))
            .build()
            .map_err(|e| format!("TLS: {e}"))?;
        let mut policy = ServerPolicy::builder().dual_stack(self.nostr);
        for name in extensions(self.extensions.as_deref())?.iter() {
            policy = policy.supported_extension(name.as_str());
        }
        if let Some(url) = &self.service_url {
            policy = policy.service_url(url.clone());
        }
        let mut options = ServerOptions::new(tls);
        options.policy = policy.build().map_err(|e| format!("policy: {e}"))?;
        Ok(options)
    }
}

impl ClientArgs {
    /// Parses the flags after the program name.
    ///
    /// # Errors
    /// A message naming the bad or missing flag, or the usage for `--help`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<ClientArgs, String> {
        let mut url = "wss://127.0.0.1:8443/".to_owned();
        let mut server_key = None;
        let mut key_file = None;
        let mut client_cert_type = None;
        let mut server_cert_type = CertType::X509;
        let mut extension_names = None;
        let mut tls13_only = false;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--url" => url = value(&flag, &mut args)?,
                "--server-key" => server_key = Some(value(&flag, &mut args)?),
                "--key-file" => key_file = Some(value(&flag, &mut args)?.into()),
                "--extensions" => extension_names = Some(value(&flag, &mut args)?),
                "--tls13-only" => tls13_only = true,
                "--cert-type" => {
                    client_cert_type = Some(cert_type(&flag, &value(&flag, &mut args)?)?);
                }
                "--server-cert-type" => {
                    server_cert_type = cert_type(&flag, &value(&flag, &mut args)?)?;
                }
                "--help" | "-h" => return Err(CLIENT_USAGE.to_owned()),
                other => return Err(format!("unknown flag {other:?}\n{CLIENT_USAGE}")),
            }
        }
        let server_key =
            server_key.ok_or_else(|| format!("--server-key is required\n{CLIENT_USAGE}"))?;
        if client_cert_type.is_some() && key_file.is_none() {
            return Err("--cert-type is the client certificate's: it needs --key-file".to_owned());
        }
        Ok(ClientArgs {
            url,
            server_key,
            key_file,
            cert_type: client_cert_type.unwrap_or(CertType::X509),
            server_cert_type,
            extensions: extension_names,
            tls13_only,
        })
    }

    /// The client identity (`--key-file`), if any.
    ///
    /// # Errors
    /// A message when the key file cannot be read or written.
    pub fn identity(&self) -> Result<Option<Identity>, String> {
        self.key_file.as_ref().map(load_or_generate).transpose()
    }

    /// The client's options.
    ///
    /// # Errors
    /// A message for a bad server key, extension list or TLS combination.
    pub fn options(&self, identity: Option<Identity>) -> Result<ClientOptions, String> {
        let mut tls = ClientTls::builder_from_mopub(&self.server_key)
            .map_err(|e| format!("--server-key: {e}"))?
            .versions(versions(self.tls13_only))
            .server_cert_type(self.server_cert_type);
        if let Some(identity) = identity {
            tls = tls.identity(identity, self.cert_type);
        }
        let tls = tls.build().map_err(|e| format!("TLS: {e}"))?;
        let mut options = ClientOptions::new(tls);
        options.extensions = extensions(self.extensions.as_deref())?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn server_flags_parse() {
        let args = ServerArgs::parse(strings(&[
            "--listen",
            "[::1]:9000",
            "--extensions",
            "sync;other",
            "--nostr",
            "--client-auth",
            "required",
            "--cert-type",
            "both",
            "--tls13-only",
        ]))
        .expect("valid flags");
        assert_eq!(args.listen, "[::1]:9000");
        assert!(args.nostr && args.tls13_only);
        assert_eq!(args.client_auth, ClientAuth::Required);
        assert_eq!(args.cert_types, ServerCertTypes::Both);
        let options = args
            .options(Identity::generate().expect("rng"))
            .expect("options");
        assert!(options.policy.dual_stack());
        assert!(options.policy.supported_extensions().contains("sync"));
        assert!(ServerArgs::parse(strings(&["--client-auth", "maybe"])).is_err());
        assert!(ServerArgs::parse(strings(&["--bogus"])).is_err());
        assert!(ServerArgs::parse(strings(&["--listen"])).is_err());
        let bad_url = ServerArgs::parse(strings(&["--service-url", "ftp://x/"])).expect("parses");
        assert!(bad_url.options(Identity::generate().expect("rng")).is_err());
    }

    #[test]
    fn client_flags_parse() {
        let server = Identity::generate().expect("rng");
        let args = ClientArgs::parse(strings(&[
            "--server-key",
            &server.mopub(),
            "--url",
            "wss://[::1]:9000/",
            "--key-file",
            "client.pem",
            "--cert-type",
            "rpk",
            "--server-cert-type",
            "rpk",
        ]))
        .expect("valid flags");
        assert_eq!(args.cert_type, CertType::RawPublicKey);
        assert_eq!(args.server_cert_type, CertType::RawPublicKey);
        assert!(
            args.options(Some(Identity::generate().expect("rng")))
                .is_ok()
        );
        let no_key = ClientArgs::parse(strings(&[
            "--server-key",
            &server.mopub(),
            "--cert-type",
            "rpk",
        ]));
        assert!(no_key.is_err(), "a client certificate type needs a key");
        assert!(
            ClientArgs::parse(strings(&["--url", "wss://x/"])).is_err(),
            "server key required"
        );
        let bad_key = ClientArgs::parse(strings(&["--server-key", "mopub0nope"])).expect("parses");
        assert!(bad_key.options(None).is_err());
    }
}
