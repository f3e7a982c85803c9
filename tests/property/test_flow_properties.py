"""The flow stages (defragmenter, TCP and UDP trackers) on any sequence of packets.

Real conversations with frames damaged, dropped, repeated, reordered or with
their timestamps jumbled go through the flow stages (:class:`Analysis`); it must never
raise, every event must name a conversation it opened, and each
conversation's stream accounting must add up (bytes delivered plus bytes
reported missing is where the stream ended, with no overlap).
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

import layerpeek
from layerpeek.analysis import Analysis
from layerpeek.flows.events import (
    ConnectionClosed,
    ConnectionOpened,
    ConversationSummary,
    StreamData,
    StreamGap,
)
from layerpeek.flows.tracker import TCPTracker
from layerpeek.packet import Packet

from .frames import CAPTURES, PROPERTY

SOURCES = ("tcp_loss_reorder.pcap", "http_pipelined.pcap", "tcp_simultaneous_close.pcap",
           "dns_query.pcap", "tcp_half_close.pcap", "http_rst_cut.pcap")
PACKETS = {name: list(layerpeek.read(CAPTURES / name)) for name in SOURCES}


@st.composite
def jumbled(draw: st.DrawFn) -> list[Packet]:
    source = PACKETS[draw(st.sampled_from(SOURCES))]
    picks = draw(st.lists(st.integers(0, len(source) - 1), min_size=1, max_size=60))
    out = []
    for n, i in enumerate(picks, 1):
        p = source[i]
        data = bytearray(p.data)
        if data and draw(st.integers(0, 9)) == 0:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        ts = p.ts_ns if draw(st.booleans()) else draw(st.integers(0, 2**62))
        decoded = layerpeek.decode(bytes(data), p.linktype)
        out.append(Packet(n, ts, p.wire_len, p.linktype, decoded.data, decoded.layers,
                          decoded.spans))
    return out


@PROPERTY
@given(packets=jumbled(), cap=st.sampled_from((0, 100, 1 << 22)))
def test_any_packet_sequence_flows_through_and_the_books_balance(
    packets: list[Packet], cap: int
) -> None:
    tcp = TCPTracker(cap=cap, total_cap=cap * 4, keep_data=True)
    analysis = Analysis(["defrag", tcp, "udp"])
    events: list[object] = []
    for packet in packets:
        events += analysis.feed(packet).events
    events += analysis.finish()
    opened = {e.conversation for e in events if isinstance(e, ConnectionOpened)}
    closed = [e.conversation for e in events if isinstance(e, ConnectionClosed)]
    assert set(closed) == opened and len(closed) == len(opened), "each opened once, closed once"
    position: dict[tuple[int, str], int] = {}
    for e in events:
        if isinstance(e, (StreamData, StreamGap)):
            assert e.conversation in opened
            key = (e.conversation, e.direction)
            assert e.offset == position.get(key, e.offset), "stream events are contiguous"
            position[key] = e.offset + (len(e.data) if isinstance(e, StreamData) else e.length)
    summaries = [e.summary for e in events if isinstance(e, ConversationSummary)]
    assert sorted(c.id for c in summaries if c.proto == "tcp") == sorted(opened), (
        "each conversation's summary raised once")
    for conv in summaries:
        json.dumps(conv.to_dict())
