"""Recursive-descent parser: tokens → :mod:`layerpeek.filter.ast` nodes.

Grammar (``and`` binds tighter than ``or``, both group left; ``not`` is a
prefix operator binding tightest, as in Wireshark)::

    filter  := or END
    or      := and (("or" | "||") and)*
    and     := unary (("and" | "&&") unary)*
    unary   := ("not" | "!") unary | "(" or ")" | test
    test    := FIELD [ CMP value | "contains" value | "matches" value | "in" set ]
    value   := FIELD | WORD | STRING
    set     := "{" item ([","] item)* "}"
    item    := value [".." value]

A bare word on the right is a field reference when it names a known field
(``ip.src == ip.dst``), otherwise a literal (``http.request.method == GET``),
which is Wireshark's rule too.  The left side must always be a field: an
unknown name there is an error pointing at it, with a suggestion when one
field is close.
"""

from __future__ import annotations

import difflib
from collections.abc import Container

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
from layerpeek.filter.lexer import Kind, Token, tokenize

#: Parentheses and ``not`` nested deeper than this are refused.
MAX_DEPTH = 200
#: A tree deeper than this is refused: compiling and evaluating recurse once
#: per level (``a and b and c …`` is a left-deep chain), and must stay far
#: from Python's recursion limit.
MAX_TREE_DEPTH = 400


class _Parser:
    def __init__(self, expression: str, names: Container[str]) -> None:
        self.expression = expression
        self.names = names
        self.tokens = tokenize(expression)
        self.pos = 0
        self.depth = 0

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind is not Kind.END:
            self.pos += 1
        return tok

    def fail(self, message: str, tok: Token | None = None) -> FilterSyntaxError:
        t = self.tok if tok is None else tok
        return FilterSyntaxError(message, self.expression, t.column, t.width)

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.kind is Kind.END:
            return "the end of the filter"
        if tok.kind is Kind.STRING:
            return "a string"
        return repr(tok.text)

    # -- grammar
    def parse(self) -> Node:
        if self.tok.kind is Kind.END:
            raise self.fail("the filter is empty")
        node = self.or_expr()
        if _depth(node) > MAX_TREE_DEPTH:
            raise FilterSyntaxError(
                f"filter too complex: more than {MAX_TREE_DEPTH} nested operators",
                self.expression, 0, len(self.expression))
        rest = self.tokens[self.pos]
        if rest.kind is not Kind.END:
            if rest.kind is Kind.RPAREN:
                raise self.fail("unbalanced ')': no '(' to close")
            raise self.fail(f"expected 'and', 'or' or the end, found {self.describe(rest)}")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.tok.kind is Kind.OR:
            self.advance()
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while self.tok.kind is Kind.AND:
            self.advance()
            node = And(node, self.unary())
        return node

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"filter nested more than {MAX_DEPTH} levels deep")
        try:
            tok = self.tok
            if tok.kind is Kind.NOT:
                self.advance()
                return Not(self.unary())
            if tok.kind is Kind.LPAREN:
                self.advance()
                node = self.or_expr()
                if self.tok.kind is not Kind.RPAREN:
                    raise self.fail(
                        f"expected ')' to close the '(' at column {tok.column + 1}, "
                        f"found {self.describe(self.tok)}"
                    )
                self.advance()
                return node
            return self.test()
        finally:
            self.depth -= 1

    def field(self) -> FieldRef:
        """A field, with what is read of it: ``len(FIELD)``, ``FIELD[i:j]``, ``FIELD & MASK``."""
        tok = self.tok
        if tok.kind is Kind.WORD and tok.text == "len" and self.peek().kind is Kind.LPAREN:
            self.advance()
            self.advance()
            inner = self.plain_field()
            if self.tok.kind is not Kind.RPAREN:
                raise self.fail(f"expected ')' after len({inner.name}, found "
                                f"{self.describe(self.tok)}")
            self.advance()
            return FieldRef(inner.name, tok.column, ("len",))
        ref = self.plain_field()
        if self.tok.kind is Kind.LBRACKET:
            opening = self.advance()
            spec = self.tok
            if spec.kind is not Kind.WORD:
                raise self.fail(f"expected a range such as 0:3, 2-4 or 5 after '[', found "
                                f"{self.describe(spec)}")
            self.advance()
            closing: Token = self.tokens[self.pos]
            if closing.kind is not Kind.RBRACKET:
                raise self.fail(f"expected ']' to close the '[' at column {opening.column + 1}, "
                                f"found {self.describe(closing)}")
            self.advance()
            bounds = _slice(spec.text)
            if bounds is None:
                raise self.fail(f"{spec.text!r} is not a slice: use i:n (n bytes from i), "
                                "i-j (bytes i to j), i: (from i on) or i (one byte)", spec)
            return FieldRef(ref.name, ref.column, ("slice", *bounds))
        if self.tok.kind is Kind.BITAND:
            self.advance()
            mask = self.tok
            value = _integer(mask.text) if mask.kind is Kind.WORD else None
            if value is None or value < 0:
                raise self.fail(f"expected a number (a bit mask such as 0x02) after '&', found "
                                f"{self.describe(mask)}", mask)
            self.advance()
            return FieldRef(ref.name, ref.column, ("and", value))
        return ref

    def peek(self) -> Token:
        return self.tokens[min(self.pos + 1, len(self.tokens) - 1)]

    def plain_field(self) -> FieldRef:
        tok = self.tok
        if tok.kind is not Kind.WORD:
            if tok.kind in (Kind.STRING, Kind.CMP, Kind.IN, Kind.CONTAINS, Kind.MATCHES):
                raise self.fail(f"expected a field name, found {self.describe(tok)}")
            raise self.fail(f"expected a field or protocol name, found {self.describe(tok)}")
        if tok.text not in self.names:
            raise self.fail(
                f"{tok.text!r} is neither a field nor a protocol name{self.hint(tok.text)}"
            )
        self.advance()
        return FieldRef(tok.text, tok.column)

    def hint(self, word: str) -> str:
        if not isinstance(self.names, (set, frozenset, dict, list, tuple)):
            return ""
        close = difflib.get_close_matches(word, list(self.names), n=1, cutoff=0.8)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def test(self) -> Node:
        left = self.field()
        tok = self.tok
        if tok.kind is Kind.CMP:
            self.advance()
            return Compare(tok.text, left, self.value(tok))
        if tok.kind in (Kind.CONTAINS, Kind.MATCHES):
            self.advance()
            return Compare(tok.kind.value, left, self.value(tok))
        if tok.kind is Kind.IN:
            self.advance()
            return Member(left, self.items())
        if tok.kind in (Kind.WORD, Kind.STRING):
            raise self.fail(
                f"expected an operator (==, !=, <, >, contains, matches, in …) after "
                f"{left.name!r}, found {self.describe(tok)}"
            )
        return Exists(left)

    def value(self, after: Token) -> FieldRef | Literal:
        tok = self.tok
        if tok.kind is Kind.STRING:
            self.advance()
            return Literal(tok.text, True, tok.column)
        if tok.kind is Kind.WORD:
            self.advance()
            if tok.text in self.names:
                return FieldRef(tok.text, tok.column)
            return Literal(tok.text, False, tok.column)
        raise self.fail(f"expected a value after {after.text!r}, found {self.describe(tok)}")

    def items(self) -> tuple[Literal | Range, ...]:
        opening = self.tok
        if opening.kind is not Kind.LBRACE:
            raise self.fail(f"expected '{{' after 'in', found {self.describe(opening)}")
        self.advance()
        items: list[Literal | Range] = []
        while True:
            tok = self.tok
            if tok.kind is Kind.RBRACE:
                if not items:
                    raise self.fail("the set is empty: put values between { and }")
                self.advance()
                return tuple(items)
            if tok.kind is Kind.COMMA and items:
                self.advance()
                tok = self.tok
            if tok.kind not in (Kind.WORD, Kind.STRING):
                if tok.kind is Kind.END:
                    raise self.fail(
                        f"the set opened at column {opening.column + 1} is not closed "
                        "(missing '}')"
                    )
                raise self.fail(f"expected a value in the set, found {self.describe(tok)}")
            low = self.literal()
            if self.tok.kind is Kind.DOTDOT:
                self.advance()
                if self.tok.kind not in (Kind.WORD, Kind.STRING):
                    raise self.fail(
                        f"expected the end of the range after '..', found {self.describe(self.tok)}"
                    )
                items.append(Range(low, self.literal()))
            else:
                items.append(low)

    def literal(self) -> Literal:
        tok = self.advance()
        return Literal(tok.text, tok.kind is Kind.STRING, tok.column)


def _slice(spec: str) -> tuple[int, int | None] | None:
    """Wireshark's slice forms as ``(start, end)``: ``i:n`` n bytes from i, ``i-j`` bytes
    i to j inclusive, ``i:`` from i on, ``i`` one byte; negative i counts from the end."""
    def number(text: str) -> int | None:
        t = text[1:] if text.startswith("-") else text
        return (-int(t) if text.startswith("-") else int(t)) if t.isdigit() else None

    if ":" in spec:
        head, _, tail = spec.partition(":")
        start = number(head) if head else 0
        if start is None:
            return None
        if not tail:
            return start, None
        length = number(tail)
        if length is None or length < 0:
            return None
        return start, start + length if start + length != 0 else None
    first, dash, last = spec[1:].partition("-") if spec.startswith("-") else spec.partition("-")
    if spec.startswith("-"):
        first = "-" + first
    if dash:
        start, stop = number(first), number(last)
        if start is None or stop is None or stop < start:
            return None
        return start, stop + 1 if stop + 1 != 0 else None
    start = number(spec)
    if start is None:
        return None
    return start, start + 1 if start + 1 != 0 else None


def _integer(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def _depth(root: Node) -> int:
    """Depth of the tree, measured without recursion."""
    deepest = 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, (And, Or)):
            stack.append((node.left, depth + 1))
            stack.append((node.right, depth + 1))
        elif isinstance(node, Not):
            stack.append((node.operand, depth + 1))
    return deepest


def parse(expression: str, names: Container[str]) -> Node:
    """Parse ``expression``; ``names`` are the known field and protocol names.

    Raises :class:`FilterSyntaxError` pointing at the offending column.
    """
    return _Parser(expression, names).parse()
