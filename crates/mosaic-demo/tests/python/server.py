#!/usr/bin/env python3
"""A Mosaic server on Python's `websockets` (asyncio API), for interop tests
of our clients against a server we did not write.

    server.py [--extensions NAMES] [--service-url URL] [--lifetime SECONDS]
              [--tls12-only] [--client-ca-der PATH]

Listens on 127.0.0.1 on a free port over TLS (a fresh self-signed ed25519
certificate made with `cryptography`), accepts only subprotocol mosaic2024,
answers X-Mosaic-Extensions with the requested names it supports, in the
client's order (`-` when none), and serves an in-memory store: Submission
(full record validation with mosaic.py, Submission Result), Get, Query
(newest first, LIMIT), Subscribe (stored records, Locally Complete, then
live records) and Unsubscribe. Without --client-ca-der clients are not asked
for certificates, so every client is anonymous. With it, clients are asked
for one (optional), and the DER certificate in PATH is the only one trusted
(Python's ssl module verifies against a trust store, with no callback): a
client presenting it is authenticated with its ed25519 key, and may submit
FROM_AUTHOR records of that author.

When listening it prints one line, `MOPUB0KEY PORT`, to stdout. It stops by
itself after --lifetime seconds (default 120) or when its standard input
closes, and then prints `stored N records, served M connections, TLS
versions [...], authenticated clients A, pings answered on K` (A:
connections with a client certificate; K: connections whose client answered
one of the keepalive pings sent every 0.2 s).
"""

import argparse
import asyncio
import os
import ssl
import sys
import tempfile
import threading
import time

try:
    import blake3  # noqa: F401
    import cryptography  # noqa: F401
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed
    from websockets.frames import CloseCode
except ImportError as e:
    print(
        f"missing Python package ({e}); install with: "
        "python3 -m pip install websockets blake3 cryptography",
        file=sys.stderr,
    )
    sys.exit(3)

import mosaic
import tlskeys

EXTENSIONS_HEADER = "X-Mosaic-Extensions"
MISSPELLED_HEADER = "X-Mosiac-Extensions"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def requested_extensions(request):
    """Names from every X-Mosaic-Extensions (or the seed's misspelling)
    header: split on ';', trimmed, empty names and duplicates dropped."""
    values = request.headers.get_all(EXTENSIONS_HEADER) + request.headers.get_all(MISSPELLED_HEADER)
    if not values:
        return None
    names = []
    for value in values:
        for name in value.split(";"):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


class Store:
    def __init__(self):
        self.records = {}  # ID (48 bytes) -> (Record, received_at)
        # (connection id, query id) -> [websocket, filter elements, live records
        # held while the stored ones are still being sent, or None]
        self.subscribers = {}
        self.connections = 0
        self.tls_versions = set()
        self.authenticated = 0
        self.ponged = 0

    def newest_first(self, elements, limit):
        matching = [
            (r, at) for r, at in self.records.values()
            if mosaic.kind_read_access(r.kind) == mosaic.EVERYBODY  # public records only
            and mosaic.filter_matches(elements, r, at)
        ]
        matching.sort(key=lambda pair: (pair[0].timestamp, pair[0].id), reverse=True)
        records = [r for r, _ in matching]
        return records[:limit] if limit else records

    def get(self, references):
        out = []
        for reference in references:
            for record, _ in self.records.values():
                key = record.address if reference[0] & 0x80 else record.id
                if key == reference and mosaic.kind_read_access(record.kind) == mosaic.EVERYBODY \
                        and record not in out:
                    out.append(record)
        out.sort(key=lambda r: (r.timestamp, r.id), reverse=True)
        return out

    async def submit(self, data, peer_key):
        """The Submission Result code for record bytes `data` from a client
        authenticated with `peer_key` (None: anonymous)."""
        try:
            record = mosaic.Record(data)
        except ValueError:
            return mosaic.REJECTED_INVALID
        if record.structure_error() is not None or mosaic.validation_failure(data) is not None:
            return mosaic.REJECTED_INVALID
        if record.flags & mosaic.FLAG_FROM_AUTHOR:
            if peer_key is None:
                return mosaic.REJECTED_REQUIRES_AUTHN
            if peer_key != record.author_key:
                return mosaic.REJECTED_REQUIRES_AUTHZ
        if record.id in self.records:
            return mosaic.DUPLICATE
        received_at = mosaic.timestamp_from_unix_ns(time.time_ns())
        duplicates = mosaic.kind_duplicates(record.kind)
        if duplicates != mosaic.EPHEMERAL:
            if duplicates == mosaic.REPLACEABLE:
                older = [i for i, (r, _) in self.records.items()
                         if r.address == record.address and r.timestamp < record.timestamp]
                if any(r.address == record.address and r.timestamp >= record.timestamp
                       for r, _ in self.records.values()):
                    return mosaic.OK
                for i in older:
                    del self.records[i]
            self.records[record.id] = (record, received_at)
        delivered = 0
        for (_, query_id), entry in list(self.subscribers.items()):
            ws, elements, held = entry
            if mosaic.kind_read_access(record.kind) == mosaic.EVERYBODY \
                    and mosaic.filter_matches(elements, record, received_at):
                delivered += 1
                if held is not None:
                    held.append(data)
                    continue
                try:
                    await ws.send(mosaic.encode_record(query_id, data))
                except ConnectionClosed:
                    pass
        if duplicates == mosaic.EPHEMERAL and delivered == 0:
            return mosaic.NO_CONSUMERS
        return mosaic.OK


class Protocol:
    """One connection's Mosaic server side."""

    def __init__(self, store, ws, peer_key):
        self.store = store
        self.peer_key = peer_key  # the client's ed25519 key, or None
        store.connections += 1
        self.id = store.connections
        self.ws = ws
        self.open = set()  # open subscription query ids

    async def close(self, code, reason):
        log(f"connection {self.id}: closing {code} ({reason})")
        await self.ws.close(code, reason)

    async def run(self):
        try:
            async for data in self.ws:
                if isinstance(data, str):
                    await self.close(CloseCode.UNSUPPORTED_DATA, "text messages are not Mosaic")
                    return
                if not await self.handle(data):
                    return
        except ConnectionClosed:
            pass
        finally:
            for query_id in self.open:
                self.store.subscribers.pop((self.id, query_id), None)

    async def handle(self, data):
        try:
            message = mosaic.decode(data)
        except mosaic.Malformed as e:
            await self.close(CloseCode.PROTOCOL_ERROR, f"malformed: {e}")
            return False
        send = self.ws.send
        if message.type >= 0x80:
            await self.close(CloseCode.PROTOCOL_ERROR, "a server message from a client")
            return False
        if message.type == mosaic.SUBMISSION:
            record = message.record
            if len(record) < 112:
                await self.close(CloseCode.PROTOCOL_ERROR, "a Submission too short for an ID")
                return False
            code = await self.store.submit(record, self.peer_key)
            await send(mosaic.encode_submission_result(code, record[64:96]))
        elif message.type == mosaic.GET:
            for record in self.store.get(message.references):
                await send(mosaic.encode_record(message.query_id, record.data))
            await send(mosaic.encode_query_closed(message.query_id, mosaic.ON_REQUEST))
        elif message.type in (mosaic.QUERY, mosaic.SUBSCRIBE):
            qid = message.query_id
            try:
                elements = mosaic.parse_filter(message.filter)
            except ValueError as e:
                log(f"connection {self.id}: query {qid}: invalid filter: {e}")
                await send(mosaic.encode_query_closed(qid, mosaic.QC_REJECTED_INVALID))
                return True
            if message.type == mosaic.SUBSCRIBE and qid in self.open:
                await send(mosaic.encode_query_closed(qid, mosaic.QC_REJECTED_INVALID))
                return True
            # Stored records and registration at once (no await in between):
            # no record falls between them.
            records = self.store.newest_first(elements, message.limit)
            entry = None
            if message.type == mosaic.SUBSCRIBE:
                self.open.add(qid)
                entry = [self.ws, elements, []]
                self.store.subscribers[(self.id, qid)] = entry
            for record in records:
                await send(mosaic.encode_record(qid, record.data))
            if entry is not None:
                await send(mosaic.encode_locally_complete(qid))
                # Live records that came meanwhile, then live delivery.
                while entry[2]:
                    await send(mosaic.encode_record(qid, entry[2].pop(0)))
                entry[2] = None
            else:
                await send(mosaic.encode_query_closed(qid, mosaic.ON_REQUEST))
        elif message.type == mosaic.UNSUBSCRIBE:
            qid = message.query_id
            if qid in self.open:
                self.open.discard(qid)
                self.store.subscribers.pop((self.id, qid), None)
                await send(mosaic.encode_query_closed(qid, mosaic.ON_REQUEST))
        else:
            await self.close(CloseCode.PROTOCOL_ERROR, f"unknown message type 0x{message.type:02x}")
            return False
        return True


async def main_async(args, stop):
    supported = [n.strip() for n in (args.extensions or "").split(";") if n.strip()]
    store = Store()
    secret = tlskeys.new_secret()
    mopub = mosaic.encode_mopub(mosaic.public_key(secret))
    with tempfile.TemporaryDirectory() as directory:
        cert_path, key_path = tlskeys.write_identity(directory, secret)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if args.tls12_only:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
    if args.client_ca_der:
        with open(args.client_ca_der, "rb") as f:
            context.load_verify_locations(cadata=f.read())
        context.verify_mode = ssl.CERT_OPTIONAL

    def process_response(connection, request, response):
        requested = requested_extensions(request)
        if requested is not None:
            agreed = [n for n in requested if n in supported]
            response.headers[EXTENSIONS_HEADER] = ";".join(agreed) if agreed else "-"
        if args.service_url:
            response.headers["X-Mosaic-Service-Url"] = args.service_url
        return None

    async def handler(ws):
        peer = ws.remote_address
        tls = ws.transport.get_extra_info("ssl_object")
        store.tls_versions.add(tls.version())
        der = tls.getpeercert(binary_form=True)
        peer_key = tlskeys.certificate_key(der) if der else None
        if peer_key is not None:
            store.authenticated += 1
        log(f"connection from {peer}: {tls.version()}, subprotocol {ws.subprotocol}, "
            f"{EXTENSIONS_HEADER} {ws.response.headers.get(EXTENSIONS_HEADER)}, client "
            f"{mosaic.encode_mopub(peer_key) if peer_key else 'anonymous'}")
        await Protocol(store, ws, peer_key).run()
        if ws.latency > 0:  # set when a pong answered one of our pings
            store.ponged += 1

    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=context,
        subprotocols=["mosaic2024"],
        process_response=process_response,
        compression=None,
        max_size=(1 << 20) + 8,
        open_timeout=10,
        # Keepalive pings every 0.2 s: a client that does not answer with a
        # pong within 2 s is closed (1011).
        ping_interval=0.2,
        ping_timeout=2,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"{mopub} {port}", flush=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=args.lifetime)
            log("standard input closed: stopping")
        except asyncio.TimeoutError:
            log(f"lifetime of {args.lifetime} s over: stopping")
    print(f"stored {len(store.records)} records, served {store.connections} connections, "
          f"TLS versions {sorted(store.tls_versions)}, authenticated clients {store.authenticated}, "
          f"pings answered on {store.ponged}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extensions", help="';'-separated names this server supports")
    parser.add_argument("--service-url")
    parser.add_argument("--lifetime", type=float, default=120.0)
    parser.add_argument("--tls12-only", action="store_true", help="refuse TLS 1.3")
    parser.add_argument("--client-ca-der",
                        help="ask clients for a certificate; trust only this DER one")
    args = parser.parse_args()

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        loop.run_until_complete(main_async(args, stop))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
