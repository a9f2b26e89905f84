"""Self-signed ed25519 X.509 certificates and pinned-key checks with the
`cryptography` package, for the Python interop peers."""

import datetime
import functools
import os
import select
import ssl
import threading
import time

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


class SerializedTLSSocket:
    """A TLS socket whose reads and writes never run at the same time.

    websockets' sync client reads in a thread of its own while the caller's
    thread writes, on one `ssl.SSLSocket`. Python's `ssl` lets the two run
    inside OpenSSL at once, and one `SSL` object is not safe for that.
    Against our server (rustls, which sends its TLS 1.3 session tickets
    after the client's Finished, so they arrive while the client writes its
    upgrade request) about one connection in 400 went wrong: the request
    never reached the server, or reached it as a record it could not
    decrypt. A client doing the same in one thread had no failure in 1,200
    connections. (Python 3.13.6 locked the socket, which blocked a writer
    behind a reader waiting for data; 3.13.7 took that back: cpython#137583.)

    Here each OpenSSL call holds a lock, the socket is non-blocking, and the
    waits for the network (`select`) are made without the lock, so a reader
    waiting for data never holds up a writer. It has the methods
    websockets uses (`recv`, `sendall`, `settimeout`, `shutdown`, `close`,
    `fileno` for its selector); the rest (`version`, `cipher`,
    `getpeercert`, ...) go to the wrapped socket."""

    # Waits for the network are cut this short: an OpenSSL call in the other
    # thread may change what this one waits for (in TLS either call may read
    # or write), and a short poll keeps that from becoming a stall.
    POLL = 0.05

    def __init__(self, tls):
        self._tls = tls
        self._lock = threading.Lock()
        self._timeout = tls.gettimeout()
        tls.setblocking(False)

    def __getattr__(self, name):
        return getattr(self._tls, name)

    def fileno(self):
        return self._tls.fileno()

    def settimeout(self, timeout):
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def _wait(self, deadline, readable):
        """Waits for the socket without the lock; TimeoutError past `deadline`."""
        pause = self.POLL
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            pause = min(pause, left)
        fd = [self._tls]
        select.select(fd if readable else [], [] if readable else fd, [], pause)

    def _deadline(self):
        return None if self._timeout is None else time.monotonic() + self._timeout

    def _locked(self, call, deadline):
        """`call()` under the lock; again after each wait for what OpenSSL
        asked for."""
        while True:
            with self._lock:
                try:
                    return call()
                except ssl.SSLWantReadError:
                    readable = True
                except ssl.SSLWantWriteError:
                    readable = False
            self._wait(deadline, readable)

    def recv(self, size):
        return self._locked(functools.partial(self._tls.recv, size), self._deadline())

    def sendall(self, data):
        deadline = self._deadline()
        view = memoryview(data).cast("B")
        while view:
            sent = self._locked(functools.partial(self._tls.send, view), deadline)
            view = view[sent:]

    # Under the lock too: OpenSSL replaces the session these read when the
    # other thread takes in a session ticket.
    def version(self):
        with self._lock:
            return self._tls.version()

    def cipher(self):
        with self._lock:
            return self._tls.cipher()

    def shutdown(self, how):
        with self._lock:
            self._tls.shutdown(how)

    def close(self):
        with self._lock:
            self._tls.close()


class PinningContext(ssl.SSLContext):
    """A TLS 1.3 client context that trusts exactly one ed25519 key.

    Python's ssl module has no verification callback, so the certificate
    cannot be refused inside the handshake: CA verification is off, and
    wrap_socket compares the certificate's key with the pinned key right
    after the TLS handshake, before a single HTTP byte is sent, closing the
    socket on a mismatch. The socket it returns is a SerializedTLSSocket,
    safe for websockets' two threads."""

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
        return SerializedTLSSocket(tls)


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
