"""TCP endpoint states as a capture shows them, driven by one readable table.

Theory of operation
===================

RFC 9293 §3.3.2 describes the TCP state machine from *inside* one endpoint:
it moves on user calls (OPEN, CLOSE), on segments it receives and on timers.
A capture sees none of the calls and timers, only segments on the wire.  So
this module keeps, like h11's ``_state.py`` keeps CLIENT and SERVER, one
state per endpoint and moves it only on *wire evidence*: a segment that
endpoint was seen to send, or a segment it was seen to be sent.

**The capture point's assumptions.**  A segment on the wire reaches its
destination, and the segments of one direction arrive in the order the
capture shows them (the capture point is usually next to one of the two
hosts).  When a segment is lost after the capture point it is
retransmitted, and the retransmission is a self-loop in the table.  A move
is recorded at the first frame that proves it, with the capture's time,
not the hosts'.

Each packet is turned into at most a few :class:`Segment` kinds per endpoint
by :func:`on_segment` (the classifier; it keeps what it needs of each
endpoint's SYN and FIN in a :class:`TCPEndpoint`): for the sender
``SEND_SYN``, ``SEND_SYN_ACK``, ``SEND_FIN``, ``SEND_RST``; for the receiver
``RECV_SYN``, ``RECV_SYN_ACK``, ``RECV_ACK_OF_SYN`` and ``RECV_ACK_OF_FIN``
(the *first* acknowledgement covering its SYN or FIN), ``RECV_RST``.  Within
a received segment the RFC's processing order holds: RST, then SYN, then
the ACK field (RFC 9293 §3.10.7.4).

**A FIN counts as received when it is acknowledged** (``RECV_FIN``).  The
RFC's own label for these transitions is "rcv FIN / snd ACK", and the
acknowledgement is the wire's evidence that the FIN arrived: the endpoint
that sends an ACK covering the peer's FIN takes ``RECV_FIN`` *before* its
own kinds in that packet, so a FIN+ACK answering a FIN goes CLOSE_WAIT,
then LAST_ACK, and the final ACK of a close takes FIN_WAIT_2 to TIME_WAIT.
A FIN never acknowledged in the capture leaves its receiver where it was.

**Simultaneous close** (RFC 9293 §3.6, figure 13): an endpoint in FIN_WAIT_1
that receives the peer's FIN before the ACK of its own goes to CLOSING, and
to TIME_WAIT when that ACK comes.  The wire shows it when a FIN does not
acknowledge a FIN the peer already sent: the two FINs crossed.  The peer's
FIN was sent before anything the peer sends later, the ACK of this FIN
included, so (one direction keeping its order) each FIN reaches its
receiver before the ACK of the receiver's own FIN: at the second FIN both
endpoints take ``FINS_CROSSED`` (FIN_WAIT_1 → CLOSING), and each goes on to
TIME_WAIT when its own FIN is acknowledged.  Their later ACKs of the FINs
are not a second receipt.

**The responder's state is unknown** (``?``) until it answers: a SYN on the
wire proves nothing about it.  Its first segment tells what it was all
along (:data:`WAS`): a SYN-ACK answers from LISTEN (it enters SYN_RCVD); a
RST answering the SYN means nothing listened: it was CLOSED throughout, and
no move is recorded ("refused").  Acknowledgements themselves need no
reply, so they are taken as received when they appear on the wire.

Two pseudo-segments start conversations the capture joined late:
``MIDSTREAM`` takes both endpoints from ``?`` to ESTABLISHED (the first
packet was neither SYN nor SYN-ACK: "joined mid-stream"), and
``RECV_SYN_ACK`` from CLOSED covers a SYN that was not captured.

A (state, segment) pair missing from :data:`TRANSITIONS` is *unexpected*:
the tracker reports it as an :class:`~layerpeek.flows.events.UnexpectedSegment`
event and leaves the state alone.  Nothing here raises on packet content.

TIME_WAIT has no visible end (it is a 2×MSL timer), so an endpoint that
reached it stays there in the capture's view; TIME_WAIT and CLOSED both
count as "closed" for the conversation.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from layerpeek.flows.events import Direction


class TCPState(enum.Enum):
    """RFC 9293 connection states, with the RFC's names (underscored), and ``?``.

    ``UNKNOWN`` (spelled ``?`` wherever a state is shown: ``dump``'s column,
    JSON, ladders) is not an RFC state: it is a capture's honest answer for
    an endpoint the wire has not yet shown anything of its own, such as the
    responder before it answers a SYN, or both ends of a connection joined
    mid-stream before the first packet.
    """

    UNKNOWN = "?"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RCVD = "SYN_RCVD"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"
    CLOSED = "CLOSED"

    # Members are singletons compared by identity, so the identity hash is
    # correct, and unlike Enum's (a Python function hashing the name) it costs
    # nothing: TRANSITIONS is consulted for every SYN, FIN and RST.
    __hash__ = object.__hash__

    def __str__(self) -> str:
        return self.value


class Segment(enum.Enum):
    """What the wire showed, from one endpoint's point of view (the value is the 'why')."""

    SEND_SYN = "sent SYN"
    SEND_SYN_ACK = "sent SYN-ACK"
    SEND_FIN = "sent FIN"
    SEND_RST = "sent RST"
    RECV_SYN = "received SYN"
    RECV_SYN_ACK = "received SYN-ACK"
    RECV_ACK_OF_SYN = "its SYN was acknowledged"
    RECV_ACK_OF_FIN = "its FIN was acknowledged"
    RECV_FIN = "acknowledged the peer's FIN"
    RECV_RST = "received RST"
    FINS_CROSSED = "the FINs crossed"
    MIDSTREAM = "joined mid-stream"

    __hash__ = object.__hash__  # see TCPState

    def __str__(self) -> str:
        return self.value


S = TCPState
G = Segment

#: (state, what the wire showed) → next state.  Read it top to bottom as the
#: life of a connection; self-loops are retransmissions or repeats the wire
#: legitimately shows.  Anything missing is reported as unexpected.
TRANSITIONS: dict[tuple[TCPState, Segment], TCPState] = {
    # --- opening, active side (the client) ---------------------------------
    (S.CLOSED, G.SEND_SYN): S.SYN_SENT,
    (S.SYN_SENT, G.SEND_SYN): S.SYN_SENT,  # SYN retransmitted
    (S.SYN_SENT, G.RECV_SYN_ACK): S.ESTABLISHED,
    (S.SYN_SENT, G.RECV_SYN): S.SYN_RCVD,  # simultaneous open (RFC 9293 fig. 7)
    (S.SYN_SENT, G.SEND_SYN_ACK): S.SYN_RCVD,  # simultaneous open: answering the peer's SYN
    (S.SYN_SENT, G.RECV_RST): S.CLOSED,  # refused
    (S.SYN_SENT, G.SEND_RST): S.CLOSED,  # the client gave up
    (S.CLOSED, G.RECV_SYN_ACK): S.ESTABLISHED,  # its SYN was not captured
    # --- opening, passive side (the server) --------------------------------
    # Its state is unknown (?) until it answers: see WAS for what it was then.
    (S.UNKNOWN, G.RECV_SYN): S.UNKNOWN,  # a SYN, retransmitted or not, proves nothing
    (S.UNKNOWN, G.RECV_RST): S.UNKNOWN,  # the client gave up before any answer
    (S.UNKNOWN, G.SEND_SYN_ACK): S.SYN_RCVD,  # it was listening
    (S.UNKNOWN, G.SEND_SYN): S.SYN_SENT,  # it opened actively too (simultaneous open)
    (S.UNKNOWN, G.SEND_RST): S.CLOSED,  # refused: it was closed throughout
    (S.SYN_RCVD, G.SEND_SYN_ACK): S.SYN_RCVD,  # SYN-ACK retransmitted
    (S.SYN_RCVD, G.RECV_SYN): S.SYN_RCVD,  # SYN retransmitted (our SYN-ACK was lost)
    (S.SYN_RCVD, G.RECV_ACK_OF_SYN): S.ESTABLISHED,
    (S.SYN_RCVD, G.RECV_SYN_ACK): S.ESTABLISHED,  # simultaneous open completes
    (S.SYN_RCVD, G.SEND_FIN): S.FIN_WAIT_1,
    (S.SYN_RCVD, G.RECV_FIN): S.CLOSE_WAIT,
    (S.SYN_RCVD, G.SEND_RST): S.CLOSED,
    # RFC 9293 returns a passively opened SYN_RCVD to LISTEN on RST; the
    # listening socket lives on, but this connection is over.
    (S.SYN_RCVD, G.RECV_RST): S.CLOSED,
    # --- data transfer -----------------------------------------------------
    (S.UNKNOWN, G.MIDSTREAM): S.ESTABLISHED,
    (S.ESTABLISHED, G.RECV_SYN_ACK): S.ESTABLISHED,  # SYN-ACK resent: our ACK was lost
    (S.ESTABLISHED, G.SEND_SYN_ACK): S.ESTABLISHED,  # ... and the server resending it
    (S.ESTABLISHED, G.SEND_FIN): S.FIN_WAIT_1,  # active close
    (S.ESTABLISHED, G.RECV_FIN): S.CLOSE_WAIT,  # passive close: it ACKed the peer's FIN
    (S.ESTABLISHED, G.SEND_RST): S.CLOSED,
    (S.ESTABLISHED, G.RECV_RST): S.CLOSED,
    # --- active close ------------------------------------------------------
    (S.FIN_WAIT_1, G.SEND_FIN): S.FIN_WAIT_1,  # FIN retransmitted
    (S.FIN_WAIT_1, G.RECV_ACK_OF_FIN): S.FIN_WAIT_2,
    (S.FIN_WAIT_1, G.FINS_CROSSED): S.CLOSING,  # simultaneous close (RFC 9293 fig. 13)
    (S.FIN_WAIT_1, G.SEND_RST): S.CLOSED,
    (S.FIN_WAIT_1, G.RECV_RST): S.CLOSED,
    (S.FIN_WAIT_2, G.RECV_FIN): S.TIME_WAIT,
    (S.FIN_WAIT_2, G.SEND_FIN): S.FIN_WAIT_2,  # spurious FIN retransmission
    (S.FIN_WAIT_2, G.SEND_RST): S.CLOSED,
    (S.FIN_WAIT_2, G.RECV_RST): S.CLOSED,
    (S.CLOSING, G.RECV_ACK_OF_FIN): S.TIME_WAIT,
    (S.CLOSING, G.SEND_FIN): S.CLOSING,
    (S.CLOSING, G.SEND_RST): S.CLOSED,
    (S.CLOSING, G.RECV_RST): S.CLOSED,
    (S.TIME_WAIT, G.SEND_FIN): S.TIME_WAIT,
    (S.TIME_WAIT, G.SEND_RST): S.CLOSED,
    (S.TIME_WAIT, G.RECV_RST): S.CLOSED,  # TIME-WAIT assassination (RFC 1337)
    # --- passive close -----------------------------------------------------
    (S.CLOSE_WAIT, G.SEND_FIN): S.LAST_ACK,
    (S.CLOSE_WAIT, G.SEND_RST): S.CLOSED,
    (S.CLOSE_WAIT, G.RECV_RST): S.CLOSED,
    (S.LAST_ACK, G.SEND_FIN): S.LAST_ACK,  # FIN retransmitted
    (S.LAST_ACK, G.RECV_ACK_OF_FIN): S.CLOSED,
    (S.LAST_ACK, G.SEND_RST): S.CLOSED,
    (S.LAST_ACK, G.RECV_RST): S.CLOSED,
    # --- after the end -----------------------------------------------------
    (S.CLOSED, G.SEND_RST): S.CLOSED,  # RST answering a late segment
    (S.CLOSED, G.RECV_RST): S.CLOSED,
}

#: What an endpoint of unknown state (``?``) was, judged by the first segment it
#: sends: a SYN-ACK answers from LISTEN; a RST answering a SYN means nothing
#: listened, so it was CLOSED throughout (and no state change is recorded); a
#: SYN of its own opens actively from CLOSED.
WAS: dict[Segment, TCPState] = {
    G.SEND_SYN_ACK: S.LISTEN,
    G.SEND_RST: S.CLOSED,
    G.SEND_SYN: S.CLOSED,
}

del S, G

#: States in which an endpoint has finished with the connection.
FINISHED = frozenset({TCPState.CLOSED, TCPState.TIME_WAIT})


def next_state(state: TCPState, segment: Segment) -> TCPState | None:
    """The state after ``segment``, or None when the table has no such transition."""
    return TRANSITIONS.get((state, segment))


class TCPEndpoint:
    """One endpoint as the state machine sees it: its state and what the wire showed of
    its SYN and FIN.

    :func:`on_segment` reads and updates it; nothing else needs to.  The
    tracker's per-endpoint record extends it with reassembly and counters.
    """

    __slots__ = (
        "fin_acked",
        "fin_crossed",
        "fin_received",
        "fin_seq",
        "name",
        "sent_isn",
        "state",
        "syn_acked",
    )

    def __init__(self, name: Direction, state: TCPState = TCPState.CLOSED) -> None:
        self.name: Direction = name
        self.state = state
        self.sent_isn: int | None = None  #: the ISN of its (first) SYN
        self.syn_acked = False  #: the peer acknowledged its SYN
        self.fin_seq: int | None = None  #: the sequence number after its FIN
        self.fin_acked = False  #: the peer acknowledged its FIN
        #: its FIN and the peer's crossed on the wire (a simultaneous close)
        self.fin_crossed = False
        self.fin_received = False  #: the peer's FIN reached it (see the theory)

    def awaits_ack(self) -> bool:
        """Its SYN or FIN is still unacknowledged: a plain ACK from the peer may move it."""
        return (not self.syn_acked and self.sent_isn is not None) or (
            not self.fin_acked and self.fin_seq is not None
        )

    def __repr__(self) -> str:
        return f"TCPEndpoint({self.name!r}, {self.state})"


class Move(NamedTuple):
    """One segment kind applied to one endpoint: ``new`` is None when the table has no
    entry (an unexpected segment; the state stays ``old``)."""

    endpoint: TCPEndpoint
    segment: Segment
    old: TCPState
    new: TCPState | None


_MASK = 0xFFFFFFFF
_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_CLOSED = TCPState.CLOSED
_UNKNOWN = TCPState.UNKNOWN


def _ge(a: int, b: int) -> bool:
    """a >= b in 32-bit sequence space."""
    return ((a - b) & _MASK) < 0x80000000


def apply(endpoint: TCPEndpoint, segment: Segment, out: list[Move]) -> None:
    """Fire one table transition for ``endpoint`` and append it to ``out``.

    A self-loop (a retransmission) is not a move and appends nothing; a pair
    missing from the table appends a move with ``new=None`` and leaves the
    state alone.
    """
    old = endpoint.state
    new = TRANSITIONS.get((old, segment))
    if new is old:
        return
    if new is not None:
        endpoint.state = new
        if old is _UNKNOWN:
            old = WAS.get(segment, old)  # now we know what it was
            if new is old:
                return
    out.append(Move(endpoint, segment, old, new))


def on_segment(
    snd: TCPEndpoint, rcv: TCPEndpoint, flags: int, seq: int, ack: int, seglen: int
) -> list[Move]:
    """The moves one segment causes, ``snd`` having sent it to ``rcv``, in the order they
    happen (see the theory above); both endpoints are updated.

    ``flags`` are the TCP flag bits, ``seglen`` the payload length on the wire.
    """
    out: list[Move] = []
    syn, fin, rst, has_ack = flags & _SYN, flags & _FIN, flags & _RST, flags & _ACK
    if syn and snd.sent_isn is None:
        snd.sent_isn = seq
    # The sender acknowledging the receiver's FIN is the evidence that the
    # sender received that FIN: it comes first.
    fin_acked_now = (
        has_ack
        and not rst  # acknowledgements in a RST are not trusted (as Zeek does)
        and not rcv.fin_acked
        and rcv.fin_seq is not None
        and _ge(ack, (rcv.fin_seq + 1) & _MASK)
    )
    if fin_acked_now:
        rcv.fin_acked = True
        if not snd.fin_received:  # after FINs crossed it had counted it already
            snd.fin_received = True
            apply(snd, Segment.RECV_FIN, out)
    # What the sender did.
    if syn:
        apply(snd, Segment.SEND_SYN_ACK if has_ack else Segment.SEND_SYN, out)
    if fin:
        crossed = False
        if snd.fin_seq is None:
            snd.fin_seq = (seq + seglen + (1 if syn else 0)) & _MASK
            crossed = rcv.fin_seq is not None and not rcv.fin_acked
        apply(snd, Segment.SEND_FIN, out)
        if crossed:
            # Its FIN does not acknowledge the peer's, already on the wire: each
            # FIN left before the other arrived.  Each side's FIN reaches the
            # other before anything the other sends later (one direction keeps
            # its order), so before the ACK of its own FIN: both are CLOSING.
            snd.fin_crossed = rcv.fin_crossed = True
            snd.fin_received = rcv.fin_received = True
            apply(snd, Segment.FINS_CROSSED, out)
            apply(rcv, Segment.FINS_CROSSED, out)
    if rst:
        apply(snd, Segment.SEND_RST, out)
        # RFC 9293 §3.10.7: a RST is processed before anything else in it.
        apply(rcv, Segment.RECV_RST, out)
        return out
    # What the receiver was shown, in the RFC's order: SYN, then the ACK field.
    if syn:
        apply(rcv, Segment.RECV_SYN_ACK if has_ack else Segment.RECV_SYN, out)
    if has_ack and rcv.state is not _CLOSED:
        if (
            not rcv.syn_acked
            and rcv.sent_isn is not None
            and _ge(ack, (rcv.sent_isn + 1) & _MASK)
        ):
            rcv.syn_acked = True
            if not syn:  # a SYN-ACK's acknowledgement was covered by RECV_SYN_ACK
                apply(rcv, Segment.RECV_ACK_OF_SYN, out)
        if fin_acked_now:
            apply(rcv, Segment.RECV_ACK_OF_FIN, out)
    return out
