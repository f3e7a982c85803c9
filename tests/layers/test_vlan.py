"""802.1Q VLAN tags and 802.1ad (QinQ) stacks."""

from __future__ import annotations

import struct

from builders import eth, ipv4_tcp, tcp

from layerpeek import ICMP, VLAN, Ethernet, IPv4, Malformed, Payload
from layerpeek.layers.icmp import Echo
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: vlan_http.pcap frame 1 (zeek http-vlan-0 trace): a priority-tagged SYN.
PRIORITY_TAGGED_SYN = bytes.fromhex(
    "0010db88d2ef c8bcc896d2a0 8100"  # Ethernet: dst, src, TPID 802.1Q
    "b000"  # TCI: PCP 5, DEI 1, VID 0 (priority tag only)
    "0800"  # inner EtherType IPv4
    "4500 0040 df8e 4000 4006 6dd3 8d8ee405 c096bb2b"  # IPv4 141.142.228.5 → 192.150.187.43
    "e9d0 0050 fe21323a 00000000 b002 ffff 3bc0 0000"  # TCP SYN 59856 → 80
    "020405b4 01030304 0101080a 164add20 00000000 04020000"  # TCP options
)

#: vlan_ids_icmp_cdp.pcap frame 1 (PcapPlusPlus VlanPackets): two real tags.
DOUBLE_TAGGED_PING = bytes.fromhex(
    "001bd41ba4d8 0013c3dfae18 8100"  # Ethernet: dst, src, TPID 802.1Q
    "0076 8100"  # outer tag: PCP 0, VID 118; inner TPID 802.1Q
    "000a 0800"  # inner tag: VID 10; EtherType IPv4
    "4500 0064 000f 0000 ff01 929b 0a760a01 0a760a02"  # IPv4 10.118.10.1 → .2, ICMP
    "0800 ceb7 0003 0000"  # ICMP echo request id=3 seq=0
    "00000000001faf70"  # echo data: 8 bytes of zeros and a timestamp …
) + bytes.fromhex("abcd") * 32  # … then the 0xabcd filler


def test_priority_tag_fields_from_a_real_frame() -> None:
    packet = decode(PRIORITY_TAGGED_SYN)
    assert packet.protocols == "eth:vlan:ipv4:tcp"
    tag = packet[VLAN]
    assert (tag.pcp, tag.dei, tag.vid, tag.type, tag.tpid) == (5, 1, 0, 0x0800, 0x8100)
    assert packet.spans[1] == (14, 18)
    assert packet[IPv4].src_ip.compressed == "141.142.228.5"


def test_double_tag_is_one_layer_per_tag_outermost_first() -> None:
    packet = decode(DOUBLE_TAGGED_PING)
    assert packet.protocols == "eth:vlan:vlan:ipv4:icmp"
    outer, inner = (layer for layer in packet.layers if isinstance(layer, VLAN))
    assert (outer.vid, outer.type, outer.tpid) == (118, 0x8100, 0x8100)
    assert (inner.vid, inner.type, inner.tpid) == (10, 0x0800, 0x8100)
    body = packet[ICMP].body
    assert isinstance(body, Echo)
    assert (body.id, body.seq) == (3, 0)


def test_qinq_service_tag_records_its_tpid() -> None:
    inner = ipv4_tcp(tcp(flags="S"))
    frame = eth(struct.pack("!HH", (3 << 13) | 100, 0x8100) + struct.pack("!HH", 200, 0x0800)
                + inner, ethertype=0x88A8)
    packet = decode(frame)
    outer, customer = (layer for layer in packet.layers if isinstance(layer, VLAN))
    assert (outer.tpid, outer.pcp, outer.vid) == (0x88A8, 3, 100)
    assert (customer.tpid, customer.vid) == (0x8100, 200)


def test_all_twelve_vid_bits_and_the_dei_bit_are_read() -> None:
    frame = eth(struct.pack("!HH", 0xFFFF, 0x88B5) + b"zz", ethertype=0x8100)
    tag = decode(frame)[VLAN]
    assert (tag.pcp, tag.dei, tag.vid) == (7, 1, 4095)


def test_an_802_3_length_inside_a_tag_is_handed_over_to_llc() -> None:
    # vlan_ids_icmp_cdp.pcap frame 21: VID 118, PCP 5, then CDP over LLC with length 0x0165.
    llc = bytes.fromhex("aaaa0300000c2000") + b"\x00" * 349
    packet = decode(eth(bytes.fromhex("a076 0165") + llc, ethertype=0x8100))
    assert packet.protocols == "eth:vlan:llc:data"
    assert packet[VLAN].type == 0x0165
    assert packet[Payload].data == llc[8:]


def test_summary_names_vid_priority_and_inner_type() -> None:
    assert decode(PRIORITY_TAGGED_SYN)[VLAN].summary() == "vid=0 pcp=5 IPV4"


def test_a_cut_tag_is_truncated_at_the_tag() -> None:
    packet = decode(PRIORITY_TAGGED_SYN[:17])
    assert isinstance(packet.layers[0], Ethernet)
    marker = packet.layers[1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("vlan", 14, True)


def test_every_cut_of_a_tagged_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(PRIORITY_TAGGED_SYN)


def test_every_cut_of_a_double_tagged_ping_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(DOUBLE_TAGGED_PING)


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(DOUBLE_TAGGED_PING)
