"""The one place where decoders are wired to each other.

Each protocol module exposes a :class:`~layerpeek.dissect.Dissector` (its
name, its pure ``decode(buf, start, end)`` function and optionally a cheap
``sniff``; the types live in :mod:`layerpeek.dissect`, re-exported here).  A
decoder never names the next protocol: it returns a *hand-over*
``(table, key, start, end)`` such as ``("ethertype", 0x0800, 14, 60)``, and the
driver looks the key up here.  Keeping the wiring as data in one readable
function (hyperframe's ``FRAMES``, not scapy's scattered ``bind_layers``) means
a test or a user can build a registry of their own::

    r = default_registry()
    r.tables["udp_port"][5353] = dns.DISSECTOR

Port tables are keyed by single ports; the driver tries the lower port of the
pair first, then the higher, then the table's heuristics (see
:func:`layerpeek.decode.decode_layers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The decoder types live in a leaf module (layers/ must not import this one);
# they are re-exported so that ``from layerpeek.registry import Dissector`` keeps working.
from layerpeek.dissect import Decoded, DecodeFn, Dissector, Next, SniffFn

__all__ = [
    "APPLICATION_TABLES",
    "DEPTHS",
    "TABLES",
    "DecodeFn",
    "Decoded",
    "Dissector",
    "Next",
    "Registry",
    "SniffFn",
    "default_registry",
]

#: Names of the dispatch tables a hand-over may name.
TABLES = ("linktype", "ethertype", "ip_proto", "tcp_port", "udp_port")

#: How deep :func:`layerpeek.read` may decode (its ``upto`` argument), shallowest first.
DEPTHS = ("transport", "application")

#: The tables whose dissectors are application protocols (what ``upto="transport"`` drops).
APPLICATION_TABLES = ("tcp_port", "udp_port")


@dataclass(slots=True)
class Registry:
    """Dispatch tables plus per-table heuristics (tried when no key matches)."""

    tables: dict[str, dict[int, Dissector]] = field(
        default_factory=lambda: {name: {} for name in TABLES}
    )
    heuristics: dict[str, list[Dissector]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )

    def copy(self) -> Registry:
        return Registry(
            {k: dict(v) for k, v in self.tables.items()},
            {k: list(v) for k, v in self.heuristics.items()},
        )

    def through_transport(self) -> Registry:
        """A copy that stops after TCP/UDP: the port tables and their heuristics emptied.

        What a TCP or UDP segment carries then stays one
        :class:`~layerpeek.packet.Payload` (as for a port nobody claims), so
        nothing is lost, ``packet.payload_after(TCP)`` still works, and the
        cost of trying DNS and HTTP on every segment is not paid by callers
        that only look at addresses, ports and flags (``flows``, the bench's
        through-L4 figure).
        Tunnels stay (a :class:`Dissector` with ``tunnel=True``: VXLAN,
        Geneve, GRE in UDP), since what they carry is another packet whose
        conversations ``flows`` must see.
        """
        r = self.copy()
        for name in APPLICATION_TABLES:
            table = r.tables[name]
            for key in [k for k, d in table.items() if not d.tunnel]:
                del table[key]
            r.heuristics[name] = [d for d in r.heuristics[name] if d.tunnel]
        return r


def default_registry() -> Registry:
    """The wiring layerpeek uses unless told otherwise.  Read top to bottom."""
    from layerpeek.layers import (
        arp,
        ayiya,
        dns,
        erspan,
        ethernet,
        geneve,
        gre,
        gtp,
        http,
        icmp,
        icmpv6,
        ipv4,
        ipv6,
        links,
        linux_sll,
        llc,
        mpls,
        nflog,
        null,
        ppp,
        pppoe,
        raw,
        tcp,
        teredo,
        tls,
        udp,
        vlan,
        vxlan,
        wlan,
    )

    r = Registry()
    link = r.tables["linktype"]
    link[1] = ethernet.DISSECTOR  # LINKTYPE_ETHERNET
    link[0] = null.DISSECTOR  # LINKTYPE_NULL (BSD loopback, host byte order)
    link[108] = null.DISSECTOR  # LINKTYPE_LOOP (OpenBSD loopback, network byte order)
    for code in raw.LINKTYPES:  # 101, 12, 14: by version nibble; 228 IPv4 only, 229 IPv6 only
        link[code] = raw.dissector_for(code)
    link[113] = linux_sll.SLL_DISSECTOR  # LINKTYPE_LINUX_SLL
    link[276] = linux_sll.SLL2_DISSECTOR  # LINKTYPE_LINUX_SLL2
    link[9] = ppp.DISSECTOR  # LINKTYPE_PPP
    link[50] = ppp.HDLC_LINK_DISSECTOR  # LINKTYPE_PPP_HDLC (or Cisco HDLC, by its address)
    link[104] = ppp.CHDLC_DISSECTOR  # LINKTYPE_C_HDLC
    link[nflog.LINKTYPE] = nflog.DISSECTOR  # 239, LINKTYPE_NFLOG
    link[226] = links.IPNET_DISSECTOR  # LINKTYPE_IPNET (Solaris)
    link[242] = links.IPOIB_DISSECTOR  # LINKTYPE_IPOIB
    link[10] = links.FDDI_DISSECTOR  # LINKTYPE_FDDI
    link[107] = links.FRAME_RELAY_DISSECTOR  # LINKTYPE_FRELAY
    link[258] = links.PKTAP_DISSECTOR  # LINKTYPE_PKTAP (macOS)
    link[105] = wlan.DISSECTOR  # LINKTYPE_IEEE802_11
    link[127] = wlan.RADIOTAP_DISSECTOR  # LINKTYPE_IEEE802_11_RADIOTAP

    eth = r.tables["ethertype"]
    eth[0x0800] = ipv4.DISSECTOR
    eth[0x86DD] = ipv6.DISSECTOR
    eth[0x0806] = arp.DISSECTOR
    eth[0x8100] = vlan.DISSECTOR  # 802.1Q
    eth[0x88A8] = vlan.DISSECTOR  # 802.1ad (QinQ outer tag)
    eth[0x9100] = vlan.DISSECTOR  # pre-standard QinQ
    eth[0x6558] = ethernet.DISSECTOR  # transparent Ethernet bridging (GRE, Geneve, NVGRE)
    eth[ethernet.LENGTH] = llc.DISSECTOR  # an 802.3 length field: LLC (and SNAP) follows
    eth[0x8847] = mpls.DISSECTOR  # MPLS unicast
    eth[0x8848] = mpls.DISSECTOR  # MPLS multicast
    eth[0x880B] = ppp.DISSECTOR  # PPP (PPTP's GRE, PPPoE sessions)
    eth[pppoe.DISCOVERY] = pppoe.DISSECTOR  # 0x8863
    eth[pppoe.SESSION] = pppoe.DISSECTOR  # 0x8864
    eth[0x88BE] = erspan.DISSECTOR  # ERSPAN type II (GRE; type I is handled by GRE)
    eth[0x22EB] = erspan.DISSECTOR  # ERSPAN type III

    proto = r.tables["ip_proto"]
    proto[6] = tcp.DISSECTOR
    proto[17] = udp.DISSECTOR
    proto[1] = icmp.DISSECTOR
    proto[58] = icmpv6.DISSECTOR
    proto[4] = ipv4.DISSECTOR  # IP-in-IP
    proto[41] = ipv6.DISSECTOR  # IPv6-in-IP (6in4)
    proto[47] = gre.DISSECTOR

    # Tunnels over UDP (kept by through_transport: what they carry has conversations too).
    over_udp = r.tables["udp_port"]
    over_udp[vxlan.PORT] = vxlan.DISSECTOR  # 4789
    over_udp[vxlan.GPE_PORT] = vxlan.DISSECTOR  # 4790, VXLAN-GPE (the P bit says which)
    over_udp[geneve.PORT] = geneve.DISSECTOR  # 6081
    over_udp[4754] = gre.DISSECTOR  # GRE-in-UDP (RFC 8086)
    over_udp[mpls.PORT] = mpls.DISSECTOR  # 6635, MPLS-in-UDP (RFC 7510)
    over_udp[gtp.PORT] = gtp.DISSECTOR  # 2152, GTP-U
    over_udp[teredo.PORT] = teredo.DISSECTOR  # 3544
    over_udp[ayiya.PORT] = ayiya.DISSECTOR  # 5072

    r.tables["udp_port"][53] = dns.DISSECTOR
    r.tables["udp_port"][5353] = dns.DISSECTOR  # mDNS
    r.tables["udp_port"][5355] = dns.DISSECTOR  # LLMNR
    r.tables["tcp_port"][53] = dns.TCP_DISSECTOR  # two-byte length prefix (RFC 1035 §4.2.2)
    for port in (80, 8000, 8008, 8080, 3128):
        r.tables["tcp_port"][port] = http.DISSECTOR
    r.heuristics["tcp_port"].append(http.DISSECTOR)  # "GET " … "HTTP/1." on any port
    for port in tls.PORTS:  # 443 (HTTPS), 8443, 993 (IMAPS), 853 (DNS over TLS), …
        r.tables["tcp_port"][port] = tls.DISSECTOR
    r.heuristics["tcp_port"].append(tls.DISSECTOR)  # a record header (16 03 0x …) on any port

    from layerpeek.quic import packets as quic

    for port in quic.PORTS:  # 443 (HTTP/3), 853 (DNS over QUIC)
        r.tables["udp_port"][port] = quic.DISSECTOR
    r.heuristics["udp_port"].append(quic.DISSECTOR)  # a long header of a known version, any port
    return r
