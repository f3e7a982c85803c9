"""Internet checksums (RFC 1071), verified on request, never while decoding.

Captures taken on the sending host often carry checksums the NIC fills in
later (offload), so a wrong checksum is a fact to report, not a reason to stop
decoding.  :func:`verify_checksums` checks every checksum a decoded packet
carries, reading the bytes through ``packet.spans``:

=========  ===============================================================
key        what is summed
=========  ===============================================================
``ipv4``   the IPv4 header (RFC 791)
``tcp``    pseudo-header + TCP segment (RFC 9293 §3.1; IPv6: RFC 8200 §8.1)
``udp``    pseudo-header + UDP datagram (RFC 768); 0 over IPv4 = "no
           checksum" and counts as correct; 0 over IPv6 is not allowed
``icmp``   the ICMP message (RFC 792)
``icmpv6`` pseudo-header + ICMPv6 message (RFC 4443 §2.3)
=========  ===============================================================

A key is left out when its bytes were not all captured (snaplen), or when the
length it needs is unknown (IPv4 total length 0 or an IPv6 jumbogram, both
signs of segmentation offload).  With several headers of one kind (a tunnel)
the key is True only if all of them are correct.

How the sum is computed: the ones'-complement sum of 16-bit words is the
value of the bytes read as one big-endian integer, modulo 0xFFFF, because
2**16 ≡ 1 (mod 0xFFFF).  ``int.from_bytes`` and one ``%`` run in C, so a 1500
byte segment costs a few microseconds instead of a Python loop over 750
words.  A correct checksum makes the whole sum (checksum field included)
0xFFFF, i.e. ≡ 0 (mod 0xFFFF) and not zero.
"""

from __future__ import annotations

from layerpeek.layers.icmp import ICMP
from layerpeek.layers.icmpv6 import ICMPv6
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6, Routing
from layerpeek.layers.tcp import TCP
from layerpeek.layers.udp import UDP
from layerpeek.packet import Packet

__all__ = ["internet_checksum", "verify_checksums"]


def _words(data: bytes | memoryview) -> int:
    """The bytes as a big-endian integer, zero-padded to whole 16-bit words."""
    value = int.from_bytes(data, "big")
    return value << 8 if len(data) & 1 else value


def internet_checksum(data: bytes) -> int:
    """The RFC 1071 checksum of ``data`` (with its checksum field zeroed)."""
    value = _words(data)
    folded = value % 0xFFFF
    if folded == 0 and value:
        folded = 0xFFFF  # a nonzero sum ≡ 0 is 0xFFFF ("negative zero") in ones' complement
    return ~folded & 0xFFFF


def _ok(total: int) -> bool:
    return total % 0xFFFF == 0 and total != 0


def _final_destination(ip: IPv6) -> bytes:
    """The destination the upper-layer checksum uses (RFC 8200 §8.1).

    With a Routing header still to be walked (segments left > 0) the sender
    summed the *final* destination: the last address of a type 0 or 2 header,
    and Segment List[0] of a Segment Routing header (type 4, RFC 8754 §2).
    """
    for ext in ip.extensions:
        if isinstance(ext, Routing) and ext.segments_left and ext.addresses:
            return ext.addresses[0] if ext.routing_type == 4 else ext.addresses[-1]
    return ip.dst


def verify_checksums(packet: Packet) -> dict[str, bool]:
    """Check each checksum the packet's decoded layers carry; see the module docstring."""
    data = packet.data
    view = memoryview(data)
    cap = len(data)
    out: dict[str, bool] = {}
    ip: IPv4 | IPv6 | None = None
    ip_end = -1  # end of the innermost IP datagram's payload; -1: unknown
    pseudo = 0  # the innermost IP's addresses, already summed
    for layer, (start, _) in zip(packet.layers, packet.spans, strict=False):
        key: str
        if isinstance(layer, IPv4):
            ip = layer
            header_end = start + layer.header_len
            if header_end <= cap:
                _merge(out, "ipv4", _ok(_words(view[start:header_end])))
            ip_end = start + layer.total_len if layer.total_len else -1
            pseudo = int.from_bytes(layer.src, "big") + int.from_bytes(layer.dst, "big")
            continue
        if isinstance(layer, IPv6):
            ip = layer
            ip_end = start + 40 + layer.payload_len if layer.payload_len else -1
            pseudo = int.from_bytes(layer.src, "big") + int.from_bytes(
                _final_destination(layer), "big"
            )
            continue
        if ip is None or ip_end < 0:
            continue
        if isinstance(layer, TCP):
            key, proto, stop = "tcp", 6, ip_end
        elif isinstance(layer, UDP):
            if layer.length < 8:  # 0: jumbogram (length unknown); below 8: invalid
                continue
            key, proto, stop = "udp", 17, start + layer.length
            if layer.checksum == 0:
                if stop <= cap:
                    # RFC 768: 0 means the sender computed none (allowed over IPv4 only;
                    # RFC 8200 §8.1 makes it mandatory over IPv6)
                    _merge(out, "udp", isinstance(ip, IPv4))
                continue
        elif isinstance(layer, ICMP):
            key, proto, stop = "icmp", 0, ip_end
        elif isinstance(layer, ICMPv6):
            key, proto, stop = "icmpv6", 58, ip_end
        else:
            continue
        if stop > cap or stop < start:
            continue  # not all captured: leave the key out
        total = _words(view[start:stop])
        if proto:
            total += pseudo + proto + (stop - start)
        _merge(out, key, _ok(total))
    return out


def _merge(out: dict[str, bool], key: str, ok: bool) -> None:
    out[key] = out.get(key, True) and ok
