"""AST → a Python predicate over one packet, with Wireshark's semantics.

Literals are converted to the field's type once, at compile time, so a bad
value (``tcp.port == http``, ``ip.src == 10.0.0.300``) is an error pointing
at it before any packet is read, and the per-packet work is plain integer,
bytes or string comparison.

Semantics, as Wireshark 4.0 defines them for multi-valued fields:

* ``f == v``, ``<``, ``>``, ``<=``, ``>=``, ``contains``, ``matches`` and
  ``in``: true when *any* occurrence satisfies it (``tcp.port == 80`` is
  either port);
* ``f != v``: the field is present and *no* occurrence equals ``v``
  (``ip.addr != 10.0.0.1`` is false for non-IP packets and for packets to or
  from 10.0.0.1);
* ``f === v``: present and every occurrence equals; ``f !== v``: any differs;
* addresses compare against a CIDR block when the value has ``/bits``;
* ``matches`` is a regular expression search (Python's ``re``, which agrees
  with PCRE on everyday patterns), case-sensitive unless the pattern says
  ``(?i)``, and ``contains`` is a substring test on strings and bytes;
* a field compared with a field: true when any pair satisfies the operator.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from layerpeek.filter.ast import (
    And,
    Compare,
    Exists,
    FieldRef,
    Literal,
    Member,
    Node,
    Not,
    Or,
    Range,
)
from layerpeek.filter.errors import FilterSyntaxError
from layerpeek.filter.fields import FIELDS, Field, FieldType, Frame

Test = Callable[[Frame], bool]

_ORDER = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
_ORDERED = {FieldType.UINT, FieldType.INT, FieldType.TIME, FieldType.IPV4, FieldType.IPV6,
            FieldType.ETHER, FieldType.BYTES, FieldType.STRING, FieldType.BOOL,
            FieldType.ABSTIME}
_ADDRESS = {FieldType.IPV4: 32, FieldType.IPV6: 128}


class _Compiler:
    def __init__(self, expression: str) -> None:
        self.expression = expression

    def fail(self, message: str, column: int, width: int = 1) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.expression, column, width)

    def field(self, ref: FieldRef) -> Field:
        found = FIELDS.get(ref.name)
        if found is None:
            raise self.fail(f"{ref.name!r} is neither a field nor a protocol name", ref.column,
                            len(ref.name))
        if ref.transform:
            return self.derived(found, ref)
        return found

    def derived(self, base: Field, ref: FieldRef) -> Field:
        """``FIELD[i:j]``, ``len(FIELD)`` or ``FIELD & MASK`` as a field of its own."""
        kind = ref.transform[0]
        extract = base.extract
        if kind == "and":
            mask = ref.transform[1]
            assert isinstance(mask, int)
            if base.type not in (FieldType.UINT, FieldType.INT, FieldType.BOOL):
                raise self.fail(f"{base.name} ({base.type.value}): '&' needs an integer field",
                                ref.column, len(ref.name))

            def masked(f: Frame) -> list[Any]:
                return [v & mask for v in extract(f)]

            def nonzero(f: Frame) -> bool:  # `tcp.flags & 0x02` alone: any bit of the mask set
                return any(v & mask for v in extract(f))

            return Field(f"{base.name} & {mask:#x}", FieldType.UINT, base.description, masked,
                         base.hex_digits, None, nonzero)
        as_bytes = _BYTES_OF.get(base.type)
        if as_bytes is None:
            what = "len()" if kind == "len" else "a slice"
            raise self.fail(f"{base.name} ({base.type.value}): {what} needs bytes, a "
                            "string or an address", ref.column, len(ref.name))
        if kind == "len":
            def lengths(f: Frame) -> list[Any]:
                return [len(as_bytes(v)) for v in extract(f)]

            return Field(f"len({base.name})", FieldType.UINT, base.description, lengths)
        start, end = ref.transform[1], ref.transform[2]
        assert isinstance(start, int) and (end is None or isinstance(end, int))

        def sliced(f: Frame) -> list[Any]:
            """The slice of each value that holds all of it (a value too short has none)."""
            out = []
            for v in extract(f):
                data = as_bytes(v)
                n = len(data)
                lo = start + n if start < 0 else start
                hi = n if end is None else end + n if end < 0 else end
                if 0 <= lo < hi <= n:
                    out.append(data[lo:hi])
            return out

        stop = "" if end is None else str(end)
        return Field(f"{base.name}[{start}:{stop}]", FieldType.BYTES, base.description, sliced)

    # ----------------------------------------------------------------- nodes
    def compile(self, node: Node) -> Test:
        if isinstance(node, And):
            left, right = self.compile(node.left), self.compile(node.right)
            return lambda f: left(f) and right(f)
        if isinstance(node, Or):
            left, right = self.compile(node.left), self.compile(node.right)
            return lambda f: left(f) or right(f)
        if isinstance(node, Not):
            inner = self.compile(node.operand)
            return lambda f: not inner(f)
        if isinstance(node, Exists):
            fld = self.field(node.field)
            if fld.present is not None:
                return fld.present
            extract = fld.extract
            return lambda f: bool(extract(f))
        if isinstance(node, Member):
            return self.member(node)
        return self.compare(node)

    def member(self, node: Member) -> Test:
        fld = self.field(node.field)
        self.valued(fld, node.field, "in")
        singles: list[Any] = []
        ranges: list[tuple[Any, Any]] = []
        blocks: list[tuple[int, int]] = []
        for item in node.items:
            if isinstance(item, Range):
                if fld.type not in _ORDERED:
                    raise self.fail(f"{fld.name} values have no order for a range",
                                    item.low.column)
                low, high = self.scalar(fld, item.low), self.scalar(fld, item.high)
                ranges.append((low, high))
            elif fld.type in _ADDRESS:
                blocks.append(self.address(fld, item))
            else:
                singles.append(self.scalar(fld, item))
        extract = fld.extract
        try:
            single_set: set[Any] | list[Any] = set(singles)
        except TypeError:
            single_set = singles

        def test(f: Frame) -> bool:
            for v in extract(f):
                if v in single_set:
                    return True
                for low, high in ranges:
                    if low <= v <= high:
                        return True
                for net, mask in blocks:
                    if v & mask == net:
                        return True
            return False

        return test

    def compare(self, node: Compare) -> Test:
        fld = self.field(node.left)
        op = node.op
        self.valued(fld, node.left, op)
        if isinstance(node.right, FieldRef):
            return self.field_pair(fld, op, self.field(node.right), node.right)
        lit = node.right
        extract = fld.extract
        if op == "contains":
            return self.contains(fld, lit)
        if op == "matches":
            return self.matches(fld, lit)
        if fld.type in _ADDRESS and op in ("==", "!=", "===", "!=="):
            net, mask = self.address(fld, lit)
            if op == "==":

                def in_block(f: Frame) -> bool:
                    return any(v & mask == net for v in extract(f))

                return in_block
            hit: Callable[[Any], bool] = lambda v: v & mask == net  # noqa: E731
        else:
            value = self.scalar(fld, lit)
            if op in _ORDER:
                if fld.type not in _ORDERED:
                    raise self.fail(f"{fld.name} ({fld.type.value}) cannot be ordered with {op}",
                                    node.left.column, len(fld.name))
                cmp = _ORDER[op]
                return lambda f: any(cmp(v, value) for v in extract(f))
            if op == "==":  # the common case: a list membership test in C
                return lambda f: value in extract(f)
            hit = lambda v: v == value  # noqa: E731
        if op == "==":
            return lambda f: any(hit(v) for v in extract(f))
        if op == "!=":
            return lambda f: bool(vs := extract(f)) and not any(hit(v) for v in vs)
        if op == "===":
            return lambda f: bool(vs := extract(f)) and all(hit(v) for v in vs)
        return lambda f: any(not hit(v) for v in extract(f))  # "!=="

    def field_pair(self, fld: Field, op: str, other: Field, ref: FieldRef) -> Test:
        if op in ("contains", "matches"):
            raise self.fail(f"{op} needs a value, not the field {other.name!r}", ref.column,
                            len(other.name))
        self.valued(other, ref, op)
        if _kind(fld.type) != _kind(other.type):
            raise self.fail(
                f"cannot compare {fld.name} ({fld.type.value}) with {other.name} "
                f"({other.type.value})", ref.column, len(other.name))
        left, right = fld.extract, other.extract
        if op in _ORDER:
            cmp = _ORDER[op]
        elif op in ("==", "===", "!=="):
            cmp = operator.eq if op != "!==" else operator.ne
        else:
            cmp = operator.eq

        def test(f: Frame) -> bool:
            a, b = left(f), right(f)
            if op == "!=":
                return bool(a) and bool(b) and not any(x == y for x in a for y in b)
            if op == "===":
                return bool(a) and bool(b) and all(x == y for x in a for y in b)
            return any(cmp(x, y) for x in a for y in b)

        return test

    def contains(self, fld: Field, lit: Literal) -> Test:
        extract = fld.extract
        if fld.type is FieldType.STRING:
            needle_s = lit.text
            return lambda f: any(needle_s in v for v in extract(f))
        if fld.type in (FieldType.BYTES, FieldType.PROTOCOL, FieldType.ETHER):
            needle_b = lit.text.encode("utf-8") if lit.quoted else self.bytes_value(fld, lit)
            return lambda f: any(needle_b in v for v in extract(f))
        raise self.fail(f"contains works on strings, bytes and protocols; {fld.name} is a "
                        f"{fld.type.value}", lit.column)

    def matches(self, fld: Field, lit: Literal) -> Test:
        try:
            pattern = re.compile(lit.text)
        except re.error as e:
            raise self.fail(f"bad regular expression: {e.msg}", lit.column, len(lit.text)) from None
        extract = fld.extract
        if fld.type is FieldType.STRING:
            return lambda f: any(pattern.search(v) is not None for v in extract(f))
        if fld.type in (FieldType.BYTES, FieldType.PROTOCOL):
            try:
                bpattern = re.compile(lit.text.encode("latin-1"))
            except (re.error, UnicodeEncodeError):
                raise self.fail("this pattern cannot match bytes", lit.column) from None
            return lambda f: any(bpattern.search(v) is not None for v in extract(f))
        raise self.fail(f"matches works on strings, bytes and protocols; {fld.name} is a "
                        f"{fld.type.value}", lit.column)

    def valued(self, fld: Field, ref: FieldRef, op: str) -> None:
        """Labels and protocols have no value: only presence (and contains/matches)."""
        if fld.type is FieldType.NONE or (
            fld.type is FieldType.PROTOCOL and op not in ("contains", "matches")
        ):
            raise self.fail(
                f"{fld.name} has no value to compare with {op}; test it alone "
                f"(e.g. '{fld.name}' or 'not {fld.name}')", ref.column, len(fld.name))

    # ----------------------------------------------------------------- literals
    def scalar(self, fld: Field, lit: Literal) -> Any:
        """``lit`` converted to ``fld``'s value type, or an error pointing at it."""
        text = lit.text
        t = fld.type
        bad = f"{text!r} is not a valid {t.value} for {fld.name}"
        if t in (FieldType.UINT, FieldType.INT):
            value = _integer(text)
            if value is None or (t is FieldType.UINT and value < 0):
                raise self.fail(bad, lit.column, len(text) or 1)
            return value
        if t is FieldType.BOOL:
            lowered = text.lower()
            if lowered in ("1", "true"):
                return True
            if lowered in ("0", "false"):
                return False
            number = _integer(text)
            if number is not None:
                return number != 0
            raise self.fail(f"{bad} (use 1/0 or true/false)", lit.column, len(text) or 1)
        if t is FieldType.TIME:
            try:
                seconds = Decimal(text)
            except InvalidOperation:
                raise self.fail(f"{bad} (seconds, e.g. 1.5)", lit.column, len(text) or 1) from None
            if not seconds.is_finite():
                raise self.fail(bad, lit.column, len(text) or 1)
            return int(seconds * 1_000_000_000)
        if t is FieldType.ABSTIME:
            when = _absolute_time(text)
            if when is None:
                raise self.fail(f'{bad} (e.g. "Nov 25, 2026 08:44:05" or '
                                '"2026-11-25 08:44:05.5", local time unless it ends in UTC)',
                                lit.column, len(text) or 1)
            return when
        if t in _ADDRESS:
            net, mask = self.address(fld, lit)
            if mask != (1 << _ADDRESS[t]) - 1:
                raise self.fail(f"a network ({text}) only works with == and !=", lit.column,
                                len(text))
            return net
        if t in (FieldType.ETHER, FieldType.BYTES):
            return self.bytes_value(fld, lit)
        return text  # STRING

    def address(self, fld: Field, lit: Literal) -> tuple[int, int]:
        """(network, mask) for an address or CIDR block literal."""
        bits = _ADDRESS[fld.type]
        text = lit.text
        try:
            if fld.type is FieldType.IPV4:
                net4 = ipaddress.IPv4Network(text, strict=False)
                return int(net4.network_address), int(net4.netmask)
            net6 = ipaddress.IPv6Network(text, strict=False)
            return int(net6.network_address), int(net6.netmask)
        except ValueError:
            kind = "IPv4" if bits == 32 else "IPv6"
            raise self.fail(
                f"{text!r} is not a valid {kind} address or network for {fld.name} "
                f"(host names are not looked up)", lit.column, len(text) or 1) from None

    def bytes_value(self, fld: Field, lit: Literal) -> bytes:
        if lit.quoted and fld.type is FieldType.BYTES:
            return lit.text.encode("utf-8")
        value = _hex_bytes(lit.text)
        if value is None or (fld.type is FieldType.ETHER and len(value) != 6):
            what = "MAC address (aa:bb:cc:dd:ee:ff)" if fld.type is FieldType.ETHER else \
                "byte string (aa:bb:cc or \"text\")"
            raise self.fail(f"{lit.text!r} is not a valid {what} for {fld.name}", lit.column,
                            len(lit.text) or 1)
        return value


def _kind(t: FieldType) -> str:
    """Field types that may be compared with each other."""
    if t in (FieldType.UINT, FieldType.INT, FieldType.BOOL):
        return "number"
    return t.name


def _absolute_time(text: str) -> int | None:
    """A date and time literal (tshark's ``Nov 25, 2026 08:44:05.5`` or ISO
    ``2026-11-25 08:44:05``), local time unless it ends in ``UTC`` or ``Z`` →
    nanoseconds since the epoch; None when it is neither."""
    import datetime

    t = text.strip()
    utc = False
    for suffix in (" UTC", "UTC", "Z"):
        if t.endswith(suffix):
            t, utc = t[: -len(suffix)].rstrip(), True
            break
    fraction = 0
    head, dot, frac = t.rpartition(".")
    if dot and frac.isdigit() and ":" in head:
        t, fraction = head, int(frac[:9].ljust(9, "0"))
    for fmt in ("%b %d, %Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%b %d, %Y %H:%M", "%Y-%m-%d %H:%M", "%b %d, %Y", "%Y-%m-%d"):
        try:
            when = datetime.datetime.strptime(" ".join(t.split()), fmt)
        except ValueError:
            continue
        if utc:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return int(when.timestamp()) * 1_000_000_000 + fraction
    return None


#: How a value of each type becomes bytes for slices and ``len()`` (as Wireshark
#: slices them: a string's UTF-8, an address's network-order bytes).
_BYTES_OF: dict[FieldType, Callable[[Any], bytes]] = {
    FieldType.BYTES: bytes,
    FieldType.ETHER: bytes,
    FieldType.PROTOCOL: bytes,
    FieldType.STRING: lambda v: str(v).encode("utf-8"),
    FieldType.IPV4: lambda v: int(v).to_bytes(4, "big"),
    FieldType.IPV6: lambda v: int(v).to_bytes(16, "big"),
}


def _integer(text: str) -> int | None:
    """Wireshark's integer literals: decimal, 0x hex, 0b binary, leading-0 octal, 'c' chars."""
    t = text.strip()
    if len(t) == 3 and t[0] == t[2] == "'":
        return ord(t[1])
    sign = 1
    if t.startswith(("+", "-")):
        sign = -1 if t[0] == "-" else 1
        t = t[1:]
    try:
        if t[:2].lower() == "0x":
            return sign * int(t[2:], 16)
        if t[:2].lower() == "0b":
            return sign * int(t[2:], 2)
        if len(t) > 1 and t[0] == "0" and t.isdigit():
            return sign * int(t[1:], 8)
        if t.isdigit():
            return sign * int(t)
    except ValueError:
        return None
    return None


def _hex_bytes(text: str) -> bytes | None:
    """``aa:bb:cc``, ``aa-bb-cc``, ``aa.bb.cc``, ``aabb.ccdd.eeff`` or ``aabbcc``."""
    if not text:
        return None
    for sep in ":-.":
        if sep in text:
            parts = text.split(sep)
            if all(len(p) in (1, 2) for p in parts):
                joined = "".join(p.zfill(2) for p in parts)
            elif sep == "." and all(len(p) == 4 for p in parts):
                joined = "".join(parts)
            else:
                return None
            break
    else:
        joined = text
    if len(joined) % 2 or not all(c in "0123456789abcdefABCDEF" for c in joined):
        return None
    return bytes.fromhex(joined)


def compile_node(node: Node, expression: str) -> Test:
    """Compile a parsed filter; ``expression`` is used for error columns."""
    return _Compiler(expression).compile(node)
