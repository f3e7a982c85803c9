"""Crafted hostile captures (issue 16), as bytes, sized by a parameter.

The hostile-input tests build their cases from here, and
``bench/bench_hostile.py`` writes the same captures large to measure time and
memory under ``/usr/bin/time -v``: one definition of each attack.
"""

from __future__ import annotations

import struct
from typing import Any

from builders import eth, ipv4, ipv6, pcap_bytes, udp


def v4_fragment(chunk: bytes, offset: int, more: bool, ident: int = 0x77) -> bytes:
    return eth(ipv4(chunk, proto=17, ident=ident, flags=1 if more else 0, frag_offset=offset))


def v6_fragment(chunk: bytes, offset: int, more: bool, ident: int = 0x77) -> bytes:
    header = struct.pack("!BBHI", 17, 0, offset | int(more), ident)
    return eth(ipv6(header + chunk, next_header=44))


def oversize_datagram(version: int) -> list[bytes]:
    """Fragments of a UDP datagram whose payload runs to 65,535 (IPv4) or 65,575 (IPv6) bytes:
    within what one fragment may claim, but over 65,535 once the header is counted."""
    total = 65535 if version == 4 else 65535 + 40
    body = udp(bytes(total - 8), sport=5000, dport=9, length=min(total, 65535))
    make = v4_fragment if version == 4 else v6_fragment
    size = 1480 if version == 4 else 1448
    frames = []
    for off in range(0, total, size):
        frames.append(make(body[off : off + size], off, off + size < total))
    return frames


def duplicate_fragments(count: int, version: int = 4) -> list[bytes]:
    """A datagram's last fragment, then its first ``count - 1`` times; the middle never comes."""
    make = v4_fragment if version == 4 else v6_fragment
    first = make(udp(bytes(1472), sport=5000, dport=9, length=8 + 1472 + 1480 + 8), 0, True)
    last = make(bytes(8), 2960, False)
    return [last] + [first] * (count - 1)


def capture(frames: list[bytes]) -> bytes:
    return pcap_bytes(frames)


def _wire() -> Any:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent / "flows"))
    from flowwire import Wire

    return Wire()


def http_connection(exchanges: list[tuple[bytes, bytes]], *, segment: int = 1400) -> list[bytes]:
    """One TCP connection carrying ``exchanges`` (request, response), cut into segments."""
    w = _wire()
    frames = [w.c("S").data, w.s("SA").data, w.c("A").data]
    for request, response in exchanges:
        for side, stream in (("c", request), ("s", response)):
            for i in range(0, len(stream), segment):
                frames.append(w.send(side, "PA", stream[i : i + segment]).data)
    frames += [w.c("FA").data, w.s("FA").data, w.c("A").data]
    return frames


def gzip_thrice(count: int) -> list[bytes]:
    """``count`` small responses whose bodies were gzip-encoded three times over."""
    import gzip

    body = b"hello world " * 20
    for _ in range(3):
        body = gzip.compress(body, mtime=0)
    response = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body)
    request = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
    return http_connection([(request, response)] * count)


#: What a capture must never get printed raw: ESC (a colour and a retitling
#: sequence), BEL, CR, BS, a C1 control (CSI) and the right-to-left override.
TERMINAL_ATTACKS = "\x1b[31m\x1b]0;owned\x07\r\x08\x9b\u202e"


def terminal_attack() -> list[bytes]:
    """An HTTP exchange whose target, Host, Content-Type and reason carry
    :data:`TERMINAL_ATTACKS`, then a DNS query for a name that holds them."""
    evil = TERMINAL_ATTACKS.encode("utf-8")
    request = b"GET /a" + evil + b"b HTTP/1.1\r\nHost: h" + evil + b"\r\n\r\n"
    response = (b"HTTP/1.1 200 O" + evil + b"K\r\nContent-Type: text/" + evil
                + b"\r\nContent-Length: 2\r\n\r\nhi")
    frames = http_connection([(request, response)])
    label = b"x" + evil
    query = (struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + bytes([len(label)]) + label
             + b"\x04test\x00\x00\x01\x00\x01")
    frames.append(eth(ipv4(udp(query, sport=5353, dport=53), proto=17)))
    return frames


def bad_codings() -> list[bytes]:
    """Four responses whose bodies do not decode in full: cut gzip, not gzip,
    an unknown coding, and (with a small cap) nothing else."""
    import gzip

    whole = gzip.compress(b"hello world " * 50, mtime=0)
    bodies = [(b"gzip", whole[: len(whole) // 2]), (b"gzip", b"plain text, not gzip"),
              (b"x-unheard-of", b"abc")]
    exchanges = []
    for n, (coding, body) in enumerate(bodies):
        request = b"GET /f%d.txt HTTP/1.1\r\nHost: a\r\n\r\n" % n
        response = (b"HTTP/1.1 200 OK\r\nContent-Encoding: " + coding
                    + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        exchanges.append((request, response))
    return http_connection(exchanges)


def descending_segments(count: int) -> list[bytes]:
    """A connection whose client sends ``count`` one-byte segments last byte first."""
    w = _wire()
    frames = [w.c("S").data, w.s("SA").data, w.c("A").data]
    base = w.next["c"]
    for i in range(count - 1, -1, -1):
        frames.append(w.send("c", "PA", b"x", seq=base + i, advance=False).data)
    return frames


def midstream_one_byte(count: int) -> list[bytes]:
    """A connection joined mid-stream (no handshake) carrying ``count`` one-byte segments."""
    w = _wire()
    return [w.send("c", "PA", b"a").data for _ in range(count)]


def retransmissions(count: int, delivered: int = 16 * 1024) -> list[bytes]:
    """``delivered`` one-byte segments, then one of them retransmitted ``count`` times."""
    w = _wire()
    frames = [w.c("S").data, w.s("SA").data, w.c("A").data]
    base = w.next["c"]
    frames += [w.send("c", "PA", b"x").data for _ in range(delivered)]
    frames += [w.send("c", "PA", b"x", seq=base + 100, advance=False).data
               for _ in range(count)]
    return frames


def dns_tcp_one_byte(size: int = 65535) -> list[bytes]:
    """One DNS-over-TCP message of ``size`` bytes sent one byte per segment."""
    message = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + bytes(size - 12)
    stream = struct.pack("!H", size) + message
    w = _wire()
    w.addr["s"] = ("10.0.0.2", 53)
    frames = [w.c("S").data, w.s("SA").data, w.c("A").data]
    frames += [w.send("c", "PA", stream[i : i + 1]).data for i in range(len(stream))]
    return frames


def nested_gzip_bombs(count: int) -> list[bytes]:
    """``count`` responses of ~265 bytes: zeros gzip-encoded three times."""
    import gzip

    body = bytes(64 << 20)
    for _ in range(3):
        body = gzip.compress(body, mtime=0)
    response = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return http_connection([(b"GET /z HTTP/1.1\r\nHost: a\r\n\r\n", response)] * count)


def same_named_bodies(count: int) -> list[bytes]:
    """``count`` exchanges whose bodies all export as ``index.html``."""
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    return http_connection([(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", response)] * count)


def huge_record(size: int, linktype: int = 231) -> bytes:
    """A pcap file holding one record of ``size`` bytes; D-Bus by default, the link
    type whose records may be largest (128 MiB; 262,144 bytes for most)."""
    return pcap_bytes([bytes(size)], snaplen=size, linktype=linktype)


def conflicting_retransmission() -> list[bytes]:
    """An HTTP exchange whose response is re-sent with other bytes in its body
    (``secret`` the first time, ``SECRET`` the second), before the FINs."""
    w = _wire()
    frames = [w.c("S").data, w.s("SA").data, w.c("A").data]
    frames.append(w.c("PA", b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n").data)
    start = w.next["s"]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"
    frames.append(w.s("PA", head + b"the secret!\n").data)
    frames.append(w.send("s", "PA", head + b"the SECRET!\n", seq=start, advance=False).data)
    frames += [w.c("FA").data, w.s("FA").data, w.c("A").data]
    return frames
