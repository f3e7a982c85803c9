"""Linux cooked captures: SLL (link type 113) and SLL2 (link type 276)."""

from __future__ import annotations

import struct

from builders import ipv4_tcp, tcp

from layerpeek import SLL, SLL2, VLAN, IPv4, Malformed, Payload
from layerpeek.layers.linux_sll import ARPHRD, PacketType
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: sll_tcp_handshake_nsec.pcap frame 1 (tcpdump test): a SYN sent over a PPP link.
SLL_SYN = bytes.fromhex(
    "0004"  # packet type: outgoing
    "0200"  # ARPHRD_PPP (512)
    "0000"  # link-layer address length 0 …
    "0000000000000000"  # … so the 8 address bytes are unused
    "0800"  # protocol: IPv4
    "4500 003c 29a9 4000 4006 db5f 839bd745 8974515e"  # IPv4 131.155.215.69 → 137.116.81.94
    "b640 0050 2f842acb 00000000 a002 6a40 50c4 0000"  # TCP SYN 46656 → 80
    "020405500402080a436a0362000000000103 0307"  # TCP options
)

#: sll2_http.pcap frame 1 (suricata-verify decode-sll2-01): a SYN on ifindex 2.
SLL2_SYN = bytes.fromhex(
    "0800"  # protocol: IPv4
    "0000"  # reserved
    "00000002"  # interface index 2
    "0001"  # ARPHRD_ETHER
    "04"  # packet type: outgoing
    "06"  # address length 6
    "aa763071b0e7 0000"  # address, padded to 8 bytes
    "4500 003c 45a9 4000 4006 70b0 c0a801fd c0a80115"  # IPv4 192.168.1.253 → .21
    "dc9e 0050 8b0b4393 00000000 a002 faf0 d70c 0000"  # TCP SYN 56478 → 80
    "020405b40402080ac5be80530000000001030307"  # TCP options
)


def sll(protocol: int, payload: bytes, *, arphrd: int = 1,
        addr: bytes = b"\x02\x00\x00\x00\x00\x01", packet_type: int = 0) -> bytes:
    return struct.pack("!HHH8sH", packet_type, arphrd, len(addr), addr[:8], protocol) + payload


def sll2(protocol: int, payload: bytes, *, arphrd: int = 1, ifindex: int = 3,
         addr: bytes = b"\x02\x00\x00\x00\x00\x01", packet_type: int = 0) -> bytes:
    return struct.pack("!HHIHBB8s", protocol, 0, ifindex, arphrd, packet_type, len(addr),
                       addr[:8]) + payload


def test_sll_fields_from_a_real_frame() -> None:
    packet = decode(SLL_SYN, 113)
    assert packet.protocols == "sll:ipv4:tcp"
    header = packet[SLL]
    assert header.packet_type == PacketType.OUTGOING
    assert header.arphrd_type == ARPHRD.PPP
    assert (header.addr_len, header.addr, header.protocol) == (0, b"", 0x0800)
    assert packet.spans[0] == (0, 16)
    assert packet[IPv4].dst_ip.compressed == "137.116.81.94"


def test_sll2_fields_from_a_real_frame() -> None:
    packet = decode(SLL2_SYN, 276)
    assert packet.protocols == "sll2:ipv4:tcp"
    header = packet[SLL2]
    assert (header.protocol, header.interface_index) == (0x0800, 2)
    assert (header.arphrd_type, header.packet_type) == (ARPHRD.ETHER, PacketType.OUTGOING)
    assert header.addr_len == 6
    assert header.addr == bytes.fromhex("aa763071b0e7")  # the padding is not part of it
    assert packet.spans[0] == (0, 20)


def test_summaries_name_direction_address_and_protocol() -> None:
    assert decode(SLL2_SYN, 276)[SLL2].summary() == "if=2 outgoing aa:76:30:71:b0:e7 IPV4"
    assert decode(SLL_SYN, 113)[SLL].summary() == "outgoing IPV4"


def test_an_address_longer_than_8_bytes_keeps_the_first_8() -> None:
    frame = struct.pack("!HHH8sH", 0, 32, 20, bytes(range(8)), 0x88B5) + b"x"
    header = decode(frame, 113)[SLL]
    assert (header.addr_len, header.addr) == (20, bytes(range(8)))


def test_ipv6_and_vlan_are_dispatched_by_protocol() -> None:
    inner = ipv4_tcp(tcp(flags="S"))
    assert decode(sll(0x8100, struct.pack("!HH", 7, 0x0800) + inner), 113).protocols == (
        "sll:vlan:ipv4:tcp"
    )
    packet = decode(sll2(0x8100, struct.pack("!HH", 7, 0x0800) + inner), 276)
    assert packet.protocols == "sll2:vlan:ipv4:tcp"
    # SLL2's protocol field is not next to the tag, so the TPID falls back to 802.1Q.
    assert packet[VLAN].tpid == 0x8100


def test_linux_pseudo_protocols_below_0x0600_become_a_payload() -> None:
    llc = b"\x42\x42\x03" + b"\x00" * 10  # ETH_P_802_2: an LLC frame follows
    packet = decode(sll(0x0004, llc), 113)
    assert packet.protocols == "sll:data"
    assert packet[Payload].data == llc


def test_netlink_protocol_is_a_family_and_never_dispatched() -> None:
    # NETLINK_ROUTE messages captured on nlmon: protocol 0x0800 would be a
    # coincidence of the family number, not IPv4.
    message = bytes(20)
    packet = decode(sll(0x0800, message, arphrd=ARPHRD.NETLINK, addr=b""), 113)
    assert packet.protocols == "sll:data"
    packet = decode(sll2(0x0800, message, arphrd=ARPHRD.NETLINK, addr=b""), 276)
    assert packet.protocols == "sll2:data"


def test_cut_headers_are_truncated() -> None:
    marker = decode(SLL_SYN[:15], 113).layers[0]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.truncated, marker.reason) == (
        "sll", True, "sll: need 16 bytes, have 15"
    )
    marker = decode(SLL2_SYN[:19], 276).layers[0]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.truncated) == ("sll2", True)


def test_every_cut_of_an_sll_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(SLL_SYN, 113)


def test_every_cut_of_an_sll2_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(SLL2_SYN, 276)


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(SLL2_SYN, 276)
