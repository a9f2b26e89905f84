#!/usr/bin/env python3
"""A Mosaic client on Python's `websockets` (sync API), for interop tests
against a server we did not write this client for.

    client.py URL MOPUB [--cert CERT --key KEY] [--service-url URL]
    client.py URL MOPUB [--cert CERT --key KEY] --handshakes N
    client.py --make-identity DIR

The first form connects to URL (wss://127.0.0.1:PORT/) over TLS 1.3, trusts
only the server key MOPUB (compared right after the TLS handshake, before
the upgrade request), offers subprotocol mosaic2024, checks the handshake
rules of websockets.md and DESIGN.md, then runs the exchange: Subscribe,
Submission (live delivery on the subscription), tampered Submissions,
FROM_AUTHOR, Get by ID and by address, Query with a filter and a limit, an
invalid filter, Unsubscribe. Every byte received is compared with what the
spec says it must be. With --cert/--key it authenticates with that client
certificate (an ed25519 key), otherwise it is anonymous.

It prints `stored <ID hex>` for each record the server must now hold, and
exits 0 when every check passed, 1 with a message naming the failed check,
3 when a Python package is missing.

The second form opens N connections, four at a time, each upgraded (101,
mosaic2024) and closed normally at once, and exits 1 if any failed: many
TLS handshakes and upgrades in a row, where a lost request or answer shows.

The third form makes a client identity (ed25519 key, self-signed X.509
certificate) in DIR as cert.pem and key.pem and prints its mopub0 key.
"""

import argparse
import os
import ssl
import sys
import threading
import time

try:
    import blake3  # noqa: F401
    import cryptography  # noqa: F401
    import websockets
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
except ImportError as e:
    print(
        f"missing Python package ({e}); install with: "
        "python3 -m pip install websockets blake3 cryptography",
        file=sys.stderr,
    )
    sys.exit(3)

import mosaic
import tlskeys

STEP = 10.0  # seconds any one expected message may take
QUIET = 0.5  # seconds of silence that show nothing more is coming
SUPPORTED = "sync"  # the extension the server under test supports


class CheckFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise CheckFailed(what)


CHECKS = []


def passed(what):
    CHECKS.append(what)
    print(f"ok   {what}", flush=True)


UPGRADED = [0]  # connections the server must have accepted
REFUSED = [0]  # connections the server must have refused


def open_ws(url, context, extensions=None, header="X-Mosaic-Extensions", subprotocols=("mosaic2024",)):
    headers = [(header, extensions)] if extensions is not None else []
    return connect(
        url,
        ssl=context,
        subprotocols=list(subprotocols) if subprotocols is not None else None,
        additional_headers=headers,
        proxy=None,
        open_timeout=STEP,
        close_timeout=STEP,
        # Keepalive pings every 0.2 s: the server must answer each with a
        # pong within 2 s or websockets closes the connection (1011).
        ping_interval=0.2,
        ping_timeout=2,
        max_size=(1 << 20) + 8,
    )


def response_headers(ws, name):
    return ws.response.headers.get_all(name)


class Peer:
    """One Mosaic connection: sends messages, reads and checks server
    messages exactly."""

    def __init__(self, ws):
        self.ws = ws

    def send(self, message):
        self.ws.send(message)  # bytes: one binary WebSocket message

    def recv(self, timeout=STEP, what="a message"):
        try:
            data = self.ws.recv(timeout=timeout)
        except TimeoutError:
            raise CheckFailed(f"no message within {timeout} s while waiting for {what}") from None
        except websockets.exceptions.ConnectionClosed as e:
            raise CheckFailed(f"the connection closed while waiting for {what}: {e}") from None
        check(isinstance(data, bytes), f"a text message from the server: {data!r}")
        try:
            message = mosaic.decode(data)
        except mosaic.Malformed as e:
            raise CheckFailed(f"malformed server message {data[:16].hex()}…: {e}") from None
        check(message.type >= 0x80, f"a client message type 0x{message.type:02x} from the server")
        return data

    def expect(self, what, unordered=(), then=()):
        """Reads len(unordered) + len(then) messages: first the `unordered`
        ones in any order, then the `then` ones in order; every one must be
        byte-identical to the expected bytes."""
        got = [self.recv(what=what) for _ in unordered]
        if sorted(got) != sorted(unordered):
            raise CheckFailed(
                f"{what}: expected {[repr(mosaic.decode(m)) for m in unordered]}, "
                f"got {[repr(mosaic.decode(m)) for m in got]}"
            )
        for expected in then:
            data = self.recv(what=what)
            if data != expected:
                raise CheckFailed(f"{what}: expected {mosaic.decode(expected)!r}, got {mosaic.decode(data)!r}")
        passed(what)

    def expect_nothing(self, what):
        try:
            data = self.ws.recv(timeout=QUIET)
        except TimeoutError:
            passed(what)
            return
        raise CheckFailed(f"{what}: unexpected {mosaic.decode(data)!r}")


def handshake_checks(url, context, service_url):
    """The upgrade rules, each on a short connection of its own."""
    with open_ws(url, context, extensions=SUPPORTED) as ws:
        check(ws.response.status_code == 101, f"status {ws.response.status_code}")
        check(ws.subprotocol == "mosaic2024", f"subprotocol {ws.subprotocol!r}")
        check(response_headers(ws, "Sec-WebSocket-Protocol") == ["mosaic2024"],
              f"Sec-WebSocket-Protocol {response_headers(ws, 'Sec-WebSocket-Protocol')}")
        check(response_headers(ws, "X-Mosaic-Extensions") == [SUPPORTED],
              f"X-Mosaic-Extensions {response_headers(ws, 'X-Mosaic-Extensions')}")
        if service_url is not None:
            check(response_headers(ws, "X-Mosaic-Service-Url") == [service_url],
                  f"X-Mosaic-Service-Url {response_headers(ws, 'X-Mosaic-Service-Url')}")
        version = ws.socket.version()
        check(version == "TLSv1.3", f"TLS version {version}")
        print(f"     TLS {version} {ws.socket.cipher()[0]}; WebSocket extensions "
              f"{response_headers(ws, 'Sec-WebSocket-Extensions') or 'none'}")
    passed("upgrade: 101, subprotocol mosaic2024, X-Mosaic-Extensions: sync"
           + (", service URL" if service_url else "") + ", TLS 1.3, server key pinned")

    with open_ws(url, context) as ws:
        check(response_headers(ws, "X-Mosaic-Extensions") == [],
              f"no extensions requested, yet X-Mosaic-Extensions {response_headers(ws, 'X-Mosaic-Extensions')}")
    passed("no X-Mosaic-Extensions request: no X-Mosaic-Extensions reply")

    with open_ws(url, context, extensions="bogus; sync ;;sync") as ws:
        check(response_headers(ws, "X-Mosaic-Extensions") == ["sync"],
              f"'bogus; sync ;;sync' answered {response_headers(ws, 'X-Mosaic-Extensions')}")
    passed("X-Mosaic-Extensions 'bogus; sync ;;sync': 'sync'")

    with open_ws(url, context, extensions="bogus") as ws:
        check(response_headers(ws, "X-Mosaic-Extensions") == ["-"],
              f"'bogus' answered {response_headers(ws, 'X-Mosaic-Extensions')}")
    passed("X-Mosaic-Extensions 'bogus': '-'")

    with open_ws(url, context, extensions="sync", header="X-Mosiac-Extensions") as ws:
        check(response_headers(ws, "X-Mosaic-Extensions") == ["sync"],
              f"misspelled request answered {response_headers(ws, 'X-Mosaic-Extensions')}")
    passed("the seed's misspelling X-Mosiac-Extensions is read")

    with open_ws(url, context, subprotocols=("chat", "mosaic2024")) as ws:
        check(ws.subprotocol == "mosaic2024", f"subprotocol {ws.subprotocol!r}")
    passed("offered 'chat, mosaic2024': mosaic2024 picked")

    tls12 = tlskeys.client_context(context.pinned, *context.identity_files)
    tls12.minimum_version = ssl.TLSVersion.TLSv1_2
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with open_ws(url, tls12) as ws:
        check(ws.socket.version() == "TLSv1.2", f"TLS version {ws.socket.version()}")
        print(f"     TLS 1.2 cipher {ws.socket.cipher()[0]}")
    passed("TLS 1.2 (offered by default next to 1.3) with the ed25519 certificate")
    UPGRADED[0] += 7

    try:
        with open_ws(url, context, subprotocols=None):
            raise CheckFailed("an upgrade without subprotocol was accepted")
    except InvalidStatus as e:
        check(e.response.status_code == 400, f"no subprotocol: status {e.response.status_code}")
    REFUSED[0] += 1
    passed("no subprotocol: HTTP 400")


def bad_peer_checks(url, context):
    """What a misbehaving client gets, each on a connection of its own."""
    cases = [
        ("a text message", "hello", 1003),
        ("a server message type (Locally Complete)", mosaic.encode_locally_complete(1), 1002),
        ("a LENGTH field that does not match", b"\x04\x09\x00\x00\x01\x00\x00\x00", 1002),
        # One byte over the largest record: the message is 1 MiB + 9 bytes.
        ("a message over 1 MiB + 8 bytes", mosaic.encode_submission(bytes((1 << 20) + 1)), 1009),
    ]
    for what, message, code in cases:
        with open_ws(url, context) as ws:
            UPGRADED[0] += 1
            ws.send(message)
            try:
                data = ws.recv(timeout=STEP)
                raise CheckFailed(f"{what}: got {data!r} instead of a close")
            except TimeoutError:
                raise CheckFailed(f"{what}: not closed within {STEP} s") from None
            except websockets.exceptions.ConnectionClosed as e:
                got = e.rcvd.code if e.rcvd else None
                check(got == code, f"{what}: close code {got}, expected {code}")
        passed(f"{what}: closed with {code}")


def wrong_pin_check(url):
    other = mosaic.public_key(os.urandom(32))
    try:
        with open_ws(url, tlskeys.client_context(other)):
            raise CheckFailed("connected although another key was pinned")
    except tlskeys.PinnedKeyMismatch as e:
        check("is not the pinned" in str(e), str(e))
    REFUSED[0] += 1
    passed("another pinned key: refused after the TLS handshake, before the upgrade")


def repeated_handshakes(url, context, count, at_once=4):
    """`count` upgrades, `at_once` threads each opening and closing its
    share in turn; returns what went wrong, one line per failed connection."""
    failures = []
    lock = threading.Lock()

    def run(share):
        for _ in range(share):
            try:
                with open_ws(url, context, extensions=SUPPORTED) as ws:
                    check(ws.subprotocol == "mosaic2024", f"subprotocol {ws.subprotocol!r}")
            except Exception as e:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    failures.append(f"{type(e).__name__}: {e}")

    shares = [count // at_once + (1 if i < count % at_once else 0) for i in range(at_once)]
    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def exchange(url, context, secret, authenticated):
    """Subscribe, Submission, Get, Query, Unsubscribe, checked byte for byte."""
    me = mosaic.public_key(secret)
    note = mosaic.kind(99, 1, mosaic.UNIQUE, mosaic.EVERYBODY, printable=True)
    other = mosaic.kind(99, 2, mosaic.UNIQUE, mosaic.EVERYBODY, printable=True)
    now = time.time_ns()
    stored = []
    counter = [0]

    def make(words, kind8, seconds_ago, flags=0, tags=()):
        counter[0] += 1
        ts = mosaic.record_timestamp(now - seconds_ago * 1_000_000_000)
        nonce = bytes([0x80 | counter[0]]) + os.urandom(7)
        record, _, _ = mosaic.build_record(secret, me, kind8, nonce, ts, flags, tags, words.encode())
        check(mosaic.validation_failure(record) is None, "our own record validates")
        return record

    with open_ws(url, context, extensions=SUPPORTED) as ws:
        UPGRADED[0] += 1
        peer = Peer(ws)
        sub = 1
        peer.send(mosaic.encode_subscribe(sub, 0, mosaic.make_filter(mosaic.author_keys(me))))
        peer.expect("Subscribe (author = me): Locally Complete, nothing stored",
                    then=[mosaic.encode_locally_complete(sub)])

        first = make("hello from python", other, 0, tags=[(0x24, b"https://example.com/")])
        peer.send(mosaic.encode_submission(first))
        peer.expect("Submission: Submission Result OK with the ID prefix, and the record live on the subscription",
                    unordered=[mosaic.encode_submission_result(mosaic.OK, first[64:96]),
                               mosaic.encode_record(sub, first)])
        stored.append(first)

        tampered = bytearray(first)
        tampered[mosaic.Record(first).payload_start] ^= 0x20  # 'h' -> 'H': the hash no longer matches
        peer.send(mosaic.encode_submission(bytes(tampered)))
        peer.expect("tampered payload: REJECTED_INVALID",
                    then=[mosaic.encode_submission_result(mosaic.REJECTED_INVALID, bytes(tampered[64:96]))])
        bad_signature = bytearray(make("badly signed", other, 0))
        bad_signature[10] ^= 0x01
        peer.send(mosaic.encode_submission(bytes(bad_signature)))
        peer.expect("bad signature: REJECTED_INVALID, the connection stays open",
                    then=[mosaic.encode_submission_result(mosaic.REJECTED_INVALID, bytes(bad_signature[64:96]))])

        from_author = make("only from my key", other, 0, flags=mosaic.FLAG_FROM_AUTHOR)
        peer.send(mosaic.encode_submission(from_author))
        if authenticated:
            peer.expect("FROM_AUTHOR by my authenticated key: OK and live",
                        unordered=[mosaic.encode_submission_result(mosaic.OK, from_author[64:96]),
                                   mosaic.encode_record(sub, from_author)])
            stored.append(from_author)
        else:
            peer.expect("FROM_AUTHOR while anonymous: REJECTED_REQUIRES_AUTHN",
                        then=[mosaic.encode_submission_result(mosaic.REJECTED_REQUIRES_AUTHN, from_author[64:96])])

        # Four notes a second apart, and one of another kind.
        a, b, c, d = (make(f"note {i}", note, 40 - i) for i in range(4))
        e = make("another kind", other, 30)
        for record in (b, d, a, e, c):  # submitted out of time order
            peer.send(mosaic.encode_submission(record))
            peer.expect(f"Submission {mosaic.Record(record).payload.decode()!r}: OK and live",
                        unordered=[mosaic.encode_submission_result(mosaic.OK, record[64:96]),
                                   mosaic.encode_record(sub, record)])
            stored.append(record)
        fragmented = make("sent in three WebSocket frames", other, 20)
        message = mosaic.encode_submission(fragmented)
        ws.send([message[:5], message[5:100], message[100:]])  # one message, fragmented
        peer.expect("a Submission in three frames (continuations): OK and live",
                    unordered=[mosaic.encode_submission_result(mosaic.OK, fragmented[64:96]),
                               mosaic.encode_record(sub, fragmented)])
        stored.append(fragmented)

        counter[0] += 1
        ts = mosaic.record_timestamp(now - 10 * 1_000_000_000)
        largest, _, _ = mosaic.build_record(secret, me, other, bytes([0x80 | counter[0]]) + os.urandom(7), ts,
                                            payload=os.urandom(mosaic.MAX_RECORD_LEN - mosaic.HEADER_LEN))
        check(len(largest) == mosaic.MAX_RECORD_LEN, "a record of 1 MiB")
        peer.send(mosaic.encode_submission(largest))
        peer.expect("the largest record (1 MiB; its messages 1 MiB + 8 bytes): OK and live",
                    unordered=[mosaic.encode_submission_result(mosaic.OK, largest[64:96]),
                               mosaic.encode_record(sub, largest)])
        stored.append(largest)

        peer.send(mosaic.encode_submission(c))
        result = peer.recv(what="the answer to a duplicate")
        check(result in (mosaic.encode_submission_result(mosaic.DUPLICATE, c[64:96]),
                         mosaic.encode_submission_result(mosaic.OK, c[64:96])),
              f"a duplicate: {mosaic.decode(result)!r}")
        passed("duplicate Submission: DUPLICATE (or OK), not delivered again")
        peer.expect_nothing("no second live copy of the duplicate")

        q = 2
        peer.send(mosaic.encode_get(q, [a[64:112]]))
        peer.expect("Get by ID: the Record, then Query Closed ON_REQUEST",
                    then=[mosaic.encode_record(q, a), mosaic.encode_query_closed(q, mosaic.ON_REQUEST)])
        q = 3
        peer.send(mosaic.encode_get(q, [b[144:192]]))
        peer.expect("Get by address: the Record, then Query Closed ON_REQUEST",
                    then=[mosaic.encode_record(q, b), mosaic.encode_query_closed(q, mosaic.ON_REQUEST)])
        q = 4
        unknown = bytes(8) + os.urandom(40)
        peer.send(mosaic.encode_get(q, [c[64:112], unknown, d[144:192]]))
        peer.expect("Get by ID, unknown ID and address: the two Records, then Query Closed ON_REQUEST",
                    unordered=[mosaic.encode_record(q, c), mosaic.encode_record(q, d)],
                    then=[mosaic.encode_query_closed(q, mosaic.ON_REQUEST)])

        ts_b = mosaic.Record(b).timestamp
        wanted = mosaic.make_filter(mosaic.author_keys(me, os.urandom(32)), mosaic.kinds(note), mosaic.since(ts_b))
        q = 5
        peer.send(mosaic.encode_query(q, 0, wanted))
        peer.expect("Query (authors, kinds, since) no limit: newest first D, C, B, then Query Closed",
                    then=[mosaic.encode_record(q, d), mosaic.encode_record(q, c), mosaic.encode_record(q, b),
                          mosaic.encode_query_closed(q, mosaic.ON_REQUEST)])
        q = 6
        peer.send(mosaic.encode_query(q, 2, wanted))
        peer.expect("Query LIMIT 2: D, C, then Query Closed",
                    then=[mosaic.encode_record(q, d), mosaic.encode_record(q, c),
                          mosaic.encode_query_closed(q, mosaic.ON_REQUEST)])
        q = 7
        narrow = mosaic.make_filter(mosaic.author_keys(me), mosaic.until(ts_b), mosaic.exclude(a[64:96]))
        peer.send(mosaic.encode_query(q, 0, narrow))
        peer.expect("Query (until B, excluding A): B only",
                    then=[mosaic.encode_record(q, b), mosaic.encode_query_closed(q, mosaic.ON_REQUEST)])
        q = 8
        tagged = mosaic.make_filter(mosaic.author_keys(me),
                                    mosaic.included_tags((0x24, b"https://example.com/")))
        peer.send(mosaic.encode_query(q, 0, tagged))
        peer.expect("Query (included tag): the tagged record only",
                    then=[mosaic.encode_record(q, first), mosaic.encode_query_closed(q, mosaic.ON_REQUEST)])

        q = 9
        element = mosaic.author_keys(me)
        broken = mosaic.make_filter(element[:1] + b"\x00" + element[2:])  # element length 0
        peer.send(mosaic.encode_query(q, 0, broken))
        peer.expect("Query with an invalid filter (element length 0): Query Closed REJECTED_INVALID",
                    then=[mosaic.encode_query_closed(q, mosaic.QC_REJECTED_INVALID)])

        peer.send(mosaic.encode_unsubscribe(sub))
        peer.expect("Unsubscribe: Query Closed ON_REQUEST", then=[mosaic.encode_query_closed(sub, mosaic.ON_REQUEST)])
        after = make("after unsubscribing", note, 0)
        peer.send(mosaic.encode_submission(after))
        peer.expect("Submission after Unsubscribe: OK",
                    then=[mosaic.encode_submission_result(mosaic.OK, after[64:96])])
        stored.append(after)
        peer.expect_nothing("nothing more on the closed subscription")

        check(ws.latency > 0, "no keepalive ping was answered")
        passed(f"keepalive pings answered (latency {ws.latency * 1000:.1f} ms)")
        ws.close()
        check(ws.close_code == 1000 or ws.close_code is None or ws.close_code == 1005,
              f"close code {ws.close_code}")
    passed("closed normally")
    return stored


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?")
    parser.add_argument("mopub", nargs="?")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--service-url")
    parser.add_argument("--make-identity", metavar="DIR")
    parser.add_argument("--handshakes", type=int, metavar="N")
    args = parser.parse_args()

    if args.make_identity:
        secret = tlskeys.new_secret()
        tlskeys.write_identity(args.make_identity, secret)
        print(mosaic.encode_mopub(mosaic.public_key(secret)))
        return 0
    if not args.url or not args.mopub or bool(args.cert) != bool(args.key):
        parser.print_usage(sys.stderr)
        return 2

    try:
        pinned = mosaic.decode_mopub(args.mopub)
        check(mosaic.valid_public_key(pinned), f"{args.mopub} is not a valid key")
        if args.cert:
            secret = tlskeys.secret_of_key_file(args.key)
        else:
            secret = tlskeys.new_secret()  # signs records; never shown to the server in TLS
        context = tlskeys.client_context(pinned, args.cert, args.key)
        print(f"     as {'authenticated ' + mosaic.encode_mopub(mosaic.public_key(secret)) if args.cert else 'anonymous'}"
              f" against {args.url} ({args.mopub})", flush=True)
        if args.handshakes is not None:
            started = time.monotonic()
            failures = repeated_handshakes(args.url, context, args.handshakes)
            print(f"connections {args.handshakes - len(failures)} upgraded, 0 refused")
            print(f"     {args.handshakes} connections in {time.monotonic() - started:.1f} s")
            check(not failures, f"{len(failures)} of {args.handshakes} connections failed, the first: "
                                + "; ".join(failures[:3]))
            print(f"PASS: {args.handshakes} handshakes")
            return 0
        handshake_checks(args.url, context, args.service_url)
        wrong_pin_check(args.url)
        bad_peer_checks(args.url, context)
        stored = exchange(args.url, context, secret, authenticated=bool(args.cert))
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except (OSError, ssl.SSLError, websockets.exceptions.WebSocketException) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    for record in stored:
        print(f"stored {record[64:112].hex()}")
    print(f"connections {UPGRADED[0]} upgraded, {REFUSED[0]} refused")
    print(f"PASS: {len(CHECKS)} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
