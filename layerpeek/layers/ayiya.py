"""Anything In Anything (AYIYA, SixXS's tunnel protocol) over UDP port 5072.

::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
| IDLen | IDType| SigLen| HshMth| AutMth| OpCode|  Next Header  |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                         Epoch Time                            |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|       Identity (2^IDLen bytes) … Signature (SigLen * 4 bytes) …
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Opcode 1 ("forward") carries a packet whose IP protocol number is the next
header (41: IPv6, 4: IPv4), handed to the ``ip_proto`` table; heartbeats and
the other opcodes carry nothing to decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector
from layerpeek.packet import Layer
from layerpeek.wire import need

_HEADER = struct.Struct("!BBBBI")

#: AYIYA's port.
PORT = 5072
FORWARD = 1


@dataclass(slots=True)
class AYIYA(Layer):
    """An AYIYA header."""

    name: ClassVar[str] = "ayiya"
    short: ClassVar[str] = "ayiya"
    id_type: int
    hash_method: int
    auth_method: int
    opcode: int  #: 0 noop, 1 forward, 2 echo request, 3 echo response, 4 motd, 5 query…
    next_header: int  #: IP protocol of the payload (41: IPv6)
    epoch: int  #: seconds since the Unix epoch, as the sender's clock said
    identity: bytes
    signature: bytes

    def summary(self) -> str:
        return f"opcode={self.opcode} next={self.next_header}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "ayiya")
    ids, sig, auth_op, next_header, epoch = _HEADER.unpack_from(buf, start)
    id_len = 1 << (ids >> 4)
    sig_len = (sig >> 4) * 4
    at = start + 8
    need(at, end, id_len + sig_len, "ayiya")
    identity = buf[at : at + id_len]
    signature = buf[at + id_len : at + id_len + sig_len]
    at += id_len + sig_len
    opcode = auth_op & 0xF
    layer = AYIYA(ids & 0xF, sig & 0xF, auth_op >> 4, opcode, next_header, epoch, identity,
                  signature)
    if opcode != FORWARD:
        return layer, ("ip_proto", UNCLAIMED, at, end)
    return layer, ("ip_proto", next_header, at, end)


DISSECTOR = Dissector("ayiya", decode, tunnel=True)
