"""UDP conversations: numbered like udp.stream, counted each way."""

from __future__ import annotations

import dataclasses

from builders import eth, ipv4_udp, udp

import layerpeek
from layerpeek.analysis import Analysis
from layerpeek.flows.pipeline import conversations
from layerpeek.flows.udp import UDPTracker
from layerpeek.packet import Packet


def dgram(src: str, sport: int, dst: str, dport: int, payload: bytes, index: int) -> Packet:
    raw = eth(ipv4_udp(udp(payload, sport=sport, dport=dport), src=src, dst=dst))
    return dataclasses.replace(layerpeek.decode(raw), index=index, ts_ns=index * 1000)


def test_both_directions_are_one_conversation_and_the_first_sender_is_the_client() -> None:
    t = UDPTracker()
    t.feed(dgram("10.0.0.1", 5555, "10.0.0.53", 53, b"q" * 30, 1))
    t.feed(dgram("10.0.0.53", 53, "10.0.0.1", 5555, b"r" * 90, 2))
    t.feed(dgram("10.0.0.1", 5555, "10.0.0.53", 53, b"q" * 31, 3))
    (conv,) = t.conversations.values()
    assert (str(conv.client), str(conv.server)) == ("10.0.0.1:5555", "10.0.0.53:53")
    assert (conv.packets_client, conv.packets_server) == (2, 1)
    assert (conv.bytes_client, conv.bytes_server) == (61, 90)
    assert (conv.conn_state, conv.history) == ("SF", "Dd")
    assert conv.duration_ns == 2000


def test_udp_and_tcp_are_numbered_separately_and_listed_by_first_frame() -> None:
    from flowwire import Wire

    w = Wire(first_frame=2)
    packets = [dgram("10.0.0.1", 5555, "10.0.0.53", 53, b"q", 1), w.c("S"), w.s("SA"),
               dgram("10.0.0.1", 6666, "10.0.0.53", 53, b"q", 4)]
    convs = conversations(packets)
    assert [(c.proto, c.id, c.first_frame) for c in convs] == [
        ("udp", 0, 1), ("tcp", 0, 2), ("udp", 1, 4)
    ]
    assert convs[2].conn_state == "S0"


def test_pipeline_annotates_udp_packets_with_stream_and_direction() -> None:
    step = Analysis().feed(dgram("10.0.0.1", 5555, "10.0.0.53", 53, b"q", 1))
    info, events = step.flow, step.events
    assert info is not None and (info.proto, info.stream, info.direction) == ("udp", 0, "client")
    assert events == []
    assert info.summary() == "[stream 0]"  # dump's words (render.text.flow_suffix)
