"""Wireshark-style display filters and tcpdump-style capture filters.

>>> import layerpeek
>>> from layerpeek import filter as lpf
>>> keep = lpf.compile("tcp.port == 3040 && tcp.flags.syn == 1 && tcp.flags.ack == 0")
>>> [p.index for p in layerpeek.read("captures/tcp_3040_greeting.pcap") if keep(p)]
[1]

As in Wireshark, ``!tcp.flags.ack`` means "no such field", which no TCP
packet lacks; ``tcp.flags.ack == 0`` is the test for a clear flag.

A compiled :class:`DisplayFilter` is a predicate on a
:class:`~layerpeek.packet.Packet` and, optionally, the packet's
:class:`~layerpeek.flows.tracker.PacketFlowInfo` (needed by ``tcp.stream``,
relative ``tcp.seq``/``tcp.ack`` and ``tcp.analysis.*``; see
:func:`layerpeek.flows.annotate`).  It remembers the first and previous
packet it saw for ``frame.time_relative`` and ``frame.time_delta``, so feed
it every packet, in order, or call :meth:`DisplayFilter.reset` between
captures.

The pieces: :mod:`.lexer` (tokens with columns), :mod:`.parser` (→
:mod:`.ast`), :mod:`.compiler` (→ a closure), :mod:`.fields` (the Wireshark
field names), :mod:`.bpf` (capture filters run on file frames) and
:mod:`.output` (``-T fields``).  Every problem with a filter is a
:class:`FilterError`; text that is not a filter is its subclass
:class:`FilterSyntaxError`, which carries the column.
"""

from __future__ import annotations

from typing import Any

from layerpeek.filter.ast import Node, to_text
from layerpeek.filter.errors import FilterError, FilterSyntaxError
from layerpeek.filter.fields import FIELD_LIST, FIELDS, Field, FieldType, Frame
from layerpeek.packet import Packet


def parse(expression: str) -> Node:
    """Parse a display filter into its syntax tree (field names are checked)."""
    from layerpeek.filter.parser import parse as _parse

    return _parse(expression, FIELDS)


class DisplayFilter:
    """A compiled display filter: call it with a packet (and its flow info)."""

    __slots__ = ("_first_ns", "_prev_ns", "_test", "expression", "node")

    def __init__(self, expression: str) -> None:
        from layerpeek.filter.compiler import compile_node

        self.expression = expression
        self.node = parse(expression)
        self._test = compile_node(self.node, expression)
        self._first_ns: int | None = None
        self._prev_ns: int | None = None

    def __call__(self, packet: Packet, info: Any = None) -> bool:
        frame = Frame(packet, info, self._first_ns, self._prev_ns)
        if self._first_ns is None:
            self._first_ns = packet.ts_ns
        self._prev_ns = packet.ts_ns
        return self._test(frame)

    def test(self, frame: Frame) -> bool:
        """Evaluate on a prepared :class:`Frame` (whose times the caller keeps)."""
        return self._test(frame)

    def reset(self) -> None:
        """Forget the first/previous packet times (before filtering another capture)."""
        self._first_ns = None
        self._prev_ns = None

    def __str__(self) -> str:
        return to_text(self.node)

    def __repr__(self) -> str:
        return f"DisplayFilter({self.expression!r})"


def compile(expression: str) -> DisplayFilter:
    """Compile a Wireshark display filter; raises :class:`FilterSyntaxError`."""
    return DisplayFilter(expression)


__all__ = [
    "FIELDS",
    "FIELD_LIST",
    "DisplayFilter",
    "Field",
    "FieldType",
    "FilterError",
    "FilterSyntaxError",
    "Frame",
    "compile",
    "parse",
    "to_text",
]
