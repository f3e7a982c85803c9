"""What one TLS connection showed, gathered from the TLS stage's events: for stories and ladders.

The TLS stage (:mod:`layerpeek.tls.stage`) says what happens record by
record; a reader of a capture wants the connection's account: which server
name and protocols the client asked for, what the server chose, whose
certificate it sent, how many round trips the handshake cost, and then how
much each side sent, and whether layerpeek could read it.  A
:class:`TLSSummary` keeps exactly that, fed the events as they come
(:meth:`TLSSummary.feed`), so it works from the events alone: the story
(:mod:`layerpeek.story`) and the ladders (``layerpeek handshake``, the
notebook's) need not keep the TLS stage's connections.

Round trips are counted from the order of the records, not assumed from the
version: the number of server *flights* (runs of records the server sent
with nothing from the client between) before the client's first
application data.  A full TLS 1.3 handshake is one (two after a
HelloRetryRequest), a full TLS 1.2 handshake two, a resumed TLS 1.2
session one; a client that sends data early (TLS 1.2 False Start) is
counted as it behaved.  Without keys, TLS 1.3 hides the end of the
handshake in application-data records: the client's first such record is
then its Finished, which ends the count at the same place.

Memory is bounded per connection: at most :data:`MAX_MESSAGES` handshake
messages, :data:`MAX_ALERTS` alerts and :data:`MAX_BURSTS` bursts of
application data are kept (the rest are counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from layerpeek.tls import handshake
from layerpeek.tls.certificates import X509Certificate
from layerpeek.tls.events import (
    DecryptedData,
    Frames,
    TLSAlert,
    TLSApplicationData,
    TLSChangeCipherSpec,
    TLSHandshake,
    TLSProblem,
)
from layerpeek.tls.names import alert_level_name, alert_name, cipher_suite_name, version_name
from layerpeek.tls.records import EncryptedHandshake

#: Handshake-phase messages kept per connection (a ladder label each).
MAX_MESSAGES = 64
#: Alerts kept per connection.
MAX_ALERTS = 8
#: Bursts of application data kept per connection (consecutive records of one side).
MAX_BURSTS = 12


def version_words(code: int | None) -> str:
    """``TLS 1.3`` for prose (the tables' ``TLS1.3`` with a space); ``?`` when unknown."""
    if code is None:
        return "?"
    name = version_name(code)
    return name.replace("TLS1.", "TLS 1.").replace("SSL3.", "SSL 3.")


@dataclass(slots=True, frozen=True)
class TLSMessage:
    """One message of the handshake phase as a ladder labels it."""

    direction: str  #: who sent it: "client" or "server" (the TCP tracker's names)
    label: str  #: ``ClientHello SNI=example.test``, ``ChangeCipherSpec``, ``Alert fatal …``
    frames: Frames  #: the frames that carried it (the last one completed it)
    ts_ns: int
    decrypted: bool = False  #: read with the key log (TLS 1.3's encrypted handshake)

    @property
    def frame(self) -> int:
        """The frame that completed the message (where Wireshark shows it)."""
        return self.frames[-1] if self.frames else 0


@dataclass(slots=True)
class Burst:
    """Consecutive application-data records one side sent, with nothing from the other between."""

    direction: str
    records: int
    length: int  #: ciphertext bytes (record fragments)
    first_frame: int
    last_frame: int
    ts_ns: int  #: when the first record was complete
    end_ts_ns: int


@dataclass(slots=True)
class DirectionTotals:
    """Application data one side sent: records, bytes, when."""

    records: int = 0
    length: int = 0  #: ciphertext bytes (record fragments)
    plaintext: int = 0  #: bytes decrypted (0 without keys)
    first_frame: int = 0
    first_ts_ns: int = 0
    last_ts_ns: int = 0


@dataclass(slots=True)
class TLSSummary:
    """One TLS connection's account; see the module docstring.  ``feed`` it TLS events."""

    conversation: int
    client_side: str = "client"  #: the TCP direction that sent the ClientHello
    client_hello: handshake.ClientHello | None = None
    client_hello_frames: Frames = ()
    client_hello_ts_ns: int = 0
    retry: handshake.ServerHello | None = None  #: a HelloRetryRequest
    retry_frames: Frames = ()
    server_hello: handshake.ServerHello | None = None
    server_hello_frames: Frames = ()
    server_hello_ts_ns: int = 0
    alpn: str | None = None  #: negotiated (ServerHello, or TLS 1.3's EncryptedExtensions)
    certificates: tuple[X509Certificate, ...] = ()  #: the server's chain, leaf first
    certificate_frames: Frames = ()
    certificate_decrypted: bool = False  #: read inside TLS 1.3's encrypted handshake
    finished_frames: dict[str, int] = field(default_factory=dict)  #: by TLS role
    finished_ts_ns: dict[str, int] = field(default_factory=dict)
    encrypted_handshake: int = 0  #: handshake records that could not be read (no keys)
    session_tickets: int = 0  #: NewSessionTicket messages seen
    key_updates: int = 0
    messages: list[TLSMessage] = field(default_factory=list)
    messages_dropped: int = 0
    alerts: list[TLSAlert] = field(default_factory=list)
    alerts_dropped: int = 0
    sent: dict[str, DirectionTotals] = field(
        default_factory=lambda: {"client": DirectionTotals(), "server": DirectionTotals()})
    bursts: list[Burst] = field(default_factory=list)
    bursts_dropped: int = 0
    problems: list[TLSProblem] = field(default_factory=list)  #: the first of each kind
    server_flights: int = 0  #: server flights before :attr:`ready_frame`
    #: where the handshake was over for the client: TLS 1.3, its Finished (without keys, its
    #: first protected record); TLS 1.2, the later of the two Finished; or earlier, its
    #: first application data (TLS 1.2 False Start)
    ready_frame: int | None = None
    ready_ts_ns: int | None = None
    _last_direction: str | None = None
    _counting: bool = True
    _switched: set[str] = field(default_factory=set)  #: TLS 1.2 roles past ChangeCipherSpec
    _done: set[str] = field(default_factory=set)  #: TLS 1.2 roles that sent Finished

    # -- facts -----------------------------------------------------------------

    @property
    def version(self) -> int | None:
        return None if self.server_hello is None else self.server_hello.negotiated_version

    @property
    def tls13(self) -> bool:
        return self.version == 0x0304

    @property
    def cipher_suite(self) -> int | None:
        return None if self.server_hello is None else self.server_hello.cipher_suite

    @property
    def server_name(self) -> str | None:
        return None if self.client_hello is None else self.client_hello.server_name

    @property
    def decrypted(self) -> bool:
        """Some application data was decrypted with the key log."""
        return any(t.plaintext for t in self.sent.values())

    @property
    def resumed(self) -> bool:
        """An abbreviated handshake: TLS 1.3 PSK accepted, or the TLS 1.2 session id echoed.

        A TLS 1.2 client offering a session ticket also sends a session id, and
        a server that accepts the ticket echoes it (RFC 5077 §3.4).
        """
        ch, sh = self.client_hello, self.server_hello
        if ch is None or sh is None:
            return False
        if sh.negotiated_version == 0x0304:
            return handshake.find(sh.extensions, handshake.PreSharedKey) is not None
        return bool(sh.session_id) and sh.session_id == ch.session_id

    @property
    def round_trips(self) -> int | None:
        """Server flights before the client could send application data (None: not reached)."""
        if self.ready_frame is None:
            return None
        return self.server_flights

    @property
    def handshake_ns(self) -> int | None:
        """From the ClientHello to :attr:`ready_ts_ns` (None if either is missing)."""
        if self.ready_ts_ns is None or self.client_hello is None:
            return None
        return self.ready_ts_ns - self.client_hello_ts_ns

    def role(self, direction: str) -> str:
        """'client' or 'server' as TLS sees it (who sent the ClientHello)."""
        if self.client_side == "client":
            return direction
        return "server" if direction == "client" else "client"

    def messages_in(self, frame: int) -> list[TLSMessage]:
        """The handshake-phase messages a frame completed, in order."""
        return [m for m in self.messages if m.frame == frame]

    # -- feeding -------------------------------------------------------------------

    def feed(self, event: object) -> None:
        """One TLS event of this connection (others are ignored)."""
        if isinstance(event, TLSHandshake):
            self._flight(event.direction)
            self._handshake(event)
        elif isinstance(event, TLSApplicationData):
            self._application_data(event)
        elif isinstance(event, DecryptedData):
            self.sent[self.role(event.direction)].plaintext += len(event.data)
        elif isinstance(event, TLSChangeCipherSpec):
            self._flight(event.direction)
            if self.server_hello is not None:
                self._switched.add(self.role(event.direction))
            self._message(event.direction, "ChangeCipherSpec", event.frames, event.ts_ns)
        elif isinstance(event, TLSAlert):
            self._flight(event.direction)
            alert = event.alert
            if alert.level is None or alert.description is None:
                label = "Encrypted Alert"
            else:
                label = (f"Alert {alert_level_name(alert.level)} "
                         f"{alert_name(alert.description)}")
            self._message(event.direction, label, event.frames, event.ts_ns, event.decrypted)
            if len(self.alerts) < MAX_ALERTS:
                self.alerts.append(event)
            else:
                self.alerts_dropped += 1
        elif isinstance(event, TLSProblem) and all(p.kind != event.kind
                                                   for p in self.problems):
            self.problems.append(event)

    def _flight(self, direction: str) -> None:
        if not self._counting:
            return
        if self.role(direction) == "server" and self._last_direction != "server":
            self.server_flights += 1
        self._last_direction = self.role(direction)

    def _tls12_finished(self, role: str, frames: Frames, ts_ns: int) -> None:
        """TLS 1.2: the first handshake message after a side's ChangeCipherSpec is its
        Finished; once both sides have sent theirs the handshake is over."""
        if self.tls13 or role not in self._switched or role in self._done:
            return
        self._done.add(role)
        if len(self._done) == 2:
            self._ready(frames, ts_ns)

    def _ready(self, frames: Frames, ts_ns: int) -> None:
        """The client may send application data from here: stop counting round trips."""
        if self._counting:
            self.ready_frame, self.ready_ts_ns = (frames[-1] if frames else 0), ts_ns
            self._counting = False

    def _message(self, direction: str, label: str, frames: Frames, ts_ns: int,
                 decrypted: bool = False) -> None:
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(TLSMessage(direction, label, frames, ts_ns, decrypted))
        else:
            self.messages_dropped += 1

    def _handshake(self, event: TLSHandshake) -> None:
        msg = event.message
        frames, ts = event.frames, event.ts_ns
        if isinstance(msg, EncryptedHandshake):
            self.encrypted_handshake += 1
            self._message(event.direction, msg.summary(), frames, ts)
            self._tls12_finished(self.role(event.direction), frames, ts)  # its Finished
            return
        if isinstance(msg, handshake.ClientHello):
            if self.client_hello is None:
                self.client_hello = msg
                self.client_side = event.direction
                self.client_hello_frames, self.client_hello_ts_ns = frames, ts
        elif isinstance(msg, handshake.ServerHello):
            if msg.retry_request:
                self.retry, self.retry_frames = msg, frames
            elif self.server_hello is None:
                self.server_hello = msg
                self.server_hello_frames, self.server_hello_ts_ns = frames, ts
                self.alpn = msg.alpn
        elif isinstance(msg, handshake.EncryptedExtensions):
            ext = handshake.find(msg.extensions, handshake.ALPN)
            if ext is not None and ext.protocols:
                self.alpn = ext.protocols[0]
        elif isinstance(msg, handshake.Certificate):
            if self.role(event.direction) == "server" and not self.certificate_frames:
                self.certificates = msg.certificates
                self.certificate_frames = frames
                self.certificate_decrypted = event.decrypted
        elif isinstance(msg, handshake.Finished):
            role = self.role(event.direction)
            self.finished_frames.setdefault(role, frames[-1] if frames else 0)
            self.finished_ts_ns.setdefault(role, ts)
            if role == "client" and self.tls13:
                self._ready(frames, ts)
            elif not self.tls13:
                self._tls12_finished(role, frames, ts)
        elif isinstance(msg, handshake.NewSessionTicket):
            self.session_tickets += 1
        elif isinstance(msg, handshake.KeyUpdate):
            self.key_updates += 1
        self._message(event.direction, msg.summary(), frames, ts, event.decrypted)

    def _application_data(self, event: TLSApplicationData) -> None:
        role = self.role(event.direction)
        frames = event.frames
        first = frames[0] if frames else 0
        last = frames[-1] if frames else 0
        self._flight(event.direction)
        if self.server_hello is not None and self._counting and self.tls13 and (
                not event.decrypted):
            # TLS 1.3 without keys: the server's records after its ServerHello and
            # the client's first one (its Finished) are the encrypted handshake
            self.encrypted_handshake += 1
            self._message(event.direction, "Encrypted Handshake Message", frames,
                          event.ts_ns)
            if role == "client":
                self._ready(frames, event.ts_ns)
            return
        if role == "client" and self.server_hello is not None:
            # the client's first record after the ServerHello: the handshake is over for it
            self._ready(frames, event.ts_ns)
        totals = self.sent[role]
        if not totals.records:
            totals.first_frame, totals.first_ts_ns = first, event.ts_ns
        totals.records += 1
        totals.length += event.length
        totals.last_ts_ns = event.ts_ns
        if self.bursts and self.bursts[-1].direction == role:
            burst = self.bursts[-1]
            burst.records += 1
            burst.length += event.length
            burst.last_frame = max(burst.last_frame, last)
            burst.end_ts_ns = event.ts_ns
        elif len(self.bursts) < MAX_BURSTS:
            self.bursts.append(Burst(role, 1, event.length, first, last, event.ts_ns,
                                     event.ts_ns))
        else:
            self.bursts_dropped += 1


def message_labels(events: Iterable[object], conversation: int) -> list[str]:
    """The TLS messages of ``conversation`` among one packet's events, as Wireshark names them.

    For the ladders: the messages a segment completed, drawn on its arrow.

    Application-data records are counted, not listed: ``Application Data ×3
    (1148 bytes)``.
    """
    labels: list[str] = []
    records = size = 0
    for e in events:
        if isinstance(e, TLSApplicationData) and e.conversation == conversation:
            records += 1
            size += e.length
        elif isinstance(e, TLSHandshake) and e.conversation == conversation:
            labels.append(e.message.summary())
        elif isinstance(e, TLSChangeCipherSpec) and e.conversation == conversation:
            labels.append("ChangeCipherSpec")
        elif isinstance(e, TLSAlert) and e.conversation == conversation:
            labels.append(e.alert.summary())
    if records:
        labels.append("Application Data" + (f" ×{records}" if records > 1 else "")
                      + f" ({size} bytes)")
    return labels


def settled_text(tls: TLSSummary) -> str:
    """What a TLS handshake settled, in one line: ``TLS 1.3 TLS_AES_128_GCM_SHA256, SNI …``."""
    parts = []
    if tls.version is not None and tls.cipher_suite is not None:
        parts.append(f"{version_words(tls.version)} {cipher_suite_name(tls.cipher_suite)}")
    else:
        parts.append("no ServerHello captured")
    if tls.server_name:
        parts.append(f"SNI {tls.server_name}")
    if tls.alpn:
        parts.append(f"ALPN {tls.alpn}")
    if tls.retry is not None:
        parts.append("HelloRetryRequest")
    if tls.resumed:
        parts.append("resumed")
    if tls.round_trips is not None:
        parts.append(f"{tls.round_trips} round trip{'s' if tls.round_trips != 1 else ''} "
                     f"({tls.handshake_ns / 1e6:.3f} ms)" if tls.handshake_ns is not None
                     else f"{tls.round_trips} round trips")
    if tls.certificates and tls.certificates[0].subject:
        parts.append(f"certificate {tls.certificates[0].subject}")
    parts.append("decrypted" if tls.decrypted else "content encrypted")
    return ", ".join(parts)


class TLSSummaries:
    """A :class:`TLSSummary` per TLS conversation, fed every event (others are ignored)."""

    def __init__(self) -> None:
        self.by_conversation: dict[int, TLSSummary] = {}

    def feed(self, event: object) -> None:
        if isinstance(event, (TLSHandshake, TLSApplicationData, DecryptedData,
                              TLSChangeCipherSpec, TLSAlert, TLSProblem)):
            summary = self.by_conversation.get(event.conversation)
            if summary is None:
                summary = self.by_conversation[event.conversation] = TLSSummary(
                    event.conversation)
            summary.feed(event)

    def get(self, conversation: int) -> TLSSummary | None:
        return self.by_conversation.get(conversation)

    def pop(self, conversation: int) -> TLSSummary | None:
        return self.by_conversation.pop(conversation, None)


__all__ = [
    "MAX_ALERTS",
    "MAX_BURSTS",
    "MAX_MESSAGES",
    "Burst",
    "DirectionTotals",
    "TLSMessage",
    "TLSSummaries",
    "TLSSummary",
    "message_labels",
    "settled_text",
    "version_words",
]
