"""Link types beyond Ethernet: Linux NFLOG (239), IPNET (226), IPoIB (242),
802.11 (105) and radiotap (127) down to LLC/SNAP/IP, PKTAP (258), Frame
Relay (107), FDDI (10); and a link type nobody decodes, named as such."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from builders import eth, ipv4_tcp, mac, tcp

import layerpeek
from layerpeek import IPv4, Malformed, Payload
from layerpeek.layers.links import FDDI, PKTAP, FrameRelay, IPNet, IPoIB, UnknownLink
from layerpeek.layers.llc import LLC
from layerpeek.layers.nflog import NFLOG, NFLOGTLV
from layerpeek.layers.wlan import WLAN, Radiotap
from layerpeek.render.text import packet_line
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

Corpus = Callable[[str], Path]

IP_SEGMENT = ipv4_tcp(tcp(b"hello", sport=40000, dport=9999, flags="PA"))
SNAP_IP = b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + IP_SEGMENT


def tlv(kind: int, value: bytes) -> bytes:
    raw = struct.pack("<HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def test_nflog_keeps_its_tlvs_and_hands_the_payload_over_by_family() -> None:
    frame = (struct.pack("!BBH", 2, 0, 5) + tlv(1, b"\x08\x00\x03\x00") + tlv(10, b"drop\0")
             + tlv(9, IP_SEGMENT))
    packet = decode(frame, 239)
    assert packet.protocols == "nflog:ipv4:tcp:data"
    # Cut inside a TLV: truncated.  (Cut between two TLVs, the record is whole
    # as far as it goes: NFLOG does not say how many TLVs it has.)
    for n in (5, 20, 40, len(frame) - len(IP_SEGMENT) + 10):
        marker = decode(frame[:n], 239).layers[-1]
        assert marker.name in ("malformed",) and isinstance(marker, Malformed) and marker.truncated
    layer = packet[NFLOG]
    assert (layer.family, layer.resource_id, layer.prefix) == (2, 5, "drop")
    assert layer.tlvs == (NFLOGTLV(1, b"\x08\x00\x03\x00"), NFLOGTLV(10, b"drop\0"),
                          NFLOGTLV(9, b""))
    assert layer.summary() == "group=5 prefix='drop'"


def test_nflog_tlv_length_below_its_header_is_invalid() -> None:
    packet = decode(struct.pack("!BBH", 2, 0, 5) + struct.pack("<HH", 2, 1) + b"\0" * 8, 239)
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed) and marker.reason == "nflog.tlvs[0].length 2 < 4"


def test_ipnet_and_ipoib() -> None:
    ipnet = struct.pack("!BBHIIIII", 2, 2, 1, len(IP_SEGMENT), 3, 0, 0, 0) + IP_SEGMENT
    packet = assert_every_cut_is_a_prefix(ipnet, 226)
    assert packet.protocols == "ipnet:ipv4:tcp:data"
    assert (packet[IPNet].family, packet[IPNet].ifindex) == (2, 3)
    ipoib = bytes(range(40)) + struct.pack("!HH", 0x0800, 0) + IP_SEGMENT
    packet = assert_every_cut_is_a_prefix(ipoib, 242)
    assert packet.protocols == "ipoib:ipv4:tcp:data"
    assert (packet[IPoIB].type, packet[IPoIB].addresses) == (0x0800, bytes(range(40)))


def wlan_data(body: bytes, *, flags: int = 0x01, qos: bool = False) -> bytes:
    fc = bytes([0x08 | (0x80 if qos else 0), flags])
    header = (fc + struct.pack("<H", 44) + mac("00:11:22:33:44:55") + mac("66:77:88:99:aa:bb")
              + mac("cc:dd:ee:ff:00:11") + struct.pack("<H", (1234 << 4) | 0))
    return header + (struct.pack("<H", 5) if qos else b"") + body


def test_802_11_data_frame_down_to_ip() -> None:
    packet = assert_every_cut_is_a_prefix(wlan_data(SNAP_IP), 105)
    assert packet.protocols == "wlan:llc:ipv4:tcp:data"
    header = packet[WLAN]
    assert (header.type, header.subtype, header.flags, header.sequence, header.fragment) == (
        2, 0, 1, 1234, 0)
    assert (header.addr1, header.addr4, header.qos) == (mac("00:11:22:33:44:55"), None, None)
    qos = decode(wlan_data(SNAP_IP, qos=True), 105)
    assert (qos.protocols, qos[WLAN].qos) == ("wlan:llc:ipv4:tcp:data", 5)


def test_802_11_protected_control_and_management_frames_stay_data() -> None:
    assert decode(wlan_data(SNAP_IP, flags=0x41), 105).protocols == "wlan:data"
    ack = decode(b"\xd4\x00\x00\x00" + mac("00:11:22:33:44:55"), 105)
    assert ack.protocols == "wlan" and ack[WLAN].addr2 is None
    beacon = b"\x80\x00\x00\x00" + b"\xff" * 6 + mac("02:00:00:00:00:01") * 2 + b"\0\0" + b"x" * 12
    assert decode(beacon, 105).protocols == "wlan:data"


def radiotap(frame: bytes, *, fcs: bool = False) -> bytes:
    # present: TSFT, flags, rate, channel, antenna signal (bits 0-3, 5)
    fields = struct.pack("<QBBHHb", 123456789, 0x10 if fcs else 0, 12, 2437, 0x00A0, -40)
    header = struct.pack("<BBHI", 0, 0, 8 + len(fields), 0x2F) + fields
    return header + frame + (b"FCS!" if fcs else b"")


def test_radiotap_fields_then_802_11() -> None:
    packet = assert_every_cut_is_a_prefix(radiotap(wlan_data(SNAP_IP)), 127)
    assert packet.protocols == "radiotap:wlan:llc:ipv4:tcp:data"
    header = packet[Radiotap]
    assert (header.tsft, header.flags, header.rate, header.channel_freq, header.antenna_signal) == (
        123456789, 0, 12, 2437, -40)
    assert header.summary() == "2437 MHz 6 Mb/s -40 dBm"
    with_fcs = decode(radiotap(wlan_data(SNAP_IP), fcs=True), 127)
    assert with_fcs[IPv4].total_len == len(IP_SEGMENT)  # the FCS stays out of IP
    assert with_fcs.protocols == "radiotap:wlan:llc:ipv4:tcp:data"


def test_pktap_names_the_process_and_hands_over_its_link_type() -> None:
    header = struct.pack("<III24sIIII", 108, 1, 1, b"en0", 0, 2, 0, 0)
    header += struct.pack("<i17s", 4242, b"curl") + b"\0" * (108 - 52 - 21)
    packet = assert_every_cut_is_a_prefix(header + eth(IP_SEGMENT), 258)
    assert packet.protocols == "pktap:eth:ipv4:tcp:data"
    assert (packet[PKTAP].ifname, packet[PKTAP].pid, packet[PKTAP].comm, packet[PKTAP].dlt) == (
        "en0", 4242, "curl", 1)


def test_frame_relay_by_nlpid_snap_and_cisco_encapsulation() -> None:
    address = bytes([(100 >> 4) << 2, ((100 & 0xF) << 4) | 1])  # DLCI 100
    packet = assert_every_cut_is_a_prefix(address + b"\x03\xcc" + IP_SEGMENT, 107)
    assert packet.protocols == "fr:ipv4:tcp:data"
    assert (packet[FrameRelay].dlci, packet[FrameRelay].nlpid) == (100, 0xCC)
    snap = decode(address + b"\x03\x00\x80\x00\x00\x00\x08\x00" + IP_SEGMENT, 107)
    assert (snap.protocols, snap[FrameRelay].pid) == ("fr:ipv4:tcp:data", 0x0800)
    cisco = decode(address + b"\x08\x00" + IP_SEGMENT, 107)
    assert (cisco.protocols, cisco[FrameRelay].control) == ("fr:ipv4:tcp:data", None)


def test_fddi_llc_frames() -> None:
    frame = b"\x50" + mac("00:11:22:33:44:55") + mac("66:77:88:99:aa:bb") + SNAP_IP
    packet = assert_every_cut_is_a_prefix(frame, 10)
    assert packet.protocols == "fddi:llc:ipv4:tcp:data"
    assert packet[FDDI].frame_control == 0x50 and packet[LLC].pid == 0x0800


def test_an_unknown_link_type_is_named() -> None:
    packet = layerpeek.decode(b"\x01\x02\x03", 147)
    assert packet.protocols == "link:data"
    assert packet[UnknownLink].linktype == 147 and packet[Payload].data == b"\x01\x02\x03"
    assert packet.spans[0] == (0, 0)
    assert "linktype 147 not decoded" in packet_line(packet, 0)


def test_damaged_link_headers_never_raise() -> None:
    frames = [
        (struct.pack("!BBH", 2, 0, 5) + tlv(10, b"x\0") + tlv(9, IP_SEGMENT), 239),
        (radiotap(wlan_data(SNAP_IP, qos=True)), 127),
        (wlan_data(SNAP_IP), 105),
        (bytes([(100 >> 4) << 2, 0x41]) + b"\x03\xcc" + IP_SEGMENT, 107),
    ]
    for frame, linktype in frames:
        assert_damage_never_raises(frame, linktype)


def protocols(path: Path) -> set[str]:
    with layerpeek.read(path) as reader:
        return {p.protocols for p in reader}


def test_corpus_link_types(corpus: Corpus) -> None:
    assert protocols(corpus("zeek/nflog-http.pcap")) == {"nflog:ipv4:tcp", "nflog:ipv4:tcp:http"}
    assert protocols(corpus("zeek/radiotap.pcap")) == {"radiotap:wlan:llc:ipv4:udp:dns",
                                                       "radiotap:wlan:llc:ipv6:udp:dns"}
    assert protocols(corpus("zeek/arp-who-has-wlanmon.pcap")) == {"wlan:llc:arp"}
    assert protocols(corpus("zeek/llc.pcap")) == {"fddi:llc:ipv4:tcp"}
    assert "ipoib:ipv4:tcp" in protocols(corpus("tcpdump/ipoib.pcap"))
    assert protocols(corpus("tcpdump/LINKTYPE_PKTAP.pcap")) == {"pktap:eth:ipv4:udp:dns"}


