"""What a protocol decoder is: the types every module under ``layers/`` needs.

A decoder is a pure function over ``(buf, start, end)`` that returns its layer
and a *hand-over* naming what comes next, as data (``("ethertype", 0x0800,
14, 60)``), never the next decoder itself.  Which decoder answers a hand-over
is wired in one place, :mod:`layerpeek.registry`; this module only says what
a decoder and its hand-over look like, so that a protocol module depends on
nothing but :mod:`layerpeek.packet`, :mod:`layerpeek.errors` and
:mod:`layerpeek.wire` and can be read, tested and added on its own.
(``tests/test_architecture.py`` keeps ``layers/`` from importing the registry.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from layerpeek.packet import Layer, Malformed

__all__ = ["DecodeFn", "Decoded", "Dissector", "Next", "SniffFn"]

#: A hand-over to the next decoder: (table name, key, start, end).  Port
#: tables take a ``(src_port, dst_port)`` pair as key.
Next = tuple[str, int | tuple[int, int], int, int]

#: What a decoder returns: its layer, then a hand-over, a Malformed marker
#: (the layer was decoded but what follows is damaged), or None (terminal).
Decoded = tuple["Layer", Union[Next, "Malformed", None]]

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
