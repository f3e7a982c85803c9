"""IP defragmentation: datagrams rebuilt and decoded on the completing frame."""

from __future__ import annotations

import dataclasses
import struct

from builders import checksum16, eth, ipv4, ipv6, udp

import layerpeek
from layerpeek.flows.defrag import Defragmenter
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.udp import UDP
from layerpeek.packet import Packet

T0 = 1_700_000_000_000_000_000


def packet(raw: bytes, index: int, ts_ns: int = T0) -> Packet:
    return dataclasses.replace(layerpeek.decode(raw), index=index, ts_ns=ts_ns)


def v4_fragments(datagram: bytes, size: int, *, ident: int = 0x1234, proto: int = 17,
                 first_index: int = 1) -> list[Packet]:
    """Cut a transport datagram into IPv4 fragments of ``size`` bytes (a multiple of 8)."""
    out = []
    for n, off in enumerate(range(0, len(datagram), size)):
        chunk = datagram[off : off + size]
        more = off + size < len(datagram)
        raw = eth(ipv4(chunk, proto=proto, ident=ident, flags=1 if more else 0, frag_offset=off))
        out.append(packet(raw, first_index + n, T0 + n))
    return out


def v6_fragment(chunk: bytes, offset: int, more: bool, ident: int, index: int,
                ts_ns: int = T0) -> Packet:
    header = struct.pack("!BBHI", 17, 0, offset | int(more), ident)
    return packet(eth(ipv6(header + chunk, next_header=44)), index, ts_ns)


DATAGRAM = udp(bytes(range(256)) * 3, sport=40000, dport=9999)  # 776 bytes, no decoder


def test_fragments_in_order_are_rebuilt_and_decoded_on_the_last_one() -> None:
    d = Defragmenter()
    frags = v4_fragments(DATAGRAM, 256)
    results = [d.process(p) for p in frags]
    for p, info in results[:-1]:
        assert p.protocols == "eth:ipv4:data" and info is not None and not info.complete
        assert info.first_frame == 1 and info.datagram_id == 0x1234
    rebuilt, info = results[-1]
    assert info is not None and info.complete
    assert info.frames == (1, 2, 3, 4) and info.total_len == len(DATAGRAM)
    assert rebuilt.protocols.startswith("eth:ipv4:udp")
    assert rebuilt.index == 4
    assert rebuilt.payload_after(UDP) == DATAGRAM[8:]
    ip = rebuilt[IPv4]
    assert ip.total_len == 20 + len(DATAGRAM) and not ip.flags & 1 and ip.fragment_offset == 0
    start = rebuilt.span_of(IPv4)
    assert start is not None and checksum16(rebuilt.data[start[0] : start[0] + 20]) == 0
    assert d.pending == 0


def test_fragments_out_of_order_complete_when_the_last_hole_fills() -> None:
    d = Defragmenter()
    frags = v4_fragments(DATAGRAM, 256)
    order = [frags[3], frags[1], frags[0], frags[2]]
    results = [d.process(p) for p in order]
    assert [info.complete for _, info in results if info] == [False, False, False, True]
    assert results[-1][0].payload_after(UDP) == DATAGRAM[8:]
    assert results[-1][1] is not None and results[-1][1].first_frame == 4


def test_duplicate_fragment_is_noted_and_changes_nothing() -> None:
    d = Defragmenter()
    frags = v4_fragments(DATAGRAM, 256)
    d.process(frags[0])
    _, info = d.process(frags[0])
    assert info is not None and info.problems == ("duplicate of bytes 0–256",)
    for p in frags[1:]:
        rebuilt, _ = d.process(p)
    assert rebuilt.payload_after(UDP) == DATAGRAM[8:]


def test_overlap_with_different_bytes_keeps_the_first_copy_and_is_reported() -> None:
    d = Defragmenter()
    frags = v4_fragments(DATAGRAM, 256)
    evil = packet(eth(ipv4(b"\xee" * 16, proto=17, ident=0x1234, flags=1, frag_offset=256)), 9)
    d.process(frags[0])
    d.process(frags[1])
    _, info = d.process(evil)
    assert info is not None
    assert info.problems == ("overlap at 256–272 with different data (first copy kept)",)
    for p in frags[2:]:
        rebuilt, done = d.process(p)
    assert rebuilt.payload_after(UDP) == DATAGRAM[8:]
    assert done is not None and "overlap at 256–272" in done.problems[0]


def test_incomplete_datagram_expires_after_30_seconds_of_packet_time() -> None:
    d = Defragmenter()
    frags = v4_fragments(DATAGRAM, 256)
    d.process(frags[0])
    assert d.pending == 1
    later = packet(eth(ipv4(udp(b"x"), proto=17)), 2, T0 + 31 * 10**9)
    assert d.process(later) == (later, None)
    assert d.pending == 0
    assert "dropped incomplete" in d.problems[-1] and "30 s" in d.problems[-1]


def test_datagram_count_cap_drops_the_oldest() -> None:
    d = Defragmenter(max_datagrams=2)
    for ident in (1, 2, 3):
        d.process(v4_fragments(DATAGRAM, 256, ident=ident)[0])
    assert d.pending == 2
    assert "id=0x1 " in d.problems[-1] and "too many datagrams" in d.problems[-1]


def test_byte_cap_drops_datagrams_until_under_it() -> None:
    # One 256-byte fragment costs 340 bytes with its header and bookkeeping.
    d = Defragmenter(max_bytes=400)
    d.process(v4_fragments(DATAGRAM, 256, ident=1)[0])
    d.process(v4_fragments(DATAGRAM, 256, ident=2)[0])
    assert d.pending == 1 and "too many fragment bytes" in d.problems[-1]


def test_fragment_cut_by_snaplen_is_not_rebuilt() -> None:
    d = Defragmenter()
    frags = v4_fragments(DATAGRAM, 256)
    cut = dataclasses.replace(frags[1], data=frags[1].data[:-10])
    d.process(frags[0])
    _, info = d.process(cut)
    assert info is not None and "snaplen" in info.problems[0]
    for p in frags[2:]:
        last, info = d.process(p)
    assert last is frags[-1] and info is not None and not info.complete
    assert "not rebuilt" in d.problems[-1]


def test_ipv6_fragments_are_rebuilt_without_the_fragment_header() -> None:
    d = Defragmenter()
    a = v6_fragment(DATAGRAM[:512], 0, True, 77, 1)
    b = v6_fragment(DATAGRAM[512:], 512, False, 77, 2)
    assert d.process(a)[1] is not None
    rebuilt, info = d.process(b)
    assert info is not None and info.complete and info.version == 6
    assert rebuilt.protocols.startswith("eth:ipv6:udp")
    assert rebuilt.payload_after(UDP) == DATAGRAM[8:]
    assert rebuilt.data[14 + 6] == 17  # Next Header now names UDP directly


def test_unfragmented_packets_pass_through_untouched() -> None:
    d = Defragmenter()
    p = packet(eth(ipv4(udp(b"hello"), proto=17)), 1)
    assert d.process(p) == (p, None)
    atomic = v6_fragment(udp(b"whole"), 0, False, 5, 2)  # an RFC 6946 atomic fragment
    assert d.process(atomic) == (atomic, None)
