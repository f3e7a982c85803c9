"""What the flow stages tell their consumers: small, past-tense event records.

The TCP tracker is sans-IO (h11's model): ``feed(packet)`` returns a list of
these, ``finish()`` flushes the rest.  A consumer (the HTTP/DNS transaction
layer, the ``follow`` command) keys its per-connection state on
``(conversation, direction)`` and dispatches with ``isinstance``; event types
it does not know about can be ignored safely, which is why the inconsistency
and anomaly reports below are events of their own rather than fields bolted
onto :class:`StreamData`.

``conversation`` is always the integer stream id (0-based, in order of first
packet, as tshark's ``tcp.stream``).  ``direction`` is ``"client"`` or
``"server"``: the endpoint that *sent* the bytes or the segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from layerpeek.flows.tcp_state import Segment, TCPState

if TYPE_CHECKING:
    from layerpeek.flows.key import Endpoint
    from layerpeek.flows.records import TCPConversation
    from layerpeek.flows.udp import UDPConversation

# ---------------------------------------------------------------------------
# The vocabularies (one spelling each; mypy checks every use)
# ---------------------------------------------------------------------------

#: An endpoint of a conversation: the sender of a segment or of stream bytes.
Direction = Literal["client", "server"]

#: How a conversation was first seen (:attr:`ConnectionOpened.how`).
OpenedHow = Literal["handshake", "synack", "midstream"]

#: How a conversation ended (:attr:`ConnectionClosed.how`).
CloseHow = Literal["fin", "rst", "refused", "reused", "evicted", "eof"]

#: The teardown's classification (:attr:`~layerpeek.flows.records.Teardown.kind`).
CloseKind = Literal["four-way", "simultaneous", "half-close", "rst", "refused", "open", "evicted"]

#: What ended a stream, by :data:`CloseHow`, as a clause ("… because the connection
#: closed"): the one table of these texts; the HTTP readers and pairer build on it.
CLOSE_TEXTS: dict[CloseHow, str] = {
    "fin": "the connection closed",
    "rst": "the connection was reset (RST)",
    "eof": "the capture ended",
    "reused": "the connection was reused",
    "refused": "the connection was refused",
    "evicted": "the tracker dropped the connection (table full)",
}

#: The short label of a conversation's end where a ladder marks it, by :data:`CloseKind`
#: (None: the frames are marked as the teardown's FINs).
CLOSE_LABELS: dict[CloseKind, str] = {
    "rst": "abort (RST)",
    "refused": "refused (RST)",
}


@dataclass(slots=True)
class ConnectionOpened:
    """The first packet of a conversation was seen.

    ``how`` is ``"handshake"`` (it began with a SYN), ``"synack"`` (the first
    packet was the server's SYN-ACK: the SYN was not captured) or
    ``"midstream"`` (picked up after the handshake).
    """

    conversation: int
    how: OpenedHow
    ts_ns: int
    frame: int = 0  #: the frame that opened it
    client: Endpoint | None = None  #: the endpoint taken as the client (the SYN's sender)
    server: Endpoint | None = None


@dataclass(slots=True)
class StateChanged:
    """One endpoint's TCP state moved (an entry of the ``TRANSITIONS`` table fired)."""

    conversation: int
    endpoint: Direction
    frame: int
    ts_ns: int
    old: TCPState
    new: TCPState
    why: str  #: plain language, e.g. "received FIN (frame 7)"


@dataclass(slots=True)
class UnexpectedSegment:
    """A segment the state table has no entry for: recorded, never raised.

    Captures contain odd things (a FIN before any SYN-ACK, a SYN on an
    established connection); the endpoint's state is left as it was.
    """

    conversation: int
    endpoint: Direction
    frame: int
    ts_ns: int
    state: TCPState
    segment: Segment


@dataclass(slots=True)
class StreamData:
    """Bytes of one direction's stream, in order, each byte delivered exactly once."""

    conversation: int
    direction: Direction  #: who SENT the bytes
    offset: int  #: byte offset in that direction's stream (0 = first byte after the SYN)
    data: bytes = field(repr=False)
    frames: tuple[int, ...] = ()  #: frames that carried these bytes
    ts_ns: int = 0  #: time of the frame that made them deliverable


@dataclass(slots=True)
class StreamGap:
    """Bytes of a stream that were never captured: a hole, never zero-filled.

    ``reason`` says why the stream moved on past it: ``"acked"`` (the receiver
    acknowledged bytes the capture never showed), ``"fin"``, ``"rst"``,
    ``"end of capture"`` or ``"buffer cap"`` (too much out-of-order data was
    waiting behind the hole).
    """

    conversation: int
    direction: Direction
    offset: int
    length: int
    reason: str
    ts_ns: int


@dataclass(slots=True)
class StreamInconsistency:
    """A retransmission or overlap carried *different* bytes than the first copy.

    Reassembly keeps the first copy (see :mod:`layerpeek.flows.reassembly`);
    this reports the disagreement so it is not silently hidden.
    """

    conversation: int
    direction: Direction
    offset: int
    length: int
    frame: int  #: the frame of the later copy (whose bytes were not used)
    ts_ns: int
    first_frame: int = 0  #: the frame that carried the first copy (used), 0 if unknown


@dataclass(slots=True)
class ConnectionClosed:
    """The conversation ended (or the capture did).

    ``how``: ``"fin"`` (both directions closed with FIN), ``"rst"`` (aborted),
    ``"refused"`` (SYN answered by RST), ``"reused"`` (a new connection took
    over the same addresses and ports), ``"evicted"`` (still open when the
    connection table was full; see ``TCPTracker(max_connections=...)``) or
    ``"eof"`` (still open when the capture ended, from ``finish()``).  The
    detailed teardown classification is on the conversation object
    (``tracker.conversations[n].close``).
    """

    conversation: int
    how: CloseHow
    ts_ns: int


@dataclass(slots=True)
class ConversationSummary:
    """A TCP or UDP conversation's summary, once nothing can change it any more.

    Raised once per conversation: when the tracker lets it go (two minutes
    of capture time after its close, evicted from a full table, its 5-tuple
    reused by a new connection) or at the end of the input.  A consumer that
    wants every conversation (``layerpeek flows``, the story) collects these
    instead of keeping the tracker's table.
    """

    summary: TCPConversation | UDPConversation


@dataclass(slots=True)
class Problem:
    """Something a stage could not follow, in plain language (a stream hole in DNS over TCP,
    bytes skipped inside an HTTP stream …); the stage also keeps it in its ``problems``."""

    stage: str  #: the stage's name, e.g. ``"http"``
    text: str


#: Everything ``TCPTracker.feed`` may return.
Event = (
    ConnectionOpened
    | StateChanged
    | UnexpectedSegment
    | StreamData
    | StreamGap
    | StreamInconsistency
    | ConnectionClosed
    | ConversationSummary
)
