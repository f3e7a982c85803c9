"""TCPTracker: conversations, numbering, client choice, handshake, teardown, events."""

from __future__ import annotations

import itertools

from flowwire import SACK_OK, Wire, mss, script, timestamps, wscale
from hypothesis import given, settings
from hypothesis import strategies as st

from layerpeek.flows.analysis import Flag
from layerpeek.flows.events import (
    ConnectionClosed,
    ConnectionOpened,
    Event,
    StreamData,
    StreamGap,
)
from layerpeek.flows.tcp_state import TCPState
from layerpeek.flows.tracker import TCPTracker
from layerpeek.packet import Packet

HS = ["c S", "s SA", "c A"]


def run(packets: list[Packet], tracker: TCPTracker | None = None) -> tuple[TCPTracker, list[Event]]:
    tracker = tracker or TCPTracker()
    events: list[Event] = []
    for p in packets:
        events += tracker.feed(p)
    events += tracker.finish()
    return tracker, events


def stream_bytes(events: list[Event], conv: int, direction: str) -> bytes:
    return b"".join(
        e.data for e in events
        if isinstance(e, StreamData) and e.conversation == conv and e.direction == direction
    )


# -- conversations -------------------------------------------------------------


def test_both_directions_of_a_five_tuple_are_one_conversation() -> None:
    w = Wire()
    tracker, _ = run(script(w, *HS, "c PA 3", "s PA 4"))
    assert list(tracker.conversations) == [0]
    conv = tracker.conversations[0]
    assert (conv.packets_client, conv.packets_server) == (3, 2)
    assert (conv.bytes_client, conv.bytes_server) == (3, 4)


def test_conversations_are_numbered_in_order_of_first_packet() -> None:
    a = Wire(("10.0.0.1", 40001), ("10.0.0.9", 80))
    b = Wire(("10.0.0.2", 40002), ("10.0.0.9", 80), first_frame=2)
    packets = [a.c("S"), b.c("S"), b.s("SA"), a.s("SA")]
    packets[2].index, packets[3].index = 3, 4
    tracker, _ = run(packets)
    assert [str(c.client) for c in tracker.conversations.values()] == [
        "10.0.0.1:40001", "10.0.0.2:40002"
    ]


def test_the_syn_sender_is_the_client_even_from_a_low_port() -> None:
    w = Wire(("10.0.0.1", 53), ("10.0.0.2", 50000))
    tracker, _ = run(script(w, "c S", "s SA"))
    conv = tracker.conversations[0]
    assert (str(conv.client), conv.client_by) == ("10.0.0.1:53", "syn")


def test_midstream_pickup_takes_the_higher_port_as_client() -> None:
    w = Wire(("10.0.0.1", 40000), ("10.0.0.2", 8080))
    tracker, events = run([w.s("PA", b"late response")])  # the server speaks first
    conv = tracker.conversations[0]
    assert (str(conv.client), conv.client_by) == ("10.0.0.1:40000", "port")
    assert isinstance(events[0], ConnectionOpened) and events[0].how == "midstream"
    assert conv.history.startswith("^")  # Zeek's flip mark: the first sender is not the client
    assert (conv.client_state, conv.server_state) == (TCPState.ESTABLISHED, TCPState.ESTABLISHED)


def test_a_syn_with_a_new_isn_on_the_same_ports_starts_a_new_conversation() -> None:
    w = Wire()
    first = script(w, *HS, "c FA", "s FA", "c A")
    w2 = Wire(isn_c=90000, isn_s=7000, first_frame=len(first) + 1, t0_ns=w.ts + 10**9)
    second = script(w2, "c S", "s SA", "c A")
    tracker = TCPTracker()
    flags = []
    for p in first + second:
        _, info = tracker.process(p)
        assert info is not None
        flags.append((info.stream, bool(info.flags & Flag.REUSED_PORTS)))
    tracker.finish()
    assert list(tracker.conversations) == [0, 1]
    assert flags[len(first)] == (1, True)
    assert tracker.conversations[0].close.kind == "four-way"


def test_a_retransmitted_syn_stays_in_the_same_conversation() -> None:
    w = Wire()
    tracker, _ = run(script(w, "c S", "c again", "s SA", "c A"))
    assert list(tracker.conversations) == [0]
    assert tracker.conversations[0].handshake.syn_count == 2


# -- relative numbers ------------------------------------------------------------


def test_relative_numbers_follow_wireshark_syn_counts_one() -> None:
    w = Wire(isn_c=0xFFFFFFF0, isn_s=123456)  # the client's numbers wrap
    tracker = TCPTracker()
    infos = [tracker.process(p)[1] for p in script(w, *HS, "c PA 100", "s A", "c PA 50")]
    got = [(i.seq, i.ack, i.next_seq) for i in infos if i is not None]
    assert got == [(0, None, 1), (0, 1, 1), (1, 1, 1), (1, 1, 101), (1, 101, 1), (101, 1, 151)]


def test_midstream_relative_numbers_start_at_one() -> None:
    w = Wire(isn_c=5000, isn_s=9000)
    tracker = TCPTracker()
    infos = [tracker.process(p)[1] for p in [w.c("PA", b"abc"), w.s("A"), w.c("PA", b"de")]]
    assert [(i.seq, i.ack) for i in infos if i is not None] == [(1, 1), (1, 4), (4, 1)]


# -- handshake -------------------------------------------------------------------


def test_handshake_records_isns_options_and_both_rtt_legs() -> None:
    w = Wire(isn_c=111, isn_s=222)
    packets = [
        w.c("S", options=mss(1460) + SACK_OK + timestamps() + wscale(7)),
        w.s("SA", options=mss(1400) + wscale(9), step_ns=3_000_000),
        w.c("A", step_ns=500_000),
    ]
    tracker, _ = run(packets)
    hs = tracker.conversations[0].handshake
    assert (hs.client_isn, hs.server_isn) == (111, 222)
    assert (hs.syn_frame, hs.synack_frame, hs.ack_frame) == (1, 2, 3)
    assert (hs.rtt_server_ns, hs.rtt_client_ns, hs.rtt_ns) == (3_000_000, 500_000, 3_500_000)
    assert hs.client_options is not None and hs.server_options is not None
    assert (hs.client_options.mss, hs.server_options.mss) == (1460, 1400)
    assert (hs.client_options.window_scale, hs.server_options.window_scale) == (7, 9)
    assert hs.window_scaling and not hs.sack and not hs.timestamps  # server offered neither
    assert hs.complete


def test_rtt_uses_the_last_syn_when_it_was_retransmitted() -> None:
    w = Wire()
    packets = [w.c("S"), w.again("c", step_ns=1_000_000_000), w.s("SA", step_ns=2_000_000),
               w.c("A", step_ns=1_000_000)]
    tracker, _ = run(packets)
    assert tracker.conversations[0].handshake.rtt_ns == 3_000_000


# -- teardown --------------------------------------------------------------------


def test_four_way_close_is_classified_and_closes_with_fin() -> None:
    w = Wire()
    tracker, events = run(script(w, *HS, "c PA 5", "s A", "c FA", "s A", "s FA", "c A"))
    conv = tracker.conversations[0]
    assert (conv.close.kind, conv.close.initiator) == ("four-way", "client")
    closed = [e for e in events if isinstance(e, ConnectionClosed)]
    assert [(e.how, e.ts_ns) for e in closed] == [("fin", w.ts - w.step_ns)]  # at the server FIN
    assert conv.conn_state == "SF"


def test_simultaneous_close_goes_through_closing() -> None:
    w = Wire()
    tracker, _ = run(script(w, *HS, "c FA", "s FA noack", "s A", "c A"))
    conv = tracker.conversations[0]
    assert conv.close.kind == "simultaneous"
    assert TCPState.CLOSING in {t.new for t in conv.transitions}
    assert (conv.client_state, conv.server_state) == (TCPState.TIME_WAIT, TCPState.TIME_WAIT)


def test_half_close_when_the_server_keeps_sending_after_the_client_fin() -> None:
    w = Wire()
    tracker, events = run(script(w, *HS, "c PA 4", "c FA", "s PA 100", "c A", "s FA", "c A"))
    conv = tracker.conversations[0]
    assert (conv.close.kind, conv.close.initiator) == ("half-close", "client")
    assert stream_bytes(events, 0, "server") == b"x" * 100


def test_rst_abort_names_who_sent_it() -> None:
    w = Wire()
    tracker, events = run(script(w, *HS, "c PA 10", "s RA"))
    conv = tracker.conversations[0]
    assert (conv.close.kind, conv.close.rst_by, conv.close.rst_frame) == ("rst", "server", 5)
    assert [e.how for e in events if isinstance(e, ConnectionClosed)] == ["rst"]
    assert conv.conn_state == "RSTR"


def test_syn_answered_by_rst_is_a_refused_connection() -> None:
    w = Wire()
    tracker, events = run(script(w, "c S", "s RA"))
    conv = tracker.conversations[0]
    assert conv.close.kind == "refused"
    assert [e.how for e in events if isinstance(e, ConnectionClosed)] == ["refused"]
    assert (conv.conn_state, conv.history) == ("REJ", "Sr")
    assert (conv.client_state, conv.server_state) == (TCPState.CLOSED, TCPState.CLOSED)


def test_open_at_end_of_capture_closes_with_eof_from_finish() -> None:
    w = Wire()
    tracker = TCPTracker()
    for p in script(w, *HS, "c PA 3"):
        tracker.feed(p)
    events = tracker.finish()
    assert [e.how for e in events if isinstance(e, ConnectionClosed)] == ["eof"]
    assert tracker.conversations[0].close.kind == "open"
    assert tracker.conversations[0].conn_state == "S1"


# -- stream events ------------------------------------------------------------------


def test_stream_data_is_per_direction_with_offsets_from_zero_after_the_syn() -> None:
    w = Wire()
    _, events = run(script(w, *HS, "c PA 3", "s PA 2", "c PA 4"))
    client = [(e.offset, len(e.data), e.frames) for e in events
              if isinstance(e, StreamData) and e.direction == "client"]
    assert client == [(0, 3, (4,)), (3, 4, (6,))]
    assert stream_bytes(events, 0, "server") == b"xx"


def test_reordered_segments_are_delivered_in_order_when_the_hole_fills() -> None:
    w = Wire()
    packets = script(w, *HS)
    first = w.c("PA", b"AAAA")
    second = w.c("PA", b"BBBB")
    _, events = run([*packets, second, first])
    assert stream_bytes(events, 0, "client") == b"AAAABBBB"


def test_a_segment_the_capture_missed_but_the_receiver_acked_is_a_gap() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 4")
    w.lost("c", b"lost")  # never captured
    packets += script(w, "c PA 4", "s A")
    _, events = run(packets)
    gaps = [(e.direction, e.offset, e.length, e.reason) for e in events if isinstance(e, StreamGap)]
    assert gaps == [("client", 4, 4, "acked")]
    assert stream_bytes(events, 0, "client") == b"x" * 8


def test_closed_conversation_releases_its_buffers_and_ignores_later_data() -> None:
    w = Wire()
    tracker = TCPTracker()
    packets = script(w, *HS, "c FA", "s FA", "c A")
    for p in packets:
        tracker.feed(p)
    late = tracker.feed(w.s("PA", b"after close"))
    assert not [e for e in late if isinstance(e, StreamData)]
    assert tracker.conversations[0].packets_server == 3


def test_keep_data_keeps_each_direction_with_its_gaps() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 2")
    w.lost("c", b"zz")
    packets += script(w, "c PA 2", "s A")
    tracker, _ = run(packets, TCPTracker(keep_data=True, keep_frames=True))
    conv = tracker.conversations[0]
    assert conv.client_stream is not None
    assert conv.client_stream.data == b"xxxx"
    assert conv.client_stream.gaps == [(2, 2, "acked")]
    assert conv.frames == [1, 2, 3, 4, 5, 6]
    assert (conv.stream_bytes_client, conv.missed_bytes_client) == (4, 2)


def test_total_cap_makes_the_biggest_waiting_stream_skip_ahead() -> None:
    a = Wire(("10.0.0.1", 40001), ("10.0.0.9", 80))
    packets = script(a, *HS)
    a.lost("c", b"hole")  # never captured
    packets.append(a.c("PA", b"y" * 30))
    _, events = run(packets, TCPTracker(total_cap=20))
    gaps = [(e.offset, e.length, e.reason) for e in events if isinstance(e, StreamGap)]
    assert gaps[0] == (0, 4, "buffer cap")
    assert stream_bytes(events, 0, "client") == b"y" * 30


def test_non_tcp_packets_are_ignored() -> None:
    from builders import eth, ipv4_udp, udp

    import layerpeek

    tracker = TCPTracker()
    assert tracker.process(layerpeek.decode(eth(ipv4_udp(udp(b"hi"))))) == ([], None)


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=3000),
    isn=st.one_of(st.integers(0, 0xFFFFFFFF), st.integers(0xFFFFFFFF - 2000, 0xFFFFFFFF)),
    data=st.data(),
)
def test_tracker_reassembles_any_order_of_decoded_segments(
    payload: bytes, isn: int, data: st.DataObject
) -> None:
    """End to end through decoded packets: reordering, duplicates and wraparound."""
    w = Wire(isn_c=isn)
    packets = script(w, *HS)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(len(payload) - 1, 1)), max_size=8))))
    bounds = [0, *[c for c in cuts if 0 < c < len(payload)], len(payload)]
    base = w.next["c"]
    segments = [
        w.send("c", "PA", payload[a:b], seq=base + a, advance=False)
        for a, b in itertools.pairwise(bounds)
    ]
    w.next["c"] = (base + len(payload)) & 0xFFFFFFFF
    extra = data.draw(st.lists(st.sampled_from(segments), max_size=4))
    order = data.draw(st.permutations(segments + extra))
    for i, p in enumerate(order):  # renumber as captured: frames and times increase
        p.index, p.ts_ns = len(packets) + i + 1, w.ts + i + 1
    tail_wire = Wire(isn_c=isn, first_frame=len(packets) + len(order) + 1, t0_ns=w.ts + 10**9)
    tail_wire.next = dict(w.next)
    tail = script(tail_wire, "s A", "c FA", "s FA", "c A")
    tracker, events = run([*packets, *order, *tail])
    assert stream_bytes(events, 0, "client") == payload
    assert not [e for e in events if isinstance(e, StreamGap)]
    assert tracker.conversations[0].close.kind == "four-way"


def test_a_closed_connection_is_forgotten_after_the_linger_time() -> None:
    """Closed 5-tuples leave the table two minutes (capture time) after their
    last packet, so a long capture's table holds only recent connections; an
    open one, however idle, stays."""
    from flowwire import Wire

    from layerpeek.flows.tracker import DEFAULT_CLOSED_LINGER_NS, TCPTracker

    tracker = TCPTracker(keep_conversations=False)
    idle = Wire(client=("10.0.0.9", 40009), first_frame=1)
    done = Wire(client=("10.0.0.1", 40001), first_frame=3)
    for packet in (idle.c("S"), idle.s("SA")):
        tracker.feed(packet)
    for packet in (done.c("S"), done.s("SA"), done.c("A"), done.c("FA"), done.s("FA"),
                   done.c("A")):
        tracker.feed(packet)
    assert tracker.tracked_connections == 2
    later = Wire(client=("10.0.0.2", 40002), first_frame=9,
                 t0_ns=done.ts + DEFAULT_CLOSED_LINGER_NS - 1_000_000_000)
    tracker.feed(later.c("S"))
    assert tracker.tracked_connections == 3  # not yet: 119 s after the close
    tracker.feed(later.s("SA"))
    much_later = Wire(client=("10.0.0.3", 40003), first_frame=11,
                      t0_ns=done.ts + DEFAULT_CLOSED_LINGER_NS + 1_000_000_000)
    tracker.feed(much_later.c("S"))
    # the closed one is gone (and its summary, with keep_conversations=False);
    # the idle open one and the two new ones stay
    assert tracker.tracked_connections == 3
    assert sorted(c.client.port for c in tracker.conversations.values()) == [40002, 40003, 40009]


def test_linger_none_keeps_closed_connections_until_evicted() -> None:
    from flowwire import Wire

    from layerpeek.flows.tracker import TCPTracker

    tracker = TCPTracker(closed_linger_ns=None)
    done = Wire(client=("10.0.0.1", 40001))
    for packet in (done.c("S"), done.s("SA"), done.c("A"), done.c("RA")):
        tracker.feed(packet)
    far = Wire(client=("10.0.0.2", 40002), first_frame=5, t0_ns=done.ts + 10**13)
    tracker.feed(far.c("S"))
    assert tracker.tracked_connections == 2
