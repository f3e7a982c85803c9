"""The QUIC stage of :class:`~layerpeek.analysis.Analysis`: connections, decryption, HTTP/3.

Theory of operation
===================

A QUIC connection is not a 5-tuple: each side names the other by
connection ids it chose (and may change, and may keep when its address
changes: *migration*), and every packet but the first Initials is
encrypted.  This stage follows connections the way Wireshark does:

* A client's first Initial (decrypted by the per-datagram decoder with keys
  from its own DCID) opens a connection.  The ids each side announces (the
  long headers' SCIDs, a Retry's SCID, NEW_CONNECTION_ID frames) are
  indexed, so every later packet is found by the DCID it carries: a long
  header says its length, a short header does not, so each known id length
  is tried.  A packet whose DCID is known but whose address is new is the
  connection migrating (told once per new address).
* Initial packets of both sides are decrypted with the keys of the client's
  first DCID (after a Retry: the Retry's SCID; RFC 9001 §5.2).  Handshake,
  0-RTT and 1-RTT packets take their secrets from the key log, found by the
  ClientHello's random; the cipher suite is the ServerHello's.  A 1-RTT
  packet whose key-phase bit flips is tried with the next keys (RFC 9001
  §6), and the connection moves to them when it authenticates.
* CRYPTO frames are reassembled per encryption level and direction into
  the TLS handshake messages of :mod:`layerpeek.tls.handshake` (SNI, ALPN,
  transport parameters), shown on the packet that completed each one.
  STREAM frames are reassembled per stream and, on a connection whose ALPN
  is ``h3``, read by :class:`~layerpeek.quic.http3.HTTP3Connection` into
  :class:`~layerpeek.http.message.HTTPExchange` records.

Each decrypted packet's frames are written into its
:class:`~layerpeek.quic.packets.QUICPacket` in place (the layer belongs to
that packet alone), so ``dump`` and the display filters see them.

Bounds and damage: at most ``max_connections`` connections are followed
(the oldest is let go, counted); each CRYPTO stream holds at most
``max_crypto`` bytes ahead of its next offset, each stream ``max_stream``
bytes, all streams of a connection together ``max_held``, and HTTP/3
bodies are kept up to ``max_body`` bytes each; a packet that does not
decrypt (no key, wrong key, damaged tag) is reported on its connection with
the reason, once per kind, and nothing else is lost.
"""

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from layerpeek.errors import Short
from layerpeek.flows.events import Problem
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.udp import UDP
from layerpeek.packet import Malformed, Packet, Payload
from layerpeek.quic import frames as qf
from layerpeek.quic import versions as v
from layerpeek.quic.packets import QUIC, QUICPacket, fill, parse_long, split_messages
from layerpeek.quic.packets import decode as decode_datagram
from layerpeek.quic.reassembly import Reassembly
from layerpeek.tls import keylog as kl
from layerpeek.tls.handshake import ClientHello, HandshakeMessage, ServerHello
from layerpeek.tls.keylog import KeyLog

if TYPE_CHECKING:
    from layerpeek.analysis import Step
    from layerpeek.quic.http3 import HTTP3Connection
    from layerpeek.quic.protection import PacketKeys

#: Encryption levels, by packet kind.
LEVELS = {v.INITIAL: "initial", v.ZERO_RTT: "0-rtt", v.HANDSHAKE: "handshake", v.ONE_RTT: "1-rtt"}
#: Streams followed at once per connection (each holds at most ``max_stream`` bytes ahead).
MAX_STREAMS = 10_000
#: Packet-number spaces (0-RTT and 1-RTT share the application space).
SPACES = {"initial": "initial", "handshake": "handshake", "0-rtt": "application",
          "1-rtt": "application"}
#: Key-log labels by (level, sender).
LABELS = {
    ("handshake", "client"): kl.CLIENT_HANDSHAKE, ("handshake", "server"): kl.SERVER_HANDSHAKE,
    ("1-rtt", "client"): kl.CLIENT_TRAFFIC_0, ("1-rtt", "server"): kl.SERVER_TRAFFIC_0,
    ("0-rtt", "client"): kl.CLIENT_EARLY,
}


@dataclass(slots=True)
class QUICHandshake:
    """A TLS handshake message read from a connection's CRYPTO frames."""

    connection: int
    direction: str  #: who sent it
    level: str  #: "initial" or "handshake" (or "1-rtt": NewSessionTicket)
    message: HandshakeMessage
    frame: int  #: the frame that completed it
    ts_ns: int


@dataclass(slots=True, eq=False)
class QUICConnection:
    """What the stage knows of one connection (also its summary at the end)."""

    index: int  #: 0-based, in order of the first Initial
    client: tuple[str, int]  #: address and port the client sends from (the latest, after migration)
    server: tuple[str, int]
    version: int
    original_dcid: bytes  #: the client's first Destination Connection ID
    initial_dcid: bytes  #: where the Initial keys come from (the Retry's SCID after a Retry)
    first_ts_ns: int
    last_ts_ns: int = 0
    first_frame: int = 0
    udp_stream: int | None = None  #: udp.stream of the first packet (when step.flow is built)
    client_cids: set[bytes] = field(default_factory=set)  #: ids the client chose
    server_cids: set[bytes] = field(default_factory=set)  #: ids the server chose
    client_random: bytes | None = None
    sni: str | None = None
    alpn: str | None = None  #: the protocol the server chose
    offered_alpn: tuple[str, ...] = ()  #: the protocols the client offered
    suite: int | None = None
    #: the moments the explainer tells: client's first Initial, server's Initial,
    #: handshake complete (HANDSHAKE_DONE), in capture nanoseconds
    server_hello_ts_ns: int | None = None
    handshake_done_ts_ns: int | None = None
    retry: bool = False
    negotiated_versions: tuple[int, ...] = ()  #: the Version Negotiation's list, if any
    migrations: list[str] = field(default_factory=list)
    zero_rtt: int = 0  #: 0-RTT packets the client sent (early data of a resumed session)
    #: frames that carried the TLS handshake (the first 32)
    handshake_frames: list[int] = field(default_factory=list)
    key_updates: dict[str, int] = field(default_factory=dict)
    close: str | None = None  #: the CONNECTION_CLOSE, in words
    packets: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    undecrypted: dict[str, int] = field(default_factory=dict)  #: level → packets left encrypted
    problems: list[str] = field(default_factory=list)
    exchanges: int = 0
    # ---- state (not part of the summary)
    _keys: dict[tuple[str, str, int], list[PacketKeys]] = field(default_factory=dict, repr=False)
    _phase: dict[str, int] = field(default_factory=dict, repr=False)
    _largest: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _crypto: dict[tuple[str, str], Reassembly] = field(default_factory=dict, repr=False)
    _handshake: dict[tuple[str, str], bytearray] = field(default_factory=dict, repr=False)
    _streams: dict[tuple[int, str], Reassembly] = field(default_factory=dict, repr=False)
    _h3: HTTP3Connection | None = field(default=None, repr=False)
    _held: int = field(default=0, repr=False)  #: stream bytes held out of order, all streams

    @property
    def handshake_rtt_ns(self) -> int | None:
        """From the client's first Initial to the server's answer: one round trip."""
        if self.server_hello_ts_ns is None:
            return None
        return self.server_hello_ts_ns - self.first_ts_ns

    @property
    def state(self) -> str:
        """How far the handshake got: ``Initial``, ``handshake``, ``established``, ``closed``."""
        if self.close is not None:
            return "closed"
        if self.handshake_done_ts_ns is not None:
            return "established"
        return "handshake" if self.server_hello_ts_ns is not None else "Initial"

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (``flows --json`` puts it under ``quic``)."""
        return {
            "connection": self.index, "version": self.version,
            "original_dcid": self.original_dcid.hex(),
            "client_cids": sorted(c.hex() for c in self.client_cids),
            "server_cids": sorted(c.hex() for c in self.server_cids),
            "sni": self.sni, "alpn": self.alpn, "cipher_suite": self.suite,
            "state": self.state, "handshake_rtt_ns": self.handshake_rtt_ns,
            "retry": self.retry, "negotiated_versions": list(self.negotiated_versions),
            "zero_rtt_packets": self.zero_rtt, "key_updates": dict(self.key_updates),
            "migrations": list(self.migrations),
            "close": self.close, "undecrypted": dict(self.undecrypted),
            "http3_exchanges": self.exchanges, "problems": list(self.problems),
        }

    def problem(self, text: str) -> bool:
        """Record a problem once; True if it is new."""
        if text in self.problems:
            return False
        self.problems.append(text)
        return True

    def describe(self) -> str:
        c = f"{self.client[0]}:{self.client[1]}"
        s = f"{self.server[0]}:{self.server[1]}"
        return f"QUIC connection {self.index} ({c} → {s}, DCID {self.original_dcid.hex()})"


def _endpoints(packet: Packet) -> tuple[tuple[str, int], tuple[str, int]] | None:
    udp = packet.get(UDP)
    if udp is None:
        return None
    ip: IPv4 | IPv6 | None = packet.get(IPv4) or packet.get(IPv6)
    if ip is None:
        return None
    return (str(ip.src_ip), udp.src_port), (str(ip.dst_ip), udp.dst_port)


class QUICStage:
    """QUIC connections in the analysis pipeline (see the module docstring).

    ``keylog`` is a :class:`~layerpeek.tls.keylog.KeyLog`, a path, or None
    (Initial packets and headers only).  ``keep_connections`` keeps every
    :class:`QUICConnection` in :attr:`finished` for summaries.
    """

    stage_name: ClassVar[str] = "quic"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {"udp": {}}
    #: The udp.stream of a connection is read from ``step.flow`` when the analysis builds
    #: it (dump, explain); commands that spare that cost (flows, http without -Y) match
    #: connections to conversations by their first frame instead.
    needs_flow_info: ClassVar[bool] = False

    def __init__(self, keylog: KeyLog | str | os.PathLike[str] | None = None, *,
                 keep_connections: bool = True, max_connections: int = 10_000,
                 max_crypto: int = 256 * 1024, max_stream: int = 4 * 1024 * 1024,
                 max_body: int = 16 * 1024 * 1024, max_held: int = 32 * 1024 * 1024) -> None:
        if keylog is not None and not isinstance(keylog, KeyLog):
            keylog = KeyLog.load(keylog)
        self.keylog = keylog
        self.keep_connections = keep_connections
        self.max_connections = max_connections
        self.max_crypto = max_crypto
        self.max_stream = max_stream
        self.max_body = max_body
        self.max_held = max_held
        self.connections: OrderedDict[int, QUICConnection] = OrderedDict()
        self.finished: list[QUICConnection] = []
        self.evicted = 0
        #: connections let go with packets left encrypted (the problem summary counts them)
        self.not_decrypted = 0
        self._by_cid: dict[bytes, QUICConnection] = {}
        self._by_addr: dict[tuple[tuple[str, int], tuple[str, int]], QUICConnection] = {}
        self._cid_lengths: set[int] = set()
        self._count = 0

    # -- the stage shape -----------------------------------------------------

    def on_packet(self, step: Step) -> list[object]:
        packet = step.packet
        layers = packet.layers
        if not layers:
            return []
        # The QUIC layer ends the chain (or comes just before a Malformed marker): two
        # type checks per packet, not a walk over every layer of every TCP segment.
        last = layers[-1]
        layer: QUIC | None = None
        if type(last) is QUIC:
            layer = last
        elif type(last) is Malformed and len(layers) > 1 and type(layers[-2]) is QUIC:
            layer = layers[-2]
        if layer is None:
            if not self._by_addr or not isinstance(packet.layers[-1], Payload):
                return []
            ends = _endpoints(packet)
            if ends is None or ends not in self._by_addr:
                return []
            # A QUIC connection on a port nobody claims: its later datagrams are QUIC too.
            start, end = packet.spans[-1]
            new, _ = decode_datagram(packet.data, start, end)
            assert isinstance(new, QUIC)
            layer = new
            step.packet = packet = dataclasses.replace(
                packet, layers=(*packet.layers[:-1], layer))
        span = packet.span_of(QUIC)
        ends = _endpoints(packet)
        if span is None or ends is None:
            return []
        out: list[object] = []
        self._datagram(packet, layer, span, ends, step, out)
        return out

    def on_finish(self, events: Sequence[object]) -> list[object]:
        out: list[object] = []
        for conn in list(self.connections.values()):
            self._close(conn, out)
        self.connections.clear()
        return out

    # -- connections ---------------------------------------------------------

    def _open(self, packet: Packet, first: QUICPacket, ends: tuple[tuple[str, int],
              tuple[str, int]], step: Step, out: list[object]) -> QUICConnection:
        assert first.dcid is not None and first.version is not None
        if len(self.connections) >= self.max_connections:
            _, oldest = self.connections.popitem(last=False)
            self.evicted += 1
            oldest.problem(f"let go after {self.max_connections} connections were open")
            self._close(oldest, out)
        conn = QUICConnection(self._count, ends[0], ends[1], first.version, first.dcid,
                              first.dcid, packet.ts_ns, first_frame=packet.index)
        if step.flow is not None and step.flow.proto == "udp":
            conn.udp_stream = step.flow.stream
        self._count += 1
        self.connections[conn.index] = conn
        self._index(conn, "server", first.dcid)  # the client reaches the server by it, for now
        self._by_addr[ends] = conn
        self._by_addr[(ends[1], ends[0])] = conn
        return conn

    def _index(self, conn: QUICConnection, owner: str, cid: bytes) -> None:
        (conn.client_cids if owner == "client" else conn.server_cids).add(cid)
        if cid:
            self._by_cid[cid] = conn
            self._cid_lengths.add(len(cid))

    def _close(self, conn: QUICConnection, out: list[object]) -> None:
        if conn._h3 is not None:
            for ex in conn._h3.finish():
                conn.exchanges += 1
                out.append(ex)
            for text in conn._h3.problems:
                conn.problem(f"HTTP/3: {text}")
        for level, n in conn.undecrypted.items():
            conn.problem(f"{n} {level} packet(s) not decrypted")
        if conn.undecrypted:
            self.not_decrypted += 1
        for text in conn.problems:
            out.append(Problem("quic", f"{conn.describe()}: {text}"))
        for cid in conn.client_cids | conn.server_cids:
            if self._by_cid.get(cid) is conn:
                del self._by_cid[cid]
        for key in [k for k, c in self._by_addr.items() if c is conn]:
            del self._by_addr[key]
        conn._keys.clear()
        conn._crypto.clear()
        conn._streams.clear()
        conn._handshake.clear()
        conn._h3 = None
        out.append(QUICConversation(conn))
        if self.keep_connections:
            self.finished.append(conn)

    def _find(self, buf: bytes, pos: int, qp: QUICPacket,
              ends: tuple[tuple[str, int], tuple[str, int]]) -> QUICConnection | None:
        if qp.long_header:
            conn = self._by_cid.get(qp.dcid) if qp.dcid else None
            if conn is None and qp.scid:
                conn = self._by_cid.get(qp.scid)
            return conn or (self._by_addr.get(ends) if not qp.dcid else None)
        for length in sorted(self._cid_lengths, reverse=True):
            conn = self._by_cid.get(buf[pos + 1 : pos + 1 + length])
            if conn is not None:
                qp.dcid = buf[pos + 1 : pos + 1 + length]
                return conn
        conn = self._by_addr.get(ends)
        if conn is not None:
            qp.dcid = b""
        return conn

    # -- one datagram --------------------------------------------------------

    def _datagram(self, packet: Packet, layer: QUIC, span: tuple[int, int],
                  ends: tuple[tuple[str, int], tuple[str, int]], step: Step,
                  out: list[object]) -> None:
        buf = packet.data
        pos = span[0]
        for qp in layer.packets:
            conn = self._find(buf, pos, qp, ends)
            if conn is None and qp.kind == v.INITIAL and qp.decrypted and any(
                    isinstance(m, ClientHello) for m in qp.messages):
                conn = self._open(packet, qp, ends, step, out)
            if conn is None:
                if not qp.long_header:
                    qp.problem = ("1-RTT packet of a connection whose start is not in the "
                                  "capture: its connection id and keys are unknown")
                pos += qp.size
                continue
            sender = "client" if ends[0] == conn.client or ends[1] == conn.server else "server"
            if sender == "client" and ends[0] != conn.client and not qp.long_header:
                conn.migrations.append(f"frame {packet.index}: the client moved from "
                                       f"{conn.client[0]}:{conn.client[1]} to "
                                       f"{ends[0][0]}:{ends[0][1]}")
                conn.client = ends[0]
                self._by_addr[ends] = conn
                self._by_addr[(ends[1], ends[0])] = conn
            conn.packets[sender] += 1
            conn.last_ts_ns = packet.ts_ns
            self._packet(conn, sender, buf, pos, qp, packet, out)
            pos += qp.size

    def _packet(self, conn: QUICConnection, sender: str, buf: bytes, pos: int, qp: QUICPacket,
                packet: Packet, out: list[object]) -> None:
        if (qp.long_header and qp.scid is not None and qp.kind != v.VERSION_NEGOTIATION
                and qp.scid not in (conn.client_cids if sender == "client"
                                    else conn.server_cids)):
            self._index(conn, sender, qp.scid)
        if qp.kind == v.VERSION_NEGOTIATION:
            conn.negotiated_versions = qp.supported_versions
            self._restart(conn)
            return
        if qp.kind == v.RETRY:
            self._retry(conn, buf, pos, qp)
            self._restart(conn)
            return
        if qp.long_header and qp.version is not None:
            conn.version = qp.version
        level = LEVELS[qp.kind]
        if level == "0-rtt":
            conn.zero_rtt += 1
        if sender == "server" and qp.kind == v.INITIAL and conn.server_hello_ts_ns is None:
            conn.server_hello_ts_ns = packet.ts_ns
        if not qp.decrypted:
            self._decrypt(conn, sender, level, buf, pos, qp)
        if not qp.decrypted:
            conn.undecrypted[level] = conn.undecrypted.get(level, 0) + 1
            return
        space = (SPACES[level], sender)
        if qp.packet_number is not None:
            conn._largest[space] = max(conn._largest.get(space, -1), qp.packet_number)
        messages: list[HandshakeMessage] = []
        for frame in qp.frames:
            if isinstance(frame, qf.Crypto):
                messages.extend(self._crypto(conn, sender, level, frame, packet, out))
            elif isinstance(frame, qf.Stream):
                self._stream(conn, sender, frame, packet, out)
            elif isinstance(frame, qf.NewConnectionId):
                self._index(conn, sender, frame.connection_id)
            elif isinstance(frame, qf.HandshakeDone):
                conn.handshake_done_ts_ns = packet.ts_ns
            elif isinstance(frame, qf.ConnectionClose):
                conn.close = f"{sender}: {frame.error}" + (f" {frame.reason!r}"
                                                          if frame.reason else "")
            elif isinstance(frame, qf.FrameProblem):
                conn.problem(f"frame {packet.index}: {frame.reason}")
        if conn._h3 is not None and conn._h3.frames_by_packet:
            qp.http3_frames = tuple(conn._h3.frames_by_packet.pop(packet.index, ()))
        if messages:
            qp.messages = tuple(messages)
        elif qp.kind == v.INITIAL and qp.messages:
            qp.messages = ()  # the decoder's one-datagram view; the reassembly decides

    def _restart(self, conn: QUICConnection) -> None:
        """After a Retry or a Version Negotiation the client starts its handshake again:
        a new ClientHello from CRYPTO offset 0 (its random, hence its secrets, may be new)."""
        for key in [k for k in conn._crypto if k[0] == "initial"]:
            del conn._crypto[key]
        for key in [k for k in conn._handshake if k[0] == "initial"]:
            del conn._handshake[key]

    def _retry(self, conn: QUICConnection, buf: bytes, pos: int, qp: QUICPacket) -> None:
        from layerpeek.quic.protection import retry_tag_valid

        conn.retry = True
        assert qp.scid is not None and qp.version is not None
        valid = retry_tag_valid(buf[pos : pos + qp.size], conn.original_dcid, qp.version)
        if valid is False:
            conn.problem("the Retry's integrity tag does not match the client's first DCID")
        conn.initial_dcid = qp.scid  # the client's next Initials are keyed from it

    # -- keys and decryption -------------------------------------------------

    def _keys_for(self, conn: QUICConnection, sender: str, level: str,
                  suite: int) -> list[PacketKeys]:
        """[current] or [current, next] keys for the level, derived on first use; [] when
        the key log has no secret for it."""
        from layerpeek.quic.protection import PacketKeys, initial_keys

        if level == "initial":
            # Not kept: a Retry or a Version Negotiation changes the DCID or the version.
            pair = initial_keys(conn.version, conn.initial_dcid)
            return [] if pair is None else [pair[0] if sender == "client" else pair[1]]
        keys = conn._keys.get((level, sender, suite))
        if keys is not None:
            return keys
        label = LABELS.get((level, sender))
        secret = None
        if self.keylog is not None and conn.client_random is not None and label is not None:
            secret = self.keylog.get(label, conn.client_random)
        version = v.VERSIONS.get(conn.version)
        if secret is None or version is None:
            return []
        keys = [PacketKeys.from_secret(secret, suite, version)]
        conn._keys[(level, sender, suite)] = keys
        return keys

    def _decrypt(self, conn: QUICConnection, sender: str, level: str, buf: bytes, pos: int,
                 qp: QUICPacket) -> None:
        from layerpeek.quic.protection import INITIAL_SUITE, SUITES, names_of_suite

        if level == "initial":
            suites = [INITIAL_SUITE]
        elif conn.suite is not None:
            suites = [conn.suite]
        else:  # the ServerHello was not seen: try each suite QUIC allows
            suites = list(SUITES)
        for suite in suites:
            keys = self._keys_for(conn, sender, level, suite)
            if not keys:
                if level == "initial":
                    qp.problem = f"no Initial salt known for version {v.version_name(conn.version)}"
                elif self.keylog is None:
                    qp.problem = f"{level}: no key log given"
                elif conn.client_random is None:
                    qp.problem = f"{level}: no ClientHello seen, so its secrets cannot be found"
                else:
                    qp.problem = f"{level}: the key log has no {sender} secret for this connection"
                return
            if self._unprotect(conn, sender, level, buf, pos, qp, keys, suite,
                               last=suite == suites[-1]):
                if conn.suite is None and level not in ("initial", "0-rtt"):
                    # (0-RTT comes before the ServerHello: its suite is the resumed
                    # session's, found by trying each without any doubt raised.)
                    conn.suite = suite
                    conn.problem(f"the ServerHello was not seen: cipher suite "
                                 f"{names_of_suite(suite)} found by trying each")
                return

    def _unprotect(self, conn: QUICConnection, sender: str, level: str, buf: bytes, pos: int,
                   qp: QUICPacket, keys: list[PacketKeys], suite: int, last: bool) -> bool:
        """Unprotect one packet with ``keys`` (the next phase too); True when it worked."""
        from layerpeek.quic.protection import (
            DecryptError,
            decode_packet_number,
            remove_header_protection,
        )

        end = pos + qp.size
        if qp.long_header:
            try:
                _, pn_offset = parse_long(buf, pos, end)
            except Short:  # parsed once already by the decoder: cannot happen
                return False
        else:
            pn_offset = pos + 1 + len(qp.dcid or b"")
        try:
            first, pn_len, header = remove_header_protection(buf, pos, pn_offset, end, keys[0])
        except DecryptError as e:
            qp.problem = str(e)
            conn.problem(f"{level} {sender}: {e}")
            return False
        space = (SPACES[level], sender)
        number = decode_packet_number(int.from_bytes(header[-pn_len:], "big"), pn_len,
                                      conn._largest.get(space, -1) + 1)
        key = keys[0]
        if level == "1-rtt" and (first >> 2) & 1 != conn._phase.get(sender, 0):
            if len(keys) < 2:
                keys.append(keys[0].next_phase())
            key = keys[1]
        try:
            payload = key.open(number, header, buf[pn_offset + pn_len : end])
        except DecryptError as e:
            if last:
                qp.problem = str(e)
                conn.problem(f"{level} {sender}: {e}")
            return False
        if key is not keys[0]:
            # The key update took: the next keys are now the current ones.
            conn._phase[sender] = (first >> 2) & 1
            conn._keys[(level, sender, suite)] = [key]
            conn.key_updates[sender] = conn.key_updates.get(sender, 0) + 1
        fill(qp, first, number, payload)
        return True

    # -- CRYPTO and STREAM ---------------------------------------------------

    def _crypto(self, conn: QUICConnection, sender: str, level: str, frame: qf.Crypto,
                packet: Packet, out: list[object]) -> list[HandshakeMessage]:
        key = (level, sender)
        stream = conn._crypto.get(key)
        if stream is None:
            stream = conn._crypto[key] = Reassembly(self.max_crypto)
        data, refused = stream.add(frame.offset, frame.data)
        if refused:
            conn.problem(f"{level} CRYPTO from the {sender}: {refused}")
        if not data:
            return []
        pending = conn._handshake.setdefault(key, bytearray())
        pending += data
        messages, used = split_messages(bytes(pending))
        del pending[:used]
        frames = conn.handshake_frames
        if len(frames) < 32 and (not frames or frames[-1] != packet.index):
            frames.append(packet.index)
        for message in messages:
            self._handshake_message(conn, sender, message)
            out.append(QUICHandshake(conn.index, sender, level, message, packet.index,
                                     packet.ts_ns))
        return list(messages)

    def _handshake_message(self, conn: QUICConnection, sender: str,
                           message: HandshakeMessage) -> None:
        if isinstance(message, ClientHello):
            conn.client_random = message.random
            conn.sni = message.server_name
            conn.offered_alpn = message.alpn
        elif isinstance(message, ServerHello):
            conn.suite = message.cipher_suite
        elif getattr(message, "kind", "") == "EncryptedExtensions":
            from layerpeek.tls.handshake import ALPN, find

            alpn = find(getattr(message, "extensions", ()), ALPN)
            if alpn is not None and alpn.protocols:
                conn.alpn = alpn.protocols[0]

    def _stream(self, conn: QUICConnection, sender: str, frame: qf.Stream, packet: Packet,
                out: list[object]) -> None:
        key = (frame.stream_id, sender)
        stream = conn._streams.get(key)
        if stream is None:
            if len(conn._streams) >= MAX_STREAMS:
                conn.problem(f"more than {MAX_STREAMS} streams open at once: "
                             f"stream {frame.stream_id} not followed")
                return
            stream = conn._streams[key] = Reassembly(self.max_stream)
        fin_at = frame.offset + len(frame.data) if frame.fin else None
        before = stream.held
        data, refused = stream.add(frame.offset, frame.data)
        conn._held += stream.held - before
        if refused:
            conn.problem(f"stream {frame.stream_id} from the {sender}: {refused}")
        if conn._held > self.max_held:
            # Out-of-order data of all streams together is bounded too: this stream's is let
            # go (its reader then sees a hole: the exchange is reported incomplete).
            conn._held -= stream.held
            stream.pending.clear()
            stream.held = 0
            conn.problem(f"more than {self.max_held} bytes held out of order on the "
                         f"connection: stream {frame.stream_id}'s dropped")
        ended = fin_at is not None and stream.delivered >= fin_at
        if ended:
            conn._held -= stream.held
            del conn._streams[key]
        # The server's choice is in EncryptedExtensions; if that was lost, a client that
        # offered only HTTP/3 can have chosen nothing else.
        alpn = conn.alpn or (conn.offered_alpn[0] if len(conn.offered_alpn) == 1 else "")
        if not alpn.startswith("h3") or not (data or ended):
            return
        if conn._h3 is None:
            try:
                import pylsqpack  # noqa: F401  (QPACK: the quic extra)
            except ImportError:
                conn.problem("HTTP/3 not read: its header blocks need the pylsqpack package "
                             "(pip install 'layerpeek[quic]')")
                return
            from layerpeek.quic.http3 import HTTP3Connection

            conn._h3 = HTTP3Connection(
                conn.udp_stream if conn.udp_stream is not None else conn.index,
                f"{conn.client[0]}:{conn.client[1]}", f"{conn.server[0]}:{conn.server[1]}",
                max_body=self.max_body)
        for ex in conn._h3.stream_data(frame.stream_id, sender, data, ended, packet.index,
                                       packet.ts_ns):
            conn.exchanges += 1
            out.append(ex)


@dataclass(slots=True)
class QUICConversation:
    """A QUIC connection's summary, once the stage lets it go (like ConversationSummary)."""

    connection: QUICConnection


__all__ = ["QUICConnection", "QUICConversation", "QUICHandshake", "QUICStage"]
