"""The decode driver and its registry: dispatch order (lower port, higher port, then
heuristics), the depth cap, unknown keys, where Malformed markers go and what their offsets
and spans say, and registries of one's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv4_udp, tcp, udp

from layerpeek.decode import MAX_DEPTH, decode_layers
from layerpeek.errors import Invalid, Short
from layerpeek.layers import dns, http, tls
from layerpeek.layers.dns import DNS
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.http import HTTP
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.links import UnknownLink
from layerpeek.layers.tcp import TCP
from layerpeek.layers.udp import UDP
from layerpeek.packet import Layer, Malformed, Payload
from layerpeek.reader import decode
from layerpeek.registry import Decoded, Dissector, Registry, default_registry


@dataclass(slots=True)
class Tag(Layer):
    """A test layer that records which dissector decoded it."""

    name: ClassVar[str] = "tag"
    short: ClassVar[str] = "tag"
    label: str


def tagger(label: str, *, header: int = 0, then: tuple[str, object] | None = None) -> Dissector:
    """A dissector that takes ``header`` bytes and hands the rest to ``then`` (table, key)."""

    def decode_fn(buf: bytes, start: int, end: int) -> Decoded:
        if then is None:
            return Tag(label), None
        table, key = then
        return Tag(label), (table, key, start + header, end)  # type: ignore[return-value]

    return Dissector(label, decode_fn)


def port_registry(*ports: int, heuristics: tuple[Dissector, ...] = ()) -> Registry:
    """linktype 0 → a 4-byte "transport" whose ports are the frame's first two bytes."""

    def transport(buf: bytes, start: int, end: int) -> Decoded:
        return Tag("transport"), ("tcp_port", (buf[0], buf[1]), start + 4, end)

    r = Registry()
    r.tables["linktype"][0] = Dissector("transport", transport)
    for port in ports:
        r.tables["tcp_port"][port] = tagger(f"port {port}")
    r.heuristics["tcp_port"].extend(heuristics)
    return r


def labels(layers: tuple[Layer, ...]) -> list[str]:
    return [layer.label if isinstance(layer, Tag) else type(layer).__name__ for layer in layers]


class TestPortOrder:
    @pytest.mark.parametrize(("src", "dst"), [(53, 200), (200, 53)])
    def test_lower_port_is_tried_first_in_both_directions(self, src: int, dst: int) -> None:
        layers, _ = decode_layers(bytes([src, dst, 0, 0, 1]), 0, port_registry(53, 200))
        assert labels(layers) == ["transport", "port 53"]

    def test_higher_port_when_the_lower_has_no_entry(self) -> None:
        layers, _ = decode_layers(bytes([10, 200, 0, 0, 1]), 0, port_registry(200))
        assert labels(layers) == ["transport", "port 200"]

    def test_a_port_entry_wins_over_a_heuristic_that_would_match(self) -> None:
        greedy = Dissector("greedy", tagger("greedy").decode, lambda b, s, e: True)
        reg = port_registry(200, heuristics=(greedy,))
        layers, _ = decode_layers(bytes([10, 200, 0, 0, 1]), 0, reg)
        assert labels(layers) == ["transport", "port 200"]

    def test_heuristics_run_in_order_when_no_port_matches(self) -> None:
        no = Dissector("no", tagger("no").decode, lambda b, s, e: False)
        first = Dissector("first", tagger("first").decode, lambda b, s, e: b[s] == 0x41)
        second = Dissector("second", tagger("second").decode, lambda b, s, e: True)
        reg = port_registry(heuristics=(no, first, second))
        assert labels(decode_layers(b"\x0a\x0b\x00\x00A", 0, reg)[0]) == ["transport", "first"]
        assert labels(decode_layers(b"\x0a\x0b\x00\x00B", 0, reg)[0]) == ["transport", "second"]

    def test_heuristics_see_exactly_the_handed_over_bytes(self) -> None:
        seen: list[tuple[int, int]] = []

        def sniff(buf: bytes, start: int, end: int) -> bool:
            seen.append((start, end))
            return False

        reg = port_registry(heuristics=(Dissector("spy", tagger("spy").decode, sniff),))
        decode_layers(b"\x0a\x0b\x00\x00abc", 0, reg)
        assert seen == [(4, 7)]

    def test_no_port_and_no_heuristic_gives_a_payload(self) -> None:
        layers, spans = decode_layers(b"\x0a\x0b\x00\x00abc", 0, port_registry(53))
        assert layers == (Tag("transport"), Payload(b"abc"))
        assert spans == ((0, 4), (4, 7))


class TestChainShape:
    def test_unknown_link_type_is_named_then_one_payload_layer(self) -> None:
        # issue 18: an undecoded link type is said ("linktype 999 not decoded"),
        # by a zero-length layer before the bytes, never a silent "data"
        layers, spans = decode_layers(b"\x01\x02\x03", 999, Registry())
        assert layers == (UnknownLink(999), Payload(b"\x01\x02\x03"))
        assert spans == ((0, 0), (0, 3))

    def test_empty_frame_of_unknown_link_type_only_names_it(self) -> None:
        assert decode_layers(b"", 999, Registry()) == ((UnknownLink(999),), ((0, 0),))

    def test_empty_hand_over_ends_the_chain_without_a_payload(self) -> None:
        r = Registry()
        r.tables["linktype"][0] = tagger("all", header=3, then=("ethertype", 1))
        layers, spans = decode_layers(b"abc", 0, r)
        assert labels(layers) == ["all"]
        assert spans == ((0, 3),)

    def test_terminal_layer_spans_to_the_end(self) -> None:
        r = Registry()
        r.tables["linktype"][0] = tagger("outer", header=2, then=("ethertype", 7))
        r.tables["ethertype"][7] = tagger("inner")
        layers, spans = decode_layers(b"abcdef", 0, r)
        assert labels(layers) == ["outer", "inner"]
        assert spans == ((0, 2), (2, 6))

    def test_spans_run_parallel_to_layers_on_a_real_chain(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"GET / HTTP/1.1\r\n\r\n", flags="PA")))
        packet = decode(frame)
        assert [type(x) for x in packet.layers] == [Ethernet, IPv4, TCP, HTTP]
        assert packet.spans == ((0, 14), (14, 34), (34, 54), (54, len(frame)))

    def test_depth_is_capped_and_the_rest_kept_in_a_marker(self) -> None:
        r = Registry()
        r.tables["linktype"][0] = tagger("loop", header=1, then=("linktype", 0))
        data = bytes(100)
        layers, spans = decode_layers(data, 0, r)
        assert len(layers) == MAX_DEPTH + 1
        marker = layers[-1]
        assert isinstance(marker, Malformed)
        assert (marker.protocol, marker.truncated) == ("decode", False)
        assert marker.reason == f"more than {MAX_DEPTH} layers"
        assert (marker.offset, marker.data) == (MAX_DEPTH, data[MAX_DEPTH:])
        assert spans[-1] == (MAX_DEPTH, 100)

    def test_ip_in_ip_nesting_is_bounded_too(self) -> None:
        inner = ipv4(b"", proto=59)
        for _ in range(MAX_DEPTH + 5):
            inner = ipv4(inner, proto=4)
        layers, _ = decode_layers(eth(inner), 1)
        assert len(layers) == MAX_DEPTH + 1
        assert isinstance(layers[-1], Malformed)


class TestMalformedPlacement:
    def raising(self, error: Exception) -> Registry:
        def boom(buf: bytes, start: int, end: int) -> Decoded:
            raise error

        r = Registry()
        r.tables["linktype"][0] = tagger("outer", header=4, then=("ethertype", 9))
        r.tables["ethertype"][9] = Dissector("boom", boom)
        return r

    def test_short_becomes_a_truncated_marker_at_its_offset(self) -> None:
        layers, spans = decode_layers(b"HEADbody", 0, self.raising(Short("need more", 6)))
        assert labels(layers) == ["outer", "Malformed"]
        assert layers[1] == Malformed("boom", "need more", 6, True, b"body")
        assert spans == ((0, 4), (4, 8))

    def test_invalid_without_offset_points_at_the_layer_start(self) -> None:
        layers, _ = decode_layers(b"HEADbody", 0, self.raising(Invalid("bad value")))
        assert layers[1] == Malformed("boom", "bad value", 4, False, b"body")

    def test_a_decoder_returning_a_marker_keeps_its_layer_and_splits_the_span(self) -> None:
        def partial(buf: bytes, start: int, end: int) -> Decoded:
            return Tag("partial"), Malformed("partial", "damaged", start + 2, False, buf[6:end])

        r = Registry()
        r.tables["linktype"][0] = tagger("outer", header=4, then=("ethertype", 9))
        r.tables["ethertype"][9] = Dissector("partial", partial)
        layers, spans = decode_layers(b"HEADbody", 0, r)
        assert labels(layers) == ["outer", "partial", "Malformed"]
        assert spans == ((0, 4), (4, 6), (6, 8))

    def test_other_exceptions_are_bugs_and_propagate(self) -> None:
        with pytest.raises(ZeroDivisionError):
            decode_layers(b"HEADbody", 0, self.raising(ZeroDivisionError()))

    def test_real_truncated_tcp_marker(self) -> None:
        frame = eth(ipv4_tcp(tcp(flags="S")))[:40]
        packet = decode(frame)
        marker = packet.layers[-1]
        assert [type(x) for x in packet.layers] == [Ethernet, IPv4, Malformed]
        assert isinstance(marker, Malformed)
        assert (marker.protocol, marker.offset, marker.truncated) == ("tcp", 34, True)
        assert marker.reason.endswith("need 20 bytes, have 6")
        assert marker.data == frame[34:]
        assert packet.spans[-1] == (34, 40)
        assert packet.truncated


class TestDefaultWiring:
    def test_response_from_port_80_to_an_ephemeral_port_is_http(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"HTTP/1.1 200 OK\r\n\r\n", sport=80, dport=51000)))
        assert decode(frame).protocols == "eth:ipv4:tcp:http"

    def test_both_ports_registered_lower_wins(self) -> None:
        """A DNS client on port 80 talking to port 53 over TCP: 53 is lower, DNS wins."""
        msg = bytes.fromhex("123401000001000000000000") + b"\x01a\x00\x00\x01\x00\x01"
        segment = tcp(len(msg).to_bytes(2, "big") + msg, sport=80, dport=53, flags="PA")
        assert decode(eth(ipv4_tcp(segment))).protocols == "eth:ipv4:tcp:dns"

    def test_http_on_an_unregistered_port_is_found_by_the_heuristic(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"POST /api HTTP/1.1\r\n\r\n", sport=40000, dport=3040)))
        assert decode(frame).protocols == "eth:ipv4:tcp:http"

    def test_udp_has_no_http_heuristic(self) -> None:
        frame = eth(ipv4_udp(udp(b"GET / HTTP/1.1\r\n\r\n", sport=40000, dport=3040)))
        assert decode(frame).protocols == "eth:ipv4:udp:data"

    def test_dns_on_udp_53(self) -> None:
        msg = bytes.fromhex("123401000001000000000000") + b"\x01a\x00\x00\x01\x00\x01"
        packet = decode(eth(ipv4_udp(udp(msg, sport=40000, dport=53))))
        assert [type(x) for x in packet.layers] == [Ethernet, IPv4, UDP, DNS]


class TestOwnRegistry:
    def test_a_user_mapping_adds_a_port(self) -> None:
        msg = bytes.fromhex("123401000001000000000000") + b"\x01a\x00\x00\x01\x00\x01"
        frame = eth(ipv4_udp(udp(msg, sport=40000, dport=5300)))
        assert DNS not in decode(frame)
        r = default_registry()
        r.tables["udp_port"][5300] = dns.DISSECTOR
        assert DNS in decode(frame, registry=r)

    def test_copy_leaves_the_original_alone(self) -> None:
        r = default_registry()
        mine = r.copy()
        mine.tables["udp_port"][5300] = dns.DISSECTOR
        mine.heuristics["tcp_port"].clear()
        assert 5300 not in r.tables["udp_port"]
        assert r.heuristics["tcp_port"] == [http.DISSECTOR, tls.DISSECTOR]

    def test_removing_the_heuristic_turns_http_on_other_ports_into_data(self) -> None:
        r = default_registry()
        r.heuristics["tcp_port"].clear()
        frame = eth(ipv4_tcp(tcp(b"GET / HTTP/1.1\r\n\r\n", sport=40000, dport=3040)))
        assert decode(frame, registry=r).protocols == "eth:ipv4:tcp:data"
        assert decode(frame).protocols == "eth:ipv4:tcp:http"  # the default is untouched

    def test_an_empty_registry_decodes_nothing(self) -> None:
        frame = eth(ipv4_tcp(tcp()))
        layers, _ = decode_layers(frame, 1, Registry())
        assert layers == (UnknownLink(1), Payload(frame))
