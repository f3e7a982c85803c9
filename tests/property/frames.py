"""Material for the property tests: real frames, and strategies that reach deep layers.

``st.binary()`` alone rarely gets past an Ethernet header: almost every random
ethertype is unknown, so the decoders behind it would never see hostile bytes.
The strategies here therefore also (a) flip, cut and splice bytes of real
frames from ``captures/``, and (b) put arbitrary bytes behind correct outer
headers built with ``tests/builders.py``, so every decoder gets its share.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

from builders import eth, ipv4, ipv6, tcp, udp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import layerpeek
from layerpeek.decode import registry
from layerpeek.layers.tcp import TCP
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.registry import TABLES
from layerpeek.render.hexdump import hexdump
from layerpeek.render.json import packet_to_json
from layerpeek.render.text import packet_line, packet_tree

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
PUBLIC = Path(__file__).resolve().parents[3] / "shared" / "captures" / "public"

#: Property tests run on a shared 2-core box: no per-example deadline (timing is
#: the benchmarks' business), and a modest example count per run; the deeper
#: search is the fuzzers' job (tests/fuzz/run.py).
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Every link type the default registry knows, plus one it does not (147: user 0).
LINKTYPES = (*sorted(registry().tables["linktype"]), 147)


@cache
def real_frames() -> tuple[tuple[bytes, int], ...]:
    """(data, linktype) of every frame in the project's own captures."""
    out: list[tuple[bytes, int]] = []
    for path in sorted(CAPTURES.glob("*.pcap*")):
        out.extend((p.data, p.linktype) for p in layerpeek.read(path))
    return tuple(out)


@cache
def public_frames() -> tuple[tuple[bytes, int], ...]:
    """(data, linktype) of every frame of the shared public captures (empty if absent)."""
    out: list[tuple[bytes, int]] = []
    if PUBLIC.is_dir():
        for path in sorted(PUBLIC.glob("*.pcap*")):
            out.extend((p.data, p.linktype) for p in layerpeek.read(path))
    return tuple(out)


def distinct_frames(
    frames: tuple[tuple[bytes, int], ...] | None = None,
) -> tuple[tuple[bytes, int], ...]:
    """One frame per distinct protocol path (the shortest), for exhaustive truncation."""
    best: dict[str, tuple[bytes, int]] = {}
    for data, linktype in real_frames() if frames is None else frames:
        path = layerpeek.decode(data, linktype).protocols
        if path not in best or len(data) < len(best[path][0]):
            best[path] = (data, linktype)
    return tuple(best[k] for k in sorted(best))


@st.composite
def mutated_frames(draw: st.DrawFn) -> tuple[bytes, int]:
    """A real frame with a few bytes overwritten, cut, inserted or spliced."""
    data, linktype = draw(st.sampled_from(real_frames()))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("set", "cut", "insert", "magic")))
        pos = draw(st.integers(0, len(buf)))
        if op == "set" and pos < len(buf):
            buf[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:  # values that sit on boundaries: lengths of 0 and 0xffff, pointers
            buf[pos:pos] = draw(
                st.sampled_from((b"\x00", b"\xff\xff", b"\x00\x00", b"\xc0\x0c", b"\xff" * 4))
            )
    if draw(st.booleans()) and draw(st.booleans()):
        linktype = draw(st.sampled_from(LINKTYPES))
    return bytes(buf), linktype


_PROTOS = (6, 17, 1, 58, 4, 41, 0, 43, 44, 51, 60, 59, 99)


@st.composite
def framed_garbage(draw: st.DrawFn) -> tuple[bytes, int]:
    """Arbitrary bytes behind valid outer headers, aimed at one inner decoder."""
    garbage = draw(st.binary(max_size=200))
    kind = draw(st.sampled_from(("ethertype", "ipv4", "ipv6", "tcp", "udp")))
    if kind == "ethertype":
        ethertype = draw(st.sampled_from((0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8, 0x9100)))
        return eth(garbage, ethertype=ethertype), 1
    if kind == "ipv4":
        return eth(ipv4(garbage, proto=draw(st.sampled_from(_PROTOS)))), 1
    if kind == "ipv6":
        return eth(ipv6(garbage, next_header=draw(st.sampled_from(_PROTOS)))), 1
    ports = draw(st.sampled_from(((40000, 53), (40000, 80), (5353, 5353), (40000, 8080))))
    if kind == "tcp":
        segment = tcp(garbage, sport=ports[0], dport=ports[1])
        if draw(st.booleans()):  # an arbitrary header length and options too
            words = draw(st.integers(0, 15))
            segment = segment[:12] + bytes([words << 4]) + segment[13:]
        return eth(ipv4(segment, proto=6)), 1
    return eth(ipv4(udp(garbage, sport=ports[0], dport=ports[1]), proto=17)), 1


def any_frames() -> st.SearchStrategy[tuple[bytes, int]]:
    """Raw bytes on any link type, mutated real frames, and garbage behind headers."""
    raw = st.tuples(st.binary(max_size=300), st.sampled_from(LINKTYPES))
    return st.one_of(raw, mutated_frames(), framed_garbage())


def assert_valid_chain(packet: Packet) -> None:
    """The structural promises every decoded frame keeps, whatever its bytes.

    * one span per layer, inside the frame, starting in order;
    * ``Malformed`` and ``Payload`` only as the last layer, and their bytes are
      exactly the frame's bytes of their span, so nothing is lost;
    * every renderer (line, tree, hex, JSON) accepts the result.
    """
    layers, spans, data = packet.layers, packet.spans, packet.data
    assert len(layers) == len(spans)
    assert all(isinstance(layer, Layer) for layer in layers)
    if data and packet.linktype in registry().tables["linktype"]:
        assert layers, "a non-empty frame of a known link type decodes to something"
    previous = 0
    for start, end in spans:
        assert 0 <= start <= end <= len(data), (start, end, len(data))
        assert start >= previous
        previous = start
    for layer in layers[:-1]:
        assert not isinstance(layer, (Malformed, Payload)), packet.protocols
    if layers:
        last, (start, end) = layers[-1], spans[-1]
        if isinstance(last, Payload):
            assert last.data == data[start:end]
        if isinstance(last, Malformed):
            assert 0 <= last.offset <= len(data)
            assert last.reason
            assert data.endswith(last.data) or last.data == data[start:end]
    packet_line(packet, 0, False)
    packet_tree(packet, False)
    hexdump(packet, False)
    json.loads(packet_to_json(packet))
    repr(packet)


def comparable(layer: Layer) -> Layer:
    """``layer`` without the fields that describe how much *payload* was captured.

    ``TCP.payload_len`` counts the captured payload bytes, so cutting the frame
    inside the payload changes it while the header itself was read in full.
    """
    if isinstance(layer, TCP):
        return dataclasses.replace(layer, payload_len=0)
    return layer


def all_dissectors() -> list[tuple[str, object]]:
    """(label, Dissector) for every entry and heuristic of the default registry."""
    reg = registry()
    seen: dict[int, tuple[str, object]] = {}
    for table in TABLES:
        for key, dissector in reg.tables[table].items():
            seen.setdefault(id(dissector), (f"{dissector.protocol}@{table}[{key}]", dissector))
        for dissector in reg.heuristics[table]:
            seen.setdefault(id(dissector), (f"{dissector.protocol}@{table}*", dissector))
    return sorted(seen.values(), key=lambda item: item[0])
