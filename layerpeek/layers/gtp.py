"""GPRS Tunnelling Protocol, user plane (GTP-U, 3GPP TS 29.281) on UDP port 2152.

::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|Ver|P|R|E|S|N|  Message Type  |            Length             |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|            Tunnel Endpoint Identifier (TEID)                  |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|  Sequence Number (E|S|N)      | N-PDU Number  | Next Ext. Type|
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

(Ver 1, the protocol type bit P set.)  The length counts the bytes after
the first eight.  When any of E, S, N is set the third word is present (all
of it, whatever bit is set), and with E a chain of extension headers
follows, each a length in 4-byte words, its content, and the type of the
next (0 ends it).  A G-PDU (message type 255) carries a user's IP packet,
handed over by its version nibble; signalling messages (echo, error
indication, end marker) stay data.  The TEID is the receiver's, so it
differs by direction and is not part of a conversation's key.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector
from layerpeek.errors import Invalid
from layerpeek.packet import Layer
from layerpeek.wire import need

_HEADER = struct.Struct("!BBHI")
_OPTIONAL = struct.Struct("!HBB")

#: GTP-U's port.
PORT = 2152
G_PDU = 0xFF


@dataclass(frozen=True, slots=True)
class GTPExtension:
    """One extension header: its type (as named by the header before it) and content."""

    type: int  #: 0x85 PDU session container, 0xC0 PDCP PDU number, …
    content: bytes


@dataclass(slots=True)
class GTP(Layer):
    """A GTPv1-U header."""

    name: ClassVar[str] = "gtp"
    short: ClassVar[str] = "gtp"
    version: int
    protocol_type: int  #: 1: GTP; 0: GTP' (charging)
    flags: int  #: the E, S and N bits (0x04, 0x02, 0x01)
    message_type: int  #: 255 G-PDU (user data), 1 echo request, 26 error indication, 254 end marker
    length: int  #: bytes after the first eight, as sent
    teid: int
    sequence: int | None  #: present with any of E, S, N
    npdu: int | None
    extensions: tuple[GTPExtension, ...]

    def summary(self) -> str:
        kind = "G-PDU" if self.message_type == G_PDU else f"type={self.message_type}"
        return f"{kind} teid={self.teid:#x}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "gtp")
    first, message_type, length, teid = _HEADER.unpack_from(buf, start)
    version = first >> 5
    if version != 1:
        raise Invalid(f"gtp version {version}: only GTPv1-U is decoded", start)
    flags = first & 7
    at = start + 8
    stop = min(end, at + length)
    sequence = npdu = None
    extensions: list[GTPExtension] = []
    if flags:
        need(at, end, 4, "gtp.sequence")
        sequence, npdu, next_type = _OPTIONAL.unpack_from(buf, at)
        at += 4
        while flags & 4 and next_type:
            need(at, end, 1, "gtp.extensions")
            size = buf[at] * 4
            if size == 0:
                raise Invalid(f"gtp.extensions[{len(extensions)}].length 0", at)
            need(at, end, size, "gtp.extensions")
            extensions.append(GTPExtension(next_type, buf[at + 1 : at + size - 1]))
            next_type = buf[at + size - 1]
            at += size
    layer = GTP(version, (first >> 4) & 1, flags, message_type, length, teid, sequence, npdu,
                tuple(extensions))
    if message_type == G_PDU and at < stop:
        nibble = buf[at] >> 4
        key = 0x0800 if nibble == 4 else 0x86DD if nibble == 6 else UNCLAIMED
        return layer, ("ethertype", key, at, stop)
    return layer, ("ethertype", UNCLAIMED, at, stop)


DISSECTOR = Dissector("gtp", decode, tunnel=True)
