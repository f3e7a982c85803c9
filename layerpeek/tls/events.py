"""What the TLS stage tells its consumers: small, past-tense event records.

:class:`~layerpeek.tls.tracker.TLSTracker` reads the TCP tracker's events
(:mod:`layerpeek.flows.events`) and returns these.  ``conversation`` and
``direction`` mean what they mean there: the TCP stream id, and who *sent*
the bytes (``"client"`` or ``"server"``, as the TCP tracker named them).

:class:`DecryptedData` is the one the HTTP machinery consumes: it has
exactly the fields of :class:`~layerpeek.flows.events.StreamData`, with
``offset`` counted in the *plaintext* stream of application data of that
direction, so the HTTP/1.x pairer and the HTTP/2 reader take it as they
take a cleartext stream (:meth:`DecryptedData.as_stream_data` makes the
StreamData itself).  It is a class of its own, not a StreamData, so that a
consumer of the TCP events never mistakes plaintext for bytes on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layerpeek.flows.events import Direction, StreamData
from layerpeek.tls.handshake import HandshakeMessage
from layerpeek.tls.records import Alert, EncryptedHandshake

Frames = tuple[int, ...]


@dataclass(slots=True)
class DecryptedData:
    """Application data of one direction, decrypted, in order, each byte once."""

    conversation: int
    direction: str  #: who SENT the bytes
    offset: int  #: offset in that direction's decrypted application-data stream
    data: bytes = field(repr=False)
    frames: Frames = ()  #: frames that carried the records these bytes came from
    ts_ns: int = 0  #: time of the frame that completed the last record

    def as_stream_data(self) -> StreamData:
        """The same bytes as a StreamData, for consumers written for cleartext TCP."""
        direction: Direction = "client" if self.direction == "client" else "server"
        return StreamData(self.conversation, direction, self.offset, self.data,
                          self.frames, self.ts_ns)


@dataclass(slots=True)
class TLSHandshake:
    """A whole handshake message (rebuilt across records and segments)."""

    conversation: int
    direction: str
    message: HandshakeMessage | EncryptedHandshake  #: EncryptedHandshake: keys unknown
    decrypted: bool  #: it was inside encrypted records (TLS 1.3 after ServerHello)
    frames: Frames
    ts_ns: int


@dataclass(slots=True)
class TLSAlert:
    conversation: int
    direction: str
    alert: Alert  #: level and description None when encrypted and not decrypted
    decrypted: bool
    frames: Frames
    ts_ns: int


@dataclass(slots=True)
class TLSChangeCipherSpec:
    conversation: int
    direction: str
    frames: Frames
    ts_ns: int


@dataclass(slots=True)
class TLSApplicationData:
    """One application_data record: its size always, its plaintext in a DecryptedData."""

    conversation: int
    direction: str
    length: int  #: record fragment bytes (ciphertext)
    decrypted: bool
    frames: Frames
    ts_ns: int


@dataclass(slots=True)
class TLSProblem:
    """Something about one connection's TLS a reader should know; never an exception.

    ``kind``: ``"no-keys"`` (the key log has no secrets for this session:
    told, not an error), ``"auth-failed"`` (a record did not open: wrong or
    mismatched secrets), ``"unsupported"`` (a cipher suite or version
    layerpeek does not decrypt), ``"gap"`` (bytes of the stream were not
    captured), ``"not-tls"`` (the stream stopped looking like TLS records),
    ``"truncated"`` (the capture ends inside a record), ``"malformed"`` (a
    handshake message that does not parse).
    """

    conversation: int
    direction: str | None
    kind: str
    reason: str
    frames: Frames = ()
    ts_ns: int = 0


TLSEvent = (
    DecryptedData | TLSHandshake | TLSAlert | TLSChangeCipherSpec | TLSApplicationData |
    TLSProblem
)
