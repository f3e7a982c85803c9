"""Test-only pcapng builder: blocks with either byte order and any options."""

from __future__ import annotations

import struct


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def block(order: str, btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def shb(order: str = "<") -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(
    order: str = "<",
    linktype: int = 1,
    snaplen: int = 65535,
    name: str | None = None,
    tsresol: int | None = None,
    tsoffset: int | None = None,
) -> bytes:
    body = struct.pack(order + "HHI", linktype, 0, snaplen)
    if name is not None:
        body += option(order, 2, name.encode())
    if tsresol is not None:
        body += option(order, 9, bytes([tsresol]))
    if tsoffset is not None:
        body += option(order, 14, struct.pack(order + "q", tsoffset))
    if name is not None or tsresol is not None or tsoffset is not None:
        body += option(order, 0, b"")
    return block(order, 1, body)


def epb(order: str, iface: int, units: int, data: bytes, orig: int | None = None) -> bytes:
    body = struct.pack(
        order + "IIIII",
        iface,
        units >> 32,
        units & 0xFFFFFFFF,
        len(data),
        len(data) if orig is None else orig,
    )
    return block(order, 6, body + data + b"\x00" * (-len(data) % 4))


def spb(order: str, data: bytes, orig: int | None = None) -> bytes:
    body = struct.pack(order + "I", len(data) if orig is None else orig)
    return block(order, 3, body + data + b"\x00" * (-len(data) % 4))


def obsolete_pb(order: str, iface: int, units: int, data: bytes) -> bytes:
    body = struct.pack(
        order + "HHIIII", iface, 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data)
    )
    return block(order, 2, body + data + b"\x00" * (-len(data) % 4))
