"""Test-only frame builders.  The library never builds packets; tests do.

Each builder returns bytes with correct lengths and checksums, so a test can
say ``eth(ipv4(tcp(flags="S", seq=100), src="10.0.0.1"))`` and decode it.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

TCP_FLAG_BITS = {
    "F": 0x01,
    "S": 0x02,
    "R": 0x04,
    "P": 0x08,
    "A": 0x10,
    "U": 0x20,
    "E": 0x40,
    "C": 0x80,
}


def checksum16(data: bytes) -> int:
    """RFC 1071 ones'-complement sum, folded and inverted."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def eth(
    payload: bytes,
    *,
    src: str = "02:00:00:00:00:01",
    dst: str = "02:00:00:00:00:02",
    ethertype: int | None = None,
) -> bytes:
    if ethertype is None:
        ethertype = 0x86DD if payload[:1] and payload[0] >> 4 == 6 else 0x0800
    return mac(dst) + mac(src) + struct.pack("!H", ethertype) + payload


def ipv4(
    payload: bytes,
    *,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    proto: int | None = None,
    ttl: int = 64,
    ident: int = 1,
    flags: int = 2,
    frag_offset: int = 0,
    tos: int = 0,
    options: bytes = b"",
    total_len: int | None = None,
    checksum: int | None = None,
) -> bytes:
    """IPv4 header + payload.  ``proto`` defaults from the payload builder (TCP=6)."""
    if proto is None:
        proto = 6
    while len(options) % 4:
        options += b"\x00"
    ihl = 5 + len(options) // 4
    if total_len is None:
        total_len = ihl * 4 + len(payload)
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    frag = (flags << 13) | (frag_offset // 8)
    hdr = (
        struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, total_len, ident, frag, ttl, proto, 0, s, d)
        + options
    )
    if checksum is None:
        checksum = checksum16(hdr)
    hdr = hdr[:10] + struct.pack("!H", checksum) + hdr[12:]
    return hdr + payload


def ipv6(
    payload: bytes,
    *,
    src: str = "2001:db8::1",
    dst: str = "2001:db8::2",
    next_header: int = 6,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
    payload_len: int | None = None,
) -> bytes:
    if payload_len is None:
        payload_len = len(payload)
    first = (6 << 28) | (traffic_class << 20) | flow_label
    return (
        struct.pack("!IHBB", first, payload_len, next_header, hop_limit)
        + socket.inet_pton(socket.AF_INET6, src)
        + socket.inet_pton(socket.AF_INET6, dst)
        + payload
    )


def tcp(
    payload: bytes = b"",
    *,
    sport: int = 40000,
    dport: int = 80,
    seq: int = 1,
    ack: int = 0,
    flags: str = "A",
    window: int = 65535,
    options: bytes = b"",
    urgent: int = 0,
    checksum: int = 0,
    data_offset_words: int | None = None,
) -> bytes:
    """A TCP header (checksum left as given; use :func:`with_tcp_checksum` to fill it)."""
    while len(options) % 4:
        options += b"\x01"  # NOP padding
    words = 5 + len(options) // 4 if data_offset_words is None else data_offset_words
    bits = 0
    for f in flags:
        bits |= TCP_FLAG_BITS[f]
    return (
        struct.pack(
            "!HHIIBBHHH", sport, dport, seq, ack, words << 4, bits, window, checksum, urgent
        )
        + options
        + payload
    )


def udp(
    payload: bytes = b"",
    *,
    sport: int = 40000,
    dport: int = 53,
    length: int | None = None,
    checksum: int = 0,
) -> bytes:
    if length is None:
        length = 8 + len(payload)
    return struct.pack("!HHHH", sport, dport, length, checksum) + payload


def pseudo_header_v4(src: str, dst: str, proto: int, length: int) -> bytes:
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def ipv4_tcp(
    segment: bytes, *, src: str = "10.0.0.1", dst: str = "10.0.0.2", **ip_kw: object
) -> bytes:
    """IPv4 around a TCP segment whose checksum is filled in correctly."""
    csum = checksum16(
        pseudo_header_v4(src, dst, 6, len(segment)) + segment[:16] + b"\0\0" + segment[18:]
    )
    segment = segment[:16] + struct.pack("!H", csum) + segment[18:]
    return ipv4(segment, src=src, dst=dst, proto=6, **ip_kw)  # type: ignore[arg-type]


def ipv4_udp(
    datagram: bytes, *, src: str = "10.0.0.1", dst: str = "10.0.0.2", **ip_kw: object
) -> bytes:
    """IPv4 around a UDP datagram whose checksum is filled in correctly."""
    csum = checksum16(
        pseudo_header_v4(src, dst, 17, len(datagram)) + datagram[:6] + b"\0\0" + datagram[8:]
    )
    datagram = datagram[:6] + struct.pack("!H", csum or 0xFFFF) + datagram[8:]
    return ipv4(datagram, src=src, dst=dst, proto=17, **ip_kw)  # type: ignore[arg-type]


def pcap_bytes(
    frames: list[bytes],
    *,
    linktype: int = 1,
    nanos: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
    start_ns: int = 1_700_000_000_000_000_000,
    step_ns: int = 1_000_000,
    wire_lens: list[int] | None = None,
) -> bytes:
    """A whole classic pcap file holding ``frames``."""
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for i, frame in enumerate(frames):
        ts = start_ns + i * step_ns
        sec, frac_ns = divmod(ts, 1_000_000_000)
        frac = frac_ns if nanos else frac_ns // 1000
        wire = wire_lens[i] if wire_lens else len(frame)
        out.append(struct.pack(e + "IIII", sec, frac, len(frame), wire) + frame)
    return b"".join(out)


def varied_frames() -> list[bytes]:
    """857 TCP frames of 54 to 1453 bytes: over half a megabyte as a capture."""
    return [eth(ipv4_tcp(tcp(bytes(i % 1400)))) for i in range(0, 6000, 7)]


def feed_in_chunks(parser: Any, data: bytes, chunk: int) -> tuple[list[bytes], int]:
    """Feed a sans-IO capture parser ``chunk`` bytes at a time, as a pipe would.

    Returns the frames' bytes and the most the parser's buffer held.
    """
    got: list[bytes] = []
    largest = 0
    for i in range(0, len(data), chunk):
        got += [f.data for f in parser.feed(data[i : i + chunk])]
        largest = max(largest, len(parser._buf))
    return got, largest
