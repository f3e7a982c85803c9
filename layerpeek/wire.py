"""Helpers shared by the decoders: bounds checks and address formatting.

Decoders work on ``(buf, start, end)`` triples rather than slices so a frame is
never copied on the way down; these helpers keep the bounds checks uniform and
the error messages alike ("need 20 bytes, have 7").
"""

from __future__ import annotations

import socket

from layerpeek.errors import Short


def need(start: int, end: int, n: int, what: str) -> None:
    """Raise :class:`Short` unless ``n`` bytes are available in ``[start, end)``."""
    if end - start < n:
        raise Short(f"{what}: need {n} bytes, have {max(end - start, 0)}", start)


def mac_str(raw: bytes) -> str:
    """``b'\\x00\\x1b...'`` → ``'00:1b:...'`` (lower-case colon-hex)."""
    return raw.hex(":")


def ipv4_str(raw: bytes) -> str:
    """Four raw bytes → dotted quad."""
    return socket.inet_ntop(socket.AF_INET, raw)


def ipv6_str(raw: bytes) -> str:
    """Sixteen raw bytes → RFC 5952 compressed text."""
    return socket.inet_ntop(socket.AF_INET6, raw)


def ip_str(raw: bytes) -> str:
    """Raw IPv4 or IPv6 address (by length) → text; other lengths → hex."""
    if len(raw) == 4:
        return ipv4_str(raw)
    if len(raw) == 16:
        return ipv6_str(raw)
    return raw.hex()


def enum_name(enum_cls: type, value: int) -> str:
    """Name of ``value`` in an ``IntEnum``, or ``0x…`` hex for codes we do not know.

    Unknown codes never raise (dnspython's rule); building the enum member is
    left to display time so the decode path stays on plain ints.
    """
    try:
        return str(enum_cls(value).name)
    except ValueError:
        return f"0x{value:04x}" if value > 0xFF else f"0x{value:02x}"
