"""The driver's inline fast path and ``upto="transport"``: speed without a second truth.

``decode_layers`` decodes the common chain (Ethernet → IPv4/IPv6 → TCP/UDP)
inline when the registry holds the stock dissectors, and shares repeated
Ethernet headers through a reader's cache; ``decode_packets``, the record loop behind
``layerpeek.read``, decodes the commonest TCP frames in the loop itself.
These tests hold both to one promise: for any bytes, the result equals what
the layer decoders alone produce, which we get by giving the driver a
registry whose entries are equal-but-not-identical copies (the fast path
checks identity, so it stands aside).
"""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import pytest
from builders import eth, ipv4, ipv6, pcap_bytes, tcp, udp
from conftest import own_captures, public_captures
from hypothesis import given
from property.frames import PROPERTY, any_frames

import layerpeek
from layerpeek.capture import open_capture
from layerpeek.layers.http import HTTP
from layerpeek.layers.tcp import TCP
from layerpeek.packet import Payload
from layerpeek.registry import Dissector, Registry, default_registry

# ``layerpeek.decode`` the attribute is the one-frame function; we want the module.
driver = importlib.import_module("layerpeek.decode")
decode_layers = driver.decode_layers


def generic(reg: Registry) -> Registry:
    """``reg`` with every dissector replaced by an equal copy: the fast path never applies."""
    out = reg.copy()
    for table in out.tables.values():
        for key, d in table.items():
            table[key] = Dissector(d.protocol, d.decode, d.sniff)
    return out


STOCK = driver.registry()
STOCK_L4 = driver.registry("transport")
SLOW = generic(STOCK)
SLOW_L4 = generic(STOCK_L4)


def same_both_ways(data: bytes, linktype: int) -> None:
    """Both tiers of the fast path (driver prefix, record loop) agree with the decoders."""
    for fast, slow in ((STOCK, SLOW), (STOCK_L4, SLOW_L4)):
        expected = decode_layers(data, linktype, slow)
        assert decode_layers(data, linktype, fast) == expected, (data.hex(), linktype)
        record = (1_700_000_000_000_000_123, len(data) + 4, data, linktype, 3, "eth3")
        (packet,) = driver.decode_packets([record], fast, first_index=42)
        assert (packet.layers, packet.spans) == expected, (data.hex(), linktype)
        assert (packet.index, packet.ts_ns, packet.wire_len, packet.data, packet.linktype) == (
            42, record[0], record[1], data, linktype
        )
        assert (packet.interface, packet.interface_name) == (3, "eth3")


def frames_of(paths: list[Path]) -> list[tuple[str, bytes, int]]:
    return [
        (f"{path.name}#{p.index}", p.data, p.linktype)
        for path in paths
        for p in layerpeek.read(path)
    ]


class TestSameAsTheDecoders:
    def test_the_two_registries_really_take_the_two_paths(self) -> None:
        assert STOCK.tables["linktype"][1] is driver._ETHERNET
        assert SLOW.tables["linktype"][1] is not driver._ETHERNET
        assert SLOW.tables["linktype"][1] == driver._ETHERNET

    def test_every_frame_of_the_projects_captures(self) -> None:
        frames = frames_of(own_captures())
        assert len(frames) > 100
        for _where, data, linktype in frames:
            same_both_ways(data, linktype)

    def test_every_frame_of_the_public_captures(self) -> None:
        paths = public_captures()
        if not paths:
            pytest.skip("../shared/captures/public is absent")
        for _where, data, linktype in frames_of(paths):
            same_both_ways(data, linktype)

    def test_every_frame_cut_at_every_offset(self) -> None:
        """Cuts reach every fall-back: header not all there, payload cut, empty payload."""
        seen: set[str] = set()
        for _where, data, linktype in frames_of(own_captures()):
            shape = layerpeek.decode(data, linktype).protocols
            if shape in seen:
                continue
            seen.add(shape)
            for cut in range(len(data) + 1):
                same_both_ways(data[:cut], linktype)
        assert {"eth:ipv4:tcp", "eth:ipv6:tcp", "eth:ipv4:udp:dns"} <= seen

    @PROPERTY
    @given(any_frames())
    def test_any_bytes(self, frame: tuple[bytes, int]) -> None:
        same_both_ways(*frame)

    @pytest.mark.parametrize(
        "frame",
        [
            pytest.param(eth(ipv4(tcp(b"x" * 10), proto=6) + bytes(20)), id="ethernet-padding"),
            pytest.param(eth(ipv4(tcp(b"abc"), proto=6, flags=1)), id="ipv4-first-fragment"),
            pytest.param(eth(ipv4(tcp(b"abc"), proto=6, frag_offset=8)), id="ipv4-later-fragment"),
            pytest.param(
                eth(ipv4(tcp(b"abc", options=b"\x02\x04\x05\xb4" * 3), proto=6)),
                id="tcp-12-bytes-of-options-not-timestamps",
            ),
            pytest.param(
                eth(ipv4(tcp(b"", options=b"\x01\x01\x08\x0a" + bytes(8)), proto=6)),
                id="tcp-timestamps-no-payload",
            ),
            pytest.param(eth(ipv4(udp(b"q", length=5), proto=17)), id="udp-length-5"),
            pytest.param(eth(ipv4(udp(b"q", length=0), proto=17)), id="udp-length-0"),
            pytest.param(eth(ipv4(udp(b"q" * 9, length=12), proto=17)), id="udp-length-short"),
            pytest.param(eth(ipv4(udp(b"GET / HTTP/1.1\r\n\r\n"), proto=17)), id="udp-get"),
            pytest.param(eth(ipv6(tcp(b"hi"), next_header=6)), id="ipv6-tcp"),
            pytest.param(eth(ipv6(bytes(8) + tcp(b"hi"), next_header=0)), id="ipv6-hop-by-hop"),
            pytest.param(eth(ipv6(b"", next_header=6)), id="ipv6-empty"),
            pytest.param(eth(ipv4(b"", proto=6)), id="ipv4-empty"),
        ],
    )
    def test_edges(self, frame: bytes) -> None:
        same_both_ways(frame, 1)

    def test_a_registry_of_ones_own_is_obeyed(self) -> None:
        """Mapping TCP to something else must not be bypassed by the inline TCP code."""
        from test_decode import Tag, tagger

        mine = default_registry()
        mine.tables["ip_proto"][6] = tagger("my tcp")
        layers, _ = decode_layers(eth(ipv4(tcp(b"hello"), proto=6)), 1, mine)
        assert [type(x).__name__ for x in layers] == ["Ethernet", "IPv4", "Tag"]
        assert layers[-1] == Tag("my tcp")

    @pytest.mark.parametrize(
        ("table", "key", "network"),
        [("ip_proto", 6, "ipv4"), ("ip_proto", 6, "ipv6"),
         ("ethertype", 0x0800, "ipv4"), ("ethertype", 0x86DD, "ipv6")],
    )  # fmt: skip
    def test_the_record_loop_obeys_it_too(self, table: str, key: int, network: str) -> None:
        """The record loop's whole-frame path (TCP with timestamps) is bypassed as well."""
        from test_decode import Tag, tagger

        segment = tcp(b"hello", options=b"\x01\x01\x08\x0a" + bytes(8))
        frame = eth(ipv4(segment, proto=6) if network == "ipv4" else ipv6(segment))
        assert len(frame) >= 66  # long enough for the whole-frame path
        record = (0, len(frame), frame, 1, 0, None)
        (stock,) = driver.decode_packets([record])
        assert type(stock.layers[2]).__name__ == "TCP"
        mine = default_registry()
        mine.tables[table][key] = tagger("mine")
        (packet,) = driver.decode_packets([record], mine)
        assert packet.layers[-1] == Tag("mine")
        assert (packet.layers, packet.spans) == decode_layers(frame, 1, mine)


class TestCaches:
    """A reader's Ethernet header cache (tests/test_shared_objects.py: why sharing is safe)."""

    def test_equal_headers_are_shared_between_frames(self) -> None:
        seen: driver.EthernetCache = {}
        one = decode_layers(eth(ipv4(tcp(b"a"), proto=6)), 1, None, seen)[0]
        two = decode_layers(eth(ipv4(tcp(b"b"), proto=6)), 1, None, seen)[0]
        assert one[0] is two[0]  # the same Ethernet header: one object

    def test_they_stay_bounded(self) -> None:
        seen: driver.EthernetCache = {}
        for i in range(driver.CACHE_LIMIT + 10):
            src = f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}"
            decode_layers(eth(ipv4(tcp(b""), proto=6), src=src), 1, None, seen)
        assert 0 < len(seen) <= driver.CACHE_LIMIT


class TestUptoTransport:
    def test_application_layers_become_payload_with_the_same_bytes(self, capture) -> None:
        path = capture("http_get_post.pcap")
        full = list(layerpeek.read(path))
        l4 = list(layerpeek.read(path, upto="transport"))
        assert any(HTTP in p for p in full)
        assert len(full) == len(l4)
        for a, b in zip(full, l4, strict=True):
            assert HTTP not in b
            assert a.layers[:3] == b.layers[:3]
            assert a.payload_after(TCP) == b.payload_after(TCP)
            if a.payload_after(TCP):
                assert isinstance(b.layers[-1], Payload)

    def test_dns_is_not_decoded_either(self, capture) -> None:
        path = capture("dns_query.pcap")
        assert any("dns" in p.protocols for p in layerpeek.read(path))
        protocols = {p.protocols for p in layerpeek.read(path, upto="transport")}
        assert not any("dns" in x for x in protocols)
        assert any(x.endswith(":udp:data") for x in protocols)

    def test_with_a_registry_of_ones_own_its_port_tables_are_dropped(self, capture) -> None:
        mine = default_registry()
        mine.tables["udp_port"][12345] = mine.tables["udp_port"][53]
        l4 = mine.through_transport()
        assert not l4.tables["tcp_port"] and not l4.heuristics["tcp_port"]
        assert not l4.heuristics["udp_port"]
        # Only the tunnels stay: what they carry has conversations of its own.
        kept = l4.tables["udp_port"].values()
        assert all(d.tunnel for d in kept) and {"vxlan", "geneve", "gre"} <= {
            d.protocol for d in kept}
        assert 12345 in mine.tables["udp_port"]  # the original is untouched
        packets = layerpeek.read(capture("udp_12345.pcap"), registry=mine, upto="transport")
        assert all("dns" not in p.protocols for p in packets)

    def test_an_unknown_depth_is_a_clear_error(self, capture) -> None:
        with pytest.raises(ValueError, match="upto must be one of transport, application"):
            layerpeek.read(capture("udp_12345.pcap"), upto="network")


class TestPcapRecords:
    def test_tuples_carry_what_raw_frames_carry(self, capture) -> None:
        path = capture("tcp_3040_greeting.pcap")
        frames = [
            (f.ts_ns, f.wire_len, f.data, f.linktype, f.interface, f.interface_name)
            for f in open_capture(path)
        ]
        assert list(open_capture(path).pcap_records()) == frames

    def test_a_cut_file_still_reports_its_problem(self) -> None:
        raw = pcap_bytes([eth(ipv4(tcp(b"abc"), proto=6))] * 2)[:-5]
        reader = open_capture(io.BytesIO(raw))
        assert len(list(reader.pcap_records())) == 1
        assert reader.problems and "cut by end of file" in reader.problems[0]

    def test_pcapng_has_no_pcap_records(self, capture) -> None:
        with pytest.raises(TypeError, match="not pcap"):
            open_capture(capture("tcp_3040_greeting.pcapng")).pcap_records()
