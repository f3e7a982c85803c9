"""``dump -T json`` and ``-T ek``: packets in tshark's JSON layouts, built from the field registry.

Tools and tutorials read ``tshark -T json`` (one JSON array, a document per
packet with its fields under ``_source.layers.<protocol>``) and ``tshark -T
ek`` (newline-delimited Elasticsearch bulk input: an ``index`` action line,
then the packet).  These writers give the same shape from the same field
names, every field of :mod:`layerpeek.filter.fields` that the packet has,
grouped by protocol in the registry's order, with values as tshark's JSON
writes them: strings as ``-T fields`` has them (times with nine decimals),
except byte fields as colon-separated hex (``0c:18:01``) and labels such as
``tcp.analysis.retransmission`` as ``""``.

Where it differs from tshark, by design or by what layerpeek knows:

* a field with several values (``ip.addr``) is one key holding a list, as
  tshark writes with ``--no-duplicate-keys``, never a repeated key;
* there are no ``*_tree`` sub-objects: every field of a protocol is a key of
  its protocol's object, so ``layers.tcp["tcp.flags.syn"]`` is where
  tshark has ``layers.tcp["tcp.flags_tree"]["tcp.flags.syn"]``;
* only the fields layerpeek has (``layerpeek fields`` lists them);
* ``-T ek``'s index name is ``packets-YYYY-MM-DD`` from the packet's UTC date.

layerpeek's own JSON Lines schema is ``--json`` (``layerpeek/schema``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from layerpeek.filter.fields import FIELD_LIST, Field, FieldType, Frame, format_value

__all__ = ["ek_lines", "json_document", "layers"]

Presence = Callable[[Frame], bool] | None


def _extracts(field: Field) -> Callable[[Frame], bool]:
    """A presence test from a protocol field without a cheaper one of its own."""
    return lambda frame: bool(field.extract(frame))


def _groups() -> list[tuple[str, Presence, tuple[Field, ...]]]:
    """``(protocol, presence test, fields)`` in the registry's order; aliases left out."""
    protocols = {f.name: f for f in FIELD_LIST if f.type is FieldType.PROTOCOL}
    order: list[str] = []
    members: dict[str, list[Field]] = {}
    for field in FIELD_LIST:
        if field.alias_of is not None or field.type is FieldType.PROTOCOL:
            continue
        if field.name.startswith("_ws.col."):  # columns: tshark's JSON has them only with -e
            continue
        proto = field.name.split(".", 1)[0]
        if proto not in members:
            order.append(proto)
            members[proto] = []
        members[proto].append(field)
    out: list[tuple[str, Presence, tuple[Field, ...]]] = []
    for proto in order:
        declared = protocols.get(proto)
        present: Presence = None
        if declared is not None:
            present = declared.present or _extracts(declared)
        out.append((proto, present, tuple(members[proto])))
    return out


_GROUPS: list[tuple[str, Presence, tuple[Field, ...]]] | None = None


def layers(frame: Frame, *, typed: bool = False) -> dict[str, dict[str, Any]]:
    """``{protocol: {field name: value or [values]}}`` for one packet.

    Values are ``-T fields`` text; with ``typed`` booleans stay booleans (as
    ``-T ek`` writes them).
    """
    global _GROUPS
    if _GROUPS is None:
        _GROUPS = _groups()
    out: dict[str, dict[str, Any]] = {}
    for proto, present, fields in _GROUPS:
        if present is not None and not present(frame):
            continue
        found: dict[str, Any] = {}
        for field in fields:
            values = field.extract(frame)
            if not values:
                continue
            ftype = field.type
            if typed and ftype is FieldType.BOOL:
                texts: list[Any] = [bool(v) for v in values]
            elif ftype is FieldType.BYTES:  # tshark's JSON writes bytes as 0c:18:01, not 0c1801
                texts = [bytes(v).hex(":") for v in values]
            elif ftype is FieldType.NONE:  # a label: present, with no value
                texts = [""] * len(values)
            else:
                texts = [format_value(field, v) for v in values]
            found[field.name] = texts[0] if len(texts) == 1 else texts
        if found:
            out[proto] = found
    return out


def _day(ts_ns: int) -> str:
    when = datetime.datetime.fromtimestamp(ts_ns // 1_000_000_000, datetime.timezone.utc)
    return f"packets-{when:%Y-%m-%d}"


def json_document(frame: Frame) -> str:
    """One element of ``-T json``'s array, indented as tshark indents it (two spaces)."""
    doc = {
        "_index": _day(frame.packet.ts_ns),
        "_type": "doc",
        "_score": None,
        "_source": {"layers": layers(frame)},
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return "\n".join("  " + line for line in text.splitlines())


def ek_lines(frame: Frame) -> str:
    """``-T ek``: the bulk ``index`` action line and the packet line (no final newline)."""
    action = {"index": {"_index": _day(frame.packet.ts_ns), "_type": "doc"}}
    named = {
        proto: {f"{proto}_{name.replace('.', '_')}": value for name, value in fields.items()}
        for proto, fields in layers(frame, typed=True).items()
    }
    doc = {"timestamp": str(frame.packet.ts_ns // 1_000_000), "layers": named}
    return (json.dumps(action, separators=(",", ":")) + "\n"
            + json.dumps(doc, separators=(",", ":"), ensure_ascii=False))
