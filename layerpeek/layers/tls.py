"""TLS records as one TCP segment carries them (RFC 8446 §5, RFC 5246 §6.2).

This is the per-packet view (``dump``): the records that *begin* in this
segment, each with the handshake messages, alert or ChangeCipherSpec it
holds, or the length of its application data.  A record or handshake
message that continues in the next segment is shown as far as it goes
(``captured`` < ``length``; a cut handshake message is a
:class:`~layerpeek.tls.records.HandshakeFragment`).  Whole records and
messages rebuilt from the reassembled stream, and decryption with a key
log, are :mod:`layerpeek.tls.connection`'s job.

* Found by port (443, 8443, …) and, on any port, by content: a segment that
  starts with a plausible record header (content type 20-24, version 3.x,
  length at most 2^14 + 2048).  A segment on a TLS port that does not start
  like a record is the middle of one: plain data, not an error.
* Without session state, a handshake record that does not read as messages
  is ciphertext (the Finished after ChangeCipherSpec): "Encrypted Handshake
  Message", as Wireshark says.  A message whose body does not parse is kept
  with its reason, and a Malformed marker follows the layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.packet import Layer, Malformed, new_payload
from layerpeek.tls import handshake, names
from layerpeek.tls.handshake import HandshakeMessage
from layerpeek.tls.records import (
    HEADER_LEN,
    Alert,
    ApplicationData,
    ChangeCipherSpec,
    EncryptedHandshake,
    HandshakeFragment,
    parse_alert,
    plausible_header,
    sniff,
)

#: Ports the registry hands to TLS directly (the heuristic finds it anywhere else).
PORTS = (443, 8443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061)

#: What a record may hold.
RecordContent = (
    HandshakeMessage | HandshakeFragment | EncryptedHandshake | Alert | ChangeCipherSpec |
    ApplicationData
)


@dataclass(slots=True)
class TLSRecord:
    """One record: its header, and what its fragment holds."""

    content_type: int  #: 20 ChangeCipherSpec, 21 alert, 22 handshake, 23 application data
    version: int  #: the record's legacy version (0x0303 for TLS 1.2 and 1.3)
    length: int  #: fragment length from the header
    captured: int  #: fragment bytes in this segment (less than ``length``: continues)
    messages: tuple[RecordContent, ...]

    def summary(self) -> str:
        if not self.messages:
            return f"{_CONTENT.get(self.content_type, 'Record')} (part)"
        text = ", ".join(m.summary() for m in self.messages)
        if self.captured < self.length and self.content_type != 23:
            text += " (continues)"
        return text


_CONTENT = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "Application Data",
            24: "Heartbeat"}


@dataclass(slots=True)
class TLS(Layer):
    """The TLS records beginning in one TCP segment."""

    name: ClassVar[str] = "tls"
    short: ClassVar[str] = "tls"
    title: ClassVar[str] = "Transport Layer Security"
    records: tuple[TLSRecord, ...]
    #: bytes after the last record that are too few for a record header (it continues)
    trailing: bytes = field(default=b"", repr=False)

    def summary(self) -> str:
        return ", ".join(r.summary() for r in self.records)

    def messages(self) -> list[RecordContent]:
        """Every message of every record, in order."""
        return [m for r in self.records for m in r.messages]

    def handshakes(self) -> list[HandshakeMessage]:
        """The whole handshake messages in this segment, in order."""
        return [m for m in self.messages() if isinstance(m, _HANDSHAKE_TYPES)]


_HANDSHAKE_TYPES = (
    handshake.ClientHello, handshake.ServerHello, handshake.Certificate,
    handshake.ServerKeyExchange, handshake.CertificateRequest, handshake.ServerHelloDone,
    handshake.ClientKeyExchange, handshake.Finished, handshake.NewSessionTicket,
    handshake.EncryptedExtensions, handshake.CertificateVerify, handshake.KeyUpdate,
    handshake.OtherHandshake,
)


def _looks_like_messages(buf: bytes, start: int, end: int) -> bool:
    """Do the handshake headers in ``buf[start:end]`` chain up (known types, lengths fit)?"""
    pos = start
    while end - pos >= 4:
        if buf[pos] not in names.MESSAGE_NAMES:
            return False
        length = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        if length > (1 << 24) - 1:
            return False
        pos += 4 + length
    return pos >= end or (end - pos < 4 and buf[pos] in names.MESSAGE_NAMES)


def handshake_contents(
    buf: bytes, start: int, end: int, length: int, *, tls13: bool = False
) -> tuple[list[RecordContent], tuple[int, str] | None]:
    """The handshake messages in a record fragment ``buf[start:end]`` (``length`` in full).

    Returns the contents and, if a message did not parse, ``(offset, reason)``.
    """
    cut = end - start < length
    if not _looks_like_messages(buf, start, end) or (not cut and end - start < 4):
        return [EncryptedHandshake(length)], None
    out: list[RecordContent] = []
    problem: tuple[int, str] | None = None
    pos = start
    while pos < end:
        if end - pos < 4:
            out.append(HandshakeFragment(buf[pos], 0, 0))
            break
        msg_len = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        if end - pos - 4 < msg_len:
            out.append(HandshakeFragment(buf[pos], msg_len, end - pos - 4))
            break
        msg = handshake.parse_message(buf, pos, pos + 4 + msg_len, tls13=tls13)
        bad = getattr(msg, "problem", None)
        if bad is not None and problem is None:
            problem = (pos, f"{names.message_name(buf[pos])}: {bad}")
        out.append(msg)
        pos += 4 + msg_len
    return out, problem


def decode(buf: bytes, start: int, end: int) -> Decoded:
    if not sniff(buf, start, end):
        return new_payload(buf[start:end]), None
    records: list[TLSRecord] = []
    pos = start
    problem: tuple[int, str] | None = None
    while end - pos >= HEADER_LEN:
        if not plausible_header(buf, pos):
            problem = problem or (pos, f"not a TLS record header: {buf[pos:pos + 5].hex()}")
            break
        ctype = buf[pos]
        version = (buf[pos + 1] << 8) | buf[pos + 2]
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        body = pos + HEADER_LEN
        stop = min(body + length, end)
        contents: list[RecordContent]
        if ctype == 22:
            contents, bad = handshake_contents(buf, body, stop, length)
            problem = problem or bad
        elif ctype == 23:
            contents = [ApplicationData(length)]
        elif ctype == 21:
            contents = [parse_alert(buf[body:stop])] if stop - body == length else []
        elif ctype == 20:
            contents = [ChangeCipherSpec(buf[body])] if stop > body else []
        else:
            contents = []
        records.append(TLSRecord(ctype, version, length, stop - body, tuple(contents)))
        pos = stop
    trailing = buf[pos:end] if problem is None or problem[0] != pos else b""
    layer = TLS(tuple(records), trailing)
    if problem is not None:
        offset, reason = problem
        return layer, Malformed("tls", reason, offset, False, buf[offset:end])
    return layer, None


DISSECTOR = Dissector("tls", decode, sniff)
