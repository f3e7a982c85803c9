"""Internet Protocol version 6, RFC 8200, with its extension-header chain.

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|Version| Traffic Class |           Flow Label                  |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|         Payload Length        |  Next Header  |   Hop Limit   |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                                                               |
+                  Source Address (128 bits)                    +
|                                                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                                                               |
+                Destination Address (128 bits)                 +
|                                                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Extension headers (RFC 8200 §4) are part of this layer, in ``extensions``,
not layers of their own: they are options of the IP header that happen to be
chained, and a flat ``eth:ipv6:tcp`` path is what users (and Wireshark's
``frame.protocols`` minus the extension names) expect.  Each starts with the
same two bytes, which is what lets the walk skip ones it does not model::

+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|  Next Header  |  Hdr Ext Len  |  header-specific data ...     |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Hop-by-Hop (0), Routing (43) and Destination Options (60) count their length
in 8-byte units not counting the first 8; AH (51, RFC 4302) in 4-byte units
minus 2; the Fragment header (44) is always 8 bytes.  ESP (50) ends the walk:
what follows it is encrypted.

* The walk is bounded (:data:`MAX_EXTENSIONS`) and each step moves at least
  8 bytes forward, so a crafted chain cannot loop.
* The hand-over uses the *final* Next Header; a fragment (offset > 0 or the
  M flag) is handed to no decoder (key ``-1``), like an IPv4 fragment.  An
  "atomic" fragment (offset 0, M clear, RFC 6946) is a whole datagram.
* The payload ends at ``payload_len``, so link-layer padding is dropped.
  ``payload_len == 0`` means a jumbogram (RFC 2675) or a capture taken with
  segmentation offload: the captured bytes are used, as for IPv4.
* A damaged or cut extension header keeps the fixed header: the layer is
  returned with the extensions read so far, then a Malformed marker (the
  convention of every option list, :mod:`layerpeek.dissect`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from layerpeek.dissect import Damage, Decoded, Dissector, length_missing, length_overflows
from layerpeek.errors import Invalid, Short
from layerpeek.layers.ipv4 import IPProto
from layerpeek.packet import Layer
from layerpeek.wire import enum_name

if TYPE_CHECKING:
    from ipaddress import IPv6Address

#: The fixed 40-byte header (extension headers follow).
#: Public: the fast path in :mod:`layerpeek.decode` unpacks it in line.
HEADER = struct.Struct("!IHBB16s16s")
_unpack_header = HEADER.unpack_from
_new = object.__new__
_FRAGMENT = struct.Struct("!BBHI")
_AH = struct.Struct("!BBHII")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")

#: Longest extension chain we walk before calling the packet invalid.  RFC 8200
#: §4.1 allows each header once (Destination Options twice); 64 is generous.
MAX_EXTENSIONS = 64

#: Next Header values that are extension headers we walk through.
EXTENSION_HEADERS = frozenset((0, 43, 44, 51, 60))


@dataclass(slots=True)
class IPv6Option:
    """One TLV option of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2).

    Pad1 (type 0) has no length byte and comes out as ``IPv6Option(0, b"")``.
    Well-known types: 0 Pad1, 1 PadN, 5 Router Alert (RFC 2711), 0xC2 Jumbo
    Payload (RFC 2675), 0xC9 Home Address (RFC 6275).
    """

    type: int
    data: bytes


@dataclass(slots=True)
class HopByHop:
    """Hop-by-Hop Options header (Next Header 0), examined by every router on the path."""

    kind: int  #: 0
    next_header: int
    header_len: int  #: bytes, the whole extension header
    options: tuple[IPv6Option, ...]


@dataclass(slots=True)
class DestinationOptions:
    """Destination Options header (Next Header 60), for the (next) destination only."""

    kind: int  #: 60
    next_header: int
    header_len: int  #: bytes, the whole extension header
    options: tuple[IPv6Option, ...]


@dataclass(slots=True)
class Routing:
    """Routing header (Next Header 43), RFC 8200 §4.4.

    ``addresses`` is filled for the types whose data is a list of IPv6
    addresses: 0 (deprecated by RFC 5095), 2 (Mobile IPv6, RFC 6275) and 4
    (Segment Routing, RFC 8754: the segment list, last segment first).
    """

    json_formats: ClassVar[dict[str, str]] = {"addresses": "ipv6"}
    kind: int  #: 43
    next_header: int
    header_len: int  #: bytes, the whole extension header
    routing_type: int
    segments_left: int
    data: bytes  #: the type-specific data (everything after the first 4 bytes)
    addresses: tuple[bytes, ...]  #: raw 16-byte addresses (types 0, 2, 4), else empty


@dataclass(slots=True)
class Fragment:
    """Fragment header (Next Header 44), RFC 8200 §4.5."""

    kind: int  #: 44
    next_header: int
    fragment_offset: int  #: bytes (the 13-bit field × 8)
    more_fragments: bool  #: the M flag
    id: int  #: Identification, shared by every fragment of one datagram


@dataclass(slots=True)
class AH:
    """Authentication Header (Next Header 51), RFC 4302; what follows it is readable."""

    kind: int  #: 51
    next_header: int
    header_len: int  #: bytes, the whole extension header
    spi: int  #: Security Parameters Index
    seq: int
    icv: bytes  #: Integrity Check Value


IPv6Extension = HopByHop | Routing | Fragment | DestinationOptions | AH

#: Short names for the one-line summary.
_EXT_NAMES = {0: "HBH", 43: "RH", 44: "FRAG", 51: "AH", 60: "DST"}


@dataclass(slots=True)
class IPv6(Layer):
    """An IPv6 header and its extension headers."""

    name: ClassVar[str] = "ipv6"
    short: ClassVar[str] = "ipv6"
    json_formats: ClassVar[dict[str, str]] = {"src": "ipv6", "dst": "ipv6"}
    version: int
    traffic_class: int  #: the whole octet: DSCP (high 6 bits) and ECN (low 2)
    flow_label: int  #: 20 bits
    payload_len: int  #: bytes after the fixed 40, extensions included (0: jumbogram/offload)
    next_header: int  #: what follows the fixed header (an extension or the upper layer)
    hop_limit: int
    src: bytes  #: 16 raw bytes; ``src_ip`` for an ``ipaddress`` object
    dst: bytes
    extensions: tuple[IPv6Extension, ...] = field(default=())

    @property
    def src_ip(self) -> IPv6Address:
        from ipaddress import IPv6Address

        return IPv6Address(self.src)

    @property
    def dst_ip(self) -> IPv6Address:
        from ipaddress import IPv6Address

        return IPv6Address(self.dst)

    @property
    def protocol(self) -> int:
        """The upper-layer protocol: the Next Header of the last extension header."""
        if self.extensions:
            return self.extensions[-1].next_header
        return self.next_header

    @property
    def fragment(self) -> Fragment | None:
        """The Fragment header, if there is one."""
        for ext in self.extensions:
            if isinstance(ext, Fragment):
                return ext
        return None

    @property
    def is_fragment(self) -> bool:
        """Part of a fragmented datagram (an atomic fragment, RFC 6946, is not)."""
        frag = self.fragment
        return frag is not None and (frag.more_fragments or frag.fragment_offset != 0)

    def summary(self) -> str:
        text = f"hlim={self.hop_limit}"
        if self.extensions:
            text += " " + ",".join(_EXT_NAMES.get(e.kind, str(e.kind)) for e in self.extensions)
            frag = self.fragment
            if frag is not None:
                text += f" id=0x{frag.id:08x} off={frag.fragment_offset}"
                if frag.more_fragments:
                    text += " MF"
        return f"{text} proto={enum_name(IPProto, self.protocol)}"


def new_ipv6(
    version: int,
    traffic_class: int,
    flow_label: int,
    payload_len: int,
    next_header: int,
    hop_limit: int,
    src: bytes,
    dst: bytes,
    extensions: tuple[IPv6Extension, ...],
) -> IPv6:
    """Build an :class:`IPv6`: the one constructor site decoders use (this module's
    ``decode`` and the fast path in :mod:`layerpeek.decode`).

    ``object.__new__`` and one store per field, not a call of the class: on
    CPython 3.11 a dataclass call goes through ``type.__call__`` and a
    C-to-Python ``__init__`` call, which costs about as much as the stores.
    """
    obj = _new(IPv6)
    obj.version = version
    obj.traffic_class = traffic_class
    obj.flow_label = flow_label
    obj.payload_len = payload_len
    obj.next_header = next_header
    obj.hop_limit = hop_limit
    obj.src = src
    obj.dst = dst
    obj.extensions = extensions
    return obj


def decode(buf: bytes, start: int, end: int) -> Decoded:
    if end - start < 40:
        raise Short(f"ipv6: need 40 bytes, have {max(end - start, 0)}", start)
    first, payload_len, next_header, hop_limit, src, dst = _unpack_header(buf, start)
    if first >> 28 != 6:
        raise Invalid(f"ipv6: version {first >> 28} != 6", start)
    pos = start + 40
    if payload_len:
        declared = pos + payload_len
        stop = declared if declared < end else end
    else:  # jumbogram or segmentation offload: use what was captured
        declared = -1
        stop = end
    if next_header not in EXTENSION_HEADERS:  # the common case: no extension headers
        layer = new_ipv6(6, (first >> 20) & 0xFF, first & 0xFFFFF, payload_len, next_header,
                         hop_limit, src, dst, ())
        return layer, ("ip_proto", next_header, pos, stop)

    extensions: list[IPv6Extension] = []
    nh = next_header
    fragmented = False
    damage: Damage | None = None
    while nh in EXTENSION_HEADERS:
        i = len(extensions)
        if i == MAX_EXTENSIONS:
            damage = Damage(f"ipv6: more than {MAX_EXTENSIONS} extension headers", pos)
            break
        if nh == 44:
            size = 8
        else:
            if pos + 2 > stop:
                damage = _overrun(i, nh, pos, 2, declared, end)
                break
            size = (buf[pos + 1] + 2) << 2 if nh == 51 else (buf[pos + 1] + 1) << 3
        if pos + size > stop:
            damage = _overrun(i, nh, pos, size, declared, end)
            break
        ext: IPv6Extension
        if nh == 44:
            nxt, _, off_m, ident = _FRAGMENT.unpack_from(buf, pos)
            ext = Fragment(44, nxt, off_m & 0xFFF8, bool(off_m & 1), ident)
            if off_m & 0xFFF9:  # offset > 0 or M set
                fragmented = True
        elif nh == 43:
            ext = _routing(buf, pos, size)
        elif nh == 51:
            if size < 12:
                damage = Damage(f"ipv6.extensions[{i}].length: AH of {size} bytes < 12", pos)
                break
            nxt, _, _, spi, seq = _AH.unpack_from(buf, pos)
            ext = AH(51, nxt, size, spi, seq, buf[pos + 12 : pos + size])
        else:
            options, bad = _tlv_options(buf, pos + 2, pos + size, i)
            if bad is not None:
                damage = bad
                break
            cls = HopByHop if nh == 0 else DestinationOptions
            ext = cls(nh, buf[pos], size, options)
        extensions.append(ext)
        nh = ext.next_header
        pos += size

    layer = new_ipv6(6, (first >> 20) & 0xFF, first & 0xFFFFF, payload_len, next_header,
                     hop_limit, src, dst, tuple(extensions))
    if damage is not None:
        return layer, damage.marker("ipv6", buf, end)
    return layer, ("ip_proto", -1 if fragmented else nh, pos, stop)


def _overrun(i: int, nh: int, pos: int, size: int, declared: int, end: int) -> Damage:
    """An extension header that does not fit: invalid if the payload length cannot hold
    it, truncated if only the capture stops short."""
    what = f"ipv6.extensions[{i}] ({_EXT_NAMES[nh]})"
    if declared >= 0 and pos + size > declared:
        return Damage(
            f"{what}: needs {size} bytes, payload length leaves {max(declared - pos, 0)}", pos
        )
    return Damage(f"{what}: need {size} bytes, have {max(end - pos, 0)}", pos, truncated=True)


def _routing(buf: bytes, pos: int, size: int) -> Routing:
    nxt, _, routing_type, segments_left = buf[pos : pos + 4]
    data = buf[pos + 4 : pos + size]
    addresses: tuple[bytes, ...] = ()
    if routing_type in (0, 2, 4):
        # Types 0 and 2: 4 reserved bytes, then addresses.  Type 4 (SRH): last
        # entry, flags and tag, then the segment list (TLVs may follow it).
        first = pos + 8
        count = (size - 8) >> 4
        if routing_type == 4:
            count = min(count, buf[pos + 4] + 1)
        addresses = tuple(buf[a : a + 16] for a in range(first, first + 16 * count, 16))
    return Routing(43, nxt, size, routing_type, segments_left, data, addresses)


def _tlv_options(
    buf: bytes, pos: int, stop: int, i: int
) -> tuple[tuple[IPv6Option, ...], Damage | None]:
    """The options of a Hop-by-Hop or Destination Options header, all bytes present.

    Damage is reported as :mod:`layerpeek.dissect` says (the length byte
    counts the option's data only, RFC 8200 §4.2).
    """
    found: list[IPv6Option] = []
    while pos < stop:
        kind = buf[pos]
        if kind == 0:  # Pad1: a single byte
            found.append(IPv6Option(0, b""))
            pos += 1
            continue
        path = f"ipv6.extensions[{i}].options[{len(found)}]"
        if pos + 1 >= stop:
            return tuple(found), length_missing(path, kind, pos)
        length = buf[pos + 1]
        if pos + 2 + length > stop:
            return tuple(found), length_overflows(path, length, stop - pos - 2, pos)
        found.append(IPv6Option(kind, buf[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return tuple(found), None


DISSECTOR = Dissector("ipv6", decode)
