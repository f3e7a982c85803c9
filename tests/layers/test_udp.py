"""UDP (RFC 768): the eight-byte header, the length field's bounds, the hand-over."""

from __future__ import annotations

import pytest
from builders import eth, ipv4, ipv4_udp, ipv6, udp

from layerpeek.errors import Invalid, Short
from layerpeek.layers import udp as udp_layer
from layerpeek.layers.dns import DNS
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.udp import UDP
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.reader import decode

#: linktype_ipv4_dns.pcap frame 1 (PcapPlusPlus linktype_ipv4.pcap, LINKTYPE_IPV4 = 228):
#: a DNS query for www.ynet.co.il, sent with checksum offload (IPv4 checksum 0).
DNS_QUERY = bytes.fromhex(
    "4500 003c 21cf 0000 8011 0000 0a000001 0a00008a"  # IPv4 10.0.0.1 → 10.0.0.138, UDP
    "e309"  # source port 58121
    "0035"  # destination port 53
    "0028"  # length 40: 8 header + 32 DNS
    "14c4"  # checksum (stale: computed before offload)
    "6305 0100 0001 0000 0000 0000"  # DNS header: id 0x6305, RD, one question
    "03777777 0479 6e6574 02636f 02696c 00 0001 0001"  # www.ynet.co.il A IN
)
UDP_AT = 20


def types(packet: Packet) -> list[type[Layer]]:
    return [type(layer) for layer in packet.layers]


def test_header_fields_match_the_capture() -> None:
    layer, after = udp_layer.decode(DNS_QUERY, UDP_AT, len(DNS_QUERY))
    assert layer == UDP(58121, 53, 40, 0x14C4)
    assert after == ("udp_port", (58121, 53), 28, 60)


def test_raw_ipv4_link_type_leads_to_dns() -> None:
    packet = decode(DNS_QUERY, linktype=228)
    assert types(packet) == [IPv4, UDP, DNS]
    assert packet.spans[1] == (20, 28)


def test_summary_counts_payload_bytes() -> None:
    assert UDP(58121, 53, 40, 0).summary() == "len=32"


def test_length_bounds_the_payload_so_trailing_bytes_are_not_data() -> None:
    datagram = udp(b"abc", sport=1111, dport=2222)
    buf = datagram + b"PADDING"
    _, after = udp_layer.decode(buf, 0, len(buf))
    assert after == ("udp_port", (1111, 2222), 8, 11)


def test_length_past_the_capture_hands_over_what_was_captured() -> None:
    buf = udp(b"abcdef", length=100)
    _, after = udp_layer.decode(buf, 0, len(buf))
    assert after == ("udp_port", (40000, 53), 8, 14)


@pytest.mark.parametrize("length", [1, 7])
def test_length_below_the_header_size_is_invalid(length: int) -> None:
    buf = udp(b"xx", length=length)
    with pytest.raises(Invalid) as info:
        udp_layer.decode(buf, 0, len(buf))
    assert info.value.offset == 4  # the length field


def test_length_zero_is_a_jumbogram_whose_payload_runs_to_the_end() -> None:
    buf = udp(b"payload", length=0)
    layer, after = udp_layer.decode(buf, 0, len(buf))
    assert isinstance(layer, UDP)
    assert layer.length == 0
    assert after == ("udp_port", (40000, 53), 8, 15)


@pytest.mark.parametrize("have", [0, 4, 7])
def test_fewer_than_eight_bytes_is_short(have: int) -> None:
    with pytest.raises(Short):
        udp_layer.decode(udp(b"")[:have], 0, have)


def test_unknown_ports_give_a_payload_layer() -> None:
    packet = decode(eth(ipv4_udp(udp(b"\x01\x02", sport=40000, dport=40001))))
    assert types(packet) == [Ethernet, IPv4, UDP, Payload]
    assert packet.payload_after(UDP) == b"\x01\x02"


def test_empty_payload_ends_the_chain_at_udp() -> None:
    packet = decode(eth(ipv4_udp(udp(b"", sport=40000, dport=40001))))
    assert types(packet) == [Ethernet, IPv4, UDP]


def test_udp_over_ipv6() -> None:
    packet = decode(eth(ipv6(udp(b"zz", sport=5000, dport=6000), next_header=17)))
    assert types(packet) == [Ethernet, IPv6, UDP, Payload]


def test_invalid_length_becomes_a_malformed_marker_not_truncation() -> None:
    packet = decode(eth(ipv4(udp(b"abc", length=3), proto=17)))
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.truncated) == ("udp", False)


def test_every_cut_gives_a_prefix_of_the_chain_ending_in_truncation() -> None:
    full = types(decode(DNS_QUERY, linktype=228))
    for n in range(len(DNS_QUERY)):
        packet = decode(DNS_QUERY[:n], linktype=228)
        got = types(packet)
        last = packet.layers[-1] if packet.layers else None
        if isinstance(last, Malformed):
            assert last.truncated, (n, last)
            assert got[:-1] == full[: len(got) - 1], n
        else:
            assert got == full[: len(got)], n
