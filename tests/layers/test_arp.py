"""Address Resolution Protocol, RFC 826."""

from __future__ import annotations

import struct

from builders import eth

from layerpeek import ARP, Malformed
from layerpeek.layers.arp import HardwareType, Opcode
from layerpeek.render.json import layer_to_dict
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: An ARP request as a Linux host sends it: broadcast, padded to 60 bytes.
REQUEST = bytes.fromhex(
    "ffffffffffff 020000000001 0806"  # Ethernet: broadcast, from 02:..:01, ARP
    "0001"  # hardware type Ethernet
    "0800"  # protocol type IPv4
    "06 04"  # address lengths 6 and 4
    "0001"  # opcode: request
    "020000000001 0a000001"  # sender 02:00:00:00:00:01 at 10.0.0.1
    "000000000000 0a000002"  # target unknown MAC, 10.0.0.2
    "000000000000000000000000000000000000"  # Ethernet padding to 60 bytes
)


def arp(opcode: int, sender_mac: bytes, sender_ip: bytes, target_mac: bytes, target_ip: bytes,
        hardware_type: int = 1, protocol_type: int = 0x0800) -> bytes:
    return struct.pack("!HHBBH", hardware_type, protocol_type, len(sender_mac), len(sender_ip),
                       opcode) + sender_mac + sender_ip + target_mac + target_ip


def test_request_fields() -> None:
    packet = decode(REQUEST)
    assert packet.protocols == "eth:arp"
    msg = packet[ARP]
    assert (msg.hardware_type, msg.protocol_type) == (HardwareType.ETHERNET, 0x0800)
    assert (msg.hardware_len, msg.protocol_len, msg.opcode) == (6, 4, Opcode.REQUEST)
    assert msg.sender_mac == bytes.fromhex("020000000001")
    assert msg.sender_ip == bytes([10, 0, 0, 1])
    assert msg.target_mac == bytes(6)
    assert msg.target_ip == bytes([10, 0, 0, 2])
    assert (msg.sender_mac_str, msg.sender_ip_str) == ("02:00:00:00:00:01", "10.0.0.1")
    assert (msg.target_mac_str, msg.target_ip_str) == ("00:00:00:00:00:00", "10.0.0.2")


def test_arp_is_terminal_and_the_padding_stays_in_its_span() -> None:
    packet = decode(REQUEST)
    assert packet.spans[-1] == (14, 60)


def test_summaries_read_like_tcpdump() -> None:
    assert decode(REQUEST)[ARP].summary() == "who-has 10.0.0.2 tell 10.0.0.1"
    reply = arp(2, bytes.fromhex("020000000002"), bytes([10, 0, 0, 2]),
                bytes.fromhex("020000000001"), bytes([10, 0, 0, 1]))
    assert decode(eth(reply, ethertype=0x0806))[ARP].summary() == (
        "10.0.0.2 is-at 02:00:00:00:00:02"
    )
    gratuitous = arp(1, bytes.fromhex("020000000003"), bytes([10, 0, 0, 3]), bytes(6),
                     bytes([10, 0, 0, 3]))
    assert decode(eth(gratuitous, ethertype=0x0806))[ARP].summary() == "announce 10.0.0.3"
    rarp = arp(3, bytes.fromhex("020000000003"), bytes(4), bytes.fromhex("020000000003"),
               bytes(4))
    assert decode(eth(rarp, ethertype=0x0806))[ARP].summary() == (
        "rarp request 0.0.0.0 → 0.0.0.0"
    )


def test_address_lengths_come_from_the_header() -> None:
    # InfiniBand (RFC 4391): 20-byte hardware addresses.
    gid = bytes(range(20))
    msg = decode(eth(arp(2, gid, bytes([192, 0, 2, 1]), gid, bytes([192, 0, 2, 2]),
                         hardware_type=32), ethertype=0x0806))[ARP]
    assert (msg.hardware_len, msg.sender_mac, msg.target_ip) == (20, gid, bytes([192, 0, 2, 2]))


def test_json_shows_macs_and_addresses_as_text() -> None:
    out = layer_to_dict(decode(REQUEST)[ARP])
    assert out["layer"] == "arp"
    assert out["sender_mac"] == "02:00:00:00:00:01"
    assert out["sender_ip"] == "10.0.0.1"
    assert out["target_ip"] == "10.0.0.2"


def test_a_cut_address_block_is_truncated_at_the_arp_header() -> None:
    packet = decode(REQUEST[:14 + 27])
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("arp", 14, True)
    assert marker.reason == "arp: need 28 bytes, have 27"


def test_every_cut_of_a_request_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(REQUEST)


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(REQUEST)
