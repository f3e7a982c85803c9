"""Writing captures: classic pcap and pcapng, for ``live -w`` and for tests.

Both writers emit little-endian files with nanosecond timestamps by default,
so a frame read back has exactly the ``ts_ns`` it was written with.  The
pcapng writer names each interface (``if_name``) and declares its resolution
(``if_tsresol``), which a classic pcap file cannot carry.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from layerpeek.capture.frame import RawFrame


class PcapWriter:
    """Write a classic pcap file (one link type for the whole file)."""

    def __init__(
        self, fileobj: BinaryIO, linktype: int, snaplen: int = 262144, nanos: bool = True
    ) -> None:
        self._f = fileobj
        self._unit = 1 if nanos else 1000
        magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
        fileobj.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, frame: RawFrame) -> None:
        sec, frac = divmod(frame.ts_ns, 1_000_000_000)
        self._f.write(
            struct.pack("<IIII", sec, frac // self._unit, len(frame.data), frame.wire_len)
        )
        self._f.write(frame.data)

    def flush(self) -> None:
        self._f.flush()


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _block(btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


class PcapngWriter:
    """Write a pcapng file: one section, any number of interfaces."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._f = fileobj
        self._resolution: list[int] = []  #: nanoseconds per unit, per interface
        shb = (
            struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(4, b"layerpeek") + _option(0, b"")
        )
        fileobj.write(_block(0x0A0D0D0A, shb))

    def add_interface(
        self, linktype: int, name: str | None = None, snaplen: int = 262144, tsresol: int = 9
    ) -> int:
        """Describe an interface; returns its id for :meth:`write`.  ``tsresol``: 10^-n s."""
        body = struct.pack("<HHI", linktype, 0, snaplen)
        if name:
            body += _option(2, name.encode())
        body += _option(9, bytes([tsresol])) + _option(0, b"")
        self._f.write(_block(1, body))
        self._resolution.append(10 ** max(0, 9 - tsresol))
        return len(self._resolution) - 1

    def write(self, frame: RawFrame, interface: int) -> None:
        units = frame.ts_ns // self._resolution[interface]
        data = frame.data
        body = struct.pack(
            "<IIIII", interface, units >> 32, units & 0xFFFFFFFF, len(data), frame.wire_len
        )
        options = b""
        if frame.comment is not None:  # opt_comment, one per line of the joined comments
            options = b"".join(_option(1, c.encode()) for c in frame.comment.split("\n"))
            options += _option(0, b"")
        self._f.write(_block(6, body + data + b"\x00" * (-len(data) % 4) + options))

    def flush(self) -> None:
        self._f.flush()
