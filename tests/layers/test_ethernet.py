"""Ethernet II, and the truncation property every layer test in this package checks.

The property (ARCHITECTURE.md §2.9, generalising aioquic's
``test_pull_bytes_truncated``): cutting a valid frame at *any* length must give
the layers of the whole frame as a prefix, ending either in a
``Malformed(truncated=True)`` marker or, when the cut falls exactly on a layer
boundary, in a shorter chain that is valid as it stands.  Never an
``IndexError`` or ``struct.error``.  :func:`assert_every_cut_is_a_prefix` is
imported by the other modules of this package.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from builders import eth, ipv4, ipv4_udp, udp

import layerpeek
from layerpeek import Ethernet, IPv4, Malformed, Packet, Payload
from layerpeek.layers.ethernet import EtherType

#: Modules whose layers (and nested records) must come out of a cut frame
#: field-for-field equal, or visibly shorter (bytes and tuples cut at the end,
#: an optional record missing).  Layers of other modules (TCP, DNS, HTTP) are
#: only required to keep their type: a partial DNS message may say
#: ``complete=False``, which is its own business.
_DEEP = {
    "layerpeek.packet",
    "layerpeek.layers.ethernet",
    "layerpeek.layers.udp",
    "layerpeek.layers.vlan",
    "layerpeek.layers.linux_sll",
    "layerpeek.layers.null",
    "layerpeek.layers.arp",
    "layerpeek.layers.ipv4",
    "layerpeek.layers.ipv6",
    "layerpeek.layers.icmp",
    "layerpeek.layers.icmpv6",
}


def decode(frame: bytes, linktype: int = 1) -> Packet:
    return layerpeek.decode(frame, linktype)


def path(frame: bytes, linktype: int = 1) -> str:
    return decode(frame, linktype).protocols


def _shorter_or_equal(cut: Any, whole: Any) -> bool:
    """``cut`` is ``whole`` as decoded from fewer bytes: equal, or cut off at the end."""
    if cut == whole or cut is None:
        return True
    if type(cut) is not type(whole):
        return False
    if isinstance(cut, bytes):
        return whole.startswith(cut)
    if isinstance(cut, tuple):
        if not cut:
            return True
        n = len(cut)
        return n <= len(whole) and cut[:-1] == whole[: n - 1] and _shorter_or_equal(
            cut[-1], whole[n - 1]
        )
    if dataclasses.is_dataclass(cut):
        return all(
            _shorter_or_equal(getattr(cut, f.name), getattr(whole, f.name))
            for f in dataclasses.fields(cut)
        )
    return False


def assert_every_cut_is_a_prefix(frame: bytes, linktype: int = 1) -> Packet:
    """Decode ``frame[:n]`` for every ``n`` and check the truncation property.

    Returns the packet decoded from the whole frame, for further assertions.
    """
    whole = decode(frame, linktype)
    assert not isinstance(whole.layers[-1], Malformed), whole.layers[-1]
    boundaries = {start for start, _ in whole.spans}
    for n in range(len(frame)):
        cut = decode(frame[:n], linktype)
        layers = list(cut.layers)
        marker = layers.pop() if layers and isinstance(layers[-1], Malformed) else None
        where = f"cut at {n}: {cut.protocols}"
        if marker is not None:
            assert marker.truncated, f"{where}: {marker}"
            assert 0 <= marker.offset <= n, f"{where}: {marker}"
        assert len(layers) <= len(whole.layers), where
        for i, layer in enumerate(layers):
            ref = whole.layers[i]
            assert type(layer) is type(ref), where
            if i < len(layers) - 1:
                assert layer == ref or type(layer).__module__ not in _DEEP, where
            elif type(layer).__module__ in _DEEP:
                assert _shorter_or_equal(layer, ref), f"{where}:\n{layer}\n{ref}"
        if marker is None and len(layers) < len(whole.layers):
            assert n in boundaries, f"{where}: shorter chain without a marker mid-layer"
    return whole


def assert_damage_never_raises(frame: bytes, linktype: int = 1, *, rounds: int = 400) -> None:
    """Seeded random byte changes, insertions and cuts: decoding always returns a chain.

    Damage must come out as a Malformed marker (or as different but valid
    layers), never as an exception, and every layer must still summarise.
    """
    rng = random.Random(frame)
    for _ in range(rounds):
        damaged = bytearray(frame)
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            if roll < 0.6 and damaged:
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            elif roll < 0.8:
                at = rng.randrange(len(damaged) + 1)
                damaged[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif damaged:
                del damaged[rng.randrange(len(damaged)) :]
        packet = decode(bytes(damaged), linktype)
        assert len(packet.layers) == len(packet.spans)
        for layer in packet.layers:
            layer.summary()
        marker = packet.malformed
        if marker is not None:
            assert 0 <= marker.offset <= len(damaged), (damaged.hex(), marker)


# --------------------------------------------------------------------------- frames

#: tcp_syn_rst.pcap frame 1 (zeek test trace): a SYN to port 31313.
SYN = bytes.fromhex(
    "000000000001"  # destination MAC
    "000000000001"  # source MAC
    "0800"  # EtherType IPv4
    "4500 0028 0001 0000 4006 76cb 01010101 01010102"  # IPv4, 40 bytes, TCP
    "334b 7a51 00000000 00000000 5002 2000 de41 0000"  # TCP SYN 13131 → 31313
)


def test_fields_of_a_real_frame() -> None:
    packet = decode(SYN)
    frame = packet[Ethernet]
    assert frame.dst == bytes.fromhex("000000000001")
    assert frame.src == bytes.fromhex("000000000001")
    assert frame.type == EtherType.IPV4
    assert frame.src_mac == "00:00:00:00:00:01"
    assert packet.protocols == "eth:ipv4:tcp"
    assert packet.spans[0] == (0, 14)


def test_summary_shows_macs_and_the_ethertype_name() -> None:
    frame = decode(SYN)[Ethernet]
    assert frame.summary() == "00:00:00:00:00:01 → 00:00:00:00:00:01 IPV4"
    unknown = decode(eth(b"\x00" * 46, ethertype=0x88B5))[Ethernet]
    assert unknown.summary().endswith(" 0x88b5")


def test_an_802_3_length_is_handed_over_to_llc() -> None:
    # vlan_ids_icmp_cdp.pcap frames 23/24: CDP in 802.3 + LLC/SNAP; the type
    # field (< 0x0600) is a length, kept as sent; LLC follows, then CDP as data.
    llc = bytes.fromhex("aaaa0300000c2000") + b"\x02\xb4" + b"\x00" * 10
    packet = decode(eth(llc, ethertype=len(llc)))
    assert packet.protocols == "eth:llc:data"
    assert packet[Ethernet].type == len(llc)
    assert packet[Payload].data == llc[8:]


def test_unknown_ethertype_keeps_the_payload() -> None:
    packet = decode(eth(b"\x01\x02\x03", ethertype=0x88B5))
    assert packet.protocols == "eth:data"
    assert packet[Payload].data == b"\x01\x02\x03"


def test_header_only_frame_has_no_payload_layer() -> None:
    assert decode(eth(b"", ethertype=0x0800)).protocols == "eth"


def test_thirteen_bytes_are_truncated_at_offset_0() -> None:
    packet = decode(SYN[:13])
    assert len(packet.layers) == 1
    marker = packet.layers[0]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("ethernet", 0, True)
    assert marker.reason == "ethernet: need 14 bytes, have 13"
    assert packet.truncated


def test_padding_after_the_ip_packet_is_not_passed_on() -> None:
    # Frames shorter than 60 bytes are padded; IPv4's total length drops the pad.
    frame = eth(ipv4_udp(udp(b"hi", sport=1, dport=9))) + b"\x00" * 16
    packet = decode(frame)
    assert packet.protocols == "eth:ipv4:udp:data"
    assert packet[Payload].data == b"hi"
    assert packet[IPv4].total_len == 20 + 8 + 2


def test_every_cut_of_a_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(SYN)


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(SYN)


def test_every_cut_of_a_padded_udp_frame_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(eth(ipv4(udp(b"x", sport=7, dport=9), proto=17)) + bytes(17))
