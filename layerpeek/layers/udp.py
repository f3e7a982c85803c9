"""User Datagram Protocol, RFC 768.

 0      7 8     15 16    23 24    31
+--------+--------+--------+--------+
|   Source Port   | Destination Port|
+--------+--------+--------+--------+
|     Length      |    Checksum     |
+--------+--------+--------+--------+
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.errors import Invalid
from layerpeek.packet import Layer
from layerpeek.wire import need

#: The 8-byte header.
#: Public: the fast path in :mod:`layerpeek.decode` unpacks it in line.
HEADER = struct.Struct("!HHHH")
_new = object.__new__


@dataclass(slots=True)
class UDP(Layer):
    """A UDP header."""

    name: ClassVar[str] = "udp"
    short: ClassVar[str] = "udp"
    src_port: int
    dst_port: int
    length: int  #: header + payload in bytes, as sent (may exceed the captured bytes)
    checksum: int  #: not verified while decoding (loopback/offload captures carry zeros)

    def summary(self) -> str:
        return f"len={self.length - 8}"


def new_udp(
    src_port: int, dst_port: int, length: int, checksum: int,
) -> UDP:
    """Build a :class:`UDP`: the one constructor site decoders use (this module's
    ``decode`` and the fast path in :mod:`layerpeek.decode`).

    ``object.__new__`` and one store per field, not a call of the class: on
    CPython 3.11 a dataclass call goes through ``type.__call__`` and a
    C-to-Python ``__init__`` call, which costs about as much as the stores.
    """
    obj = _new(UDP)
    obj.src_port = src_port
    obj.dst_port = dst_port
    obj.length = length
    obj.checksum = checksum
    return obj


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "udp")
    src_port, dst_port, length, checksum = HEADER.unpack_from(buf, start)
    if length < 8:
        # A jumbogram (RFC 2675) carries 0 here; everything else below 8 is impossible.
        if length != 0:
            raise Invalid(f"udp length {length} < 8", start + 4)
        payload_end = end
    else:
        payload_end = min(end, start + length)  # drop Ethernet padding; tolerate snaplen
    return new_udp(src_port, dst_port, length, checksum), (
        "udp_port",
        (src_port, dst_port),
        start + 8,
        payload_end,
    )


DISSECTOR = Dissector("udp", decode)
