"""Each packet's HTTP/2 frames, for ``dump``: a conversation stage (sans-IO).

Theory of operation
===================

HTTP/2 cannot be decoded from one segment alone: frames ignore segment
boundaries, and a header block needs the HPACK table built by every block
before it.  So, as Wireshark does, the frames are read from the reassembled
streams and shown on the packet that carried each frame's last byte.

:class:`HTTP2PacketStage` sits after the TCP tracker.  ``feed(packet,
events)`` takes the packet and the tracker events it caused and returns the
packet, with an :class:`~layerpeek.layers.http2.HTTP2` layer in place of the
undecoded payload when frames (or the preface) were completed by it.  Per
conversation it decides once, from the client's first bytes, by content and
on any port:

* a server that speaks first with a SETTINGS frame (its side of the
  preface, RFC 9113 §3.4), or the client's 24-byte connection preface:
  HTTP/2 from the first byte (prior
  knowledge, or TLS with ALPN ``h2``: the TLS stage's
  :class:`~layerpeek.tls.events.DecryptedData` is read in place of the
  connection's ciphertext, as the HTTP pairer reads it);
* an HTTP/1.1 request with ``Upgrade: h2c``: the HTTP/1.x readers follow
  the connection until the server's answer; a ``101`` switches both
  directions to HTTP/2 from the byte after the upgrade messages;
* anything else, or a connection picked up mid-stream (the HPACK state is
  unknown): not HTTP/2, never looked at again.

The cost for a conversation that is not HTTP/2 is one look at its first
bytes; a connection's state is dropped when the tracker closes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, cast

from layerpeek.flows.events import ConnectionClosed, ConnectionOpened, Event, StreamData, StreamGap
from layerpeek.http.reader import MessageReader, RequestReader, ResponseReader
from layerpeek.http2.connection import FrameRead, HTTP2Connection, PrefaceRead, Read, ReadStopped
from layerpeek.layers.http import STARTS as HTTP1_STARTS
from layerpeek.layers.http2 import (
    FRAME_HEADER_LEN,
    HTTP2,
    PREFACE,
    FrameType,
    HTTP2Frame,
    frame_header,
)
from layerpeek.layers.tcp import TCP
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.tls.events import DecryptedData

if TYPE_CHECKING:
    from layerpeek.analysis import Step

#: Server bytes held, while the client has not yet said what it speaks, before giving up.
HOLD_LIMIT = 64 * 1024

# What a conversation is known to be.
SNIFF = "sniff"
UPGRADE = "upgrade"
H2 = "h2"
OTHER = "other"


@dataclass(slots=True, eq=False)
class _Watch:
    state: str = SNIFF
    client: bytearray = field(default_factory=bytearray)  # first client bytes (≤ 24)
    held: list[StreamData] = field(default_factory=list)  # events held while sniffing
    held_bytes: int = 0
    h2: HTTP2Connection | None = None
    requests: RequestReader | None = None
    responses: ResponseReader | None = None
    request_side: str = "client"
    head: bytearray | None = None  # the client's bytes until its first head ends (UPGRADE)


class HTTP2PacketStage:
    """Tracker events in, each packet's :class:`HTTP2` layer out (see the module docstring).

    In an :class:`~layerpeek.analysis.Analysis` it is the ``"http2_frames"``
    stage: it replaces ``step.packet`` and raises no events of its own.
    """

    stage_name: ClassVar[str] = "http2_frames"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {"tcp": {}}

    def __init__(self) -> None:
        self._watch: dict[int, _Watch] = {}
        self._decrypted: set[int] = set()  # TLS connections read from their plaintext

    def on_packet(self, step: Step) -> Sequence[object]:
        if step.events:
            step.packet = self.feed(step.packet, cast("list[Event]", step.events))
        return ()

    def on_finish(self, events: Sequence[object]) -> Sequence[object]:
        self.finish()
        return ()

    def feed(self, packet: Packet, events: list[Event]) -> Packet:
        """``packet`` itself, or a copy with the HTTP/2 frames it completed as a layer."""
        if not events:
            return packet
        reads: list[Read] = []
        directions: set[tuple[int, str]] = set()
        for event in events:
            if isinstance(event, DecryptedData):
                # A TLS connection's plaintext (TLS stage, key log): read it afresh
                # from its first byte; the connection's ciphertext is ignored from now.
                if event.conversation not in self._decrypted:
                    self._decrypted.add(event.conversation)
                    self._watch[event.conversation] = _Watch(SNIFF)
                event = event.as_stream_data()
            elif (isinstance(event, (StreamData, StreamGap))
                  and event.conversation in self._decrypted):
                continue
            if isinstance(event, (StreamData, StreamGap)):
                watch = self._watch.get(event.conversation)
                if watch is None or watch.state == OTHER:
                    continue
                reads.extend(self._event(watch, event))
                if watch.h2 is not None and isinstance(event, StreamData):
                    directions.add((event.conversation, event.direction))
            elif isinstance(event, ConnectionOpened):
                self._watch[event.conversation] = _Watch(
                    SNIFF if event.how != "midstream" else OTHER)
            elif isinstance(event, ConnectionClosed):
                self._watch.pop(event.conversation, None)
                self._decrypted.discard(event.conversation)
        pending = 0
        for cid, direction in directions:
            watch = self._watch.get(cid)
            if watch is not None and watch.h2 is not None:
                role = "client" if direction == watch.request_side else "server"
                pending = max(pending, watch.h2.pending(role))
        if not reads and not pending:
            return packet
        return with_layer(packet, reads, pending)

    def finish(self) -> None:
        """The capture ended: forget every connection."""
        self._watch.clear()
        self._decrypted.clear()

    # -- per conversation ------------------------------------------------------

    def _event(self, watch: _Watch, event: StreamData | StreamGap) -> list[Read]:
        if watch.state == H2:
            assert watch.h2 is not None
            role = "client" if event.direction == watch.request_side else "server"
            if isinstance(event, StreamGap):
                return watch.h2.gap(role, event.length, event.reason, event.ts_ns)
            return watch.h2.feed(role, event.data, event.frames, event.ts_ns)
        if watch.state == UPGRADE:
            return self._follow_upgrade(watch, event)
        return self._sniff(watch, event)

    def _sniff(self, watch: _Watch, event: StreamData | StreamGap) -> list[Read]:
        if isinstance(event, StreamGap):
            watch.state = OTHER
            watch.held.clear()
            return []
        if event.direction != watch.request_side:
            if not watch.client and not watch.held and server_preface(event.data):
                # The server spoke first, with the SETTINGS frame that must open its
                # side (RFC 9113 §3.4): HTTP/2 now, so its frames show on their packets.
                watch.state = H2
                watch.h2 = HTTP2Connection()
                return self._event(watch, event)
            watch.held.append(event)
            watch.held_bytes += len(event.data)
            if watch.held_bytes > HOLD_LIMIT:
                watch.state = OTHER
                watch.held.clear()
            return []
        need = len(PREFACE) - len(watch.client)
        watch.client += event.data[:need]
        watch.held.append(event)
        client = bytes(watch.client)
        if client == PREFACE:
            watch.state = H2
            watch.h2 = HTTP2Connection()
            held, watch.held = watch.held, []
            out: list[Read] = []
            for old in held:
                out.extend(self._event(watch, old))
            return out
        if PREFACE.startswith(client):
            return []  # the preface so far: wait for more
        if any(s.startswith(client[:len(s)]) or client.startswith(s) for s in HTTP1_STARTS):
            # HTTP/1: follow it until the server says whether it switches to h2c.
            watch.state = UPGRADE
            watch.requests = RequestReader()
            watch.responses = ResponseReader()
            watch.head = bytearray()
            held, watch.held = watch.held, []
            out = []
            for old in held:
                out.extend(self._follow_upgrade(watch, old))
            return out
        watch.state = OTHER
        watch.held.clear()
        return []

    def _follow_upgrade(self, watch: _Watch, event: StreamData | StreamGap) -> list[Read]:
        requests, responses = watch.requests, watch.responses
        assert requests is not None and responses is not None
        to_requests = event.direction == watch.request_side
        reader: MessageReader = requests if to_requests else responses
        if isinstance(event, StreamGap):
            watch.state = OTHER
            return []
        if to_requests and watch.head is not None:
            verdict = mentions_h2c(watch.head, event.data)
            if verdict is False:
                # The first request's head ended without "h2c" anywhere in it: no
                # need to parse it (nor read its body) to know it asks no upgrade.
                self._give_up(watch)
                return []
            if verdict:
                watch.head = None
        messages = reader.feed(event.data, event.frames, event.ts_ns)
        if to_requests:
            if messages and "h2c" not in messages[0].headers.tokens("upgrade"):
                self._give_up(watch)
            return []
        for msg in messages:
            if msg.status == 101 and "h2c" in msg.headers.tokens("upgrade"):
                requests.switch()
                watch.state = H2
                h2 = watch.h2 = HTTP2Connection()
                out = h2.feed("server", responses.take_switched(), event.frames, event.ts_ns)
                out.extend(h2.feed("client", requests.take_switched(), requests.switched_frames,
                                   event.ts_ns))
                watch.requests = watch.responses = None
                return out
            if not msg.informational:
                self._give_up(watch)
                return []
        return []

    @staticmethod
    def _give_up(watch: _Watch) -> None:
        watch.state = OTHER
        watch.requests = watch.responses = None
        watch.head = None


#: How much of the client's first head :func:`mentions_h2c` looks at; past
#: that, the HTTP/1 readers decide as before.
HEAD_LIMIT = 64 * 1024


def mentions_h2c(head: bytearray, data: bytes) -> bool | None:
    """Add ``data`` to the client's first bytes: does its first head mention h2c?

    An upgrade to h2c is asked by the first request's ``Upgrade`` header, so a
    head that ends (at a blank line, found as the HTTP/1 readers find it) with
    no ``h2c`` in it, in any case, asks none: False, and the usual HTTP/1.1
    connection is given up at its first segment, without the readers parsing
    it and every segment of its body.  True: ``h2c`` is in it (or the head
    is longer than :data:`HEAD_LIMIT`), the readers decide.  None: the head
    has not ended yet.
    """
    if len(head) + len(data) > HEAD_LIMIT:
        return True
    start = max(len(head) - 2, 0)
    head += data
    blank = head.find(b"\n\r\n", start)
    bare = head.find(b"\n\n", start)
    ends = [i for i in (blank, bare) if i >= 0]
    if not ends:
        return None
    return b"h2c" in head[:min(ends)].lower()


def server_preface(data: bytes) -> bool:
    """Do these first bytes of a server's stream begin with a SETTINGS frame (not an ACK)?"""
    if len(data) < FRAME_HEADER_LEN:
        return False
    length, ftype, flags, stream = frame_header(data, 0)
    return ftype == FrameType.SETTINGS and flags == 0 and stream == 0 and length % 6 == 0 \
        and length <= 6 * 64


def with_layer(packet: Packet, reads: list[Read], pending: int = 0) -> Packet:
    """``packet`` with an :class:`HTTP2` layer for ``reads`` (after its TCP header)."""
    magic = any(isinstance(r, PrefaceRead) for r in reads)
    frames: tuple[HTTP2Frame, ...] = tuple(r.frame for r in reads if isinstance(r, FrameRead))
    stopped = [r.reason for r in reads if isinstance(r, ReadStopped)]
    layer = HTTP2(magic, frames, pending, "; ".join(stopped))
    layers = list(packet.layers)
    spans = list(packet.spans)
    tcp_at = next((i for i, lay in enumerate(layers) if type(lay) is TCP), -1)
    if tcp_at < 0 or (layers and type(layers[-1]) is Malformed):
        return packet
    after = tcp_at + 1
    if after < len(layers) and type(layers[after]) is Payload:
        layers[after] = layer
    else:
        end = spans[-1][1] if spans else 0
        span = spans[after] if after < len(spans) else (end, end)
        insert: Layer = layer
        layers.append(insert)
        spans.append(span)
    return dataclasses.replace(packet, layers=tuple(layers), spans=tuple(spans))
