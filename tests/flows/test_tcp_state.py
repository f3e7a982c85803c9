"""The endpoint state table, exercised transition by transition through the tracker,
and the state machine (classifier and table) driven alone, without one.

Every entry of ``TRANSITIONS`` has a wire script below: packets that bring
one endpoint into the entry's state, then the one packet that shows the
entry's segment.  The test feeds them to a real ``TCPTracker`` and checks
the endpoint is in the starting state before the trigger and in the target
state after it, with a ``StateChanged`` event saying why (or, for a
self-loop, no event and no "unexpected" report).
"""

from __future__ import annotations

import pytest
from flowwire import Wire, script

from layerpeek.flows.events import Event, StateChanged, UnexpectedSegment
from layerpeek.flows.tcp_state import (
    FINISHED,
    TRANSITIONS,
    WAS,
    Move,
    Segment,
    TCPEndpoint,
    TCPState,
    apply,
    on_segment,
)
from layerpeek.flows.tracker import TCPTracker

S = TCPState
G = Segment
HS = ["c S", "s SA", "c A"]  # a three-way handshake

#: (state, segment) → (endpoint, packets to get there, the triggering packet)
SCRIPTS: dict[tuple[TCPState, Segment], tuple[str, list[str], str]] = {
    (S.CLOSED, G.SEND_SYN): ("client", [], "c S"),
    (S.SYN_SENT, G.SEND_SYN): ("client", ["c S"], "c again"),
    (S.SYN_SENT, G.RECV_SYN_ACK): ("client", ["c S"], "s SA"),
    (S.SYN_SENT, G.RECV_SYN): ("client", ["c S"], "s S"),
    (S.SYN_SENT, G.SEND_SYN_ACK): ("server", ["c S", "s S"], "s SA"),
    (S.SYN_SENT, G.RECV_RST): ("client", ["c S"], "s RA"),
    (S.SYN_SENT, G.SEND_RST): ("client", ["c S"], "c R"),
    (S.CLOSED, G.RECV_SYN_ACK): ("client", [], "s SA"),
    (S.UNKNOWN, G.RECV_SYN): ("server", ["c S"], "c again"),
    (S.UNKNOWN, G.RECV_RST): ("server", ["c S"], "c R"),
    (S.UNKNOWN, G.SEND_SYN_ACK): ("server", ["c S"], "s SA"),
    (S.UNKNOWN, G.SEND_SYN): ("server", ["c S"], "s S"),
    (S.UNKNOWN, G.SEND_RST): ("server", ["c S"], "s RA"),
    (S.SYN_RCVD, G.SEND_SYN_ACK): ("server", ["c S", "s SA"], "s again"),
    (S.SYN_RCVD, G.RECV_SYN): ("server", ["c S", "s SA"], "c again"),
    (S.SYN_RCVD, G.RECV_ACK_OF_SYN): ("server", ["c S", "s SA"], "c A"),
    (S.SYN_RCVD, G.RECV_SYN_ACK): ("client", ["c S", "s S"], "s SA"),
    (S.SYN_RCVD, G.SEND_FIN): ("server", ["c S", "s SA"], "s FA"),
    (S.SYN_RCVD, G.RECV_FIN): ("server", ["c S", "s SA", "c F"], "s A"),
    (S.SYN_RCVD, G.SEND_RST): ("server", ["c S", "s SA"], "s R"),
    (S.SYN_RCVD, G.RECV_RST): ("server", ["c S", "s SA"], "c R"),
    (S.UNKNOWN, G.MIDSTREAM): ("client", [], "c PA 10"),
    (S.ESTABLISHED, G.RECV_SYN_ACK): ("client", HS, "s again"),
    (S.ESTABLISHED, G.SEND_SYN_ACK): ("server", HS, "s again"),
    (S.ESTABLISHED, G.SEND_FIN): ("client", HS, "c FA"),
    (S.ESTABLISHED, G.RECV_FIN): ("server", [*HS, "c FA"], "s A"),
    (S.ESTABLISHED, G.SEND_RST): ("client", HS, "c RA"),
    (S.ESTABLISHED, G.RECV_RST): ("client", HS, "s RA"),
    (S.FIN_WAIT_1, G.SEND_FIN): ("client", [*HS, "c FA"], "c again"),
    (S.FIN_WAIT_1, G.RECV_ACK_OF_FIN): ("client", [*HS, "c FA"], "s A"),
    (S.FIN_WAIT_1, G.FINS_CROSSED): ("client", [*HS, "c FA"], "s FA noack"),
    (S.FIN_WAIT_1, G.SEND_RST): ("client", [*HS, "c FA"], "c R"),
    (S.FIN_WAIT_1, G.RECV_RST): ("client", [*HS, "c FA"], "s R"),
    (S.FIN_WAIT_2, G.RECV_FIN): ("client", [*HS, "c FA", "s A", "s FA"], "c A"),
    (S.FIN_WAIT_2, G.SEND_FIN): ("client", [*HS, "c FA", "s A"], "c again"),
    (S.FIN_WAIT_2, G.SEND_RST): ("client", [*HS, "c FA", "s A"], "c R"),
    (S.FIN_WAIT_2, G.RECV_RST): ("client", [*HS, "c FA", "s A"], "s R"),
    (S.CLOSING, G.RECV_ACK_OF_FIN): ("client", [*HS, "c FA", "s FA noack"], "s A"),
    (S.CLOSING, G.SEND_FIN): ("client", [*HS, "c FA", "s FA noack"], "c FA refin"),
    (S.CLOSING, G.SEND_RST): ("client", [*HS, "c FA", "s FA noack"], "c R"),
    (S.CLOSING, G.RECV_RST): ("client", [*HS, "c FA", "s FA noack"], "s R"),
    (S.TIME_WAIT, G.SEND_FIN): ("client", [*HS, "c FA", "s A", "s FA", "c A"], "c FA refin"),
    (S.TIME_WAIT, G.SEND_RST): ("client", [*HS, "c FA", "s A", "s FA", "c A"], "c R"),
    (S.TIME_WAIT, G.RECV_RST): ("client", [*HS, "c FA", "s A", "s FA", "c A"], "s R"),
    (S.CLOSE_WAIT, G.SEND_FIN): ("server", [*HS, "c FA", "s A"], "s FA"),
    (S.CLOSE_WAIT, G.SEND_RST): ("server", [*HS, "c FA", "s A"], "s R"),
    (S.CLOSE_WAIT, G.RECV_RST): ("server", [*HS, "c FA", "s A"], "c R"),
    (S.LAST_ACK, G.SEND_FIN): ("server", [*HS, "c FA", "s FA"], "s again"),
    (S.LAST_ACK, G.RECV_ACK_OF_FIN): ("server", [*HS, "c FA", "s FA"], "c A"),
    (S.LAST_ACK, G.SEND_RST): ("server", [*HS, "c FA", "s FA"], "s R"),
    (S.LAST_ACK, G.RECV_RST): ("server", [*HS, "c FA", "s FA"], "c R"),
    (S.CLOSED, G.SEND_RST): ("server", [*HS, "c FA", "s FA", "c A"], "s R"),
    (S.CLOSED, G.RECV_RST): ("server", [*HS, "c FA", "s FA", "c A"], "c R"),
}


def test_every_transition_in_the_table_has_a_wire_script() -> None:
    assert set(SCRIPTS) == set(TRANSITIONS)


def _state(tracker: TCPTracker, endpoint: str) -> TCPState:
    conv = tracker.conversations[0]
    return conv.client_state if endpoint == "client" else conv.server_state


@pytest.mark.parametrize(
    ("state", "segment"), list(TRANSITIONS), ids=[f"{s.value}-{g.name}" for s, g in TRANSITIONS]
)
def test_transition_fires_on_the_wire(state: TCPState, segment: Segment) -> None:
    endpoint, setup, trigger = SCRIPTS[(state, segment)]
    target = TRANSITIONS[(state, segment)]
    w = Wire()
    tracker = TCPTracker()
    for packet in script(w, *setup):
        tracker.feed(packet)
    if setup:
        assert _state(tracker, endpoint) is state, "the setup script did not reach the state"
    events: list[Event] = tracker.feed(script(w, trigger)[0])
    assert _state(tracker, endpoint) is target
    mine = [e for e in events if getattr(e, "endpoint", None) == endpoint]
    assert not [e for e in mine if isinstance(e, UnexpectedSegment)]
    changes = [e for e in mine if isinstance(e, StateChanged)]
    was = WAS.get(segment, state) if state is S.UNKNOWN else state  # what ? turned out to be
    if target is was:
        assert changes == []
    else:
        assert (changes[-1].old, changes[-1].new) == (was, target)
        assert any(c.why == segment.value for c in changes)
        assert changes[-1].frame == w.frame


def test_every_state_is_reachable_from_the_table() -> None:
    # An endpoint starts CLOSED (the client) or ? (the responder, or both ends
    # joined mid-stream); LISTEN is what a ? responder turns out to have been.
    reached = {S.CLOSED, S.UNKNOWN, *WAS.values()}
    frontier = [S.CLOSED, S.UNKNOWN]
    while frontier:
        state = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in reached:
                reached.add(dst)
                frontier.append(dst)
    assert reached == set(TCPState)


def test_a_segment_missing_from_the_table_is_reported_not_raised() -> None:
    w = Wire()
    tracker = TCPTracker()
    for packet in script(w, "c S"):
        tracker.feed(packet)
    events = tracker.feed(script(w, "c F")[0])  # FIN while still in SYN_SENT
    odd = [e for e in events if isinstance(e, UnexpectedSegment)]
    assert [(e.endpoint, e.state, e.segment) for e in odd] == [
        ("client", S.SYN_SENT, G.SEND_FIN)
    ]
    conv = tracker.conversations[0]
    assert conv.client_state is S.SYN_SENT and conv.anomaly_count == 1


def test_four_way_close_walks_both_sides_through_the_textbook_states() -> None:
    w = Wire()
    tracker = TCPTracker()
    for packet in script(w, *HS, "c PA 5", "s A", "c FA", "s A", "s FA", "c A"):
        tracker.feed(packet)
    conv = tracker.conversations[0]
    path = {
        side: [t.new.value for t in conv.transitions if t.endpoint == side]
        for side in ("client", "server")
    }
    assert path["client"] == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert [t.frame for t in conv.transitions if t.endpoint == "client"] == [1, 2, 6, 7, 9]
    assert path["server"] == ["SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert conv.transitions[1].old is S.LISTEN  # the ? responder answered: it was listening
    assert conv.client_state in FINISHED and conv.server_state in FINISHED


# ---------------------------------------------------------------------------
# The state machine alone: on_segment and apply, without a tracker
# ---------------------------------------------------------------------------


FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


class Pair:
    """Two bare endpoints and the sequence numbers a well-behaved pair would send."""

    def __init__(self) -> None:
        # The client starts CLOSED; the responder's state is unknown until it answers.
        self.ends = {"c": TCPEndpoint("client"), "s": TCPEndpoint("server", S.UNKNOWN)}
        self.next = {"c": 1000, "s": 5000}

    def send(self, who: str, flags: str, length: int = 0, *, ack: int | None = None) -> list[str]:
        """``who`` sends a segment; the moves as ``"client: A -> B (why)"`` lines."""
        other = "s" if who == "c" else "c"
        bits = sum(FLAG_BITS[f] for f in flags)
        seq = self.next[who]
        self.next[who] = seq + length + (1 if bits & 0x03 else 0)
        ack_no = self.next[other] if ack is None else ack
        moves = on_segment(self.ends[who], self.ends[other], bits, seq, ack_no, length)
        return [
            f"{m.endpoint.name}: {m.old} -> {m.new} ({m.segment})" for m in moves
        ]

    def states(self) -> tuple[str, str]:
        return str(self.ends["c"].state), str(self.ends["s"].state)


def test_the_classifier_opens_a_connection_from_the_segments_alone() -> None:
    p = Pair()
    assert p.send("c", "S") == ["client: CLOSED -> SYN_SENT (sent SYN)"]
    assert p.states() == ("SYN_SENT", "?")  # a SYN proves nothing about the responder
    assert p.send("s", "SA") == ["server: LISTEN -> SYN_RCVD (sent SYN-ACK)",
                                 "client: SYN_SENT -> ESTABLISHED (received SYN-ACK)"]
    assert p.send("c", "A") == ["server: SYN_RCVD -> ESTABLISHED (its SYN was acknowledged)"]
    assert p.send("c", "PA", 10) == []  # data moves no state
    assert p.states() == ("ESTABLISHED", "ESTABLISHED")


def test_a_fin_counts_as_received_when_acknowledged_and_an_ack_comes_before_a_fin() -> None:
    p = Pair()
    for who, flags in (("c", "S"), ("s", "SA"), ("c", "A")):
        p.send(who, flags)
    assert p.send("c", "FA") == ["client: ESTABLISHED -> FIN_WAIT_1 (sent FIN)"]
    # One segment acknowledging the FIN and carrying the server's own: the
    # acknowledgement (receipt of the client's FIN) comes first.
    assert p.send("s", "FA") == [
        "server: ESTABLISHED -> CLOSE_WAIT (acknowledged the peer's FIN)",
        "server: CLOSE_WAIT -> LAST_ACK (sent FIN)",
        "client: FIN_WAIT_1 -> FIN_WAIT_2 (its FIN was acknowledged)",
    ]
    assert p.send("c", "A") == [
        "client: FIN_WAIT_2 -> TIME_WAIT (acknowledged the peer's FIN)",
        "server: LAST_ACK -> CLOSED (its FIN was acknowledged)",
    ]


def test_a_rst_is_processed_before_the_rest_of_its_segment() -> None:
    p = Pair()
    p.send("c", "S")
    # A RST+ACK acknowledging the SYN: the RST wins, the ACK field is not read.
    # The responder refused: it was CLOSED throughout, so it has no move.
    assert p.send("s", "RA") == ["client: SYN_SENT -> CLOSED (received RST)"]
    assert p.states() == ("CLOSED", "CLOSED")


def test_a_segment_the_table_does_not_know_is_a_move_without_a_new_state() -> None:
    p = Pair()
    p.send("c", "S")
    moves = on_segment(p.ends["c"], p.ends["s"], 0x01, 1001, 0, 0)  # FIN in SYN_SENT
    assert [(m.endpoint.name, m.old, m.new, m.segment) for m in moves] == [
        ("client", S.SYN_SENT, None, G.SEND_FIN)
    ]
    assert p.ends["c"].state is S.SYN_SENT


@pytest.mark.parametrize(
    ("state", "segment"), list(TRANSITIONS), ids=[f"{s.value}-{g.name}" for s, g in TRANSITIONS]
)
def test_apply_follows_the_table(state: TCPState, segment: Segment) -> None:
    endpoint = TCPEndpoint("client", state)
    moves: list[Move] = []
    apply(endpoint, segment, moves)
    target = TRANSITIONS[(state, segment)]
    assert endpoint.state is target
    was = WAS.get(segment, state) if state is S.UNKNOWN else state
    assert moves == ([] if target is was else [Move(endpoint, segment, was, target)])


def _open(p: Pair) -> None:
    for who, flags in (("c", "S"), ("s", "SA"), ("c", "A")):
        p.send(who, flags)


def test_simultaneous_close_takes_both_sides_through_closing() -> None:
    # RFC 9293 figure 13: a FIN received in FIN_WAIT_1 before the ACK of one's
    # own FIN leads to CLOSING, then TIME_WAIT when that ACK comes.  The server's
    # FIN is on the wire first; the client's FIN does not acknowledge it.
    p = Pair()
    _open(p)
    assert p.send("s", "FA") == ["server: ESTABLISHED -> FIN_WAIT_1 (sent FIN)"]
    assert p.send("c", "FA", ack=p.next["s"] - 1) == [
        "client: ESTABLISHED -> FIN_WAIT_1 (sent FIN)",
        "client: FIN_WAIT_1 -> CLOSING (the FINs crossed)",
        "server: FIN_WAIT_1 -> CLOSING (the FINs crossed)",
    ]
    assert p.send("s", "A") == ["client: CLOSING -> TIME_WAIT (its FIN was acknowledged)"]
    assert p.states() == ("TIME_WAIT", "CLOSING")
    assert p.send("c", "A") == ["server: CLOSING -> TIME_WAIT (its FIN was acknowledged)"]
    assert p.ends["c"].fin_crossed and p.ends["s"].fin_crossed


def test_a_fin_that_acknowledges_the_peers_is_no_simultaneous_close() -> None:
    p = Pair()
    _open(p)
    p.send("s", "FA")
    p.send("c", "A")  # the client received the server's FIN: CLOSE_WAIT
    assert p.send("c", "FA") == ["client: CLOSE_WAIT -> LAST_ACK (sent FIN)"]
    assert not p.ends["c"].fin_crossed


def test_the_responder_stays_unknown_until_it_answers() -> None:
    p = Pair()
    p.send("c", "S")
    p.send("c", "S")  # retransmitted: still no word from the responder
    assert p.states() == ("SYN_SENT", "?")
    assert p.send("c", "R") == ["client: SYN_SENT -> CLOSED (sent RST)"]  # the client gave up
    assert p.states() == ("CLOSED", "?")


def test_a_connection_joined_mid_stream_starts_unknown() -> None:
    client = TCPEndpoint("client", S.UNKNOWN)
    moves: list[Move] = []
    apply(client, G.MIDSTREAM, moves)
    assert moves == [Move(client, G.MIDSTREAM, S.UNKNOWN, S.ESTABLISHED)]
    assert G.MIDSTREAM.value == "joined mid-stream"
