"""A tiny authoritative DNS server for the zone ``example.test``, over UDP and TCP.

``python3 dns_server.py serve [--host 127.0.0.1] [--port 53]`` prints ``ready``
once both sockets listen and answers until SIGTERM.  ``python3 dns_server.py
query NAME TYPE`` is a minimal stub client (used by the benchmark capture).

What it answers (the captures show each case):

* ``example.test``: A 127.0.0.1, AAAA ::1, MX, NS and SOA;
* ``www.example.test``: a CNAME chain ``www -> edge -> host1``, host1 A 127.0.0.1
  (and no AAAA: an AAAA query gets the chain and an empty answer, NODATA);
* ``big.example.test`` TXT: more than 512 bytes, so a UDP query without EDNS gets a
  truncated answer (TC set) and a real client retries over TCP;
* any other name under the zone: NXDOMAIN, with the SOA in the authority section
  (RFC 2308); names outside the zone: REFUSED.

Answers are authoritative (AA set, RA clear: it does not recurse).  Names in the
answers are compressed with pointers, as real servers do.  EDNS (RFC 6891): an
OPT record in the query gets an OPT record back (payload size 1232, no options).
Over TCP each message has a two-byte length prefix; several queries may share a
connection.

``--tls-port 853 --certs DIR --keylog FILE`` also serves DNS over TLS (RFC 7858:
the TCP framing inside TLS, ALPN ``dot``) with Python's ``ssl``, the
certificate from ``tls_server.py certs DIR``, writing the session secrets to
FILE in the NSS key log format.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import random
import selectors
import signal
import socket
import ssl
import struct
import sys
import threading
from types import FrameType

A, NS, CNAME, SOA, MX, TXT, AAAA, OPT = 1, 2, 5, 6, 15, 16, 28, 41
TYPES = {"A": A, "NS": NS, "CNAME": CNAME, "SOA": SOA, "MX": MX, "TXT": TXT, "AAAA": AAAA}
ZONE_APEX = "example.test"
TTL = 300

Record = tuple[int, object]  # (type, value): value is a str address/name, tuple, or bytes

ZONE: dict[str, list[Record]] = {
    "example.test": [
        (A, "127.0.0.1"),
        (AAAA, "::1"),
        (NS, "ns1.example.test"),
        (MX, (10, "mail.example.test")),
        (SOA, ("ns1.example.test", "hostmaster.example.test", 2026112501, 3600, 600, 86400, 300)),
    ],
    "ns1.example.test": [(A, "127.0.0.1")],
    "mail.example.test": [(A, "127.0.0.1")],
    "www.example.test": [(CNAME, "edge.example.test")],
    "edge.example.test": [(CNAME, "host1.example.test")],
    "host1.example.test": [(A, "127.0.0.1")],
    "big.example.test": [
        (TXT, tuple(f"layerpeek record {i:02d}: " + "x" * 40 for i in range(12))),
    ],
}


class Writer:
    """Builds a DNS message, compressing names against those already written."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.names: dict[str, int] = {}

    def name(self, name: str) -> None:
        labels = [label for label in name.split(".") if label]
        for i in range(len(labels)):
            suffix = ".".join(labels[i:]).lower()
            if suffix in self.names:
                self.buf += struct.pack("!H", 0xC000 | self.names[suffix])
                return
            if len(self.buf) < 0x3FFF:
                self.names[suffix] = len(self.buf)
            raw = labels[i].encode()
            self.buf += bytes([len(raw)]) + raw
        self.buf += b"\x00"

    def record(self, owner: str, rtype: int, value: object) -> None:
        self.name(owner)
        self.buf += struct.pack("!HHI", rtype, 1, TTL)
        at = len(self.buf)
        self.buf += b"\x00\x00"
        if rtype == A:
            self.buf += ipaddress.IPv4Address(str(value)).packed
        elif rtype == AAAA:
            self.buf += ipaddress.IPv6Address(str(value)).packed
        elif rtype in (CNAME, NS):
            self.name(str(value))
        elif rtype == MX:
            pref, host = value  # type: ignore[misc]
            self.buf += struct.pack("!H", pref)
            self.name(host)
        elif rtype == SOA:
            mname, rname, *numbers = value  # type: ignore[misc]
            self.name(mname)
            self.name(rname)
            self.buf += struct.pack("!IIIII", *numbers)
        elif rtype == TXT:
            for s in value:  # type: ignore[attr-defined]
                raw = s.encode()
                self.buf += bytes([len(raw)]) + raw
        struct.pack_into("!H", self.buf, at, len(self.buf) - at - 2)


def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """Read an uncompressed name (queries never compress) -> (name, next offset)."""
    labels = []
    while True:
        n = msg[pos]
        if n == 0:
            return ".".join(labels), pos + 1
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[pos + 1 : pos + 1 + n].decode("ascii"))
        pos += 1 + n


def in_zone(name: str) -> bool:
    return name == ZONE_APEX or name.endswith("." + ZONE_APEX)


def answer(query: bytes, max_size: int | None) -> bytes:
    """The response to one query message; ``max_size`` is None over TCP."""
    ident, flags, qdcount, _, _, arcount = struct.unpack_from("!HHHHHH", query)
    if flags & 0x8000 or qdcount != 1:
        return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x7900) | 1, 0, 0, 0, 0)
    qname, pos = read_name(query, 12)
    qtype, qclass = struct.unpack_from("!HH", query, pos)
    pos += 4
    edns = False
    # An OPT pseudo-record: root name, type 41, class = the client's UDP size.
    if (
        arcount
        and pos + 11 <= len(query)
        and query[pos] == 0
        and struct.unpack_from("!H", query, pos + 1)[0] == OPT
    ):
        edns = True
        if max_size is not None:
            max_size = max(512, min(1232, struct.unpack_from("!H", query, pos + 3)[0]))
    if max_size is not None and not edns:
        max_size = 512

    name = qname.lower()
    answers: list[tuple[str, int, object]] = []
    authority: list[tuple[str, int, object]] = []
    rcode = 0
    if not in_zone(name):
        rcode = 5  # REFUSED: not our zone, and we do not recurse
    else:
        owner = name
        for _ in range(8):  # follow a CNAME chain, bounded
            records = ZONE.get(owner, [])
            cname = [v for t, v in records if t == CNAME]
            if cname and qtype != CNAME:
                answers.append((owner, CNAME, cname[0]))
                owner = str(cname[0])
                continue
            answers += [(owner, t, v) for t, v in records if t == qtype]
            if owner not in ZONE:
                rcode = 3  # NXDOMAIN
            break
        if rcode == 3 or not any(t == qtype for _, t, _ in answers):
            soa = next(v for t, v in ZONE[ZONE_APEX] if t == SOA)
            authority.append((ZONE_APEX, SOA, soa))

    def build(truncate: bool) -> bytes:
        w = Writer()
        out_flags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | rcode
        if truncate:
            out_flags |= 0x0200
        an = [] if truncate else answers
        ns = [] if truncate else authority
        w.buf += struct.pack("!HHHHHH", ident, out_flags, 1, len(an), len(ns), int(edns))
        w.name(qname)
        w.buf += struct.pack("!HH", qtype, qclass)
        for owner, t, v in an + ns:
            w.record(owner, t, v)
        if edns:
            w.buf += b"\x00" + struct.pack("!HHIH", OPT, 1232, 0, 0)
        return bytes(w.buf)

    msg = build(truncate=False)
    if max_size is not None and len(msg) > max_size:
        msg = build(truncate=True)
    return msg


def serve(host: str, port: int, tls_port: int | None = None, certs: str | None = None,
          keylog: str | None = None) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.bind((host, port))
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((host, port))
    tcp.listen(16)
    dot: socket.socket | None = None
    ctx: ssl.SSLContext | None = None
    if tls_port is not None and certs is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{certs}/server.pem", f"{certs}/server.key")
        ctx.set_alpn_protocols(["dot"])
        if keylog:
            ctx.keylog_filename = keylog
        dot = socket.socket(family, socket.SOCK_STREAM)
        dot.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        dot.bind((host, tls_port))
        dot.listen(16)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def tls_client(raw: socket.socket) -> None:
        assert ctx is not None
        with contextlib.suppress(OSError):
            tcp_client(ctx.wrap_socket(raw, server_side=True))

    def tcp_client(conn: socket.socket) -> None:
        with conn:
            f = conn.makefile("rb")
            while True:
                prefix = f.read(2)
                if len(prefix) < 2:
                    break  # the client closed
                (n,) = struct.unpack("!H", prefix)
                msg = answer(f.read(n), None)
                conn.sendall(struct.pack("!H", len(msg)) + msg)
            f.close()

    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ)
    sel.register(tcp, selectors.EVENT_READ)
    if dot is not None:
        sel.register(dot, selectors.EVENT_READ)
    print("ready", flush=True)
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            if key.fileobj is udp:
                data, peer = udp.recvfrom(4096)
                # not a query we can parse: drop it, like a real server
                with contextlib.suppress(ValueError, IndexError, struct.error):
                    udp.sendto(answer(data, 512), peer)
            elif key.fileobj is dot and dot is not None:
                conn, _ = dot.accept()
                threading.Thread(target=tls_client, args=(conn,), daemon=True).start()
            else:
                conn, _ = tcp.accept()
                threading.Thread(target=tcp_client, args=(conn,), daemon=True).start()


def query(name: str, qtype: int, server: str = "127.0.0.1", port: int = 53) -> bytes:
    """A minimal stub query over UDP (random id, RD set); returns the response."""
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    ident = random.getrandbits(16)
    w = Writer()
    w.buf += struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    w.name(name)
    w.buf += struct.pack("!HH", qtype, 1)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(bytes(w.buf), (server, port))
        return s.recv(4096)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--tls-port", type=int, help="also serve DNS over TLS here (853)")
    p.add_argument("--certs", help="tls_server.py's certificate directory (with --tls-port)")
    p.add_argument("--keylog", help="NSS key log the TLS server writes (with --tls-port)")
    p = sub.add_parser("query")
    p.add_argument("name")
    p.add_argument("type", choices=sorted(TYPES))
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        serve(args.host, args.port, args.tls_port, args.certs, args.keylog)
    else:
        print(query(args.name, TYPES[args.type]).hex())


if __name__ == "__main__":
    main(sys.argv[1:])
