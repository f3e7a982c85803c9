"""The decode driver: peel a frame layer by layer, iteratively.

Each step looks the hand-over ``(table, key, start, end)`` up in the
:class:`~layerpeek.registry.Registry`, runs that pure decoder, and appends the
layer and its span.  The loop is iterative and bounded by :data:`MAX_DEPTH` so
that IP-in-IP chains cannot recurse without end.  This is the *one* boundary
where a decoder's :class:`~layerpeek.errors.DecodeError` becomes a
:class:`~layerpeek.packet.Malformed` layer; any other exception is a bug in
layerpeek and propagates (the property tests keep that honest).
"""

from __future__ import annotations

from layerpeek.errors import DecodeError
from layerpeek.packet import Layer, Malformed, Payload
from layerpeek.registry import Dissector, Registry, default_registry

#: Deepest chain we follow; the rest is kept as one Malformed remainder.
MAX_DEPTH = 32

_DEFAULT: Registry | None = None


def registry() -> Registry:
    """The shared default registry, built on first use (import stays cheap)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = default_registry()
    return _DEFAULT


def _resolve(
    reg: Registry, table: str, key: int | tuple[int, int], buf: bytes, start: int, end: int
) -> Dissector | None:
    entries = reg.tables[table]
    if isinstance(key, tuple):
        # Ports: the lower port first, then the higher.  Clients use ephemeral
        # (high) ports, so this finds the server's port in both directions.
        a, b = key
        lo, hi = (a, b) if a <= b else (b, a)
        found = entries.get(lo) or entries.get(hi)
    else:
        found = entries.get(key)
    if found is not None:
        return found
    for heuristic in reg.heuristics[table]:
        if heuristic.sniff is not None and heuristic.sniff(buf, start, end):
            return heuristic
    return None


def decode_layers(
    data: bytes, linktype: int, reg: Registry | None = None
) -> tuple[tuple[Layer, ...], tuple[tuple[int, int], ...]]:
    """Decode one frame into its layers (outermost first) and their byte spans.

    Never raises for packet-level damage: the chain then ends in a
    :class:`Malformed` layer that says which protocol stopped, why, and where.

    This loop is the hot path of every command: the table lookups are inlined
    (``_resolve`` is only called for port pairs and heuristics) and the depth
    bound is a ``for`` range rather than a length test per layer.
    """
    if reg is None:
        reg = _DEFAULT if _DEFAULT is not None else registry()
    tables = reg.tables
    layers: list[Layer] = []
    spans: list[tuple[int, int]] = []
    table = "linktype"
    key: int | tuple[int, int] = linktype
    start = 0
    end = len(data)
    for _ in range(MAX_DEPTH):
        if key.__class__ is int:
            dissector = tables[table].get(key)
            if dissector is None and reg.heuristics[table]:
                dissector = _resolve(reg, table, key, data, start, end)
        else:
            dissector = _resolve(reg, table, key, data, start, end)
        if dissector is None:
            if start < end:
                layers.append(Payload(data[start:end]))
                spans.append((start, end))
            break
        try:
            layer, after = dissector.decode(data, start, end)
        except DecodeError as e:
            offset = start if e.offset is None else e.offset
            layers.append(
                Malformed(dissector.protocol, e.reason, offset, e.truncated, data[start:end])
            )
            spans.append((start, end))
            break
        layers.append(layer)
        if after is None:
            spans.append((start, end))
            break
        if after.__class__ is not tuple:
            assert isinstance(after, Malformed)
            spans.append((start, after.offset))
            layers.append(after)
            spans.append((after.offset, end))
            break
        table, key, nstart, nend = after
        spans.append((start, nstart))
        start, end = nstart, nend
        if start >= end and table != "linktype":
            break
    else:
        layers.append(
            Malformed("decode", f"more than {MAX_DEPTH} layers", start, False, data[start:end])
        )
        spans.append((start, end))
    return tuple(layers), tuple(spans)
