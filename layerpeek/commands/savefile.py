"""``dump -w FILE``: the packets a run selects, written to a capture file as read.

``tshark -r in.pcap -Y 'http' -w out.pcap`` and ``tcpdump -r in.pcap -w
out.pcap 'tcp port 80'`` save what the filters keep; so does ``dump -w``,
after ``-Y``, the capture filter and ``-c``.  Each packet is written as the
input file held it: the captured bytes (the frame, not a datagram the
defragmenter reassembled), the original length, the timestamp and the link
type of its interface.

The format is pcapng for a name ending in ``.pcapng`` (or ``.ntar``), else
classic pcap, unless ``-F pcap|pcapng`` says otherwise (tshark's ``-F``).  A
classic pcap file has one link type: a capture mixing link types needs
pcapng, and says so.  Timestamps keep their resolution: pcap output is
written in microseconds when every input interface has microseconds (what
tcpdump writes), else in nanoseconds; pcapng output gives each interface the
input's ``if_tsresol`` when it is a power of ten, else nanoseconds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from layerpeek.commands import common

if TYPE_CHECKING:
    from layerpeek.capture.frame import RawFrame
    from layerpeek.capture.pcapng import Interface
    from layerpeek.capture.writer import PcapngWriter, PcapWriter
    from layerpeek.packet import Packet

__all__ = ["FORMATS", "CaptureSaver", "format_for"]

#: ``-F`` choices.
FORMATS = ("pcap", "pcapng")

#: libpcap's default snapshot length, for interfaces that declare none (pcapng snaplen 0).
DEFAULT_SNAPLEN = 262144


def format_for(path: str, flag: str | None) -> str:
    """The output format: ``-F`` when given, else by the file name (pcapng or pcap)."""
    if flag is not None:
        return flag
    return "pcapng" if path.lower().endswith((".pcapng", ".ntar", ".pcapng.gz")) else "pcap"


class CaptureSaver:
    """Writes packets to ``path`` (``-`` for stdout) in ``fmt``.

    ``interfaces`` returns the input's interfaces as read so far (a pcapng
    file may declare one just before its first packet), so each written
    interface copies its link type, name, snaplen and resolution.
    """

    def __init__(self, path: str, fmt: str, interfaces: Callable[[], list[Interface]]) -> None:
        self.path = path
        self.fmt = fmt
        self._interfaces = interfaces
        self._file: BinaryIO | None = None
        self._pcap: PcapWriter | None = None
        self._pcapng: PcapngWriter | None = None
        self._linktype: int | None = None
        self._ids: dict[int, int] = {}  #: input interface → output interface (pcapng)
        self.written = 0

    def _open(self) -> BinaryIO:
        if self._file is None:
            if self.path == "-":
                self._file = sys.stdout.buffer
            else:
                try:
                    self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
                except OSError as e:
                    raise common.CommandError(
                        f"{self.path}: cannot write: {e.strerror or e}") from None
        return self._file

    def _interface(self, packet: Packet) -> Interface | None:
        known = self._interfaces()
        return known[packet.interface] if packet.interface < len(known) else None

    def write(self, packet: Packet) -> None:
        """Write one packet, as the input file held it."""
        from layerpeek.capture.frame import RawFrame

        frame = RawFrame(packet.ts_ns, packet.wire_len, packet.data, packet.linktype,
                         packet.interface, packet.interface_name, packet.comment)
        if self.fmt == "pcap":
            self._write_pcap(packet, frame)
        else:
            self._write_pcapng(packet, frame)
        self.written += 1

    def _write_pcap(self, packet: Packet, frame: RawFrame) -> None:
        from layerpeek.capture.writer import PcapWriter

        if self._pcap is None:
            interfaces = self._interfaces()
            nanos = any(i.tsresol != 6 for i in interfaces)
            snaplen = max((i.snaplen for i in interfaces), default=0) or DEFAULT_SNAPLEN
            self._pcap = PcapWriter(self._open(), packet.linktype, snaplen, nanos=nanos)
            self._linktype = packet.linktype
        elif packet.linktype != self._linktype:
            from layerpeek.capture.linktypes import describe

            raise common.CommandError(
                f"{self.path}: frame {packet.index} has {describe(packet.linktype)}, the "
                f"file so far {describe(self._linktype or 0)}: a pcap file holds one link "
                "type; write pcapng (-F pcapng, or a name ending in .pcapng)")
        self._pcap.write(frame)

    def _write_pcapng(self, packet: Packet, frame: RawFrame) -> None:
        from layerpeek.capture.writer import PcapngWriter

        if self._pcapng is None:
            self._pcapng = PcapngWriter(self._open())
        out = self._ids.get(packet.interface)
        if out is None:
            iface = self._interface(packet)
            tsresol = 9
            snaplen = DEFAULT_SNAPLEN
            name = packet.interface_name
            if iface is not None:
                snaplen = iface.snaplen
                if not iface.tsresol & 0x80 and iface.tsresol <= 9:
                    tsresol = iface.tsresol
            out = self._pcapng.add_interface(packet.linktype, name, snaplen, tsresol)
            self._ids[packet.interface] = out
        self._pcapng.write(frame, out)

    def close(self, *, failed: bool = False) -> None:
        """Flush and close; after a failure a partial file is removed, not left behind."""
        f = self._file
        if f is None:
            if not failed and self.path != "-":
                self._empty()
            return
        self._file = None
        if self.path == "-":
            f.flush()
            return
        f.close()
        if failed:
            os.unlink(self.path)

    def _empty(self) -> None:
        """No packet was selected: still a valid capture file, with no records."""
        from layerpeek.capture.writer import PcapngWriter, PcapWriter

        interfaces = self._interfaces()
        f = self._open()
        if self.fmt == "pcap":
            linktype = interfaces[0].linktype if interfaces else 1
            nanos = any(i.tsresol != 6 for i in interfaces)
            snaplen = max((i.snaplen for i in interfaces), default=0) or DEFAULT_SNAPLEN
            PcapWriter(f, linktype, snaplen, nanos=nanos)
        else:
            PcapngWriter(f)
        self._file = None
        f.close()
