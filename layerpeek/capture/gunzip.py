"""gzip-compressed captures, inflated as they are read (RFC 1952).

Why not :class:`gzip.GzipFile`: it checks a member's CRC-32 and length in
the same ``read`` call that returns the member's last bytes, and raises
instead of returning them; a file cut short raises the same way.  For a
small capture that one call is the whole file, so a damaged trailer (or a
download cut a few bytes early) lost every packet.  A capture reader must
hand over every byte that inflated cleanly and only then say what was wrong,
as it does for an uncompressed file cut mid-record.  So here the deflate
stream is inflated raw, the gzip header and trailer are read by hand, the
CRC is computed on the way, and any damage is raised as :class:`GzipDamage`
by the ``read`` *after* the last good byte has been returned.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    _Inflater = zlib._Decompress
else:  # the class has no public name at run time; the API reference resolves this one
    _Inflater = type(zlib.decompressobj())

__all__ = ["GzipDamage", "GzipStream", "inflate"]

_MAGIC = b"\x1f\x8b"
_DEFLATE = 8
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 0x02, 0x04, 0x08, 0x10
_TRAILER = struct.Struct("<II")  # CRC-32, then the length modulo 2**32
#: Compressed bytes taken from the underlying stream at a time, and the most
#: output one inflate step may produce (a small input can expand a lot).
_INPUT_CHUNK = 1 << 16
_OUTPUT_STEP = 1 << 20


class GzipDamage(OSError):
    """The gzip stream is damaged; every byte before the damage was returned."""


class GzipStream:
    """A read-only binary stream of the inflated contents of a gzip stream.

    Members written back to back are read one after the other, and zero
    bytes after a member are skipped (as gzip(1) does).  ``read`` never
    raises for damage while inflated data is waiting: it returns that data,
    and the next call raises :class:`GzipDamage` with the reason and the
    offset in the inflated data.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._input = b""
        self._input_done = False
        self._output = bytearray()
        self._inflater: _Inflater | None = None
        self._crc = 0
        self._size = 0
        self._total = 0  #: inflated bytes of all members so far
        self._members = 0
        self._error: GzipDamage | None = None
        self._done = False

    # -- the file-like side ---------------------------------------------------

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self._output) < n) and not self._done and self._error is None:
            self._step()
        if not self._output and self._error is not None:
            error, self._error = self._error, None
            self._done = True
            raise error
        take = len(self._output) if n < 0 else min(n, len(self._output))
        data = bytes(self._output[:take])
        del self._output[:take]
        return data

    def close(self) -> None:
        self._stream.close()

    # -- inflating ------------------------------------------------------------

    def _more_input(self) -> bool:
        """Append compressed bytes to ``_input``; False once the stream is exhausted."""
        if self._input_done:
            return False
        chunk = self._stream.read(_INPUT_CHUNK)
        if not chunk:
            self._input_done = True
            return False
        self._input += chunk
        return True

    def _fail(self, reason: str) -> None:
        self._error = GzipDamage(f"gzip: {reason} (after {self._total} inflated bytes)")

    def _step(self) -> None:
        if self._inflater is None:
            self._start_member()
        else:
            self._inflate()

    def _start_member(self) -> None:
        # Zero bytes may pad the end of a gzip file; anything else must be a header.
        while True:
            self._input = self._input.lstrip(b"\0") if self._members else self._input
            if self._input or not self._more_input():
                break
        if not self._input:
            if self._members == 0:
                self._fail("empty stream")
            else:
                self._done = True
            return
        header = self._header_length()
        if header is None:
            return  # _fail was called, or the header is incomplete at the end
        self._input = self._input[header:]
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0

    def _header_length(self) -> int | None:
        """Bytes of the member header at the start of ``_input`` (reads more as needed)."""
        while True:
            length = _parse_header(self._input)
            if isinstance(length, int):
                return length
            if length == "short" and self._more_input():
                continue
            if length == "short":
                self._fail(f"file ends inside the header of member {self._members + 1}")
            else:
                self._fail(f"member {self._members + 1}: {length}")
            return None

    def _inflate(self) -> None:
        inflater = self._inflater
        assert inflater is not None
        if not self._input and not inflater.unconsumed_tail and not self._more_input():
            self._fail(f"compressed data of member {self._members + 1} cut short")
            return
        data = inflater.unconsumed_tail or self._input
        if not inflater.unconsumed_tail:
            self._input = b""
        try:
            out = inflater.decompress(data, _OUTPUT_STEP)
        except zlib.error as e:
            self._fail(f"member {self._members + 1}: corrupt deflate data ({e})")
            return
        self._output += out
        self._crc = zlib.crc32(out, self._crc)
        self._size += len(out)
        self._total += len(out)
        if inflater.eof:
            self._input = inflater.unused_data + self._input
            self._inflater = None
            self._finish_member()

    def _finish_member(self) -> None:
        while len(self._input) < _TRAILER.size and self._more_input():
            pass
        if len(self._input) < _TRAILER.size:
            self._fail(f"file ends inside the trailer of member {self._members + 1}")
            return
        crc, size = _TRAILER.unpack_from(self._input)
        self._input = self._input[_TRAILER.size :]
        self._members += 1
        if crc != self._crc:
            self._fail(
                f"member {self._members}: CRC-32 check failed "
                f"(trailer {crc:#010x}, data {self._crc:#010x})"
            )
        elif size != self._size & 0xFFFF_FFFF:
            self._fail(
                f"member {self._members}: length check failed "
                f"(trailer {size}, data {self._size & 0xFFFF_FFFF})"
            )


def _parse_header(data: bytes) -> int | str:
    """The length of the gzip member header at the start of ``data``.

    ``"short"`` when ``data`` ends inside it; otherwise a reason it is not one.
    """
    if len(data) < 10:
        return "short" if _MAGIC.startswith(data[:2]) else "not a gzip header"
    if data[:2] != _MAGIC:
        return "not a gzip header"
    if data[2] != _DEFLATE:
        return f"compression method {data[2]} is not deflate"
    flags = data[3]
    at = 10
    if flags & _FEXTRA:
        if len(data) < at + 2:
            return "short"
        at += 2 + int.from_bytes(data[at : at + 2], "little")
    for flag in (_FNAME, _FCOMMENT):
        if flags & flag:
            end = data.find(b"\0", at)
            if end < 0:
                return "short"
            at = end + 1
    if flags & _FHCRC:
        at += 2
    return at if len(data) >= at else "short"


def inflate(data: bytes) -> tuple[bytes, str | None]:
    """Inflate a whole gzip file: what inflated cleanly, and what was wrong (or None)."""
    stream = GzipStream(io.BytesIO(data))
    parts: list[bytes] = []
    try:
        while chunk := stream.read(_OUTPUT_STEP):
            parts.append(chunk)
    except GzipDamage as e:
        return b"".join(parts), str(e)
    return b"".join(parts), None
