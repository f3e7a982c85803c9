"""Transmission Control Protocol, RFC 9293 (https://www.rfc-editor.org/rfc/rfc9293#section-3.1).

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|          Source Port          |       Destination Port        |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                        Sequence Number                        |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                    Acknowledgment Number                      |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|  Data |     |N|C|E|U|A|P|R|S|F|                               |
| Offset|Rsrvd|S|W|C|R|C|S|S|Y|I|            Window             |
|       |     | |R|E|G|K|H|T|N|N|                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|           Checksum            |         Urgent Pointer        |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                    Options (0-40 bytes)                       |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Decoding TCP is the hot path of every capture, so the common segment (no
options) costs one ``unpack_from``, one dataclass and one hand-over tuple; the
options area is only walked when the data offset says it exists.

* ``flags`` keeps all twelve bits after the data offset: the eight flags, the
  historic NS bit (RFC 3540, now AccECN's AE) as 0x100 and the three reserved
  bits as 0xE00 (an injected RST may set them: Zeek's rst-inject-rae.pcap), so
  no header bit is lost; names come from :class:`TCPFlags` at display time only.
* A damaged option keeps the header: the options decoded so far stay on the
  layer and a :class:`~layerpeek.packet.Malformed` marker follows it, with a
  field path in the reason (``"tcp.options[2].length 0 < 2"``), as
  :mod:`layerpeek.dissect` says for every option list.
* A header cut by the snap length inside its options is still a TCP layer
  (ports, numbers, flags, window, the options captured, ``payload_len`` 0)
  followed by a truncated marker: conversations survive snap-length-cut
  captures, as they do in tshark and tcpdump.
* Running out of bytes is reported as truncation (``Short``) only when the
  capture itself ends there.  When the enclosing IP datagram ends first while
  captured bytes remain (its total length says the segment is shorter than its
  own header, as in ``malformed_tcp.pcap``), nothing was cut: the fixed header
  is still a TCP layer and the marker after it is invalid, not truncated, as
  Wireshark's "Malformed Packet / Short segment" says.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import ClassVar, TypeVar

from layerpeek.dissect import (
    Damage,
    Decoded,
    Dissector,
    length_below,
    length_missing,
    length_overflows,
)
from layerpeek.errors import DecodeError, Invalid, Short
from layerpeek.packet import Layer, Malformed

#: The fixed 20-byte header (options follow when the data offset > 5).
#: Public: the fast path in :mod:`layerpeek.decode` unpacks it in line.
HEADER = struct.Struct("!HHIIHHHH")
_U16 = struct.Struct("!H")
_U32X2 = struct.Struct("!II")
#: The options area Linux puts on every segment once both sides agreed on
#: timestamps (RFC 7323 appendix A): NOP, NOP, Timestamps, read as three words.
NOP_NOP_TIMESTAMPS_AREA = struct.Struct("!III")
#: The first of those words: kinds 1, 1, 8 and length 10, big-endian.
NOP_NOP_TIMESTAMPS = 0x0101080A
_new = object.__new__

_Opt = TypeVar("_Opt")


class TCPFlags(IntFlag):
    """The flag bits of :attr:`TCP.flags` (for display and comparisons)."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80
    NS = 0x100  #: ECN nonce sum, RFC 3540 (historic); kept so no bit is lost
    RESERVED = 0xE00  #: the three reserved bits (Wireshark's "Reserved")


class TCPOptionKind(IntEnum):
    """Option kinds (IANA "TCP Option Kind Numbers")."""

    EOL = 0
    NOP = 1
    MSS = 2
    WINDOW_SCALE = 3
    SACK_PERMITTED = 4
    SACK = 5
    TIMESTAMPS = 8
    MD5_SIGNATURE = 19
    USER_TIMEOUT = 28
    TCP_AO = 29
    MPTCP = 30
    TCP_FASTOPEN = 34


#: tcpdump's letters, in tcpdump's order (SYN first, so a SYN/ACK reads "SA").
FLAG_LETTERS = (
    (0x02, "S"),
    (0x01, "F"),
    (0x04, "R"),
    (0x08, "P"),
    (0x10, "A"),
    (0x20, "U"),
    (0x40, "E"),
    (0x80, "C"),
    (0x100, "N"),
)


def _flag_letters(flags: int) -> str:
    return "".join([c for bit, c in FLAG_LETTERS if flags & bit]) or "."


#: ``flag_str`` of each flags value met, built once: ``dump`` asks for it on
#: every TCP line (twice with relative numbers), and the join costs ~0.7 µs.
_FLAG_STR: dict[int, str] = {}


#: The flag names, Wireshark's spelling in the order of its Info column
#: ("[SYN, ACK]"): low bit first.  The one table of them: every display of
#: flag names goes through :func:`flag_names`.
FLAG_NAMES = (
    (0x01, "FIN"),
    (0x02, "SYN"),
    (0x04, "RST"),
    (0x08, "PSH"),
    (0x10, "ACK"),
    (0x20, "URG"),
    (0x40, "ECE"),
    (0x80, "CWR"),
    (0x100, "NS"),
    (0xE00, "Reserved"),
)


def flag_names(flags: int) -> str:
    """``0x12`` → ``"SYN, ACK"``; ``"<None>"`` for none (Wireshark's spelling and order)."""
    return ", ".join([name for bit, name in FLAG_NAMES if flags & bit]) or "<None>"


@dataclass(frozen=True, slots=True)
class EOL:
    """End of option list (kind 0): the rest of the options area is padding."""

    kind: int = 0


@dataclass(frozen=True, slots=True)
class NOP:
    """No-operation (kind 1): aligns the next option on a word boundary."""

    kind: int = 1


@dataclass(slots=True)
class MSS:
    """Maximum segment size the sender can receive (kind 2, sent on SYNs)."""

    kind: int
    value: int  #: bytes


@dataclass(slots=True)
class WindowScale:
    """Window scale (kind 3, RFC 7323): the peer shifts our window left by this much."""

    kind: int
    shift: int


@dataclass(frozen=True, slots=True)
class SACKPermitted:
    """Selective acknowledgement permitted (kind 4, RFC 2018)."""

    kind: int = 4


@dataclass(slots=True)
class SACK:
    """Selective acknowledgement (kind 5, RFC 2018): received blocks beyond ``ack``."""

    kind: int
    blocks: tuple[tuple[int, int], ...]  #: (left edge, right edge) raw sequence numbers


@dataclass(slots=True)
class Timestamps:
    """Timestamps (kind 8, RFC 7323): the sender's clock and the echoed peer clock."""

    kind: int
    value: int  #: TSval
    echo_reply: int  #: TSecr


@dataclass(slots=True)
class UnknownOption:
    """An option we do not decode, or a known kind with a length it cannot have."""

    kind: int
    data: bytes = field(repr=False)  #: the bytes after kind and length


#: The options without a value are shared instances (hence frozen: a change to
#: one would show in every segment), which saves an allocation per NOP on
#: every segment.  The other options are built per segment.
EOL_OPTION = EOL()
NOP_OPTION = NOP()
SACK_PERMITTED_OPTION = SACKPermitted()

TCPOption = EOL | NOP | MSS | WindowScale | SACKPermitted | SACK | Timestamps | UnknownOption


@dataclass(slots=True)
class TCP(Layer):
    """A TCP header."""

    name: ClassVar[str] = "tcp"
    short: ClassVar[str] = "tcp"
    src_port: int
    dst_port: int
    seq: int  #: raw sequence number (relative numbers come from :mod:`layerpeek.flows`)
    ack: int  #: raw acknowledgement number, meaningful when ``is_ack``
    header_len: int  #: bytes (data offset × 4): 20 without options, at most 60
    flags: int  #: FIN 0x01 … CWR 0x80, NS 0x100, reserved 0xE00 (see :class:`TCPFlags`)
    window: int  #: raw, unscaled (the scale comes from the SYNs' WindowScale)
    checksum: int  #: as sent; see :func:`layerpeek.checksum.verify_checksums`
    urgent_pointer: int
    options: tuple[TCPOption, ...] = ()
    #: payload bytes present in this frame (bounded by the IP length; a
    #: headers-only capture shows 0 here even when the IP length says more)
    payload_len: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def syn(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def rst(self) -> bool:
        return bool(self.flags & 0x04)

    @property
    def psh(self) -> bool:
        return bool(self.flags & 0x08)

    @property
    def is_ack(self) -> bool:
        """The ACK flag (the name ``ack`` is the acknowledgement number)."""
        return bool(self.flags & 0x10)

    @property
    def urg(self) -> bool:
        return bool(self.flags & 0x20)

    @property
    def ece(self) -> bool:
        return bool(self.flags & 0x40)

    @property
    def cwr(self) -> bool:
        return bool(self.flags & 0x80)

    @property
    def ns(self) -> bool:
        return bool(self.flags & 0x100)

    @property
    def flag_str(self) -> str:
        """tcpdump-style letters: ``"S"``, ``"SA"``, ``"FPA"``, ``"R"``; ``"."`` for none."""
        flags = self.flags
        text = _FLAG_STR.get(flags)
        if text is None:
            text = _flag_letters(flags)
            if 0 <= flags < 0x200:  # the 9 flag bits: at most 512 entries
                _FLAG_STR[flags] = text
        return text

    @property
    def flag_names(self) -> str:
        """Wireshark-style names: ``"SYN, ACK"``; ``"<None>"`` for none."""
        return flag_names(self.flags)

    def option(self, kind: type[_Opt]) -> _Opt | None:
        """The first option of a given class (``tcp.option(MSS)``), or None."""
        for opt in self.options:
            if isinstance(opt, kind):
                return opt
        return None

    def summary(self) -> str:
        """``[SA] seq=0 ack=1 win=65535 len=0 mss=1460`` (raw sequence numbers)."""
        text = f"[{self.flag_str}] seq={self.seq}"
        if self.flags & 0x10:
            text += f" ack={self.ack}"
        text += f" win={self.window} len={self.payload_len}"
        for opt in self.options:
            if isinstance(opt, MSS):
                text += f" mss={opt.value}"
            elif isinstance(opt, WindowScale):
                text += f" ws={opt.shift}"
            elif isinstance(opt, SACKPermitted):
                text += " sack_perm"
            elif isinstance(opt, SACK):
                text += " sack=" + ",".join(f"{a}-{b}" for a, b in opt.blocks)
        return text


def new_tcp(
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    header_len: int,
    flags: int,
    window: int,
    checksum: int,
    urgent_pointer: int,
    options: tuple[TCPOption, ...],
    payload_len: int,
) -> TCP:
    """Build a :class:`TCP`: the one constructor site decoders use (this module's
    ``decode`` and the fast path in :mod:`layerpeek.decode`).

    ``object.__new__`` and one store per field, not a call of the class: on
    CPython 3.11 a dataclass call goes through ``type.__call__`` and a
    C-to-Python ``__init__`` call, which costs about as much as the stores.
    """
    obj = _new(TCP)
    obj.src_port = src_port
    obj.dst_port = dst_port
    obj.seq = seq
    obj.ack = ack
    obj.header_len = header_len
    obj.flags = flags
    obj.window = window
    obj.checksum = checksum
    obj.urgent_pointer = urgent_pointer
    obj.options = options
    obj.payload_len = payload_len
    return obj


def new_timestamps(
    value: int,
    echo_reply: int,
) -> Timestamps:
    """Build a :class:`Timestamps`: the one constructor site decoders use (this module's
    ``decode`` and the fast path in :mod:`layerpeek.decode`).

    ``object.__new__`` and one store per field, not a call of the class: on
    CPython 3.11 a dataclass call goes through ``type.__call__`` and a
    C-to-Python ``__init__`` call, which costs about as much as the stores.
    """
    obj = _new(Timestamps)
    obj.kind = 8
    obj.value = value
    obj.echo_reply = echo_reply
    return obj


def _options(buf: bytes, start: int, end: int) -> tuple[tuple[TCPOption, ...], Damage | None]:
    """Walk the options area ``buf[start:end]`` (all present): the options, and any damage.

    Kinds 0 and 1 are single bytes; every other kind has a length byte that
    counts kind and length too, so a length below 2 could never advance and
    one past ``end`` would read the payload as options (RFC 9293 §3.1).
    Damage is reported as :mod:`layerpeek.dissect` says.
    """
    out: list[TCPOption] = []
    pos = start
    while pos < end:
        kind = buf[pos]
        if kind == 1:
            out.append(NOP_OPTION)
            pos += 1
            continue
        if kind == 0:
            out.append(EOL_OPTION)
            break
        path = f"tcp.options[{len(out)}]"
        if pos + 1 >= end:
            return tuple(out), length_missing(path, kind, pos)
        length = buf[pos + 1]
        if length < 2:
            return tuple(out), length_below(path, length, 2, pos)
        if pos + length > end:
            return tuple(out), length_overflows(path, length, end - pos, pos)
        body = pos + 2
        opt: TCPOption
        if kind == 2 and length == 4:
            opt = MSS(2, _U16.unpack_from(buf, body)[0])
        elif kind == 8 and length == 10:
            tsval, tsecr = _U32X2.unpack_from(buf, body)
            opt = new_timestamps(tsval, tsecr)
        elif kind == 3 and length == 3:
            opt = WindowScale(3, buf[body])
        elif kind == 4 and length == 2:
            opt = SACK_PERMITTED_OPTION
        elif kind == 5 and length > 2 and (length - 2) % 8 == 0:
            opt = SACK(5, tuple([_U32X2.unpack_from(buf, b) for b in range(body, pos + length, 8)]))
        else:
            opt = UnknownOption(kind, buf[body : pos + length])
        out.append(opt)
        pos += length
    return tuple(out), None


def _ran_out(buf: bytes, end: int, reason: str, offset: int) -> DecodeError:
    """``Short`` if the capture ends at ``end``; ``Invalid`` if the datagram ended first.

    The IP layer bounds ``end`` by its total length.  If captured bytes remain
    after ``end`` (Ethernet padding, a trailer), the datagram was complete and
    simply too short for what the TCP header claims.
    """
    if end < len(buf):
        return Invalid(reason + " (the IP datagram ends there)", offset)
    return Short(reason, offset)


def decode(buf: bytes, start: int, end: int) -> Decoded:
    if end - start < 20:
        raise _ran_out(buf, end, f"tcp: need 20 bytes, have {max(end - start, 0)}", start)
    sport, dport, seq, ack, off_flags, window, checksum, urgent = HEADER.unpack_from(buf, start)
    header_len = (off_flags >> 10) & 0x3C  # data offset in 32-bit words, × 4
    if header_len == 20:  # no options: the common case
        header_end = start + 20
        if header_end < end:
            return new_tcp(
                sport, dport, seq, ack, 20, off_flags & 0xFFF, window, checksum, urgent, (),
                end - header_end,
            ), ("tcp_port", (sport, dport), header_end, end)
        return new_tcp(
            sport, dport, seq, ack, 20, off_flags & 0xFFF, window, checksum, urgent, (), 0
        ), None
    if header_len < 20:
        raise Invalid(f"tcp: data offset {header_len // 4} words < 5", start + 12)
    header_end = start + header_len
    if header_end > end:
        reason = f"tcp: header length {header_len} but {end - start} bytes left"
        # The header ends past its bytes, but the fixed header is whole, so the
        # ports, numbers, flags and window are known (as tshark and tcpdump
        # show them); the options there are kept, and the marker says why the
        # rest is missing: the snap length cut it (truncated), or the IP
        # datagram ended inside the header while captured bytes remain (nothing
        # was cut: the segment is invalid, as Wireshark's "Short segment").
        options, damage = _options(buf, start + 20, end)
        layer = new_tcp(
            sport, dport, seq, ack, header_len, off_flags & 0xFFF, window, checksum, urgent,
            options, 0,
        )
        cut = end if damage is None else damage.offset
        if end < len(buf):
            return layer, Malformed("tcp", reason + " (the IP datagram ends there)", cut,
                                    False, buf[cut:end])
        return layer, Malformed("tcp", reason, cut, True, buf[cut:end])
    if header_len == 32:
        nop_nop_ts, tsval, tsecr = NOP_NOP_TIMESTAMPS_AREA.unpack_from(buf, start + 20)
        if nop_nop_ts == NOP_NOP_TIMESTAMPS:
            # NOP, NOP, Timestamps: what Linux puts on every segment once both
            # sides agreed on timestamps, so it gets a path without the loop.
            layer = new_tcp(
                sport, dport, seq, ack, 32, off_flags & 0xFFF, window, checksum, urgent,
                (NOP_OPTION, NOP_OPTION, new_timestamps(tsval, tsecr)), end - header_end,
            )
            if header_end < end:
                return layer, ("tcp_port", (sport, dport), header_end, end)
            return layer, None
    options, damage = _options(buf, start + 20, header_end)
    layer = new_tcp(
        sport, dport, seq, ack, header_len, off_flags & 0xFFF, window, checksum, urgent,
        options, end - header_end,
    )
    if damage is not None:
        return layer, damage.marker("tcp", buf, end)
    if header_end < end:
        return layer, ("tcp_port", (sport, dport), header_end, end)
    return layer, None


DISSECTOR = Dissector("tcp", decode)
