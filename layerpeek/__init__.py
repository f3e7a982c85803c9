"""layerpeek: dissect network captures layer by layer.

Each frame of a pcap or pcapng file becomes a :class:`Packet`: its layers,
outermost first, each a typed dataclass with the header's fields by their RFC
names (run from the repository root, where the bundled captures are):

>>> import layerpeek
>>> from layerpeek import TCP
>>> for packet in layerpeek.read("captures/tcp_3040_greeting.pcap"):
...     tcp = packet.get(TCP)            # the layer, or None when the packet has none
...     if packet.index <= 3:
...         print(packet.index, packet.protocols, tcp.flags, tcp.seq)
1 eth:ipv4:tcp 2 1110334683
2 eth:ipv4:tcp 18 2125902396
3 eth:ipv4:tcp 16 1110334684

Sequence numbers here are the raw ones on the wire; the conversation stage
(:mod:`layerpeek.flows`, :mod:`layerpeek.analysis`) gives the relative ones.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # served lazily by __getattr__ below; typed here for editors and mypy
    from layerpeek.capture import CaptureReader, open_capture
    from layerpeek.capture.frame import RawFrame
    from layerpeek.capture.live import LiveCapture, live_packets
    from layerpeek.columnar import table
    from layerpeek.errors import CaptureFormatError, CaptureProblemWarning, LayerpeekError
    from layerpeek.layers import (
        ARP,
        DNS,
        HTTP,
        ICMP,
        SLL,
        SLL2,
        TCP,
        UDP,
        VLAN,
        Ethernet,
        ICMPv6,
        IPv4,
        IPv6,
        Null,
    )
    from layerpeek.packet import Layer, Malformed, Packet, Payload
    from layerpeek.reader import PacketReader, decode, read
    from layerpeek.registry import Dissector, Registry, default_registry

__version__ = "0.1.0"

#: Where each public name lives.  Nothing is imported by ``import layerpeek``
#: itself: the decoders are about seventy dataclasses and enums whose classes
#: take ~30 ms of CPU to build, which ``layerpeek --help`` (every command
#: module imports this package first) and a program that only wants
#: ``layerpeek.table`` or the CLI's parser should not pay.  The first name
#: used imports its module (and the decoders with it), once.
_WHERE: dict[str, str] = {
    **dict.fromkeys(("CaptureReader", "open_capture"), "layerpeek.capture"),
    "RawFrame": "layerpeek.capture.frame",
    # Live capture loads ctypes and libpcap; reading files must not pay for that.
    **dict.fromkeys(("LiveCapture", "live_packets"), "layerpeek.capture.live"),
    # Columnar tables need numpy and pyarrow (the ``table`` extra).
    "table": "layerpeek.columnar",
    **dict.fromkeys(("CaptureFormatError", "CaptureProblemWarning", "LayerpeekError"),
                    "layerpeek.errors"),
    **dict.fromkeys(("ARP", "DNS", "HTTP", "ICMP", "SLL", "SLL2", "TCP", "UDP", "VLAN",
                     "Ethernet", "ICMPv6", "IPv4", "IPv6", "Null"), "layerpeek.layers"),
    **dict.fromkeys(("Layer", "Malformed", "Packet", "Payload"), "layerpeek.packet"),
    **dict.fromkeys(("PacketReader", "decode", "read"), "layerpeek.reader"),
    **dict.fromkeys(("Dissector", "Registry", "default_registry"), "layerpeek.registry"),
}

_EAGER_BEFORE = frozenset(("capture", "decode", "dissect", "errors", "layers", "packet", "reader",
                           "registry", "wire"))

#: The subpackages and modules the README spells after ``import layerpeek``
#: (``layerpeek.flows.conversations(…)``, ``layerpeek.http.exchanges(…)``):
#: imported on first use of the attribute, like the names above.
_SUBMODULES = frozenset(("analysis", "dnstx", "filter", "flows", "http", "http2", "notebook",
                         "quic", "render", "story", "tls"))


def __getattr__(name: str) -> object:
    """The public names (``layerpeek.read``, ``layerpeek.TCP`` …), imported on first use.

    The value is then kept in the package's namespace, so this runs once a
    name.  The submodules this package used to import eagerly are served too
    (``import layerpeek; layerpeek.reader.read``), and no others: probing
    ``hasattr(layerpeek, "dask")`` must not import Dask.  The packages the
    README names (:data:`_SUBMODULES`: ``layerpeek.flows``, ``.http``,
    ``.dnstx``, ``.story``, ``.filter`` …) are served the same way.
    """
    import importlib

    where = _WHERE.get(name)
    if where is not None:
        value = getattr(importlib.import_module(where), name)
        globals()[name] = value
        return value
    if name in _EAGER_BEFORE or name in _SUBMODULES:
        return importlib.import_module(f"layerpeek.{name}")
    raise AttributeError(f"module 'layerpeek' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE, *_SUBMODULES})


class _Package(types.ModuleType):
    """This package's module object: keeps ``layerpeek.decode`` the function.

    ``layerpeek.decode`` names both the public function (from
    :mod:`layerpeek.reader`) and the submodule :mod:`layerpeek.decode`.
    Importing a submodule binds it as an attribute of its package; when this
    package imported everything eagerly, the function was bound last and won.
    Now the submodule is imported whenever something first needs it, so that
    binding is refused here and the name stays the function's (served by
    ``__getattr__``); the submodule itself is in ``sys.modules`` as always.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
    "CaptureFormatError",
    "CaptureProblemWarning",
    "CaptureReader",
    "Dissector",
    "Ethernet",
    "ICMPv6",
    "IPv4",
    "IPv6",
    "Layer",
    "LayerpeekError",
    "LiveCapture",
    "Malformed",
    "Null",
    "Packet",
    "PacketReader",
    "Payload",
    "RawFrame",
    "Registry",
    "__version__",
    "decode",
    "default_registry",
    "live_packets",
    "open_capture",
    "read",
    "table",
]
