"""The parsed form of a display filter, and its canonical text.

Nodes are plain frozen dataclasses.  Columns are kept for error messages but
excluded from equality, so two parses of the same filter typed differently
(``a&&b`` and ``a and b``) compare equal; :func:`to_text` prints the
canonical spelling, which parses back to an equal tree (a property the tests
check with Hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field or protocol name (``tcp.port``, ``dns``)."""

    name: str
    column: int = field(default=0, compare=False)
    #: What is read of the field's values: ``()`` the values themselves,
    #: ``("slice", start, end)`` a byte slice (``eth.src[0:3]``; ``end`` None: to
    #: the end), ``("len",)`` their length (``len(http.host)``), ``("and", mask)``
    #: the bitwise AND with a mask (``tcp.flags & 0x02``).
    transform: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class Literal:
    """A value as typed: ``quoted`` for "…" strings, else a bare word (``80``, ``10.0.0.0/8``)."""

    text: str
    quoted: bool = False
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Range:
    """``low..high`` inside ``in {…}``, both ends included."""

    low: Literal
    high: Literal


@dataclass(frozen=True, slots=True)
class Exists:
    """A field or protocol alone: true when the packet has it."""

    field: FieldRef


@dataclass(frozen=True, slots=True)
class Compare:
    """``field OP value``; ``op`` is the canonical symbol or ``contains``/``matches``."""

    op: str
    left: FieldRef
    right: FieldRef | Literal


@dataclass(frozen=True, slots=True)
class Member:
    """``field in {a b c..d}``."""

    field: FieldRef
    items: tuple[Literal | Range, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node


Node = Exists | Compare | Member | Not | And | Or


def quote(text: str) -> str:
    """``text`` as a double-quoted filter string that the lexer reads back unchanged."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() or ord(ch) > 0xFF:
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}")
    out.append('"')
    return "".join(out)


def _value(node: FieldRef | Literal) -> str:
    if isinstance(node, FieldRef):
        return node.name
    return quote(node.text) if node.quoted else node.text


def _item(item: Literal | Range) -> str:
    if isinstance(item, Range):
        return f"{_value(item.low)}..{_value(item.high)}"
    return _value(item)


def to_text(node: Node) -> str:
    """The canonical text of ``node``: word operators, parentheses where needed."""
    if isinstance(node, Exists):
        return node.field.name
    if isinstance(node, Compare):
        return f"{node.left.name} {node.op} {_value(node.right)}"
    if isinstance(node, Member):
        return f"{node.field.name} in {{{' '.join(_item(i) for i in node.items)}}}"
    if isinstance(node, Not):
        inner = to_text(node.operand)
        if isinstance(node.operand, (And, Or, Compare, Member)):
            inner = f"({inner})"
        return f"not {inner}"
    if isinstance(node, And):
        return f"{_side(node.left, And)} and {_side(node.right, And, right=True)}"
    return f"{_side(node.left, Or)} or {_side(node.right, Or, right=True)}"


def _side(node: Node, parent: type[And] | type[Or], *, right: bool = False) -> str:
    """Parenthesise a child unless the grammar would group it the same way anyway.

    ``and`` binds tighter than ``or`` and both group to the left, so an
    ``Or`` under an ``And``, or any same-kind node on the right, needs
    parentheses to survive a round trip.
    """
    text = to_text(node)
    if isinstance(node, Or) and parent is And:
        return f"({text})"
    if right and isinstance(node, parent):
        return f"({text})"
    return text
