"""Layer decoders: one module per protocol, each a dataclass plus ``decode``.

A protocol module stands alone: it takes the decoder types (``Decoded``,
``Dissector``) from :mod:`layerpeek.dissect` and hands over to what follows by
naming a table and a key, never the next module; :mod:`layerpeek.registry`
wires the modules together and nothing here imports it
(``tests/test_architecture.py`` checks).  What another module needs from one
(a header ``Struct`` the fast path in :mod:`layerpeek.decode` unpacks in
line, say) is a public name, not a ``_private`` one.
"""

from __future__ import annotations

from layerpeek.layers.arp import ARP
from layerpeek.layers.dns import DNS
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.http import HTTP
from layerpeek.layers.icmp import ICMP
from layerpeek.layers.icmpv6 import ICMPv6
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.linux_sll import SLL, SLL2
from layerpeek.layers.null import Null
from layerpeek.layers.tcp import TCP
from layerpeek.layers.udp import UDP
from layerpeek.layers.vlan import VLAN

__all__ = [
    "ARP",
    "DNS",
    "HTTP",
    "ICMP",
    "SLL",
    "SLL2",
    "TCP",
    "UDP",
    "VLAN",
    "Ethernet",
    "ICMPv6",
    "IPv4",
    "IPv6",
    "Null",
]
