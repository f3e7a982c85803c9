"""What a protocol decoder is: the types every module under ``layers/`` needs.

A decoder is a pure function over ``(buf, start, end)`` that returns its layer
and a *hand-over* naming what comes next, as data (``("ethertype", 0x0800,
14, 60)``), never the next decoder itself.  Which decoder answers a hand-over
is wired in one place, :mod:`layerpeek.registry`; this module only says what
a decoder and its hand-over look like, so that a protocol module depends on
nothing but :mod:`layerpeek.packet`, :mod:`layerpeek.errors` and
:mod:`layerpeek.wire` and can be read, tested and added on its own.
(``tests/test_architecture.py`` keeps ``layers/`` from importing the registry.)

Damaged options: one convention for every option list (TCP, IPv4, IPv6's
Hop-by-Hop and Destination options, ICMPv6's NDP options) and for IPv6's
extension chain.  The parser returns ``(options, damage)``: the options it
read, as a tuple, and ``None`` or a :class:`Damage` for the first option it
cannot read.  The options before the damage are kept; the decoder returns its
layer with them, then ``damage.marker(protocol, buf, end)`` in place of the
hand-over, a :class:`~layerpeek.packet.Malformed` marker that holds the
damaged option and everything after it.  So that every protocol reports alike:

* the reason starts with the field path (``tcp.options[2].length``,
  ``ipv6.extensions[0].options[1].length``) and says what is wrong; the
  helpers below word the checks every list makes (a length byte missing,
  below its minimum, running past the end);
* the offset is the damaged option's first byte, whichever of its fields is
  wrong: the layer's span then ends after the last whole option;
* ``truncated`` is True only when the captured bytes end inside the option
  (the header or message was cut by the snaplen); a length that contradicts
  the bytes present is invalid, not truncated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from layerpeek.packet import Layer, Malformed

__all__ = [
    "UNCLAIMED",
    "Damage",
    "DecodeFn",
    "Decoded",
    "Dissector",
    "Next",
    "SniffFn",
    "length_below",
    "length_missing",
    "length_overflows",
]

#: A hand-over to the next decoder: (table name, key, start, end).  Port
#: tables take a ``(src_port, dst_port)`` pair as key.
Next = tuple[str, int | tuple[int, int], int, int]

#: What a decoder returns: its layer, then a hand-over, a Malformed marker
#: (the layer was decoded but what follows is damaged), or None (terminal).
Decoded = tuple[Layer, Next | Malformed | None]

#: A hand-over key no table holds: what follows is kept as data.  For a header
#: that cannot name its payload (an unknown VXLAN-GPE next protocol, an MPLS
#: stack over something that is not IP, LLC without SNAP) yet must not lose it.
UNCLAIMED = -1

#: ``decode(buf, start, end)``: decode ``buf[start:end]``, raising
#: :class:`~layerpeek.errors.Short` or :class:`~layerpeek.errors.Invalid` on damage.
DecodeFn = Callable[[bytes, int, int], Decoded]

#: ``sniff(buf, start, end)``: a cheap test whether the bytes look like this protocol.
SniffFn = Callable[[bytes, int, int], bool]


@dataclass(frozen=True, slots=True)
class Dissector:
    """A protocol's entry in a registry: its name, its decoder, optionally a sniff."""

    protocol: str  #: the name a Malformed marker reports, e.g. ``"tcp"``
    decode: DecodeFn
    sniff: SniffFn | None = None  #: cheap content test for heuristic dispatch
    #: A tunnel: what it carries is another packet (VXLAN, Geneve, GRE in UDP),
    #: so a registry cut after the transport layer keeps it in its port tables
    #: (:meth:`layerpeek.registry.Registry.through_transport`): conversations
    #: inside a tunnel are conversations too.
    tunnel: bool = False


@dataclass(frozen=True, slots=True)
class Damage:
    """Why and where an option list stops being readable (see the module docstring)."""

    reason: str  #: field path first: ``"tcp.options[2].length 0 < 2"``
    offset: int  #: absolute offset of the damaged option's first byte
    truncated: bool = False  #: the captured bytes end inside the option

    def marker(self, protocol: str, buf: bytes, end: int) -> Malformed:
        """The Malformed marker a decoder returns after its layer: the damaged option onward."""
        return Malformed(protocol, self.reason, self.offset, self.truncated, buf[self.offset : end])


def length_missing(path: str, kind: int, at: int, where: str = "header") -> Damage:
    """Option ``kind`` at ``at`` is the last byte of the ``where``: no room for its length."""
    return Damage(f"{path}.length: missing, option {kind} ends the {where}", at)


def length_below(path: str, length: int, minimum: int, at: int) -> Damage:
    """A length byte below what any option of the list can have (it could never advance)."""
    return Damage(f"{path}.length {length} < {minimum}", at)


def length_overflows(path: str, length: int, left: int, at: int, where: str = "header") -> Damage:
    """A length that runs past the end of the ``where``.

    ``left`` counts the bytes the length could cover: from the option's first
    byte where the length counts the whole option (TCP, IPv4), from after the
    length byte where it counts the data only (IPv6).
    """
    return Damage(f"{path}.length {length} overflows the {where} ({left} bytes left)", at)
