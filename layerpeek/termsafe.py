"""One escaping function for every place a capture's text reaches a terminal.

A capture is hostile input: an HTTP target, a header or a DNS name can
carry ESC (terminal control sequences: retitling, recolouring, moving the
cursor, on some terminals worse), BEL, CR and BS (overprinting what was
already shown, so one line can hide another) or Unicode bidirectional
controls (U+202E makes ``exe.txt`` display as ``txt.exe``).  Every table,
one-liner, tree and story line built from capture bytes goes through
:func:`terminal_safe`, and JSON text through :func:`json_safe`.

``str.isprintable`` is one C call and true for nearly every string, so the
common case costs nothing; otherwise each character that is not printable
(C0 and C1 controls, DEL, format characters such as the bidi controls,
separators other than the space) is shown as an escape: ``\\x1b`` for
code points below 256, ``\\u202e`` above.
"""

from __future__ import annotations

#: Bidirectional formatting characters (Unicode category Cf), escaped in JSON too.
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every non-printable character escaped (see the module docstring)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def json_safe(encoded: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with C1 and bidi
    controls written as ``\\uXXXX`` escapes: the same JSON value, safe to print
    (json already escapes C0 controls)."""
    if encoded.isprintable():
        return encoded
    return "".join(
        f"\\u{ord(ch):04x}" if ch in BIDI or 0x7F <= ord(ch) < 0xA0 else ch for ch in encoded
    )
