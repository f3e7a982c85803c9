"""QUIC packets in one UDP datagram, as typed layers (RFC 9000 §17, RFC 8999, RFC 9369).

::

    Long header (Initial, 0-RTT, Handshake, Retry; Version Negotiation has version 0)
    +-+-+-+-+-+-+-+-+
    |1|1|T T|X X X X|   form, fixed bit, type (its meaning depends on the version), 4 protected bits
    +-+-+-+-+-+-+-+-+-------------------------------+
    |                  Version (32)                 |
    +-+-+-+-+-+-+-+-+-------------------------------+
    | DCID Len (8)  |  Destination Connection ID (0..160)  ...
    | SCID Len (8)  |  Source Connection ID (0..160)       ...
    [Initial: Token Length (i), Token]  Length (i)  Packet Number (8..32)  Payload ...

    Short header (1-RTT)
    +-+-+-+-+-+-+-+-+
    |0|1|S|R|R|K|P P|   form, fixed bit, spin, reserved, key phase, packet-number length
    +-+-+-+-+-+-+-+-+
    | Destination Connection ID (its length is not on the wire) | Packet Number | Payload

A datagram may carry several long-header packets one after the other
(*coalesced*, §12.2), each sized by its Length field, and a short-header
packet last (it runs to the datagram's end).  :func:`decode` returns one
:class:`QUIC` layer holding them all.

What one datagram can show without any state, and what it cannot:

* Initial packets *sent by the client* are decrypted here: their keys come
  from the Destination Connection ID they carry and the version's salt
  (RFC 9001 §5.2), so the ClientHello inside (SNI, ALPN, transport
  parameters) is readable by anyone, as Wireshark shows it.
* The server's Initials use keys from the *client's* first DCID, which they
  do not carry, Handshake/0-RTT/1-RTT packets need the TLS secrets, and a
  short header does not say how long its DCID is: those are left protected
  here (``decrypted`` False, the reason in ``problem``) and completed by the
  conversation stage (:mod:`layerpeek.quic.stage`), which follows the
  connection ids and reads the key log.

Registered on UDP port 443 and, on any port, for datagrams that start like
a long header of a known version (:func:`sniff`); that test wants a known
version and connection-id lengths of at most 20 bytes, which random UDP
payloads rarely meet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.errors import Short
from layerpeek.packet import Layer, Malformed
from layerpeek.quic import versions as v
from layerpeek.quic.frames import Crypto, Cursor, Frame, frame_summary, parse_frames
from layerpeek.quic.frames import Short as FrameShort
from layerpeek.tls.handshake import ClientHello, HandshakeMessage, ServerHello, parse_message

#: Ports the registry hands to QUIC directly (HTTP/3 and DNS over QUIC).
PORTS = (443, 853)
MAX_CID = 20  #: RFC 9000 §17.2: a v1 connection id has at most 20 bytes


@dataclass(slots=True)
class QUICPacket:
    """One QUIC packet of a datagram: its header, and its frames when they could be read."""

    kind: str  #: "Initial", "0-RTT", "Handshake", "Retry", "Version Negotiation", "1-RTT"
    long_header: bool
    first_byte: int  #: as sent (its low bits still protected unless ``decrypted``)
    version: int | None  #: None for a short header
    dcid: bytes | None  #: None for a short header whose connection is not known
    scid: bytes | None
    size: int  #: bytes of the datagram this packet takes
    token: bytes = field(default=b"", repr=False)  #: Initial token, or the Retry token
    length: int | None = None  #: the Length field (packet number + payload)
    packet_number: int | None = None  #: known once header protection is removed
    key_phase: int | None = None  #: short header, once unprotected
    decrypted: bool = False
    frames: tuple[Frame, ...] = ()
    #: TLS handshake messages this packet completed (ClientHello, ServerHello, …)
    messages: tuple[HandshakeMessage, ...] = ()
    #: HTTP/3 frame types this packet's STREAM frames completed (the conversation stage)
    http3_frames: tuple[int, ...] = ()
    supported_versions: tuple[int, ...] = ()  #: Version Negotiation
    retry_tag: bytes = field(default=b"", repr=False)  #: Retry integrity tag
    problem: str | None = None  #: why the payload is not shown (keys unknown, …)

    @property
    def long_packet_type(self) -> int | None:
        """The type bits of a long header as sent (Wireshark's ``quic.long.packet_type``)."""
        if not self.long_header or self.version == v.NEGOTIATION:
            return None
        return (self.first_byte >> 4) & 3

    def summary(self) -> str:
        parts = [self.kind]
        if self.long_header and self.version not in (v.VERSION_1, v.NEGOTIATION, None):
            parts.append(f"v{v.version_name(self.version)}")
        if self.dcid is not None:
            parts.append(f"DCID={self.dcid.hex()}")
        if self.scid is not None and self.kind != v.ONE_RTT:
            parts.append(f"SCID={self.scid.hex()}")
        if self.kind == v.VERSION_NEGOTIATION:
            parts.append("versions=" + ",".join(v.version_name(x) for x in self.supported_versions))
        if self.kind == v.RETRY:
            parts.append(f"token={len(self.token)} bytes")
        if self.packet_number is not None:
            parts.append(f"PKN={self.packet_number}")
        if self.key_phase:
            parts.append("KP1")
        if self.frames:
            parts.append(_frames_brief(self.frames))
        if self.http3_frames:
            from layerpeek.quic.http3 import FRAME_NAMES as H3

            parts.append("HTTP/3 " + ",".join(H3.get(t, f"0x{t:x}") for t in self.http3_frames))
        for message in self.messages:
            parts.append(message.summary())
        if self.problem and not self.decrypted and self.kind not in (v.RETRY,
                                                                     v.VERSION_NEGOTIATION):
            parts.append("[encrypted]")
        return " ".join(parts)


def _frames_brief(frames: tuple[Frame, ...]) -> str:
    """Frame names in order, runs counted (``ACK, NEW_CONNECTION_ID×7, STREAM``)."""
    out: list[str] = []
    last = ""
    count = 0
    for frame in frames:
        name = frame.name
        if name == last:
            count += 1
            continue
        if last:
            out.append(f"{last}×{count}" if count > 1 else last)
        last, count = name, 1
    if last:
        out.append(f"{last}×{count}" if count > 1 else last)
    return ",".join(out)


@dataclass(slots=True)
class QUIC(Layer):
    """The QUIC packets of one UDP datagram (coalesced packets in order)."""

    name: ClassVar[str] = "quic"
    short: ClassVar[str] = "quic"
    title: ClassVar[str] = "QUIC IETF"
    packets: tuple[QUICPacket, ...]

    def summary(self) -> str:
        return " | ".join(p.summary() for p in self.packets)

    def frames(self) -> list[Frame]:
        return [f for p in self.packets for f in p.frames]


# --------------------------------------------------------------------------- parsing


def sniff(buf: bytes, start: int, end: int) -> bool:
    """A long header of a known version (or Version Negotiation) whose ids fit the datagram."""
    if end - start < 7 or buf[start] & 0xC0 != 0xC0:
        return False
    version = int.from_bytes(buf[start + 1 : start + 5], "big")
    if version not in v.VERSIONS and version != v.NEGOTIATION:
        return False
    dcid_len = buf[start + 5]
    if dcid_len > MAX_CID or start + 6 + dcid_len >= end:
        return False
    scid_len = buf[start + 6 + dcid_len]
    return scid_len <= MAX_CID and start + 7 + dcid_len + scid_len <= end


def parse_long(buf: bytes, start: int, end: int) -> tuple[QUICPacket, int]:
    """One long-header packet at ``start``: (the packet, header protection unremoved;
    the offset of its packet number).  Raises :class:`~layerpeek.errors.Short`."""
    c = Cursor(buf, start, end)
    try:
        first = c.u8()
        version = int.from_bytes(c.take(4, "version"), "big")
        dcid = c.take(c.u8(), "destination connection id")
        scid = c.take(c.u8(), "source connection id")
        if version == v.NEGOTIATION:
            rest = c.take(c.left())
            versions = tuple(int.from_bytes(rest[i : i + 4], "big")
                             for i in range(0, len(rest) - 3, 4))
            return QUICPacket(v.VERSION_NEGOTIATION, True, first, version, dcid, scid,
                              end - start, supported_versions=versions), c.pos
        kind = v.long_type(version, first >> 4)
        if kind == v.RETRY:
            if c.left() < 16:
                raise FrameShort(f"Retry integrity tag: need 16 bytes, have {c.left()}")
            token = c.take(c.left() - 16)
            return QUICPacket(kind, True, first, version, dcid, scid, end - start, token=token,
                              retry_tag=c.take(16)), c.pos
        token = c.take(c.varint("token length"), "token") if kind == v.INITIAL else b""
        length = c.varint("length")
    except FrameShort as e:
        raise Short(f"quic long header: {e}", c.pos) from None
    pn_offset = c.pos
    if length > end - pn_offset:
        raise Short(f"quic {kind} length {length} runs past the datagram "
                    f"({end - pn_offset} bytes left)", pn_offset)
    packet = QUICPacket(kind, True, first, version, dcid, scid, pn_offset + length - start,
                        token=token, length=length)
    return packet, pn_offset


def crypto_messages(frames: tuple[Frame, ...]) -> tuple[HandshakeMessage, ...]:
    """The whole TLS messages of CRYPTO frames that start at offset 0 and join up.

    This is the one-datagram view (a ClientHello that fits in the first
    Initial); the conversation stage reassembles each level's stream.
    """
    pieces = sorted((f for f in frames if isinstance(f, Crypto)), key=lambda f: f.offset)
    if not pieces or pieces[0].offset != 0:
        return ()
    data = bytearray()
    for piece in pieces:
        if piece.offset > len(data):
            break
        data += piece.data[len(data) - piece.offset :]
    return split_messages(bytes(data))[0]


def split_messages(data: bytes, start: int = 0) -> tuple[tuple[HandshakeMessage, ...], int]:
    """The whole handshake messages in ``data[start:]``; and where the first partial one starts."""
    out: list[HandshakeMessage] = []
    pos = start
    while len(data) - pos >= 4:
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        if len(data) - pos - 4 < length:
            break
        out.append(parse_message(data, pos, pos + 4 + length, tls13=True))
        pos += 4 + length
    return tuple(out), pos


def decrypt_initial(buf: bytes, start: int, pn_offset: int, packet: QUICPacket,
                    client: bool = True, odcid: bytes | None = None) -> None:
    """Decrypt an Initial in place with the keys of ``odcid`` (default: its own DCID)."""
    from layerpeek.quic.protection import DecryptError, initial_keys, unprotect

    assert packet.version is not None and packet.dcid is not None
    keys = initial_keys(packet.version, packet.dcid if odcid is None else odcid)
    if keys is None:
        packet.problem = f"no Initial salt known for version {v.version_name(packet.version)}"
        return
    try:
        plain = unprotect(buf, start, pn_offset, start + packet.size, keys[0 if client else 1])
    except DecryptError as e:
        packet.problem = str(e)
        return
    fill(packet, plain.first_byte, plain.packet_number, plain.payload)


def fill(packet: QUICPacket, first_byte: int, number: int, payload: bytes) -> None:
    """Record what decryption found in ``packet``."""
    packet.decrypted = True
    packet.problem = None
    packet.packet_number = number
    if not packet.long_header:
        packet.key_phase = (first_byte >> 2) & 1
    packet.frames = parse_frames(payload)


def _try_initial(buf: bytes, start: int, pn_offset: int, packet: QUICPacket) -> None:
    try:
        decrypt_initial(buf, start, pn_offset, packet)
    except ImportError:
        packet.problem = "decryption needs the cryptography package (pip install layerpeek[quic])"
        return
    if packet.decrypted:
        packet.messages = crypto_messages(packet.frames)
    else:
        packet.problem = ("not decrypted from this datagram alone: a server's Initial, or a "
                          "later one of the client, uses keys from the client's first "
                          "Destination Connection ID, which it does not carry")


def decode(buf: bytes, start: int, end: int) -> Decoded:
    """The QUIC packets of a UDP payload; client Initials decrypted (see the module)."""
    packets: list[QUICPacket] = []
    pos = start
    while pos < end:
        first = buf[pos]
        if not first & 0x80:
            packets.append(QUICPacket(v.ONE_RTT, False, first, None, None, None, end - pos,
                                      problem="1-RTT: keys from the key log"))
            break
        try:
            packet, pn_offset = parse_long(buf, pos, end)
        except Short as e:
            if not packets:
                raise
            layer = QUIC(tuple(packets))
            at = e.offset if e.offset is not None else pos
            return layer, Malformed("quic", e.reason, at, True, buf[pos:end])
        if packet.kind == v.INITIAL:
            _try_initial(buf, pos, pn_offset, packet)
        elif packet.kind in (v.HANDSHAKE, v.ZERO_RTT):
            packet.problem = f"{packet.kind}: keys from the key log"
        packets.append(packet)
        pos += packet.size
        if pos < end and buf[pos] == 0:
            # Zeros after a long-header packet: padding of the datagram, not a packet.
            break
    return QUIC(tuple(packets)), None


def long_offsets(buf: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """(start, packet-number offset) of each long-header packet of a datagram, in order."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end and buf[pos] & 0x80:
        try:
            packet, pn_offset = parse_long(buf, pos, end)
        except Short:
            break
        out.append((pos, pn_offset))
        pos += packet.size
    return out


def first_hello(layer: QUIC) -> ClientHello | ServerHello | None:
    for packet in layer.packets:
        for message in packet.messages:
            if isinstance(message, (ClientHello, ServerHello)):
                return message
    return None


DISSECTOR = Dissector("quic", decode, sniff)

__all__ = ["DISSECTOR", "PORTS", "QUIC", "QUICPacket", "decode", "frame_summary", "sniff"]
