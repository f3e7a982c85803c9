"""TCP (RFC 9293): header fields, flags, typed options, damage, and the hand-over."""

from __future__ import annotations

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv6, tcp

from layerpeek.errors import Invalid, Short
from layerpeek.layers import tcp as tcp_layer
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.http import HTTP
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import (
    EOL,
    MSS,
    NOP,
    SACK,
    TCP,
    SACKPermitted,
    TCPFlags,
    Timestamps,
    UnknownOption,
    WindowScale,
    flag_names,
)
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.reader import decode

#: http_get_fin.pcap frame 1 (zeek testing/btest/Traces/http/get.pcap): the client's SYN.
SYN = bytes.fromhex(
    "0010db88d2ef c8bcc896d2a0 0800"  # Ethernet: dst, src, type IPv4
    "4500 0040 df8e 4000 4006 6dd3 8d8ee405 c096bb2b"  # IPv4 141.142.228.5 → 192.150.187.43
    "e9d0"  # source port 59856
    "0050"  # destination port 80
    "fe21323a"  # sequence number 4263588410
    "00000000"  # acknowledgement number 0
    "b0"  # data offset 11 words = 44 bytes, reserved 0, NS 0
    "02"  # flags: SYN
    "ffff"  # window 65535
    "3bc0"  # checksum
    "0000"  # urgent pointer
    "020405b4"  # MSS 1460
    "01"  # NOP
    "030304"  # window scale, shift 4
    "0101"  # NOP NOP
    "080a 164add20 00000000"  # timestamps TSval 374005024, TSecr 0
    "0402"  # SACK permitted
    "0000"  # EOL, padding
)
TCP_AT = 34

#: tcp_fast_retransmit_rst.pcap frame 33 (zeek traces/tcp/retransmit-fast009.pcap): a
#: duplicate ACK carrying two SACK blocks (the capture zeroes MACs and checksums).
SACK_ACK = bytes.fromhex(
    "000000000000 000000000000 0800"
    "4580 003c 1177 4000 0006 0000 0a005855 c0a8001b"  # IPv4 10.0.88.85 → 192.168.0.27
    "c4c0 0050"  # ports 50368 → 80
    "18b19795"  # seq 414291861
    "fd48ad76"  # ack 4249398646
    "a0 10"  # data offset 10 words = 40 bytes; flags ACK
    "ffff 0000 0000"  # window 65535, checksum 0, urgent 0
    "0101"  # NOP NOP
    "0512"  # SACK, length 18: two blocks
    "fd48cefa fd48d490"  # 4249407226-4249408656
    "fd48b30c fd48c3ce"  # 4249400076-4249404366
)

#: malformed_tcp.pcap frame 1 (PcapPlusPlus tcp-malformed.pcap): the data offset says 28
#: bytes, the IPv4 total length (40) leaves 20; the 6 bytes after are Ethernet padding.
SHORT_SEGMENT = bytes.fromhex(
    "00005e000102 6c277936301c 0800"
    "4500 0028 0958 4000 8006 3f3a ac132a4a 57f083f0"  # IPv4, total length 40
    "c207 61b6 5744505b 4da490b9"  # ports 49671 → 25014, seq, ack
    "70 10"  # data offset 7 words = 28 bytes (> the 20 the datagram holds); ACK
    "0891 bbe7 e00a"  # window, checksum, urgent
    "000000000000"  # Ethernet padding up to 60 bytes
)

#: linktype_ipv6_syn.pcap frame 1 (PcapPlusPlus linktype_ipv6.pcap, LINKTYPE_IPV6): a SYN.
IPV6_SYN = bytes.fromhex(
    "6000 0000 0028 0640"  # IPv6: payload 40, next header TCP, hop limit 64
    "2001061804000000000000005199cc70 20010618000180000000000000000005"
    "8c9b 0050 6ae70736 00000000"  # ports 35995 → 80, seq 1793525558
    "a0 02 1630 299c 0000"  # 40-byte header, SYN, window 5680
    "0204058c"  # MSS 1420
    "0402"  # SACK permitted
    "080a 00dd1a39 00000000"  # timestamps
    "01 030302"  # NOP, window scale 2
)


def segment(data: bytes) -> TCP:
    """Decode the TCP header of a frame built as eth(ipv4(...))."""
    layer, _ = tcp_layer.decode(data, TCP_AT, len(data))
    assert isinstance(layer, TCP)
    return layer


def types(packet: Packet) -> list[type[Layer]]:
    return [type(layer) for layer in packet.layers]


class TestRealSegments:
    def test_syn_header_fields_match_the_capture(self) -> None:
        t = segment(SYN)
        assert (t.src_port, t.dst_port, t.seq, t.ack) == (59856, 80, 4263588410, 0)
        assert (t.header_len, t.flags, t.window) == (44, TCPFlags.SYN, 65535)
        assert (t.checksum, t.urgent_pointer, t.payload_len) == (0x3BC0, 0, 0)

    def test_syn_options_are_typed_and_kept_in_wire_order(self) -> None:
        assert segment(SYN).options == (
            MSS(2, 1460),
            NOP(),
            WindowScale(3, 4),
            NOP(),
            NOP(),
            Timestamps(8, 374005024, 0),
            SACKPermitted(),
            EOL(),
        )

    def test_every_option_class_carries_its_kind_first(self) -> None:
        assert [opt.kind for opt in segment(SYN).options] == [2, 1, 3, 1, 1, 8, 4, 0]

    def test_a_segment_without_payload_hands_over_nothing(self) -> None:
        _, after = tcp_layer.decode(SYN, TCP_AT, len(SYN))
        assert after is None

    def test_syn_summary_shows_flags_raw_seq_and_handshake_options(self) -> None:
        assert segment(SYN).summary() == (
            "[S] seq=4263588410 win=65535 len=0 mss=1460 ws=4 sack_perm"
        )

    def test_sack_blocks_are_left_right_pairs_of_raw_sequence_numbers(self) -> None:
        t = segment(SACK_ACK)
        assert t.options == (
            NOP(),
            NOP(),
            SACK(5, ((4249407226, 4249408656), (4249400076, 4249404366))),
        )
        assert t.summary() == (
            "[A] seq=414291861 ack=4249398646 win=65535 len=0 "
            "sack=4249407226-4249408656,4249400076-4249404366"
        )

    def test_tcp_over_raw_ipv6(self) -> None:
        packet = decode(IPV6_SYN, linktype=229)
        assert types(packet) == [IPv6, TCP]
        t = packet[TCP]
        assert (t.src_port, t.dst_port, t.seq, t.header_len) == (35995, 80, 1793525558, 40)
        assert t.option(MSS) == MSS(2, 1420)
        assert t.option(WindowScale) == WindowScale(3, 2)

    def test_header_longer_than_its_ip_datagram_is_invalid_not_truncated(self) -> None:
        """Nothing was cut: the capture holds the whole datagram plus padding.

        The fixed header is whole, so it is a TCP layer (tshark too shows the
        ports, numbers, flags and window, then "Malformed Packet").
        """
        packet = decode(SHORT_SEGMENT)
        assert types(packet) == [Ethernet, IPv4, TCP, Malformed]
        tcp = packet.get(TCP)
        assert tcp is not None and (tcp.src_port, tcp.dst_port) == (49671, 25014)
        assert tcp.window == 2193 and tcp.payload_len == 0
        marker = packet.layers[-1]
        assert isinstance(marker, Malformed)
        assert marker.protocol == "tcp"
        assert not marker.truncated
        assert "header length 28" in marker.reason
        assert marker.offset == TCP_AT + 20  # where the datagram ends, inside the header
        assert not packet.truncated

    def test_the_same_header_cut_by_the_capture_keeps_the_fixed_header(self) -> None:
        layer, after = tcp_layer.decode(SHORT_SEGMENT[:54], TCP_AT, 54)
        assert isinstance(layer, TCP) and isinstance(after, Malformed) and after.truncated


class TestFlags:
    @pytest.mark.parametrize(
        ("flags", "text", "names"),
        [
            ("S", "S", "SYN"),
            ("SA", "SA", "SYN, ACK"),
            ("FPA", "FPA", "FIN, PSH, ACK"),
            ("R", "R", "RST"),
            ("RA", "RA", "RST, ACK"),
            ("", ".", "<None>"),
            ("SEC", "SEC", "SYN, ECE, CWR"),
            ("UA", "AU", "ACK, URG"),
        ],
    )
    def test_flag_str_reads_like_tcpdump_and_flag_names_like_wireshark(
        self, flags: str, text: str, names: str
    ) -> None:
        t = segment(eth(ipv4(tcp(flags=flags))))
        assert t.flag_str == text
        assert t.flag_names == names

    def test_boolean_properties_follow_the_bits(self) -> None:
        t = segment(eth(ipv4(tcp(flags="FSRPAUEC"))))
        assert t.flags == 0xFF
        assert all([t.fin, t.syn, t.rst, t.psh, t.is_ack, t.urg, t.ece, t.cwr])
        none = segment(eth(ipv4(tcp(flags=""))))
        assert not any([none.fin, none.syn, none.rst, none.psh, none.is_ack, none.urg])

    def test_is_ack_is_the_flag_while_ack_is_the_number(self) -> None:
        t = segment(eth(ipv4(tcp(flags="S", ack=12345))))
        assert t.ack == 12345
        assert not t.is_ack
        assert "ack=" not in t.summary()  # the number means nothing without the flag

    def test_ns_bit_is_kept_as_0x100(self) -> None:
        raw = bytearray(eth(ipv4(tcp(flags="SA"))))
        raw[TCP_AT + 12] |= 0x01  # NS lives in the low bit of the data-offset byte
        t = segment(bytes(raw))
        assert t.flags == TCPFlags.NS | TCPFlags.SYN | TCPFlags.ACK
        assert t.ns
        assert t.flag_str == "SAN"
        assert t.header_len == 20

    def test_reserved_bits_are_kept_apart_from_the_flags(self) -> None:
        # Zeek's rst-inject-rae.pcap frame 2: tshark says tcp.flags 0x0f14,
        # "[RST, ACK, AE, Reserved]".
        raw = bytearray(eth(ipv4(tcp(flags="RA"))))
        raw[TCP_AT + 12] |= 0x0F
        t = segment(bytes(raw))
        assert t.flags == 0xF14
        assert t.flags & 0xFF == TCPFlags.RST | TCPFlags.ACK
        assert flag_names(t.flags) == "RST, ACK, NS, Reserved"
        assert t.header_len == 20

    def test_summary_of_a_syn_ack_matches_the_documented_form(self) -> None:
        t = segment(
            eth(ipv4(tcp(flags="SA", seq=0, ack=1, options=bytes.fromhex("020405b4"))))
        )
        assert t.summary() == "[SA] seq=0 ack=1 win=65535 len=0 mss=1460"


class TestHandOver:
    def test_payload_is_handed_to_the_port_table_with_both_ports(self) -> None:
        frame = eth(ipv4(tcp(b"hello", sport=40000, dport=3040)))
        layer, after = tcp_layer.decode(frame, TCP_AT, len(frame))
        assert after == ("tcp_port", (40000, 3040), TCP_AT + 20, len(frame))
        assert isinstance(layer, TCP)
        assert layer.payload_len == 5

    def test_payload_starts_after_the_options(self) -> None:
        frame = eth(ipv4(tcp(b"xy", options=bytes.fromhex("0101080a0000000100000002"))))
        _, after = tcp_layer.decode(frame, TCP_AT, len(frame))
        assert after == ("tcp_port", (40000, 80), TCP_AT + 32, len(frame))

    def test_ethernet_padding_is_not_payload(self) -> None:
        """The IP total length bounds the segment; 6 bytes of padding follow it."""
        frame = eth(ipv4_tcp(tcp(flags="A"))) + bytes(6)
        packet = decode(frame)
        assert types(packet) == [Ethernet, IPv4, TCP]
        assert packet[TCP].payload_len == 0

    def test_driver_spans_split_header_and_payload(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"\x00\x01\x02", dport=9)))
        packet = decode(frame)
        assert types(packet) == [Ethernet, IPv4, TCP, Payload]
        assert packet.spans[2:] == ((34, 54), (54, 57))
        assert packet.payload_after(TCP) == b"\x00\x01\x02"


class TestHeaderDamage:
    @pytest.mark.parametrize("words", [0, 1, 2, 3, 4])
    def test_data_offset_below_five_words_is_invalid(self, words: int) -> None:
        frame = eth(ipv4(tcp(data_offset_words=words)))
        with pytest.raises(Invalid) as info:
            tcp_layer.decode(frame, TCP_AT, len(frame))
        assert info.value.reason == f"tcp: data offset {words} words < 5"
        assert info.value.offset == TCP_AT + 12

    def test_data_offset_fifteen_words_gives_a_sixty_byte_header(self) -> None:
        frame = eth(ipv4(tcp(b"!", options=b"\x01" * 40)))
        t = segment(frame)
        assert t.header_len == 60
        assert t.options == (NOP(),) * 40
        assert t.payload_len == 1

    @pytest.mark.parametrize("have", [0, 1, 12, 19])
    def test_fewer_than_twenty_captured_bytes_is_short(self, have: int) -> None:
        frame = eth(ipv4(tcp()))[: TCP_AT + have]
        with pytest.raises(Short) as info:
            tcp_layer.decode(frame, TCP_AT, len(frame))
        assert info.value.reason == f"tcp: need 20 bytes, have {have}"

    def test_options_cut_by_the_capture_keep_the_ports_numbers_flags_and_window(self) -> None:
        # Options 01 01 02 04 05 b4 01 01, the last four cut: the MSS option is cut in two.
        frame = eth(ipv4(tcp(options=bytes.fromhex("0101020405b4"), sport=5, dport=6, seq=7,
                             ack=8, window=9, flags="SA")))[:-4]
        layer, after = tcp_layer.decode(frame, TCP_AT, len(frame))
        assert isinstance(layer, TCP) and isinstance(after, Malformed)
        assert (layer.src_port, layer.dst_port, layer.seq, layer.ack, layer.flags,
                layer.window, layer.header_len, layer.payload_len) == (5, 6, 7, 8, 0x12, 9, 28, 0)
        assert layer.options == (NOP(), NOP())  # the MSS option was cut
        assert (after.reason, after.truncated, after.offset) == (
            "tcp: header length 28 but 24 bytes left", True, TCP_AT + 22)

    def test_datagram_too_short_for_twenty_bytes_is_invalid_when_more_was_captured(
        self,
    ) -> None:
        frame = eth(ipv4(tcp()))
        with pytest.raises(Invalid):
            tcp_layer.decode(frame, TCP_AT, TCP_AT + 10)


class TestOptions:
    def decode_options(self, options: bytes, payload: bytes = b"") -> tuple[TCP, object]:
        frame = eth(ipv4(tcp(payload, options=options)))
        layer, after = tcp_layer.decode(frame, TCP_AT, len(frame))
        assert isinstance(layer, TCP)
        return layer, after

    def test_options_are_not_parsed_for_a_twenty_byte_header(self) -> None:
        """Payload bytes that look like options stay payload."""
        t, after = self.decode_options(b"", payload=bytes.fromhex("020405b4"))
        assert t.options == ()
        assert after == ("tcp_port", (40000, 80), TCP_AT + 20, TCP_AT + 24)

    def test_nop_nop_timestamps_is_decoded_like_any_other_layout(self) -> None:
        fast, _ = self.decode_options(bytes.fromhex("0101080a 00000007 00000009"))
        other, _ = self.decode_options(bytes.fromhex("01080a 00000007 00000009 00"))
        assert fast.options == (NOP(), NOP(), Timestamps(8, 7, 9))
        assert other.options == (NOP(), Timestamps(8, 7, 9), EOL())

    def test_a_32_byte_header_with_other_options_takes_the_general_path(self) -> None:
        t, _ = self.decode_options(bytes.fromhex("020405b4 0402 01 030307 01"))  # + 1 NOP pad
        assert t.header_len == 32
        assert t.options == (
            MSS(2, 1460), SACKPermitted(), NOP(), WindowScale(3, 7), NOP(), NOP()
        )

    def test_eol_ends_the_list_and_what_follows_is_padding(self) -> None:
        t, _ = self.decode_options(bytes.fromhex("00 020405b4 000000"))
        assert t.options == (EOL(),)

    def test_unknown_kind_is_kept_raw(self) -> None:
        t, _ = self.decode_options(bytes.fromhex("1e06 aabbccdd 0101"))  # MPTCP, 4 data bytes
        assert t.options == (UnknownOption(30, bytes.fromhex("aabbccdd")), NOP(), NOP())

    @pytest.mark.parametrize(
        ("raw", "kind", "data"),
        [
            ("020305 00", 2, "05"),  # MSS of length 3 (must be 4)
            ("0304 0a0b", 3, "0a0b"),  # window scale of length 4 (must be 3)
            ("0403 07 00", 4, "07"),  # SACK permitted of length 3 (must be 2)
            ("0506 01020304", 5, "01020304"),  # SACK block of 4 bytes (must be 8 each)
            ("0808 010203040506 0000", 8, "010203040506"),  # timestamps of length 8
        ],
    )
    def test_known_kind_with_an_impossible_length_is_kept_raw(
        self, raw: str, kind: int, data: str
    ) -> None:
        t, _ = self.decode_options(bytes.fromhex(raw))
        assert t.options[0] == UnknownOption(kind, bytes.fromhex(data))

    @pytest.mark.parametrize("length", [0, 1])
    def test_option_length_below_two_keeps_the_header_and_marks_the_rest(
        self, length: int
    ) -> None:
        options = bytes.fromhex("020405b4 01") + bytes([0x1E, length]) + b"\x01\x01"
        frame = eth(ipv4(tcp(b"data", options=options)))  # 9 option bytes + 3 NOPs of padding
        t, after = tcp_layer.decode(frame, TCP_AT, len(frame))
        assert isinstance(t, TCP)
        assert t.options == (MSS(2, 1460), NOP())  # what decoded before the damage
        assert (t.header_len, t.payload_len) == (32, 4)
        assert isinstance(after, Malformed)
        assert after.reason == f"tcp.options[2].length {length} < 2"
        assert after.protocol == "tcp"
        assert not after.truncated
        assert after.offset == TCP_AT + 25  # the damaged option's kind byte
        assert after.data == frame[TCP_AT + 25 :]  # the rest of the header and the payload
        assert after.data.endswith(b"data")

    def test_option_overflowing_the_header_is_invalid(self) -> None:
        t, after = self.decode_options(bytes.fromhex("01 080a 00000001"))  # 8 bytes of 10
        assert t.options == (NOP(),)
        assert isinstance(after, Malformed)
        assert after.reason == "tcp.options[1].length 10 overflows the header (7 bytes left)"
        assert after.offset == TCP_AT + 21

    def test_kind_in_the_last_byte_without_room_for_its_length(self) -> None:
        t, after = self.decode_options(bytes.fromhex("010101 02"))
        assert t.options == (NOP(), NOP(), NOP())
        assert isinstance(after, Malformed)
        assert after.reason == "tcp.options[3].length: missing, option 2 ends the header"
        assert after.offset == TCP_AT + 23

    def test_damaged_options_stop_the_chain_before_the_payload(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"GET / HTTP/1.1\r\n\r\n", options=bytes.fromhex("0200 0101"))))
        packet = decode(frame)
        assert types(packet) == [Ethernet, IPv4, TCP, Malformed]
        assert packet.spans[2:] == ((34, 54), (54, len(frame)))
        assert not packet.truncated

    def test_option_lookup_by_class(self) -> None:
        t = segment(SYN)
        assert t.option(Timestamps) == Timestamps(8, 374005024, 0)
        assert t.option(SACK) is None


class TestTruncation:
    @pytest.mark.parametrize(
        "frame",
        [
            pytest.param(SYN, id="syn-with-options"),
            pytest.param(SACK_ACK, id="ack-with-sack"),
            pytest.param(eth(ipv4_tcp(tcp(b"x" * 8, flags="PA", dport=9))), id="data"),
        ],
    )
    def test_every_cut_gives_a_prefix_of_the_chain_ending_in_truncation(
        self, frame: bytes
    ) -> None:
        full = types(decode(frame))
        for n in range(len(frame)):
            packet = decode(frame[:n])
            got = types(packet)
            last = packet.layers[-1] if packet.layers else None
            if isinstance(last, Malformed):
                assert last.truncated, (n, last)
                assert got[:-1] == full[: len(got) - 1], n
            else:
                assert got == full[: len(got)], n

    def test_cut_inside_the_options_reports_where_the_header_needed_more(self) -> None:
        packet = decode(SYN[:60])
        marker = packet.layers[-1]
        assert isinstance(marker, Malformed)
        assert (marker.protocol, marker.truncated) == ("tcp", True)
        assert marker.reason.endswith("header length 44 but 26 bytes left")


class TestIPv6:
    def test_tcp_after_an_ipv6_header_built_by_hand(self) -> None:
        frame = eth(ipv6(tcp(b"abc", sport=8080, dport=51000, flags="PA")))
        packet = decode(frame)
        assert types(packet) == [Ethernet, IPv6, TCP, Payload]
        assert packet[TCP].src_port == 8080


def test_http_payload_follows_on_port_80() -> None:
    frame = eth(ipv4_tcp(tcp(b"GET / HTTP/1.1\r\n\r\n", dport=80, flags="PA")))
    assert types(decode(frame)) == [Ethernet, IPv4, TCP, HTTP]

