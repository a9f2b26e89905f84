"""Self-signed ed25519 X.509 certificates and pinned-key checks with the
`cryptography` package, for the Python interop peers."""

import datetime
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

import mosaic

RAW = serialization.Encoding.Raw


def new_secret():
    return os.urandom(32)


def self_signed(secret, common_name="mosaic python peer"):
    """(certificate PEM, PKCS#8 key PEM) for the ed25519 key `secret`."""
    key = Ed25519PrivateKey.from_private_bytes(secret)
    raw_public = key.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    # Our own arithmetic and the library's agree on the public key.
    if raw_public != mosaic.public_key(secret):
        raise AssertionError("cryptography and mosaic.py disagree on an ed25519 public key")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, None)  # ed25519: no separate digest
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def write_identity(directory, secret):
    """Writes cert.pem and key.pem for `secret` into `directory`."""
    cert_pem, key_pem = self_signed(secret)
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert_pem)
    with open(key_path, "wb") as f:
        f.write(key_pem)
    return cert_path, key_path


def secret_of_key_file(path):
    """The 32-byte ed25519 secret in a PKCS#8 PEM file."""
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an ed25519 key")
    return key.private_bytes(RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def certificate_key(der):
    """The raw ed25519 key of a DER certificate whose self-signature holds;
    ValueError otherwise."""
    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the certificate carries a {type(key).__name__}, not an ed25519 key")
    key.verify(cert.signature, cert.tbs_certificate_bytes)  # raises InvalidSignature
    return key.public_bytes(RAW, serialization.PublicFormat.Raw)


class PinnedKeyMismatch(ssl.SSLError):
    """The server's certificate carries another key than the pinned one."""


class PinningContext(ssl.SSLContext):
    """A TLS 1.3 client context that trusts exactly one ed25519 key.

    Python's ssl module has no verification callback, so the certificate
    cannot be refused inside the handshake: CA verification is off, and
    wrap_socket compares the certificate's key with the pinned key right
    after the TLS handshake, before a single HTTP byte is sent, closing the
    socket on a mismatch."""

    pinned = None
    identity_files = (None, None)

    def wrap_socket(self, sock, *args, **kwargs):
        tls = super().wrap_socket(sock, *args, **kwargs)
        try:
            der = tls.getpeercert(binary_form=True)
            if der is None:
                raise PinnedKeyMismatch("the server sent no certificate")
            try:
                key = certificate_key(der)
            except Exception as e:  # noqa: BLE001 - any defect refuses the peer
                raise PinnedKeyMismatch(f"unusable server certificate: {e}") from e
            if key != self.pinned:
                raise PinnedKeyMismatch(
                    f"server key {mosaic.encode_mopub(key)} is not the pinned "
                    f"{mosaic.encode_mopub(self.pinned)}"
                )
        except Exception:
            tls.close()
            raise
        return tls


def client_context(pinned_key, cert_path=None, key_path=None):
    context = PinningContext(ssl.PROTOCOL_TLS_CLIENT)
    context.pinned = pinned_key
    context.identity_files = (cert_path, key_path)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert_path:
        context.load_cert_chain(cert_path, key_path)
    return context
