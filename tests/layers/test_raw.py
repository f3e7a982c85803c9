"""Raw IP link types (101, 12, 14, 228, 229): the frame starts with the IP header."""

from __future__ import annotations

import pytest
from builders import ipv4_udp, ipv6, udp

import layerpeek
from layerpeek import IPv4, IPv6, Malformed
from layerpeek.layers import ipv4, raw
from layerpeek.layers import ipv6 as ipv6_layer
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: rawip_mixed.pcap frame 54 (PcapPlusPlus raw_ip): an IPv4 ACK sent with checksum offload.
IPV4_ACK = bytes.fromhex(
    "4500 0028 4435 4000 8006"  # IPv4: 40 bytes, id 0x4435, DF, TTL 128, TCP
    "0000"  # header checksum left to the NIC
    "0a000001 52669813"  # 10.0.0.1 → 82.102.152.19
    "d8ad 0050 f1f70918 5cddef41 5010 0104 f494 0000"  # TCP ACK 55469 → 80
)

#: rawip_mixed.pcap frame 3: an IPv6 ACK in the same capture.
IPV6_ACK = bytes.fromhex(
    "6000 0000 0020 06 40"  # IPv6: payload 32 bytes, TCP, hop limit 64
    "2001061804000000000000005199cc70"  # 2001:618:400::5199:cc70
    "20010618000180000000000000000005"  # 2001:618:1:8000::5
    "8c9b 0050 6ae70737 b8ef1743 8010 058c cb86 0000"  # TCP ACK 35995 → 80
    "0101080a00dd1a599c0c30e9"  # TCP options: NOP NOP timestamps
)

#: linktype_ipv4_dns.pcap frame 1 (LINKTYPE_IPV4, 228): a DNS query.
DNS_QUERY_228 = bytes.fromhex(
    "4500 003c 21cf 0000 8011 0000 0a000001 0a00008a"  # IPv4 10.0.0.1 → 10.0.0.138, UDP
    "e309 0035 0028 14c4"  # UDP 58121 → 53
    "6305 0100 0001 0000 0000 0000"  # DNS id 0x6305, standard query, 1 question
    "03777777 04796e6574 02636f 02696c 00 0001 0001"  # www.ynet.co.il A IN
)


def test_ipv4_frame_starts_the_chain_with_ipv4() -> None:
    packet = decode(IPV4_ACK, 101)
    assert packet.protocols == "ipv4:tcp"
    ip = packet[IPv4]
    assert (ip.total_len, ip.id, ip.ttl, ip.checksum) == (40, 0x4435, 128, 0)
    assert packet.spans[0] == (0, 20)


def test_ipv6_frame_starts_the_chain_with_ipv6() -> None:
    packet = decode(IPV6_ACK, 101)
    assert packet.protocols == "ipv6:tcp"
    assert packet[IPv6].dst_ip.compressed == "2001:618:1:8000::5"


@pytest.mark.parametrize("linktype", raw.LINKTYPES)
def test_every_raw_linktype_reads_its_version(linktype: int) -> None:
    want = "ipv6:tcp" if linktype == 229 else "ipv4:tcp"
    frame = IPV6_ACK if linktype == 229 else IPV4_ACK
    assert decode(frame, linktype).protocols == want


def test_linktype_ipv4_dns_query() -> None:
    assert decode(DNS_QUERY_228, 228).protocols == "ipv4:udp:dns"


def test_a_version_nibble_other_than_4_or_6_is_invalid() -> None:
    packet = decode(b"\x55" + IPV4_ACK[1:], 101)
    assert len(packet.layers) == 1
    marker = packet.layers[0]
    assert isinstance(marker, Malformed)
    assert (marker.offset, marker.truncated) == (0, False)
    assert "version 5" in marker.reason


def test_an_empty_frame_is_truncated() -> None:
    marker = decode(b"", 101).layers[0]
    assert isinstance(marker, Malformed)
    assert marker.truncated
    assert marker.reason == "raw ip: need 1 byte, have 0"


def test_a_cut_header_names_the_ip_version_in_the_reason() -> None:
    marker = decode(IPV4_ACK[:12], 101).layers[0]
    assert isinstance(marker, Malformed)
    assert marker.reason == "ipv4: need 20 bytes, have 12"


def test_dissector_for_228_and_229_accepts_one_version_only() -> None:
    assert raw.dissector_for(228) is ipv4.DISSECTOR
    assert raw.dissector_for(229) is ipv6_layer.DISSECTOR
    assert raw.dissector_for(101) is raw.DISSECTOR
    strict = layerpeek.default_registry().copy()
    for code in raw.LINKTYPES:
        strict.tables["linktype"][code] = raw.dissector_for(code)
    wrong = layerpeek.decode(IPV6_ACK, 228, registry=strict).layers[0]
    assert isinstance(wrong, Malformed)
    assert (wrong.protocol, wrong.truncated) == ("ipv4", False)
    assert wrong.reason == "ipv4: version 6 != 4"
    assert layerpeek.decode(IPV4_ACK, 228, registry=strict).protocols == "ipv4:tcp"


def test_every_cut_of_a_raw_ipv4_frame_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(IPV4_ACK, 101)


def test_every_cut_of_a_raw_ipv6_frame_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(IPV6_ACK, 101)


def test_every_cut_of_a_228_udp_frame_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(ipv4_udp(udp(b"payload", sport=4000, dport=9)), 228)


def test_every_cut_of_a_229_udp_frame_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(ipv6(udp(b"payload", dport=9), next_header=17), 229)


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(IPV6_ACK, 101)
