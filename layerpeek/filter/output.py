"""``-T fields``: chosen fields as TSV or CSV, the way tshark prints them.

Scripts written against ``tshark -T fields -e … -E …`` should work
unchanged, so the options and the text are tshark's: one line per packet,
fields in ``-e`` order, an absent field is an empty cell, several
occurrences are joined with the aggregator (``,``), integers shown in hex by
Wireshark (``tcp.flags``, ``eth.type``) keep their ``0x`` form, times have
nine decimals, and control characters in strings are C escapes (``\\r\\n``),
so a value never breaks the line or the column.

``-E`` options: ``header=y|n``, ``separator=/t|/s|<char>``,
``quote=d|s|n``, ``occurrence=f|l|a|<n>``, ``aggregator=,|/s|<char>``;
one ``-E`` each as in tshark, or several in one (``-E header=y,separator=,``).
Unlike tshark, a quote character inside a quoted value is doubled, so
``quote=d`` output is valid CSV.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from layerpeek.filter.errors import FilterError
from layerpeek.filter.fields import FIELDS, Field, Frame, format_value

#: ``-E header=y,separator=,`` (several options in one) splits before each known key,
#: so a comma as the separator or aggregator value survives.
_SPLIT = re.compile(r",(?=(?:header|separator|quote|occurrence|aggregator)=)")
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v"}


@dataclass(frozen=True, slots=True)
class FieldsFormat:
    """What ``-T fields`` prints: which fields, and tshark's ``-E`` options."""

    fields: tuple[Field, ...]
    header: bool = False
    separator: str = "\t"
    quote: str = ""  #: ``"``, ``'`` or empty
    occurrence: int = 0  #: 0 all, -1 the last, n ≥ 1 the n-th
    aggregator: str = ","

    def header_line(self) -> str:
        return self.separator.join(self._quoted(f.name) for f in self.fields)

    def row(self, frame: Frame) -> str:
        cells = []
        for field in self.fields:
            values = field.extract(frame)
            if self.occurrence > 0:
                values = values[self.occurrence - 1 : self.occurrence]
            elif self.occurrence < 0:
                values = values[-1:]
            text = self.aggregator.join(_text(field, v) for v in values)
            cells.append(self._quoted(text) if text else "")
        return self.separator.join(cells)

    def _quoted(self, text: str) -> str:
        q = self.quote
        return f"{q}{text.replace(q, q + q)}{q}" if q else text


def _text(field: Field, value: object) -> str:
    text = format_value(field, value)
    if any(ch < " " or ch == "\x7f" for ch in text):
        text = "".join(_ESCAPES.get(ch, f"\\x{ord(ch):02x}") if ch < " " or ch == "\x7f" else ch
                       for ch in text)
    return text


def lookup_fields(names: Iterable[str]) -> tuple[Field, ...]:
    """The fields named by ``-e`` options; an unknown name is a :class:`FilterError`."""
    found = []
    for name in names:
        field = FIELDS.get(name)
        if field is None:
            close = difflib.get_close_matches(name, list(FIELDS), n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else \
                " (`layerpeek fields` lists them all)"
            raise FilterError(f"-e {name}: no such field{hint}")
        found.append(field)
    return tuple(found)


def _character(option: str, value: str) -> str:
    special = {"/t": "\t", "/s": " ", "\\t": "\t"}
    if value in special:
        return special[value]
    if len(value) != 1:
        raise FilterError(f"-E {option}={value}: give one character, /t (tab) or /s (space)")
    return value


def parse_format(names: Iterable[str], options: Iterable[str]) -> FieldsFormat:
    """Build a :class:`FieldsFormat` from ``-e`` names and ``-E`` ``key=value`` options."""
    fields = lookup_fields(names)
    if not fields:
        raise FilterError("-T fields needs at least one -e FIELD")
    header = False
    separator = "\t"
    quote = ""
    occurrence = 0
    aggregator = ","
    for option in (part for text in options for part in _SPLIT.split(text)):
        key, eq, value = option.partition("=")
        if not eq:
            raise FilterError(f"-E {option}: expected key=value, e.g. header=y or separator=,")
        if key == "header":
            if value not in ("y", "n"):
                raise FilterError(f"-E header={value}: use y or n")
            header = value == "y"
        elif key == "separator":
            separator = _character(key, value)
        elif key == "aggregator":
            aggregator = _character(key, value)
        elif key == "quote":
            quotes = {"d": '"', "s": "'", "n": ""}
            if value not in quotes:
                raise FilterError(f"-E quote={value}: use d (double), s (single) or n (none)")
            quote = quotes[value]
        elif key == "occurrence":
            if value in ("a", "f", "l"):
                occurrence = {"a": 0, "f": 1, "l": -1}[value]
            elif value.isdigit() and int(value) > 0:
                occurrence = int(value)
            else:
                raise FilterError(f"-E occurrence={value}: use f, l, a or a number from 1")
        else:
            raise FilterError(
                f"-E {key}: unknown option (header, separator, quote, occurrence, aggregator)"
            )
    return FieldsFormat(fields, header, separator, quote, occurrence, aggregator)
