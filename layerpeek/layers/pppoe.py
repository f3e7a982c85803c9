"""PPP over Ethernet (RFC 2516): discovery (EtherType 0x8863) and session (0x8864).

::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|  VER  | TYPE  |      CODE     |          SESSION_ID           |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|            LENGTH             |           payload             ~
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A session packet (code 0) carries a PPP frame (handed over as EtherType
0x880B, PPP, which the registry maps to :mod:`layerpeek.layers.ppp`).  A
discovery packet (PADI 0x09, PADO 0x07, PADR 0x19, PADS 0x65, PADT 0xA7)
carries tags, kept as (type, value) pairs.  ``length`` bounds the payload:
what follows it in the frame is Ethernet padding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import Damage, Decoded, Dissector, length_overflows
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, need

_HEADER = struct.Struct("!BBHH")
_TAG = struct.Struct("!HH")

SESSION = 0x8864
DISCOVERY = 0x8863
_PPP = 0x880B


class PPPoECode(IntEnum):
    SESSION = 0x00
    PADO = 0x07
    PADI = 0x09
    PADR = 0x19
    PADS = 0x65
    PADT = 0xA7


@dataclass(frozen=True, slots=True)
class PPPoETag:
    """One discovery tag (0x0101 Service-Name, 0x0102 AC-Name, 0x0103 Host-Uniq, …)."""

    type: int
    value: bytes


@dataclass(slots=True)
class PPPoE(Layer):
    """A PPPoE header, and a discovery packet's tags."""

    name: ClassVar[str] = "pppoe"
    short: ClassVar[str] = "pppoe"
    version: int
    type: int
    code: int  #: 0 in a session; the discovery stage (PADI, PADO, …) otherwise
    session_id: int
    length: int  #: payload bytes, as sent
    tags: tuple[PPPoETag, ...]  #: discovery only

    def summary(self) -> str:
        return f"{enum_name(PPPoECode, self.code)} session={self.session_id:#06x}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 6, "pppoe")
    vt, code, session_id, length = _HEADER.unpack_from(buf, start)
    at = start + 6
    stop = min(end, at + length)
    if code == 0:
        return PPPoE(vt >> 4, vt & 0xF, code, session_id, length, ()), ("ethertype", _PPP, at,
                                                                          stop)
    tags: list[PPPoETag] = []
    damage: Damage | None = None
    declared = start + 6 + length  # where the payload ends on the wire
    while at < stop:
        path = f"pppoe.tags[{len(tags)}]"
        if stop - at < 4:
            damage = Damage(f"{path}: header cut", at, truncated=end < declared)
            break
        kind, size = _TAG.unpack_from(buf, at)
        if at + 4 + size > stop:
            if at + 4 + size <= declared:  # the length says it is there: the capture cut it
                damage = Damage(f"{path}: cut by the capture", at, truncated=True)
            else:
                damage = length_overflows(f"{path}", size, stop - at - 4, at, "payload")
            break
        tags.append(PPPoETag(kind, buf[at + 4 : at + 4 + size]))
        at += 4 + size
        if kind == 0:  # End-Of-List
            break
    layer = PPPoE(vt >> 4, vt & 0xF, code, session_id, length, tuple(tags))
    if damage is not None:
        return layer, damage.marker("pppoe", buf, stop)
    return layer, None


DISSECTOR = Dissector("pppoe", decode)
