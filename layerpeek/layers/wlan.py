"""IEEE 802.11 frames (LINKTYPE_IEEE802_11, 105) and the radiotap header in
front of them (LINKTYPE_IEEE802_11_RADIOTAP, 127).

802.11 MAC header, little-endian fields::

 frame control (2) | duration (2) | addr1 | addr2 | addr3 | seq ctl (2) | addr4 | QoS (2) | HT (4)

Which addresses are present depends on the type: control frames carry one
or two (ACK and CTS only the receiver), management and data frames three,
and a data frame between two access points (ToDS and FromDS both set) four.
QoS data frames (subtype bit 0x8) add the QoS control field, and with the
Order flag an HT control field.  A data frame's body is an LLC header (then
SNAP and IP), unless the Protected flag says it is encrypted: then it stays
data, as does an A-MSDU (QoS bit 7) and a management frame's body.  A
radiotap header with the FCS flag says the frame ends in a 4-byte FCS,
which is not part of the body (see below).

Radiotap (radiotap.org): version 0, a pad byte, the header length and one or
more 32-bit ``present`` words (bit 31 of each: another word follows).  Each
present field is aligned to its natural size.  A frame whose flags say it
ends in an FCS keeps those four bytes after its payload (the IP lengths
bound what is decoded): the capture may have cut the frame before them, and
a decoder is not told the length on the wire.  The fields decoded here are
the common ones, in bit order (TSFT, flags, rate, channel, antenna signal
and noise, antenna, MCS …); at the first field this module does not know
the walk stops (its size is unknown), and the header length still says
where the 802.11 frame begins.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector
from layerpeek.errors import Invalid
from layerpeek.layers.ethernet import LENGTH
from layerpeek.packet import Layer
from layerpeek.wire import mac_str, need

_RADIOTAP = struct.Struct("<BBHI")
_U32 = struct.Struct("<I")
_FC = struct.Struct("<BBH")

#: Radiotap fields: bit → (alignment, size, name).
_FIELDS: dict[int, tuple[int, int, str]] = {
    0: (8, 8, "tsft"),
    1: (1, 1, "flags"),
    2: (1, 1, "rate"),
    3: (2, 4, "channel"),
    4: (2, 2, "fhss"),
    5: (1, 1, "antenna_signal"),
    6: (1, 1, "antenna_noise"),
    7: (2, 2, "lock_quality"),
    8: (2, 2, "tx_attenuation"),
    9: (2, 2, "db_tx_attenuation"),
    10: (1, 1, "dbm_tx_power"),
    11: (1, 1, "antenna"),
    12: (1, 1, "db_antenna_signal"),
    13: (1, 1, "db_antenna_noise"),
    14: (2, 2, "rx_flags"),
    15: (2, 2, "tx_flags"),
    16: (1, 1, "rts_retries"),
    17: (1, 1, "data_retries"),
    18: (4, 8, "xchannel"),
    19: (1, 3, "mcs"),
    20: (4, 8, "ampdu"),
    21: (2, 12, "vht"),
    22: (8, 12, "timestamp"),
}


@dataclass(slots=True)
class Radiotap(Layer):
    """A radiotap header: the fields decoded, None where absent."""

    name: ClassVar[str] = "radiotap"
    short: ClassVar[str] = "radiotap"
    version: int
    length: int
    present: tuple[int, ...]  #: every ``present`` word
    tsft: int | None  #: microseconds, the MAC's timer when the first bit arrived
    flags: int | None  #: 0x10: the frame ends in an FCS; 0x40: it failed its FCS check
    rate: int | None  #: in 500 kb/s units
    channel_freq: int | None  #: MHz
    channel_flags: int | None
    antenna_signal: int | None  #: dBm
    antenna_noise: int | None  #: dBm
    antenna: int | None
    mcs: bytes | None  #: known, flags, index
    unparsed_from: int | None  #: the first present bit not decoded (the walk stopped there)

    def summary(self) -> str:
        parts = []
        if self.channel_freq is not None:
            parts.append(f"{self.channel_freq} MHz")
        if self.rate is not None:
            parts.append(f"{self.rate / 2:g} Mb/s")
        if self.antenna_signal is not None:
            parts.append(f"{self.antenna_signal} dBm")
        return " ".join(parts)


def decode_radiotap(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "radiotap")
    version, _, length, word = _RADIOTAP.unpack_from(buf, start)
    if version != 0:
        raise Invalid(f"radiotap version {version} unknown", start)
    if length < 8:
        raise Invalid(f"radiotap.length {length} < 8", start + 2)
    need(start, end, length, "radiotap")
    stop = start + length
    words = [word]
    at = start + 8
    while words[-1] & 0x80000000:
        if at + 4 > stop:
            raise Invalid("radiotap: present words run past the header", at)
        words.append(_U32.unpack_from(buf, at)[0])
        at += 4
    values: dict[str, bytes] = {}
    unparsed = None
    for bit in range(31):  # the first word's fields; extended namespaces are not walked
        if not words[0] & (1 << bit):
            continue
        known = _FIELDS.get(bit)
        if known is None:
            unparsed = bit
            break
        align, size, name = known
        at = start + ((at - start + align - 1) & ~(align - 1))
        if at + size > stop:
            raise Invalid(f"radiotap.{name} runs past the header", at)
        values[name] = buf[at : at + size]
        at += size

    def u(name: str, signed: bool = False) -> int | None:
        raw = values.get(name)
        return None if raw is None else int.from_bytes(raw, "little", signed=signed)

    channel = values.get("channel")
    freq, chflags = struct.unpack("<HH", channel) if channel is not None else (None, None)
    layer = Radiotap(version, length, tuple(words), u("tsft"), u("flags"), u("rate"), freq,
                     chflags, u("antenna_signal", True), u("antenna_noise", True), u("antenna"),
                     values.get("mcs"), unparsed)
    return layer, ("linktype", 105, stop, end)


@dataclass(slots=True)
class WLAN(Layer):
    """An 802.11 MAC header (absent fields None)."""

    name: ClassVar[str] = "wlan"
    short: ClassVar[str] = "wlan"
    json_formats: ClassVar[dict[str, str]] = {"addr1": "mac", "addr2": "mac", "addr3": "mac",
                                              "addr4": "mac"}
    type: int  #: 0 management, 1 control, 2 data, 3 extension
    subtype: int
    flags: int  #: ToDS 0x01, FromDS 0x02, MoreFrag 0x04, Retry 0x08, Protected 0x40, Order 0x80
    duration: int
    addr1: bytes  #: receiver
    addr2: bytes | None  #: transmitter
    addr3: bytes | None
    sequence: int | None  #: 12-bit sequence number
    fragment: int | None
    addr4: bytes | None  #: ToDS and FromDS both set
    qos: int | None  #: QoS data frames

    @property
    def protected(self) -> bool:
        return bool(self.flags & 0x40)

    def summary(self) -> str:
        kind = ("mgmt", "ctrl", "data", "ext")[self.type]
        who = mac_str(self.addr2) + " → " if self.addr2 is not None else ""
        return f"{kind} subtype={self.subtype} {who}{mac_str(self.addr1)}"


def decode_wlan(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 10, "wlan")
    fc0, flags, duration = _FC.unpack_from(buf, start)
    version, kind, subtype = fc0 & 3, (fc0 >> 2) & 3, fc0 >> 4
    if version != 0:
        raise Invalid(f"wlan version {version} unknown", start)
    addr1 = buf[start + 4 : start + 10]
    at = start + 10
    addr2 = addr3 = addr4 = None
    sequence = fragment = qos = None
    if kind == 1:  # control: ACK (13), CTS (12) have one address; most others two
        if subtype not in (12, 13) and end - at >= 6:
            addr2 = buf[at : at + 6]
            at += 6
        layer = WLAN(kind, subtype, flags, duration, addr1, addr2, None, None, None, None, None)
        return layer, ("ethertype", UNCLAIMED, at, end)
    need(start, end, 24, "wlan")
    addr2, addr3 = buf[at : at + 6], buf[at + 6 : at + 12]
    (seq_ctl,) = struct.unpack_from("<H", buf, at + 12)
    sequence, fragment = seq_ctl >> 4, seq_ctl & 0xF
    at += 14
    if kind == 2 and flags & 3 == 3:
        need(at, end, 6, "wlan.addr4")
        addr4 = buf[at : at + 6]
        at += 6
    if kind == 2 and subtype & 8:
        need(at, end, 2, "wlan.qos")
        (qos,) = struct.unpack_from("<H", buf, at)
        at += 2
        if flags & 0x80:  # Order: an HT control field follows
            need(at, end, 4, "wlan.ht_control")
            at += 4
    layer = WLAN(kind, subtype, flags, duration, addr1, addr2, addr3, sequence, fragment, addr4,
                 qos)
    body = kind == 2 and not subtype & 4 and not flags & 0x40  # data with a body, in clear
    if body and not (qos is not None and qos & 0x80):  # an A-MSDU is not one LLC frame
        return layer, ("ethertype", LENGTH, at, end)
    return layer, ("ethertype", UNCLAIMED, at, end)


RADIOTAP_DISSECTOR = Dissector("radiotap", decode_radiotap)
DISSECTOR = Dissector("wlan", decode_wlan)
