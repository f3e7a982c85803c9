"""The TLS record layer (RFC 8446 §5, RFC 5246 §6.2): framing, alerts, ChangeCipherSpec.

::

     0      1      2      3      4
    +------+------+------+------+------+--------------------------+
    | type |   version   |   length    |  fragment (length bytes) |
    +------+------+------+------+------+--------------------------+

A record carries up to 2^14 bytes of one content type (2^14 + 2048 once
encrypted: :data:`MAX_FRAGMENT`).  Records do not line up with TCP segments:
one segment may hold several records, one record may span several segments,
and a handshake message may span several records.  Two consumers share the
pieces here:

* the per-packet layer (:mod:`layerpeek.layers.tls`) reads the records that
  begin in one segment;
* :class:`RecordBuffer` and :class:`HandshakeBuffer` rebuild records and
  handshake messages from a reassembled TCP stream for
  :mod:`layerpeek.tls.connection`, remembering which frames carried them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from layerpeek.tls import names

HEADER_LEN = 5
#: Largest fragment a record may carry: 2^14 plaintext + 2048 of expansion (RFC 5246 §6.2.3).
MAX_FRAGMENT = (1 << 14) + 2048
CONTENT_TYPES = frozenset((20, 21, 22, 23, 24))


def plausible_header(buf: bytes | bytearray, pos: int) -> bool:
    """Do the 5 bytes at ``pos`` read as a record header? (type, 3.x version, length)"""
    if buf[pos] not in CONTENT_TYPES or buf[pos + 1] != 3 or buf[pos + 2] > 4:
        return False
    length = (buf[pos + 3] << 8) | buf[pos + 4]
    return 0 < length <= MAX_FRAGMENT


def sniff(buf: bytes, start: int, end: int) -> bool:
    """Does ``buf[start:end]`` begin with a TLS record header? (cheap: five byte tests)"""
    return end - start >= HEADER_LEN and plausible_header(buf, start)


@dataclass(slots=True)
class Alert:
    """An alert (RFC 8446 §6): level and description, or an encrypted one."""

    kind = "Alert"
    level: int | None  #: 1 warning, 2 fatal; None when encrypted
    description: int | None
    length: int  #: bytes of the fragment (2 in the clear)

    def summary(self) -> str:
        if self.level is None or self.description is None:
            return "Encrypted Alert"
        return (f"Alert {names.alert_level_name(self.level)} "
                f"{names.alert_name(self.description)}")


def parse_alert(fragment: bytes) -> Alert:
    """A 2-byte alert in the clear; anything else is taken as encrypted."""
    if len(fragment) == 2 and fragment[0] in (1, 2):
        return Alert(fragment[0], fragment[1], 2)
    return Alert(None, None, len(fragment))


@dataclass(slots=True)
class ChangeCipherSpec:
    """The one-byte message after which a TLS 1.2 sender encrypts (a no-op in TLS 1.3)."""

    kind = "ChangeCipherSpec"
    value: int

    def summary(self) -> str:
        return "ChangeCipherSpec"


@dataclass(slots=True)
class ApplicationData:
    """An application_data record's payload, as its length (its content is encrypted)."""

    kind = "ApplicationData"
    length: int

    def summary(self) -> str:
        return f"Application Data {self.length} bytes"


@dataclass(slots=True)
class HandshakeFragment:
    """Part of a handshake message whose rest is in a later record or segment."""

    kind = "HandshakeFragment"
    handshake_type: int
    length: int  #: the whole message's body length, from its header
    captured: int  #: body bytes present here

    def summary(self) -> str:
        return (f"{names.message_name(self.handshake_type)} "
                f"(part: {self.captured} of {self.length} bytes)")


@dataclass(slots=True)
class EncryptedHandshake:
    """A handshake record whose content is ciphertext (after ChangeCipherSpec)."""

    kind = "EncryptedHandshake"
    length: int

    def summary(self) -> str:
        return "Encrypted Handshake Message"


# --------------------------------------------------------------------------- streams

Frames = tuple[int, ...]


@dataclass(slots=True)
class RawRecord:
    """A whole record taken from a stream, with the frames that carried its bytes."""

    content_type: int
    version: int
    fragment: bytes
    offset: int  #: stream offset of the record header
    frames: Frames
    ts_ns: int


class RecordBuffer:
    """One direction's ciphertext stream in, whole records out (sans-IO).

    Bytes are appended with the frames and time that delivered them; a
    record comes out once its last byte is in, with every frame that carried
    a part of it.  The buffer is compacted as records are taken, so feeding
    a stream costs time linear in its length.
    """

    __slots__ = ("_buf", "_chunks", "_pos", "bad", "base")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  #: where the next record starts in _buf
        self.base = 0  #: stream offset of _buf[0]
        self._chunks: deque[tuple[int, Frames, int]] = deque()  # (end offset, frames, ts_ns)
        self.bad: str | None = None  #: set when the stream stopped looking like records

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes, frames: Frames, ts_ns: int) -> list[RawRecord]:
        if self.bad is not None:
            return []
        self._buf += data
        self._chunks.append((self.base + len(self._buf), frames, ts_ns))
        out: list[RawRecord] = []
        buf = self._buf
        while len(buf) - self._pos >= HEADER_LEN:
            pos = self._pos
            if not plausible_header(buf, pos):
                self.bad = (f"bytes at stream offset {self.base + pos} are not a TLS record "
                            f"header ({bytes(buf[pos:pos + 5]).hex()})")
                break
            end = pos + HEADER_LEN + ((buf[pos + 3] << 8) | buf[pos + 4])
            if end > len(buf):
                break
            start_off = self.base + pos
            end_off = self.base + end
            seen: dict[int, None] = {}  # ordered and O(1) per frame, however many carried it
            ts = ts_ns
            for chunk_end, chunk_frames, chunk_ts in self._chunks:
                if chunk_end > start_off:
                    seen.update(dict.fromkeys(chunk_frames))
                    ts = chunk_ts
                    if chunk_end >= end_off:
                        break
            out.append(RawRecord(buf[pos], (buf[pos + 1] << 8) | buf[pos + 2],
                                 bytes(buf[pos + HEADER_LEN : end]), start_off, tuple(seen), ts))
            self._pos = end
        # forget what was consumed (whole chunks, and the bytes before _pos)
        consumed_to = self.base + self._pos
        while self._chunks and self._chunks[0][0] <= consumed_to:
            self._chunks.popleft()
        if self._pos > 65536 or self._pos == len(buf):
            del buf[: self._pos]
            self.base += self._pos
            self._pos = 0
        return out


class HandshakeBuffer:
    """Plaintext handshake bytes in (record by record), whole messages out.

    Handshake messages may span records and a record may hold several
    (RFC 8446 §5.1); ``feed`` returns ``(start, end)`` spans of whole
    messages within :attr:`data`, which the caller parses and then drops
    with :meth:`consume`.
    """

    __slots__ = ("data", "frames")

    def __init__(self) -> None:
        self.data = bytearray()
        self.frames: dict[int, None] = {}  # ordered set: O(1) per frame

    def feed(self, plaintext: bytes, frames: Frames) -> list[tuple[bytes, Frames]]:
        self.data += plaintext
        self.frames.update(dict.fromkeys(frames))
        out: list[tuple[bytes, Frames]] = []
        pos = 0
        data = self.data
        while len(data) - pos >= 4:
            length = int.from_bytes(data[pos + 1 : pos + 4], "big")
            if len(data) - pos - 4 < length:
                break
            out.append((bytes(data[pos : pos + 4 + length]), tuple(self.frames)))
            pos += 4 + length
            if pos < len(data):
                self.frames = dict.fromkeys(frames)  # the rest came in the latest record
        del data[:pos]
        if not data:
            self.frames = {}
        return out

    @property
    def pending(self) -> int:
        return len(self.data)
