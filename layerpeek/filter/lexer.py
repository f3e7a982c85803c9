"""Display filter tokens: what Wireshark users type, with the column of each.

The awkward part of Wireshark's filter language is its unquoted literals:
``10.0.0.0/8``, ``fe80::1``, ``00:11:22:33:44:55``, ``tcp.port`` and
``0x1f`` are each one word.  So a *word* here is any run of letters, digits
and ``_ . : - / +``; whether it names a field or is a value is decided by the
parser, which knows the field registry.  The single exception inside a word
is ``..``, the range operator of ``in {80..90}``, which ends a word.

Every token keeps its 0-based column so errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from layerpeek.filter.errors import FilterSyntaxError


class Kind(Enum):
    WORD = "word"
    STRING = "string"
    LPAREN = "("
    RPAREN = ")"
    LBRACE = "{"
    RBRACE = "}"
    COMMA = ","
    LBRACKET = "["
    RBRACKET = "]"
    BITAND = "&"
    DOTDOT = ".."
    AND = "and"
    OR = "or"
    NOT = "not"
    IN = "in"
    CONTAINS = "contains"
    MATCHES = "matches"
    CMP = "comparison"
    END = "end of filter"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  #: the token as typed (for STRING: the decoded value)
    column: int  #: 0-based offset in the expression
    width: int  #: characters the token covers in the expression


#: Comparison operators, spelled as symbols or words, to their canonical symbol.
COMPARISONS: dict[str, str] = {
    "==": "==", "eq": "==", "any_eq": "==",
    "!=": "!=", "ne": "!=", "all_ne": "!=",
    "===": "===", "all_eq": "===",
    "!==": "!==", "any_ne": "!==",
    "<": "<", "lt": "<",
    ">": ">", "gt": ">",
    "<=": "<=", "le": "<=",
    ">=": ">=", "ge": ">=",
    "~": "matches",
}

_KEYWORDS: dict[str, Kind] = {
    "and": Kind.AND, "&&": Kind.AND,
    "or": Kind.OR, "||": Kind.OR,
    "not": Kind.NOT, "!": Kind.NOT,
    "in": Kind.IN,
    "contains": Kind.CONTAINS,
    "matches": Kind.MATCHES,
}

_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-/+")
_PUNCT = {"(": Kind.LPAREN, ")": Kind.RPAREN, "{": Kind.LBRACE, "}": Kind.RBRACE, ",": Kind.COMMA,
          "[": Kind.LBRACKET, "]": Kind.RBRACKET}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def tokenize(expression: str) -> list[Token]:
    """Split ``expression`` into tokens, ending with one ``END`` token."""
    tokens: list[Token] = []
    i = 0
    n = len(expression)
    while i < n:
        ch = expression[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _PUNCT:
            tokens.append(Token(_PUNCT[ch], ch, i, 1))
            i += 1
            continue
        if ch == '"':
            i = _string(expression, i, tokens)
            continue
        two = expression[i : i + 2]
        three = expression[i : i + 3]
        if three in ("===", "!=="):
            tokens.append(Token(Kind.CMP, COMPARISONS[three], i, 3))
            i += 3
            continue
        if two in ("==", "!=", "<=", ">="):
            tokens.append(Token(Kind.CMP, COMPARISONS[two], i, 2))
            i += 2
            continue
        if two in ("&&", "||"):
            tokens.append(Token(_KEYWORDS[two], two, i, 2))
            i += 2
            continue
        if ch == "&":  # "&&" was taken above: one "&" is the bitwise AND of a field and a mask
            tokens.append(Token(Kind.BITAND, "&", i, 1))
            i += 1
            continue
        if two == "..":
            tokens.append(Token(Kind.DOTDOT, "..", i, 2))
            i += 2
            continue
        if ch in "<>~":
            kind = Kind.MATCHES if ch == "~" else Kind.CMP
            tokens.append(Token(kind, COMPARISONS[ch], i, 1))
            i += 1
            continue
        if ch == "!":
            tokens.append(Token(Kind.NOT, "!", i, 1))
            i += 1
            continue
        if ch in _WORD_CHARS:
            start = i
            while i < n and expression[i] in _WORD_CHARS and expression[i : i + 2] != "..":
                i += 1
            word = expression[start:i]
            kind = _KEYWORDS.get(word, Kind.WORD)
            if kind is Kind.WORD and word in COMPARISONS:
                tokens.append(Token(Kind.CMP, COMPARISONS[word], start, i - start))
            else:
                tokens.append(Token(kind, word, start, i - start))
            continue
        if ch == "=":
            raise FilterSyntaxError("'=' is not an operator: use == to compare", expression, i)
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        raise FilterSyntaxError(f"unexpected character {shown}", expression, i)
    tokens.append(Token(Kind.END, "", n, 1))
    return tokens


def _string(expression: str, start: int, tokens: list[Token]) -> int:
    """Read a double-quoted string at ``start``; return the offset after it.

    Escapes follow C (and Wireshark): ``\\"``, ``\\\\``, ``\\n``, ``\\t``,
    ``\\xhh`` and three-digit octal ``\\ooo``.
    """
    out: list[str] = []
    i = start + 1
    n = len(expression)
    while i < n:
        ch = expression[i]
        if ch == '"':
            tokens.append(Token(Kind.STRING, "".join(out), start, i + 1 - start))
            return i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            break
        esc = expression[i + 1]
        if esc == "x":
            digits = expression[i + 2 : i + 4]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise FilterSyntaxError("\\x must be followed by two hex digits", expression, i, 2)
            out.append(chr(int(digits, 16)))
            i += 4
        elif esc in "01234567" and all(c in "01234567" for c in expression[i + 1 : i + 4]) \
                and len(expression[i + 1 : i + 4]) == 3:
            value = int(expression[i + 1 : i + 4], 8)
            if value > 0xFF:
                raise FilterSyntaxError("octal escape above \\377", expression, i, 4)
            out.append(chr(value))
            i += 4
        elif esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        else:
            raise FilterSyntaxError(f"unknown escape \\{esc} in string", expression, i, 2)
    raise FilterSyntaxError("string is not closed (missing \")", expression, start, n - start)
