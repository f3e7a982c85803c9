"""IEEE 802.2 Logical Link Control, and SNAP (RFC 1042) when both SAPs are 0xAA.

What follows an 802.3 length field (an Ethernet type below 0x0600), an FDDI
or 802.11 header::

+--------+--------+-----------+    with SNAP:  +--------+--------+--------+---------+
|  DSAP  |  SSAP  | control   |                |   AA   |   AA   |   03   |OUI | PID|
+--------+--------+-----------+                +--------+--------+--------+---------+
   1        1       1 or 2                                                   3    2

The control field is two bytes for I and S frames (low bits 00, 01, 10) and
one for U frames (low bits 11).  SNAP with OUI 00-00-00 carries an
EtherType, so IP over 802.11, FDDI or Token Ring is handed to the
``ethertype`` table; other OUIs (Cisco's CDP, 00-00-0C) and plain SAPs
(spanning tree, 0x42) are kept as data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector
from layerpeek.packet import Layer
from layerpeek.wire import need

_SNAP = struct.Struct("!3sH")

@dataclass(slots=True)
class LLC(Layer):
    """An 802.2 LLC header, with its SNAP extension when present."""

    name: ClassVar[str] = "llc"
    short: ClassVar[str] = "llc"
    dsap: int
    ssap: int  #: the low bit is C/R (1: a response)
    control: int  #: one byte (U frames) or two (I and S frames)
    oui: bytes | None  #: SNAP only: the organisation code
    pid: int | None  #: SNAP only: the protocol id (an EtherType when the OUI is 00-00-00)

    def summary(self) -> str:
        if self.pid is not None and self.oui is not None:
            return f"SNAP oui={self.oui.hex()} pid={self.pid:#06x}"
        return f"dsap={self.dsap:#04x} ssap={self.ssap:#04x}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 3, "llc")
    dsap, ssap, control = buf[start], buf[start + 1], buf[start + 2]
    at = start + 3
    if control & 3 != 3:  # I or S frame: two control bytes
        need(start, end, 4, "llc")
        control = (control << 8) | buf[at]
        at += 1
    if dsap == 0xAA and ssap in (0xAA, 0xAB) and control == 0x03:
        need(at, end, 5, "llc.snap")
        oui, pid = _SNAP.unpack_from(buf, at)
        layer = LLC(dsap, ssap, control, oui, pid)
        at += 5
        if oui == b"\0\0\0" or oui == b"\0\0\xf8":  # RFC 1042, and 802.1H bridge tunnelling
            return layer, ("ethertype", pid, at, end)
        return layer, ("ethertype", UNCLAIMED, at, end)
    return LLC(dsap, ssap, control, None, None), ("ethertype", UNCLAIMED, at, end)


DISSECTOR = Dissector("llc", decode)
