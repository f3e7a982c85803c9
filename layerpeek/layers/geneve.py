"""Generic Network Virtualization Encapsulation (Geneve, RFC 8926) over UDP port 6081.

::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|        Virtual Network Identifier (VNI)       |    Reserved   |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                    Variable-Length Options                    |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Each option: class (16 bits), type (8; its top bit says "critical"), three
reserved bits and a length in 4-byte words (5 bits), then its data.  Options
are kept (class, type, data), since they carry what a deployment put there
(OVN's port numbers, AWS's flow cookies) and a reader of a capture wants to
see them.  The protocol type is an EtherType; 0x6558 (transparent Ethernet
bridging) is an Ethernet frame, which the registry maps to Ethernet.

A damaged option list follows the convention of :mod:`layerpeek.dissect`:
the options read are kept and the damage is the marker after the layer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import Damage, Decoded, Dissector, length_overflows
from layerpeek.layers.gre import GREProtocol
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, need

_HEADER = struct.Struct("!BBHI")
_OPTION = struct.Struct("!HBB")

#: The default port (the registry's wiring).
PORT = 6081


@dataclass(frozen=True, slots=True)
class GeneveOption:
    """One Geneve option, its data uninterpreted."""

    option_class: int
    type: int  #: the top bit (0x80) marks a critical option
    data: bytes

    @property
    def critical(self) -> bool:
        return bool(self.type & 0x80)


@dataclass(slots=True)
class Geneve(Layer):
    """A Geneve header and its options."""

    name: ClassVar[str] = "geneve"
    short: ClassVar[str] = "geneve"
    version: int
    options_len: int  #: the option area in bytes (the header's 6-bit field times 4)
    oam: bool  #: O: a control packet, not data
    critical: bool  #: C: at least one critical option is present
    protocol: int  #: EtherType of the payload (0x6558: an Ethernet frame)
    vni: int  #: the 24-bit Virtual Network Identifier
    options: tuple[GeneveOption, ...]

    def summary(self) -> str:
        extra = f" options={len(self.options)}" if self.options else ""
        return f"vni={self.vni} {enum_name(GREProtocol, self.protocol)}{extra}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "geneve")
    first, flags, protocol, word = _HEADER.unpack_from(buf, start)
    version = first >> 6
    options_len = (first & 0x3F) * 4
    after = start + 8 + options_len
    options: list[GeneveOption] = []
    damage: Damage | None = None
    at = start + 8
    limit = min(after, end)
    while at < limit:
        index = len(options)
        if limit - at < 4:
            damage = Damage(f"geneve.options[{index}]: header cut", at, truncated=after > end)
            break
        option_class, kind, length_byte = _OPTION.unpack_from(buf, at)
        size = 4 + (length_byte & 0x1F) * 4
        if at + size > after:
            damage = length_overflows(f"geneve.options[{index}]", size, after - at, at, "options")
            break
        if at + size > end:
            damage = Damage(f"geneve.options[{index}]: cut by the capture", at, truncated=True)
            break
        options.append(GeneveOption(option_class, kind, buf[at + 4 : at + size]))
        at += size
    if damage is None and after > end:  # the capture ends between two options
        damage = Damage(f"geneve.options[{len(options)}]: cut by the capture", at, truncated=True)
    layer = Geneve(version, options_len, bool(flags & 0x80), bool(flags & 0x40), protocol,
                   word >> 8, tuple(options))
    if damage is not None:
        return layer, damage.marker("geneve", buf, end)
    return layer, ("ethertype", protocol, after, end)


DISSECTOR = Dissector("geneve", decode, tunnel=True)
