"""The decoded frame: a flat chain of typed layers, outermost first.

The explainer draws each layer nested inside the one below (Ethernet carries
IP, IP carries TCP, TCP carries HTTP).  We keep that order in
``Packet.layers``, a flat tuple, and give each layer the byte span it covers in
``Packet.spans``.  A flat chain keeps the type of every element knowable
(``packet.get(TCP)`` is a ``TCP | None`` to mypy and to an editor) while the
nested view is drawn by :mod:`layerpeek.render.text`.

Layers are ``@dataclass(slots=True)``, not ``frozen``: a frozen dataclass
stores each field through ``object.__setattr__``, about five times the cost of
a slots-only one (``bench/bench.py`` prints the figures, ``bench/README.md``
records them), and a packet builds four or five layers.  What that costs in
safety is kept small: every layer object belongs to one packet, so changing
it changes that packet only.  The few objects the decoder shares are frozen,
because a change to one would show in other packets: the Ethernet header (a
reader keeps one object per distinct header, see
:data:`layerpeek.decode.EthernetCache`) and the TCP options without a value
(EOL, NOP, SACK-permitted).  ``tests/test_shared_objects.py`` holds the decoder to
this: no mutable object is reachable from two packets, in one read or two.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, overload

L = TypeVar("L", bound="Layer")
_new = object.__new__


class Layer:
    """Base of every decoded layer.  Holds no fields itself.

    Class attributes every layer sets:

    * ``name``: the layer's id in the JSON schema (``"ethernet"``, ``"tcp"``).
    * ``short``: its element in the protocol path (``"eth:ipv4:tcp"``).
    * ``json_formats``: how raw ``bytes`` fields are shown in JSON and text
      (``"mac"``, ``"ipv4"``, ``"ipv6"``, ``"ip"``, ``"latin1"``; default hex).
    * ``json_names``: field → JSON key where a Python keyword is in the way
      (a DNS record's ``rclass`` is ``"class"`` on the wire and in JSON).
    """

    __slots__ = ()
    name: ClassVar[str] = "layer"
    short: ClassVar[str] = "layer"
    json_formats: ClassVar[dict[str, str]] = {}
    json_names: ClassVar[dict[str, str]] = {}

    def summary(self) -> str:
        """The key facts for a one-line listing (``dump``'s default output)."""
        return ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A layer with address fields (``json_formats``) gets a repr that shows them as
        addresses (``src=127.0.0.1``), not as ``b'\x7f\x00\x00\x01'``.

        Set here, before ``@dataclass`` runs, so the decorator keeps it (it
        writes a ``__repr__`` only where the class has none of its own).
        """
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("json_formats") and "__repr__" not in cls.__dict__:
            cls.__repr__ = _address_repr  # type: ignore[method-assign,assignment]


def _address_text(kind: str, value: bytes) -> str | None:
    """``value`` as the address ``kind`` names (a ``json_formats`` entry), or None."""
    import ipaddress

    if kind == "mac" and len(value) == 6:
        return value.hex(":")
    if kind in ("ipv4", "ip") and len(value) == 4:
        return str(ipaddress.IPv4Address(value))
    if kind in ("ipv6", "ip") and len(value) == 16:
        return str(ipaddress.IPv6Address(value))
    return None


def _address_repr(self: Layer) -> str:
    """The dataclass repr, with the address fields written as addresses."""
    import dataclasses

    formats = type(self).json_formats
    parts = []
    for f in dataclasses.fields(self):  # type: ignore[arg-type]
        if not f.repr:
            continue
        value = getattr(self, f.name)
        kind = formats.get(f.name)
        text = _address_text(kind, value) if kind and isinstance(value, bytes) else None
        parts.append(f"{f.name}={text if text is not None else repr(value)}")
    return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(slots=True)
class Payload(Layer):
    """Bytes no decoder claimed: unknown ethertype, protocol or port, or an IP fragment."""

    name: ClassVar[str] = "data"
    short: ClassVar[str] = "data"
    data: bytes = field(repr=False)

    def summary(self) -> str:
        from layerpeek.render.text import layer_summary

        return layer_summary(self)

    def __repr__(self) -> str:
        more = "…" if len(self.data) > 16 else ""
        return f"Payload({len(self.data)} bytes: {self.data[:16].hex()}{more})"


def new_payload(data: bytes) -> Payload:
    """Build a :class:`Payload`: the one constructor site decoders use (see ``new_tcp``)."""
    payload = _new(Payload)
    payload.data = data
    return payload


@dataclass(slots=True)
class Malformed(Layer):
    """Why decoding stopped.  Always the last layer of a chain.

    Unlike dpkt and scapy, the reason and the undecoded bytes are kept.
    """

    name: ClassVar[str] = "malformed"
    short: ClassVar[str] = "malformed"
    protocol: str  #: decoder that gave up, e.g. ``"tcp"``
    reason: str  #: e.g. ``"data offset 4 words < 5"``, ``"tcp: need 20 bytes, have 7"``
    offset: int  #: absolute offset in the frame where the problem is
    truncated: bool  #: True: ran out of captured bytes; False: bytes present but invalid
    data: bytes = field(repr=False, default=b"")  #: the undecoded remainder, never lost

    def summary(self) -> str:
        from layerpeek.render.text import layer_summary

        return layer_summary(self)


@dataclass(slots=True)
class Packet:
    """One captured frame and its decoded layers."""

    index: int  #: 1-based frame number, as Wireshark numbers frames
    ts_ns: int  #: capture time, integer nanoseconds since the Unix epoch
    wire_len: int  #: original length on the wire; ``cap_len`` is ``len(data)``
    linktype: int  #: the pcap LINKTYPE_* of this frame's interface
    data: bytes = field(repr=False)
    layers: tuple[Layer, ...]  #: outermost first: (Ethernet, IPv4, TCP, HTTP)
    spans: tuple[tuple[int, int], ...] = field(repr=False)  #: (start, end) per layer
    interface: int = 0  #: interface id within the capture (pcapng IDB index; 0 for pcap)
    interface_name: str | None = None  #: ``if_name`` from pcapng, or the live interface
    #: the pcapng packet comment (``frame.comment``; several joined with newlines), or None
    comment: str | None = None

    @property
    def cap_len(self) -> int:
        return len(self.data)

    def get(self, kind: type[L]) -> L | None:
        """The first layer of type ``kind`` (outermost first), or None."""
        for layer in self.layers:
            if isinstance(layer, kind):
                return layer
        return None

    def _named(self, name: str) -> Layer | None:
        """The first layer whose name or short name is ``name`` (any case)."""
        wanted = name.lower()
        for layer in self.layers:
            if layer.name.lower() == wanted or layer.short.lower() == wanted:
                return layer
        return None

    @overload
    def __getitem__(self, kind: type[L]) -> L: ...

    @overload
    def __getitem__(self, kind: str) -> Layer: ...

    def __getitem__(self, kind: type[L] | str) -> L | Layer:
        """``packet[TCP]`` or ``packet["tcp"]`` (scapy's habit): the first such layer.

        Like :meth:`get`, but a missing layer raises KeyError naming the ones
        the packet has.  A name is a layer's ``name`` or ``short`` (``"ipv4"``,
        ``"eth"``), in any case.
        """
        if isinstance(kind, str):
            found = self._named(kind)
            if found is None:
                raise KeyError(f"frame {self.index} has no {kind!r} layer "
                               f"(it has {self.protocols or 'none'})")
            return found
        if not isinstance(kind, type):
            raise TypeError(f"index a packet with a layer class or name (packet[TCP], "
                            f"packet['tcp']), not {type(kind).__name__}; its layers are "
                            "packet.layers")
        layer = self.get(kind)
        if layer is None:
            raise KeyError(f"frame {self.index} has no {kind.__name__} layer ({self.protocols})")
        return layer

    def __contains__(self, kind: type[Layer] | str) -> bool:
        if isinstance(kind, str):
            return self._named(kind) is not None
        return self.get(kind) is not None

    def __iter__(self) -> Iterator[Layer]:
        """``for layer in packet``: the layers, outermost first."""
        return iter(self.layers)

    def __bytes__(self) -> bytes:
        """``bytes(packet)``: the frame as captured."""
        return self.data

    def __str__(self) -> str:
        """``print(packet)``: dump's line for it (time 0: a packet alone has no first packet)."""
        from layerpeek.render.text import packet_line

        return packet_line(self, self.ts_ns)

    def show(self) -> None:
        """Print the ``dump -V`` tree of every layer and field (scapy's ``show()``)."""
        from layerpeek.render.text import packet_tree

        print(packet_tree(self))

    def span_of(self, kind: type[Layer]) -> tuple[int, int] | None:
        """The (start, end) byte span of the first layer of type ``kind``."""
        for layer, span in zip(self.layers, self.spans, strict=False):
            if isinstance(layer, kind):
                return span
        return None

    def payload_after(self, kind: type[Layer]) -> bytes:
        """The bytes carried by layer ``kind`` (e.g. the TCP payload), or ``b""``.

        This is everything from the end of that layer's header to the end of
        its data: what the next layer was decoded from.
        """
        for i, layer in enumerate(self.layers):
            if isinstance(layer, kind):
                if i + 1 < len(self.spans):
                    start = self.spans[i + 1][0]
                    end = self.spans[i + 1][1]
                    return self.data[start:end]
                return b""
        return b""

    @property
    def malformed(self) -> Malformed | None:
        """The :class:`Malformed` marker ending the chain, if decoding stopped early."""
        last = self.layers[-1] if self.layers else None
        return last if isinstance(last, Malformed) else None

    @property
    def truncated(self) -> bool:
        """True if the capture cut the frame (snaplen) or a decoder ran out of bytes."""
        m = self.malformed
        return len(self.data) < self.wire_len or (m is not None and m.truncated)

    @property
    def protocols(self) -> str:
        """The protocol path, like Wireshark's ``frame.protocols``: ``eth:ipv4:tcp:http``."""
        return ":".join(layer.short for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """This packet in the documented JSON schema (see ``layerpeek/schema``)."""
        from layerpeek.render.json import packet_to_dict

        return packet_to_dict(self)

    def __repr__(self) -> str:
        return f"<Packet #{self.index} {self.protocols} {len(self.data)}/{self.wire_len} bytes>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from layerpeek.render.text import packet_tree

        p.text(packet_tree(self))

    def _repr_html_(self) -> str:
        """Jupyter's view: one box per layer, each inside the one that carries it."""
        from layerpeek.render.html import packet_html

        return packet_html(self)


__all__ = ["Layer", "Malformed", "Packet", "Payload", "new_payload"]
