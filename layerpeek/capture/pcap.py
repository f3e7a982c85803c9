"""Classic libpcap files: a sans-IO parser.

File header (24 bytes), then records of a 16-byte header plus the captured bytes::

    magic  version  thiszone  sigfigs  snaplen  linktype      (file header)
    ts_sec  ts_frac  incl_len  orig_len  data[incl_len]        (each record)

The magic gives both the byte order and the timestamp unit: ``a1b2c3d4`` is
microseconds, ``a1b23c4d`` nanoseconds (either byte order).  The parser is fed
chunks and never seeks, so pipes and ``tcpdump -U -w -`` work; a record cut by
the end of the input is reported in :attr:`PcapParser.problems`, after every
whole record has been returned.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from layerpeek.capture.frame import RawFrame, append_chunk
from layerpeek.errors import CaptureFormatError

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
#: A record claiming more than this is a corrupt file, not a frame to allocate.
MAX_RECORD = 256 * 1024 * 1024
#: The largest record each link type may hold, as libpcap's
#: ``max_snaplen_for_dlt`` (D-Bus 128 MiB, EBHSCR 8 MiB, USBPcap 1 MiB, every
#: other 262,144 bytes): libpcap, tcpdump and Wireshark refuse a file with a
#: larger record, and so does this reader (reported, never buffered).
LINK_MAX_RECORD = {231: 128 * 1024 * 1024, 279: 8 * 1024 * 1024, 249: 1024 * 1024}
DEFAULT_MAX_RECORD = 262144


def max_record(linktype: int) -> int:
    """The largest captured length a record of ``linktype`` may have."""
    return LINK_MAX_RECORD.get(linktype, DEFAULT_MAX_RECORD)


def record_problem(number: int, at: int, incl: int, linktype: int) -> str | None:
    """Why record ``number`` (at byte ``at``) cannot be read, or None when it can."""
    if incl > MAX_RECORD:
        return (f"record {number} at byte {at}: captured length {incl} is impossible; "
                "stopped reading")
    limit = max_record(linktype)
    if incl > limit:
        return (f"record {number} at byte {at}: captured length {incl} is more than the "
                f"{limit} bytes link type {linktype} allows; stopped reading")
    return None

def is_pcap_magic(head: bytes) -> bool:
    return head[:4] in _MAGICS


class PcapParser:
    """Feed bytes, get :class:`RawFrame` records; ``finish()`` at end of input."""

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self._consumed = 0  #: bytes dropped from the front of _buf (for offsets in messages)
        self._record = struct.Struct("<IIII")
        self._tick_ns = 1000
        self.header_done = False
        self.linktype = -1
        self.snaplen = 0
        self.version = (0, 0)
        self.nanosecond = False
        self.byte_order = "<"
        self.records = 0
        self.problems: list[str] = []
        self._dead = False
        # A record longer than what is buffered: the unconsumed bytes and the
        # chunks that follow are appended to one bytearray (grown in place)
        # until the record is whole, then made the buffer with one copy
        # (appending each chunk to a bytes buffer copied it per chunk: a
        # 255 MiB record took 47 s).
        self._need = 0  # bytes from _pos the record waited for needs
        self._pending: bytearray | None = None

    def _header(self) -> bool:
        buf = self._buf
        if len(buf) < 24:
            return False
        order_unit = _MAGICS.get(buf[:4])
        if order_unit is None:
            raise CaptureFormatError(f"not a pcap file (magic {buf[:4].hex(' ')})")
        order, self._tick_ns = order_unit
        self.byte_order = order
        self.nanosecond = self._tick_ns == 1
        major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from(
            order + "HHiIII", buf, 4
        )
        self.version = (major, minor)
        self.snaplen = snaplen
        # The upper bits of the link-type field may carry FCS information (pcap-linktype(7)).
        self.linktype = linktype & 0x03FFFFFF
        self._record = struct.Struct(order + "IIII")
        self._pos = 24
        self.header_done = True
        return True

    def _gather(self, chunk: bytes) -> bytes | None:
        """``chunk`` to append; None while a long record is still incomplete (its
        bytes are gathered aside); once it is whole, the buffer is rebuilt from
        them in one copy and the chunk to append is empty."""
        if not self._need or not chunk:
            return chunk
        if self._pending is None:
            self._pending = bytearray(self._buf[self._pos :])
            self._consumed += self._pos
            self._buf, self._pos = b"", 0
        self._pending += chunk
        if len(self._pending) < self._need:
            return None
        self._flush_pending()
        return b""

    def _flush_pending(self) -> None:
        if self._pending is not None:
            self._buf, self._pos = bytes(self._pending), 0
            self._pending = None
            self._need = 0

    @property
    def stopped(self) -> bool:
        """A fatal problem was met: the rest of the input is not read (see ``problems``)."""
        return self._dead

    def feed(self, chunk: bytes) -> list[RawFrame]:
        """The whole records completed by ``chunk``, as :class:`RawFrame` objects."""
        return [RawFrame(*record) for record in self.iter_records(chunk)]

    def feed_records(self, chunk: bytes) -> list[tuple[int, int, bytes, int, int, None]]:
        """Like :meth:`feed`, as ``(ts_ns, wire_len, data, linktype, 0, None)`` tuples.

        The fields and their order are :class:`RawFrame`'s (interface 0, no
        name: a pcap file has one unnamed interface).  A tuple costs a
        fraction of a dataclass to build (``bench/README.md``, step 3).
        """
        return list(self.iter_records(chunk))

    def iter_records(self, chunk: bytes) -> Iterator[tuple[int, int, bytes, int, int, None]]:
        """:meth:`feed_records` one record at a time; ``chunk`` is taken when iteration starts.

        Why a generator: a record handed over at once is usually dropped by
        its consumer before the next is cut, so its bytes are freed and the
        next slice reuses the memory while it is in the CPU cache; a list of
        a megabyte's worth of records holds them all first (``bench/README.md``,
        step 6, has the figures).  Stopping early is safe: the next call goes
        on after the last record handed over.
        """
        if self._dead:
            return
        gathered = self._gather(chunk)
        if gathered is None:
            return
        self._buf, dropped = append_chunk(self._buf, self._pos, gathered)
        self._consumed += dropped
        self._pos -= dropped
        if not self.header_done and not self._header():
            return
        buf = self._buf
        pos = self._pos
        size = len(buf)
        unpack = self._record.unpack_from
        tick = self._tick_ns
        linktype = self.linktype
        limit = max_record(linktype)
        taken = 0
        try:
            while pos + 16 <= size:
                sec, frac, incl, orig = unpack(buf, pos)
                if incl > limit:
                    problem = record_problem(self.records + taken + 1, self._consumed + pos,
                                             incl, linktype)
                    assert problem is not None
                    self.problems.append(problem)
                    self._dead = True
                    break
                end = pos + 16 + incl
                if end > size:
                    self._need = end - pos  # wait for the whole record without copying per chunk
                    break
                data = buf[pos + 16 : end]
                pos = end
                taken += 1
                yield (sec * 1_000_000_000 + frac * tick, orig, data, linktype, 0, None)
        finally:
            self._pos = pos
            self.records += taken

    def finish(self) -> None:
        """Record a problem if the input ended inside a header or a record."""
        self._flush_pending()
        left = len(self._buf) - self._pos
        if self._dead or left == 0:
            return
        at = self._consumed + self._pos
        if not self.header_done:
            self.problems.append(f"file ends inside the 24-byte pcap header ({left} bytes)")
        elif left < 16:
            self.problems.append(
                f"record {self.records + 1} at byte {at} cut by end of file: "
                f"{left} of 16 header bytes present"
            )
        else:
            incl = self._record.unpack_from(self._buf, self._pos)[2]
            self.problems.append(
                f"record {self.records + 1} at byte {at} cut by end of file: "
                f"header says {incl} bytes, {left - 16} present"
            )
