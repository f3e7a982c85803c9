"""Live capture: frames from a Linux interface, as they arrive, decoded like a file's.

The explainer's socket demo is best understood by watching it: start a capture
on ``lo``, run the server and the client, and see the SYN, SYN-ACK, ACK, the
greeting, the message and the FINs appear.  This module is the I/O edge that
makes that possible; everything after it (decoding, the TCP tracker, HTTP
pairing, rendering) is the same code that reads files.

Theory of operation
-------------------
:class:`LiveCapture` opens one Linux ``AF_PACKET`` raw socket bound to the
interface and turns each datagram the kernel hands over into a
:class:`~layerpeek.capture.frame.RawFrame`, then into a decoded
:class:`~layerpeek.packet.Packet`:

1. **No early packets slip past the filter.**  The socket is created with
   protocol 0, which receives nothing; the BPF program is attached and only
   then does ``bind()`` name ``ETH_P_ALL``.  (A socket created with
   ``ETH_P_ALL`` starts queueing unfiltered traffic before the filter is in.)
2. **The filter runs in the kernel.**  The tcpdump filter expression is
   compiled by libpcap itself (``pcap_compile`` on a ``pcap_open_dead`` handle,
   through ctypes) so the syntax and semantics are exactly tcpdump's, and is
   attached with ``SO_ATTACH_FILTER``.  The program's accept value is the
   snap length, so the kernel also does the truncation.
3. **Packets wait in a shared ring** (``PACKET_RX_RING``, TPACKET_V3): the
   kernel writes them into memory we ``mmap``; one ``poll`` hands over a
   block of many packets, with no system call per packet.
4. **Real time stamps** are the kernel's (nanoseconds, in each packet's ring
   header), not the clock when Python got round to reading the packet.
5. **Original length and VLAN tags** come from the same header: the kernel
   may strip an 802.1Q tag into metadata (VLAN offload, and always on
   receive); like libpcap we put it back so the frame looks as it did on the
   wire.  Known limit: the filter is compiled the way tcpdump compiles it
   for a *file* (inline tags), so in the kernel ``vlan 10`` does not match
   such frames while ``udp`` does; tcpdump on a live Linux interface uses the
   kernel's VLAN metadata instead.  (Pinned by a test in ``tests/test_live.py``.)
6. **Loopback shows every packet once.**  On ``lo`` each packet passes the tap
   twice: once leaving (``PACKET_OUTGOING``) and once arriving.  We ask the
   kernel not to deliver outgoing copies (``PACKET_IGNORE_OUTGOING``, Linux
   4.20+) and also skip them in user space for older kernels, on loopback
   only; on a real interface the outgoing packets are the ones the host sends.
7. **Stopping is an event, not an exception.**  :meth:`LiveCapture.stop` (safe
   from a signal handler or another thread) writes to a self-pipe that the
   receive loop polls alongside the socket, so the CLI turns Ctrl-C into a
   clean stop: the packet being handled is finished, a ``-w`` file is never
   left with half a block, and the kernel's drop counter
   (``PACKET_STATISTICS``) can still be read for the summary.

Why AF_PACKET and not scapy or a tcpdump pipe
---------------------------------------------
``bench/README.md`` ("Live capture") has the measurements: per-packet cost
in this process, a 5-second UDP flood over ``lo``, time to open and to import.
Decoding is most of the cost, so the ring and the pipe sustain the same
live rate within the noise (the pipe's capture work runs in tcpdump's own
process, on the other core, which is why its in-process cost is lower, not
its total); a plain ``recvmsg()`` per packet (this module's first
version) spent most of its time in the system call, which is why the ring
is used; scapy builds its own packet object for every frame before we could
decode ours and costs seconds to import, so it is far slower and only its
capture would be used anyway.
Between the two fast paths AF_PACKET wins on everything that is not speed:
no external program; permission, interface and filter problems come back as
errno values and libpcap messages we can explain, instead of tcpdump's
stderr to parse; the kernel's exact drop counter; ns time stamps and the link
type without a pcap header; and on ``lo`` the kernel stops the outgoing
copies before they reach the ring, where libpcap receives both and discards
one (in the flood, tcpdump's "dropped by kernel" exceeded the datagrams
sent).  Its limit is that it is Linux-only; elsewhere, the portable route is
``tcpdump -U -w - -i IFACE | layerpeek dump -``, which the file readers
already support.

Import cost: this module imports only the standard library and layerpeek's core; ctypes and
libpcap are loaded only when a filter expression is compiled, and nothing
here is imported by ``import layerpeek`` or ``layerpeek dump FILE``.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from layerpeek.capture.frame import RawFrame, as_records
from layerpeek.decode import decode_packets
from layerpeek.errors import FilterError, LayerpeekError
from layerpeek.packet import Packet
from layerpeek.registry import Registry

if TYPE_CHECKING:
    import ctypes

# --- Linux constants the socket module does not export (include/uapi/linux/*.h) ---
ETH_P_ALL = 0x0003  #: if_ether.h: every protocol
SOL_PACKET = 263  #: socket.h
PACKET_RX_RING = 5  #: if_packet.h
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_IGNORE_OUTGOING = 23
TPACKET_V3 = 2
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
PACKET_OUTGOING = 4  #: sll_pkttype of a packet this host sent
SO_ATTACH_FILTER = 26  #: asm-generic/socket.h
SIOCGIFFLAGS = 0x8913  #: sockios.h
SIOCGIFHWADDR = 0x8927
IFF_UP = 0x1
ARPHRD_ETHER = 1  #: if_arp.h
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 0xFFFE  #: tun devices, WireGuard: frames start at the IP header
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

#: Big enough for the largest loopback frame (lo's MTU is 64 KiB, GSO can
#: hand over more); the same default as tcpdump.
DEFAULT_SNAPLEN = 262144
#: Size of the kernel ring the packets wait in; tcpdump's default is 2 MiB.
#: Bigger absorbs the bursts that arrive while Python is busy decoding.
DEFAULT_BUFFER_SIZE = 16 * 1024 * 1024
#: How long the kernel keeps filling a ring block before handing it over
#: when traffic is light: the display latency of a quiet capture.
BLOCK_TIMEOUT_MS = 20

#: ARPHRD_* → (pcap LINKTYPE of the frames we read, libpcap DLT to compile for).
#: DLT_RAW is 12 on Linux while its LINKTYPE is 101, hence two columns.
_LINK = {
    ARPHRD_ETHER: (LINKTYPE_ETHERNET, 1),
    ARPHRD_LOOPBACK: (LINKTYPE_ETHERNET, 1),  # lo carries Ethernet headers with zero MACs
    ARPHRD_NONE: (LINKTYPE_RAW, 12),
}

#: struct tpacket_req3: block_size, block_nr, frame_size, frame_nr,
#: retire_blk_tov, sizeof_priv, feature_req_word
_REQ3 = struct.Struct("@7I")
#: struct tpacket_block_desc up to the packet count: version, offset_to_priv,
#: then tpacket_hdr_v1's block_status, num_pkts, offset_to_first_pkt
_BLOCK = struct.Struct("@5I")
_BLOCK_STATUS_AT = 8
#: struct tpacket3_hdr: next_offset, sec, nsec, snaplen, len, status, mac, net,
#: then hv1's rxhash, vlan_tci, vlan_tpid (48 bytes with padding)
_PKT = struct.Struct("@6I2H2IH")
#: struct sockaddr_ll follows the 48-byte header (TPACKET_ALIGN(48) = 48);
#: its sll_pkttype is at offset 10 within it.
_PKTTYPE_AT = 48 + 10
#: struct tpacket_stats_v3: tp_packets, tp_drops, tp_freeze_q_cnt
_STATS = struct.Struct("@3I")

#: One classic BPF instruction: (code, jt, jf, k), the layout of ``struct sock_filter``.
BPFInstruction = tuple[int, int, int, int]
_BPF_RET_K = 0x06


# --------------------------------------------------------------------------- errors


class LiveCaptureError(LayerpeekError):
    """Live capture could not start or go on, for a reason the user can fix.

    The message is meant to be printed as is: it says what went wrong and what
    to do about it.
    """


class CapturePermissionError(LiveCaptureError):
    """The process may not open a raw packet socket (needs CAP_NET_RAW)."""


class NoSuchInterface(LiveCaptureError):
    """The interface name is not known in this network namespace."""

    def __init__(self, interface: str, available: list[str]) -> None:
        self.interface = interface
        self.available = available
        names = ", ".join(available) if available else "none"
        super().__init__(f"no such interface {interface!r}; available interfaces: {names}")


class InterfaceDown(LiveCaptureError):
    """The interface exists but is administratively down (or went down)."""


class CaptureFilterError(LiveCaptureError, FilterError):
    """The BPF filter expression did not compile (or the kernel refused it).

    A :class:`~layerpeek.errors.FilterError`, the one filter error (which this
    module's ``FilterError`` names), and a :class:`LiveCaptureError`.
    """


class UnsupportedInterface(LiveCaptureError):
    """The interface's link type is not one this backend can read."""


def permission_message(interface: str) -> str:
    """What to tell a user who may not capture, with the exact command to fix it.

    ``setcap`` must name the real interpreter binary, not a symlink or a
    venv's ``python3`` link, hence ``readlink -f``.
    """
    exe = os.path.realpath(sys.executable) or "python3"
    return (
        f"no permission to capture on {interface!r}: live capture needs CAP_NET_RAW. "
        f"Run as root (sudo), or grant the capability to this Python: "
        f"sudo setcap cap_net_raw,cap_net_admin=eip {exe} "
        f"(for any python3: sudo setcap cap_net_raw,cap_net_admin=eip "
        f"$(readlink -f $(which python3)))"
    )


def interface_names() -> list[str]:
    """The interfaces of this network namespace, in kernel index order."""
    try:
        return [name for _, name in sorted(socket.if_nameindex())]
    except OSError:
        return []


# --------------------------------------------------------------------------- filters

_PCAP_LIBRARIES = ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so")


def load_libpcap() -> ctypes.CDLL | None:
    """libpcap as a ``ctypes.CDLL`` (the first of its usual names found), or None."""
    import ctypes

    for name in _PCAP_LIBRARIES:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None
_compile_lock = threading.Lock()  # pcap_compile was not thread-safe before libpcap 1.8


def compile_filter(
    expression: str, dlt: int = 1, snaplen: int = DEFAULT_SNAPLEN
) -> tuple[BPFInstruction, ...]:
    """Compile a tcpdump filter expression to classic BPF, with libpcap itself.

    Using libpcap (which every tcpdump install brings) rather than a home-made
    compiler means the expression language is exactly tcpdump's, including its
    error messages.  ``dlt`` is libpcap's DLT value for the frames the program
    will see (1: Ethernet, 12: raw IP on Linux).  An empty expression accepts
    everything.  Raises :class:`CaptureFilterError` with libpcap's message.
    """
    if not expression.strip():
        return ((_BPF_RET_K, 0, 0, snaplen),)
    import ctypes

    class BPFInsn(ctypes.Structure):
        _fields_ = (
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint32),
        )

    class BPFProgram(ctypes.Structure):
        _fields_ = (("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(BPFInsn)))

    lib = load_libpcap()
    if lib is None:
        raise CaptureFilterError(
            "compiling a capture filter needs libpcap, which was not found "
            "(install tcpdump or libpcap, e.g. apt-get install libpcap0.8)"
        )
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = (ctypes.c_int, ctypes.c_int)
    lib.pcap_compile.restype = ctypes.c_int
    lib.pcap_compile.argtypes = (
        ctypes.c_void_p,
        ctypes.POINTER(BPFProgram),
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint32,
    )
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = (ctypes.c_void_p,)
    lib.pcap_freecode.argtypes = (ctypes.POINTER(BPFProgram),)
    lib.pcap_close.argtypes = (ctypes.c_void_p,)

    with _compile_lock:
        handle = lib.pcap_open_dead(dlt, snaplen)
        if not handle:
            raise CaptureFilterError(f"libpcap cannot compile filters for link type {dlt}")
        try:
            program = BPFProgram()
            # netmask 0xffffffff = PCAP_NETMASK_UNKNOWN: only "ip broadcast" needs it.
            rc = lib.pcap_compile(handle, ctypes.byref(program), expression.encode(), 1, 0xFFFFFFFF)
            if rc != 0:
                raw = lib.pcap_geterr(handle)
                reason = raw.decode(errors="replace") if isinstance(raw, bytes) else "error"
                raise CaptureFilterError(f"bad capture filter {expression!r}: {reason}")
            try:
                return tuple(
                    (
                        int(program.bf_insns[i].code),
                        int(program.bf_insns[i].jt),
                        int(program.bf_insns[i].jf),
                        int(program.bf_insns[i].k),
                    )
                    for i in range(int(program.bf_len))
                )
            finally:
                lib.pcap_freecode(ctypes.byref(program))
        finally:
            lib.pcap_close(handle)


def _attach_filter(sock: socket.socket, program: tuple[BPFInstruction, ...]) -> None:
    """``SO_ATTACH_FILTER``: the kernel copies the program during the call."""
    import ctypes

    code = b"".join(struct.pack("@HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buf))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError as e:
        raise CaptureFilterError(f"the kernel refused the capture filter: {e.strerror}") from None


# --------------------------------------------------------------------------- capture


@dataclass(slots=True)
class CaptureStats:
    """What a capture saw: for the summary printed when it stops."""

    interface: str
    captured: int  #: packets handed to the caller (after filtering and loopback de-duplication)
    dropped: int | None  #: packets the kernel dropped because we read too slowly (None: unknown)


def _ifreq(interface: str) -> bytes:
    return struct.pack("16s16x", interface.encode()[:15])


class LiveCapture:
    """A live packet source on one Linux interface.

    Opening checks everything a person can get wrong (interface name, link
    state, permission, filter syntax) and raises a :class:`LiveCaptureError`
    subclass with an actionable message *before* any packet is read, so a CLI
    can fail cleanly with exit code 1.  Use as a context manager::

        with LiveCapture("lo", "tcp port 3040") as cap:
            for packet in cap.packets(count=10):
                print(packet.index, packet.protocols)

    ``stop()`` may be called from a signal handler or another thread; the
    iteration then ends after the packet being handled.
    """

    def __init__(
        self,
        interface: str,
        bpf_filter: str | None = None,
        *,
        snaplen: int = DEFAULT_SNAPLEN,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        registry: Registry | None = None,
    ) -> None:
        if snaplen <= 0:
            raise ValueError(f"snaplen must be positive, got {snaplen}")
        if not hasattr(socket, "AF_PACKET"):
            raise LiveCaptureError(
                "live capture uses Linux AF_PACKET sockets, which this platform lacks; "
                f"instead run: tcpdump -U -w - -i {interface} | layerpeek dump -"
            )
        self.interface = interface
        self.bpf_filter = bpf_filter or ""
        self.snaplen = snaplen
        self._registry = registry
        self._index = 0
        self._captured = 0
        self._dropped = 0
        self._stats_known = True
        self._stopping = False
        self._closed = False

        if interface == "any":
            raise UnsupportedInterface(
                "live capture reads one interface at a time ('any' is not supported); "
                f"available interfaces: {', '.join(interface_names())}"
            )
        try:
            self.ifindex = socket.if_nametoindex(interface)
        except OSError:
            raise NoSuchInterface(interface, interface_names()) from None
        flags, hatype = self._query_interface(interface)
        if not flags & IFF_UP:
            raise InterfaceDown(
                f"interface {interface!r} is down; bring it up with: ip link set {interface} up"
            )
        link = _LINK.get(hatype)
        if link is None:
            raise UnsupportedInterface(
                f"interface {interface!r} has hardware type {hatype}, which live capture cannot "
                f"read yet (Ethernet, loopback and tun-style raw IP are supported); instead run: "
                f"tcpdump -U -w - -i {interface} | layerpeek dump -"
            )
        self.linktype, dlt = link
        self.is_loopback = hatype == ARPHRD_LOOPBACK
        # Compile before opening the socket: a typo in the filter is reported
        # even to a user who lacks the permission to capture.
        program = compile_filter(self.bpf_filter, dlt, snaplen)

        try:
            # Protocol 0: receive nothing until bind() below, after the filter is in.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise CapturePermissionError(permission_message(interface)) from None
        try:
            _attach_filter(sock, program)
            if self.is_loopback:
                # Kernel < 4.20 lacks it: the pkttype check in _take_block() does the work.
                with contextlib.suppress(OSError):
                    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            self._setup_ring(sock, snaplen, buffer_size)
            sock.bind((interface, ETH_P_ALL))
        except PermissionError:
            self._close_ring()
            sock.close()
            raise CapturePermissionError(permission_message(interface)) from None
        except OSError as e:
            self._close_ring()
            sock.close()
            raise self._explain(e) from None
        except BaseException:
            self._close_ring()
            sock.close()
            raise
        self._sock = sock
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN)
        self._poller.register(self._wake_r, select.POLLIN)
        self._pending: deque[RawFrame] = deque()
        self._final_stats: CaptureStats | None = None

    def _setup_ring(self, sock: socket.socket, snaplen: int, buffer_size: int) -> None:
        """Map a TPACKET_V3 receive ring: the kernel writes packets, we read them in place.

        A block holds as many packets as fit; the kernel hands a block over
        when it is full or :data:`BLOCK_TIMEOUT_MS` after its first packet.
        One ``poll`` then yields a whole block, instead of one ``recvmsg`` per
        packet (most of what the socket path cost in Python, bench/README.md).
        A block must hold the largest frame, so its
        size is the smallest power of two above the snap length plus the
        per-packet headers; there are at least 8 blocks so that a stall in
        Python does not drop packets at once.
        """
        block_size = max(mmap.PAGESIZE, 1 << 17)
        while block_size < snaplen + 256:
            block_size <<= 1
        block_nr = max(8, buffer_size // block_size)
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        req = _REQ3.pack(block_size, block_nr, block_size, block_nr, BLOCK_TIMEOUT_MS, 0, 0)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        self._ring = mmap.mmap(
            sock.fileno(), block_size * block_nr, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        self._block_size = block_size
        self._block_nr = block_nr
        self._block = 0

    def _close_ring(self) -> None:
        ring = getattr(self, "_ring", None)
        if ring is not None:
            ring.close()

    @staticmethod
    def _query_interface(interface: str) -> tuple[int, int]:
        """(flags, ARPHRD type) by ioctl on an ordinary socket: needs no privilege."""
        import fcntl  # POSIX only; imported here so the module imports everywhere

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                raw_flags = fcntl.ioctl(probe.fileno(), SIOCGIFFLAGS, _ifreq(interface))
                raw_hw = fcntl.ioctl(probe.fileno(), SIOCGIFHWADDR, _ifreq(interface))
            except OSError:
                raise NoSuchInterface(interface, interface_names()) from None
        (flags,) = struct.unpack_from("@H", raw_flags, 16)
        (hatype,) = struct.unpack_from("@H", raw_hw, 16)
        return int(flags), int(hatype)

    def _explain(self, e: OSError) -> LiveCaptureError:
        """Turn an errno from the socket into a message a person can act on."""
        if e.errno == errno.ENETDOWN:
            return InterfaceDown(
                f"interface {self.interface!r} is down (or went down); "
                f"bring it up with: ip link set {self.interface} up"
            )
        if e.errno in (errno.ENODEV, errno.ENXIO):
            return NoSuchInterface(self.interface, interface_names())
        if e.errno in (errno.EPERM, errno.EACCES):
            return CapturePermissionError(permission_message(self.interface))
        return LiveCaptureError(f"capture on {self.interface!r} failed: {e.strerror or e}")

    # -- reading --------------------------------------------------------------

    def frames(self, count: int | None = None, duration: float | None = None) -> Iterator[RawFrame]:
        """Yield raw frames until ``count`` frames, ``duration`` seconds, or :meth:`stop`.

        Frames are copied out of the ring a block at a time (so the block goes
        back to the kernel at once) and handed out from a queue, which also
        lets a later call carry on exactly where a ``count`` stopped this one.
        """
        if count is not None and count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        if duration is not None and duration < 0:
            raise ValueError(f"duration must not be negative, got {duration}")
        deadline = None if duration is None else time.monotonic() + duration
        pending = self._pending
        monotonic = time.monotonic
        seen = 0
        while not self._stopping and (count is None or seen < count):
            if deadline is not None and monotonic() >= deadline:
                break
            if not pending:
                if deadline is None:
                    timeout_ms = -1
                else:
                    timeout_ms = max(0, int((deadline - monotonic()) * 1000) + 1)
                self._wait_for_block(timeout_ms)
                continue
            seen += 1
            self._captured += 1
            yield pending.popleft()

    def _block_ready(self) -> bool:
        offset = self._block * self._block_size + _BLOCK_STATUS_AT
        return bool(struct.unpack_from("@I", self._ring, offset)[0] & TP_STATUS_USER)

    def _wait_for_block(self, timeout_ms: int) -> None:
        """Wait up to ``timeout_ms`` (-1: for ever) for a block, a stop, or an error."""
        if not self._block_ready():
            for fd, events in self._poller.poll(timeout_ms):
                if fd == self._sock.fileno() and events & (select.POLLERR | select.POLLHUP):
                    # e.g. ENETDOWN when the interface is taken down under us
                    err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    raise self._explain(OSError(err, os.strerror(err)))
            if not self._block_ready():
                return
        self._take_block()

    def _take_block(self) -> None:
        """Copy the current block's packets into the queue and give the block back.

        The kernel publishes a block by setting ``block_status`` to
        TP_STATUS_USER after writing it; we copy every packet out before
        writing TP_STATUS_KERNEL back, which returns it (the order libpcap
        uses too).
        """
        ring = self._ring
        base = self._block * self._block_size
        _v, _priv, _status, num_pkts, first = _BLOCK.unpack_from(ring, base)
        append = self._pending.append
        unpack = _PKT.unpack_from
        skip_outgoing = self.is_loopback
        ethernet = self.linktype == LINKTYPE_ETHERNET
        linktype = self.linktype
        name = self.interface
        at = base + first
        for _ in range(num_pkts):
            next_offset, sec, nsec, snap, wire_len, status, mac, _net, _hash, tci, tpid = unpack(
                ring, at
            )
            if not (skip_outgoing and ring[at + _PKTTYPE_AT] == PACKET_OUTGOING):
                start = at + mac
                if ethernet and status & TP_STATUS_VLAN_VALID and snap >= 12:
                    # VLAN offload stripped the tag into metadata: put it back.
                    if not status & TP_STATUS_VLAN_TPID_VALID:
                        tpid = 0x8100
                    data = (
                        ring[start : start + 12]
                        + struct.pack("!HH", tpid, tci)
                        + ring[start + 12 : start + snap]
                    )
                    wire_len += 4
                else:
                    data = ring[start : start + snap]
                append(RawFrame(sec * 1_000_000_000 + nsec, wire_len, data, linktype, 0, name))
            at += next_offset
        struct.pack_into("@I", ring, base + _BLOCK_STATUS_AT, TP_STATUS_KERNEL)
        self._block = (self._block + 1) % self._block_nr

    def packets(
        self, count: int | None = None, duration: float | None = None
    ) -> Iterator[Packet]:
        """Yield decoded packets, numbered from 1 across calls (like frame numbers)."""
        records = as_records(self.frames(count, duration))
        for packet in decode_packets(records, self._registry, self._index + 1):
            self._index = packet.index
            yield packet

    def __iter__(self) -> Iterator[Packet]:
        return self.packets()

    # -- stopping -------------------------------------------------------------

    def stop(self) -> None:
        """End the iteration after the current packet.  Safe in signal handlers and threads.

        The stop is for good: later calls to :meth:`frames`/:meth:`packets`
        return at once (the statistics stay readable until :meth:`close`).
        """
        self._stopping = True
        with contextlib.suppress(OSError):  # pipe full (already woken) or closed
            os.write(self._wake_w, b"x")

    def stats(self) -> CaptureStats:
        """Packets captured so far and the kernel's drop count.

        ``PACKET_STATISTICS`` resets the kernel counters on every read, so we
        accumulate them here.
        """
        if self._final_stats is not None:
            return self._final_stats
        try:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
            _packets, drops, _freezes = _STATS.unpack(raw)
            self._dropped += drops
        except OSError:
            self._stats_known = False
        return CaptureStats(
            self.interface, self._captured, self._dropped if self._stats_known else None
        )

    def close(self) -> None:
        """Close the socket (after taking the final statistics)."""
        if self._closed:
            return
        self._final_stats = self.stats()
        self._closed = True
        self._close_ring()
        self._sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        f = f" filter={self.bpf_filter!r}" if self.bpf_filter else ""
        return f"<LiveCapture {self.interface}{f} captured={self._captured}>"


def live_packets(
    interface: str,
    bpf_filter: str | None = None,
    *,
    count: int | None = None,
    duration: float | None = None,
    snaplen: int = DEFAULT_SNAPLEN,
    registry: Registry | None = None,
) -> Iterator[Packet]:
    """Decoded packets from ``interface`` as they arrive: the live twin of ``layerpeek.read``.

    Stops after ``count`` packets or ``duration`` seconds (both optional;
    neither means until interrupted).  Each :class:`~layerpeek.packet.Packet`
    has the kernel's receive time in ``ts_ns`` and the interface in
    ``interface_name``, so the stream can be fed to the analysis stages just
    like a file's (:class:`layerpeek.analysis.Analysis`)::

        analysis = Analysis(["defrag", "http"])
        for step in analysis.run(live_packets("lo", "tcp port 3040", duration=10)):
            for event in step.events:
                print(event)

    Opening errors (:class:`LiveCaptureError`) are raised at the first
    ``next()``; use :class:`LiveCapture` to have them raised up front and to
    read the drop statistics.
    """
    with LiveCapture(interface, bpf_filter, snaplen=snaplen, registry=registry) as capture:
        yield from capture.packets(count, duration)
