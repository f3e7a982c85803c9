"""Changing one decoded packet never changes another, nor the packets of a later read.

The decoder shares a few objects between packets to save allocations: a
reader keeps one Ethernet header object per distinct 14 bytes, and the TCP
options without a value (EOL, NOP, SACK-permitted) are single instances.
Those are frozen; everything else a packet holds is its own.  Before, the
Ethernet cache was process-wide and the shared objects were plain slots
dataclasses, so ``packets[0].get(Ethernet).src = ...`` rewrote other packets
and the packets of every later read of the file.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import eth, ipv4, pcap_bytes, tcp
from conftest import own_captures, public_captures

import layerpeek
from layerpeek.decode import decode_layers
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.tcp import NOP, TCP, Timestamps
from layerpeek.packet import Packet

IMMUTABLE_SCALARS = (int, float, str, bytes, bool, type(None))


def is_frozen(obj: object) -> bool:
    params = getattr(type(obj), "__dataclass_params__", None)
    return params is not None and params.frozen


def reachable(obj: object) -> Iterator[object]:
    """``obj`` and every object inside it: dataclass fields, tuple and list items, dict values."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, IMMUTABLE_SCALARS):
            continue
        yield item
        if dataclasses.is_dataclass(item):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, tuple | list | set | frozenset):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def mutable_parts(packet: Packet) -> list[object]:
    """The objects reachable from ``packet.layers`` that can be changed in place."""
    return [
        o for o in reachable(packet.layers) if not is_frozen(o) and not isinstance(o, tuple)
    ]


def shared_mutables(packets: list[Packet]) -> list[str]:
    """Objects that can be changed in place and are reachable from more than one packet."""
    owner: dict[int, int] = {}
    bad = []
    for packet in packets:
        for part in {id(o): o for o in mutable_parts(packet)}.values():
            first = owner.setdefault(id(part), packet.index)
            if first != packet.index:
                bad.append(f"frames {first} and {packet.index} share {part!r}")
    return bad


def scribble(packet: Packet) -> int:
    """Change every field of every changeable object in ``packet``; return how many changed."""
    changed = 0
    for part in mutable_parts(packet):
        if dataclasses.is_dataclass(part):
            for f in dataclasses.fields(part):
                setattr(part, f.name, "scribbled")
                changed += 1
        elif isinstance(part, list):
            part.append("scribbled")
            changed += 1
        elif isinstance(part, dict):
            part["scribbled"] = "scribbled"
            changed += 1
    return changed


CAPTURES = [*own_captures(), *public_captures()]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_no_packet_shares_a_changeable_object_with_another(path: Path) -> None:
    first = list(layerpeek.read(path))
    second = list(layerpeek.read(path))  # alive together: ids cannot be reused
    assert shared_mutables(first) == []
    # Numbered apart so that a shared object is reported across the two reads too.
    for packet in second:
        packet.index += len(first)
    assert shared_mutables(first + second) == []


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_scribbling_over_one_packet_changes_no_other_nor_a_later_read(path: Path) -> None:
    packets = list(layerpeek.read(path))
    untouched = list(layerpeek.read(path))
    for victim in packets[:3]:
        scribble(victim)
    assert [p.layers for p in packets[3:]] == [p.layers for p in untouched[3:]]
    assert [p.layers for p in layerpeek.read(path)] == [p.layers for p in untouched]


class TestTheIssuesExample:
    """``ps = list(layerpeek.read(f)); ps[0].get(Ethernet).src = b"x" * 6``."""

    @pytest.fixture
    def path(self, capture) -> Path:
        return capture("tcp_3040_greeting.pcap")

    @pytest.fixture
    def packets(self, path) -> list[Packet]:
        return list(layerpeek.read(path))

    def test_the_shared_ethernet_header_cannot_be_changed_in_place(self, packets) -> None:
        header = packets[0][Ethernet]
        assert any(p[Ethernet] is header for p in packets[1:])  # shared within the read
        with pytest.raises(dataclasses.FrozenInstanceError):
            header.src = b"x" * 6  # type: ignore[misc]
        changed = dataclasses.replace(header, src=b"x" * 6)
        assert changed.src == b"x" * 6 and header.src != b"x" * 6

    def test_a_later_read_has_headers_of_its_own(self, path, packets) -> None:
        again = list(layerpeek.read(path))
        assert again[0][Ethernet] == packets[0][Ethernet]
        assert again[0][Ethernet] is not packets[0][Ethernet]

    def test_the_per_packet_layers_are_each_packets_own(self, packets) -> None:
        segments = [p for p in packets if p.get(TCP) is not None and p[TCP].options]
        a, b = segments[0], segments[1]
        a[IPv4].ttl = 1
        a[TCP].seq = 12345
        stamp = a[TCP].option(Timestamps)
        assert stamp is not None
        stamp.value = 7
        assert b[IPv4].ttl != 1 and b[TCP].seq != 12345
        assert all(o.value != 7 for o in b[TCP].options if isinstance(o, Timestamps))

    def test_the_shared_nop_option_cannot_be_changed_in_place(self, packets) -> None:
        nops = [o for p in packets if TCP in p for o in p[TCP].options if isinstance(o, NOP)]
        assert len({id(o) for o in nops}) == 1 < len(nops)  # one object, many segments
        with pytest.raises(dataclasses.FrozenInstanceError):
            nops[0].kind = 2  # type: ignore[misc]


class TestTheCache:
    def test_without_one_nothing_is_shared(self) -> None:
        frame = eth(ipv4(tcp(b"a"), proto=6))
        assert decode_layers(frame, 1)[0][0] is not decode_layers(frame, 1)[0][0]

    def test_two_readers_of_one_stream_share_nothing(self) -> None:
        data = pcap_bytes([eth(ipv4(tcp(b"a"), proto=6))] * 2)
        one = list(layerpeek.read(io.BytesIO(data)))
        two = list(layerpeek.read(io.BytesIO(data)))
        assert one[0][Ethernet] is one[1][Ethernet]
        assert one[0][Ethernet] is not two[0][Ethernet]
