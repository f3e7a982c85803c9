"""The renderers: dump's one-line view, the -V tree, the -x hex dump, and to_dict.

Frames are built with ``tests/builders.py`` and decoded with
``layerpeek.decode``, so every expectation here is about rendering a known
layer chain.
"""

from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv4_udp, ipv6, mac, tcp, udp

import layerpeek
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.render.hexdump import hexdump, regions
from layerpeek.render.json import layer_to_dict, packet_to_dict, packet_to_json
from layerpeek.render.text import (
    CODE_ENUMS,
    FIELD_STYLES,
    flag_names,
    layer_title,
    packet_line,
    packet_tree,
    relative_time,
    resolve_enum,
)

T0 = 1_700_000_000_000_000_000


def decoded(frame: bytes, *, index: int = 1, ts_ns: int = T0, wire_len: int | None = None,
            linktype: int = 1) -> Packet:
    """A decoded frame with the frame facts a capture file would give it."""
    p = layerpeek.decode(frame, linktype)
    return Packet(index, ts_ns, len(frame) if wire_len is None else wire_len, linktype, frame,
                  p.layers, p.spans)


def syn_ack() -> bytes:
    # MSS 1460 + SACK permitted + NOP + window scale 7, as Linux sends them.
    options = bytes.fromhex("020405b4") + bytes.fromhex("0402") + bytes.fromhex("01030307")
    return eth(ipv4_tcp(tcp(sport=80, dport=40000, seq=1000, ack=101, flags="SA",
                            options=options), src="10.0.0.2", dst="10.0.0.1"))


def http_get(target: str = "/d03.json") -> bytes:
    head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".encode("latin-1")
    return eth(ipv4_tcp(tcp(head, sport=51234, dport=8080, flags="PA"),
                        src="127.0.0.1", dst="127.0.0.1"))


def dns_query() -> bytes:
    question = b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)
    message = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + question
    return eth(ipv4_udp(udp(message, sport=40000, dport=53)))


def arp_request() -> bytes:
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac("02:00:00:00:00:01"),
                       bytes([10, 0, 0, 1]), bytes(6), bytes([10, 0, 0, 2]))
    return eth(body, dst="ff:ff:ff:ff:ff:ff", ethertype=0x0806)


# --------------------------------------------------------------------------- one line


class TestRelativeTime:
    def test_shows_six_decimals_from_integer_nanoseconds(self) -> None:
        assert relative_time(T0 + 3_141_592, T0) == "0.003141"

    def test_first_packet_is_zero(self) -> None:
        assert relative_time(T0, T0) == "0.000000"

    def test_whole_seconds_keep_their_decimals(self) -> None:
        assert relative_time(T0 + 12 * 10**9, T0) == "12.000000"

    def test_earlier_frame_gets_a_minus_sign(self) -> None:
        assert relative_time(T0 - 1_500_000, T0) == "-0.001500"


class TestPacketLine:
    def test_matches_the_issue_example_for_an_http_request(self) -> None:
        packet = decoded(http_get(), index=12, ts_ns=T0 + 3_141_000)
        line = packet_line(packet, T0)
        assert line.startswith(
            "#12 0.003141 eth:ipv4:tcp:http 127.0.0.1:51234 → 127.0.0.1:8080 GET /d03.json"
        )

    def test_tcp_without_payload_shows_the_tcp_summary(self) -> None:
        packet = decoded(syn_ack())
        line = packet_line(packet, T0)
        assert line.startswith("#1 0.000000 eth:ipv4:tcp 10.0.0.2:80 → 10.0.0.1:40000 ")
        assert line.endswith(packet.layers[-1].summary())

    def test_ipv6_endpoints_are_bracketed_before_the_port(self) -> None:
        frame = eth(ipv6(tcp(sport=40000, dport=80, flags="S"), src="::1", dst="::1"))
        line = packet_line(decoded(frame), T0)
        assert " [::1]:40000 → [::1]:80 " in line

    def test_ip_without_ports_shows_bare_addresses(self) -> None:
        frame = eth(ipv4(b"\x00" * 8, proto=253, src="192.0.2.1", dst="192.0.2.2"))
        assert " 192.0.2.1 → 192.0.2.2" in packet_line(decoded(frame), T0)

    def test_dns_shows_the_question(self) -> None:
        line = packet_line(decoded(dns_query()), T0)
        assert " eth:ipv4:udp:dns 10.0.0.1:40000 → 10.0.0.2:53 " in line
        assert "example.com" in line

    def test_arp_shows_the_macs(self) -> None:
        line = packet_line(decoded(arp_request()), T0)
        assert " eth:arp 02:00:00:00:00:01 → ff:ff:ff:ff:ff:ff " in line

    def test_ethernet_only_frame_does_not_repeat_the_macs(self) -> None:
        frame = eth(b"\x00" * 46, ethertype=0x88B5)  # IEEE local experimental ethertype
        line = packet_line(decoded(frame), T0)
        assert line.startswith("#1 0.000000 eth:data ")
        assert line.count("02:00:00:00:00:01") == 1

    def test_truncated_packet_ends_with_the_truncated_marker(self) -> None:
        full = syn_ack()
        packet = decoded(full[:40], wire_len=len(full))  # cut inside the TCP header
        line = packet_line(packet, T0)
        assert packet.layers[-1].name == "malformed"
        assert line.endswith("]")
        assert "[Truncated tcp: " in line

    def test_invalid_header_ends_with_the_malformed_marker(self) -> None:
        frame = eth(ipv4_tcp(tcp(data_offset_words=4)))
        line = packet_line(decoded(frame), T0)
        assert "[Malformed tcp: " in line
        assert line.endswith("]")

    def test_undecodable_link_type_is_named(self) -> None:
        line = packet_line(decoded(b"abc", linktype=147), T0)  # LINKTYPE_USER0: no decoder
        assert line == "#1 0.000000 link:data linktype 147 not decoded"

    def test_empty_frame_of_an_unknown_link_type_is_named_too(self) -> None:
        assert packet_line(decoded(b"", linktype=147), T0) == (
            "#1 0.000000 link linktype 147 not decoded")

    def test_control_characters_from_the_packet_are_escaped(self) -> None:
        line = packet_line(decoded(http_get("/a\x1b[2Jb")), T0)
        assert "\x1b" not in line
        assert "\\x1b[2Jb" in line

    def test_colour_only_when_asked(self) -> None:
        packet = decoded(http_get())
        assert "\x1b[" not in packet_line(packet, T0)
        coloured = packet_line(packet, T0, color=True)
        assert "\x1b[" in coloured
        assert coloured.replace("\x1b[36m", "").replace("\x1b[0m", "") == packet_line(packet, T0)


# --------------------------------------------------------------------------- tree


class TestPacketTree:
    def test_every_layer_is_nested_one_indent_deeper(self) -> None:
        packet = decoded(http_get())
        lines = packet_tree(packet).splitlines()
        assert lines[0].startswith("Frame 1: ")
        for depth, layer in enumerate(packet.layers):
            title = layer_title(layer)
            matching = [line for line in lines if line.lstrip().startswith(title)]
            assert matching, title
            assert matching[0].startswith("  " * depth + title)

    def test_fields_sit_one_indent_inside_their_layer(self) -> None:
        lines = packet_tree(decoded(syn_ack())).splitlines()
        assert "  dst: 02:00:00:00:00:02" in lines
        assert "  src: 02:00:00:00:00:01" in lines
        assert "  type: 0x0800 (IPV4)" in lines

    def test_enum_and_flag_names_follow_the_raw_values(self) -> None:
        text = packet_tree(decoded(syn_ack()))
        assert "    protocol: 6 (TCP)" in text
        assert "    flags: 0x02 (DF)" in text  # IPv4's 3 flag bits
        assert "      flags: 0x012 (SYN, ACK)" in text  # TCP's flag bits

    def test_tcp_options_are_listed_one_per_line(self) -> None:
        lines = packet_tree(decoded(syn_ack())).splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().startswith("options:"))
        items = [line for line in lines[start + 1 :] if line.strip().startswith("- ")]
        assert any("1460" in item for item in items)  # MSS
        assert len(items) >= 3

    def test_http_headers_are_listed_as_name_value_lines(self) -> None:
        text = packet_tree(decoded(http_get()))
        assert "Host: 127.0.0.1:8080" in text

    def test_dns_question_is_listed(self) -> None:
        text = packet_tree(decoded(dns_query()))
        assert "example.com" in text
        assert "questions: (1)" in text

    def test_malformed_layer_is_drawn_last_with_its_reason(self) -> None:
        packet = decoded(eth(ipv4_tcp(tcp(data_offset_words=4))))
        lines = packet_tree(packet).splitlines()
        marker = packet.layers[-1]
        assert isinstance(marker, Malformed)
        title_line = next(line for line in lines if "Malformed Packet" in line)
        assert title_line.startswith("  " * (len(packet.layers) - 1) + "Malformed Packet")
        assert f"reason: {marker.reason}" in "\n".join(lines)

    def test_repr_pretty_draws_the_tree(self) -> None:
        packet = decoded(syn_ack())

        class Printer:
            text_out = ""

            def text(self, s: str) -> None:
                self.text_out += s

        printer = Printer()
        packet._repr_pretty_(printer, False)
        assert printer.text_out == packet_tree(packet)


def test_every_enum_named_in_the_style_tables_exists() -> None:
    # A renamed enum would silently lose its names in -V; this keeps the table honest.
    refs = {style.enum for style in FIELD_STYLES.values() if style.enum} | set(CODE_ENUMS.values())
    assert sorted(ref for ref in refs if resolve_enum(ref) is None) == []


def test_icmp_code_is_named_by_its_type() -> None:
    unreachable = struct.pack("!BBHI", 3, 3, 0, 0) + ipv4(udp(sport=1, dport=9), proto=17)
    text = packet_tree(decoded(eth(ipv4(unreachable, proto=1))))
    assert "type: 3 (" in text
    assert "code: 3 (PORT" in text


def test_flag_names_lists_set_bits_lowest_first_and_unknown_bits_in_hex() -> None:
    class Bits(enum.IntFlag):
        A = 1
        B = 2
        C = 4

    assert flag_names(Bits, 0b101) == "A, C"
    assert flag_names(Bits, 0x10 | 2) == "B, 0x10"
    assert flag_names(Bits, 0) == "none"


# --------------------------------------------------------------------------- hex dump


class TestHexdump:
    def test_one_separator_per_layer_with_its_byte_range(self) -> None:
        packet = decoded(syn_ack())
        text = hexdump(packet)
        for layer, (start, end) in zip(packet.layers, packet.spans, strict=True):
            assert f"-- {layer.short}: {layer_title(layer)}, bytes {start}–{end} " in text

    def test_rows_cover_every_captured_byte_once_at_absolute_offsets(self) -> None:
        packet = decoded(http_get())
        rows = [line for line in hexdump(packet).splitlines() if not line.startswith("--")]
        seen = b""
        for row in rows:
            offset = int(row[:4], 16)
            assert offset == len(seen)
            seen += bytes.fromhex(row[6:54].replace("  ", " "))
        assert seen == packet.data

    def test_ethernet_padding_is_shown_as_a_trailer(self) -> None:
        frame = eth(ipv4_udp(udp(b"x", sport=40000, dport=9))) + b"\x00" * 17
        packet = decoded(frame)
        last = regions(packet)[-1]
        assert last[1] == len(frame)
        assert last[2].startswith("trailer")

    def test_ascii_column_shows_printable_bytes_only(self) -> None:
        text = hexdump(decoded(http_get()))
        assert "GET /d03.json HT" in text.replace("\n", "")


# --------------------------------------------------------------------------- JSON


class Colour(enum.IntEnum):
    RED = 1


@dataclass(slots=True)
class Inner:
    json_names: ClassVar[dict[str, str]] = {"rclass": "class"}
    rclass: int
    blob: bytes


@dataclass(slots=True)
class Sample(Layer):
    """A layer shaped like the real ones, to pin the generic walker's rules."""

    name: ClassVar[str] = "sample"
    short: ClassVar[str] = "sample"
    json_formats: ClassVar[dict[str, str]] = {"hw": "mac", "addr": "ip", "text": "latin1"}
    json_names: ClassVar[dict[str, str]] = {"kind_": "kind"}
    hw: bytes
    addr: bytes
    text: bytes
    raw: bytes
    kind_: int
    colour: Any
    ok: bool
    items: tuple[Inner, ...]
    pairs: tuple[tuple[str, str], ...]
    maybe: int | None


class TestLayerToDict:
    def test_generic_walker_applies_formats_names_and_nesting(self) -> None:
        layer = Sample(
            hw=bytes.fromhex("001b21aabbcc"), addr=bytes([192, 0, 2, 1]),
            text="é".encode("latin-1"), raw=b"\x01\xff", kind_=7, colour=Colour.RED, ok=True,
            items=(Inner(1, b"\xab"),), pairs=(("Host", "x"),), maybe=None,
        )
        assert layer_to_dict(layer) == {
            "layer": "sample",
            "hw": "00:1b:21:aa:bb:cc",
            "addr": "192.0.2.1",
            "text": "é",
            "raw": "01ff",
            "kind": 7,
            "colour": 1,
            "ok": True,
            "items": [{"class": 1, "blob": "ab"}],
            "pairs": [["Host", "x"]],
            "maybe": None,
        }

    def test_enum_values_become_plain_ints(self) -> None:
        layer = Sample(b"", b"", b"", b"", 0, Colour.RED, False, (), (), 3)
        assert type(layer_to_dict(layer)["colour"]) is int

    def test_bools_stay_bools(self) -> None:
        layer = Sample(b"", b"", b"", b"", 0, True, False, (), (), 3)
        out = layer_to_dict(layer)
        assert out["ok"] is False and out["colour"] is True

    def test_real_layers_start_with_their_layer_id(self) -> None:
        packet = decoded(syn_ack())
        dicts = [layer_to_dict(layer) for layer in packet.layers]
        assert [d["layer"] for d in dicts] == ["ethernet", "ipv4", "tcp"]
        assert dicts[0] == {"layer": "ethernet", "dst": "02:00:00:00:00:02",
                            "src": "02:00:00:00:00:01", "type": 0x0800}
        assert dicts[1]["src"] == "10.0.0.2" and dicts[1]["dst"] == "10.0.0.1"
        assert dicts[2]["flags"] == 0x12
        assert all(isinstance(opt, dict) and "kind" in opt for opt in dicts[2]["options"])

    def test_payload_and_malformed_carry_their_bytes_as_hex(self) -> None:
        assert layer_to_dict(Payload(b"\x00\xfe")) == {"layer": "data", "data": "00fe"}
        marker = Malformed("tcp", "cut", 34, True, b"\x01")
        assert layer_to_dict(marker) == {"layer": "malformed", "protocol": "tcp",
                                         "reason": "cut", "offset": 34, "truncated": True,
                                         "data": "01"}

    def test_dns_record_class_uses_its_wire_name(self) -> None:
        packet = decoded(dns_query())
        dns = layer_to_dict(packet.layers[-1])
        assert dns["questions"][0]["name"].rstrip(".") == "example.com"
        assert dns["questions"][0]["class"] == 1
        assert "rclass" not in dns["questions"][0]


class TestPacketToDict:
    def test_frame_facts_then_protocols_then_layers(self) -> None:
        packet = decoded(syn_ack(), index=3, wire_len=100)
        out = packet_to_dict(packet)
        assert list(out) == ["index", "ts_ns", "wire_len", "cap_len", "interface", "link_type",
                             "protocols", "layers"]
        assert out["index"] == 3 and out["ts_ns"] == T0 and out["wire_len"] == 100
        assert out["cap_len"] == len(packet.data) and out["link_type"] == 1
        assert out["protocols"] == "eth:ipv4:tcp"

    def test_interface_name_only_when_known(self) -> None:
        packet = decoded(syn_ack())
        packet.interface, packet.interface_name = 2, "eth0"
        out = packet_to_dict(packet)
        assert out["interface"] == 2 and out["interface_name"] == "eth0"

    def test_packet_to_dict_is_what_packet_to_dict_method_returns(self) -> None:
        packet = decoded(http_get())
        assert packet.to_dict() == packet_to_dict(packet)

    def test_json_line_is_compact_ascii_and_round_trips(self) -> None:
        packet = decoded(http_get("/caf\xe9"))
        text = packet_to_json(packet)
        assert "\n" not in text and text.isascii()
        assert json.loads(text) == packet_to_dict(packet)


@pytest.mark.parametrize("cut", [0, 5, 14, 20, 33, 40, 53])
def test_every_render_handles_a_frame_cut_anywhere(cut: int) -> None:
    full = http_get()
    packet = decoded(full[:cut], wire_len=len(full))
    assert packet_line(packet, T0).startswith("#1 ")
    assert packet_tree(packet).startswith("Frame 1: ")
    hexdump(packet)
    json.loads(packet_to_json(packet))
