"""HTTP/1.x message heads as one TCP segment carries them (RFC 9112).

    request-line  = method SP request-target SP HTTP-version CRLF
    status-line   = HTTP-version SP status-code SP [ reason-phrase ] CRLF
    *( field-line CRLF )
    CRLF
    [ message-body ]

This is the per-packet view (``dump``): the start line, the header lines and
the body bytes that this one segment holds.  Messages spanning segments are
rebuilt from reassembled streams by :mod:`layerpeek.http`; here a head that
continues in the next segment is kept with ``complete=False``.

* A segment on an HTTP port that does not *start* like HTTP is the middle of a
  body (or of a head): plain data, not an error, so :func:`decode` returns a
  :class:`~layerpeek.packet.Payload` for it.
* Parsing is lenient (captures hold whatever clients sent): bare-LF line ends
  are accepted (RFC 9112 §2.2 allows a recipient to), obsolete line folding is
  joined with a space (§5.2), and a line without a colon is skipped.  It is
  also bounded: a line longer than :data:`MAX_LINE` or more than
  :data:`MAX_HEADERS` header lines stop parsing with ``complete=False``.
* Text is decoded as latin-1, which maps every byte to one character, so
  nothing is lost and odd bytes stay visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, SupportsIndex, overload

from layerpeek.dissect import Decoded, Dissector
from layerpeek.packet import Layer, new_payload

#: The request methods recognised (RFC 9110 §9 and PATCH, RFC 5789).  The one
#: table of them: the sniff here, the stream readers and the pairer use it.
METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE")
#: What a request head starts with: a method and its space.
REQUEST_STARTS = tuple(method.encode() + b" " for method in METHODS)
#: What a request or response head starts with (the heuristic's whole test).
STARTS = (*REQUEST_STARTS, b"HTTP/1.")
#: Longest start or header line we parse, in bytes (line end excluded).
MAX_LINE = 64 * 1024
#: Most header lines we parse from one head.
MAX_HEADERS = 1000

_FOLD = (" ", "\t")


class HeaderFields(tuple[tuple[str, str], ...]):
    """A head's ``(name, value)`` pairs in wire order, original case, looked up by name.

    A tuple, so it is what it always was (``for name, value in headers``,
    ``headers[0]``, JSON, equality with a tuple of pairs); a string index
    reads a field the way HTTP defines it: ``headers["content-type"]`` ignores
    case, and a field sent on several lines is their values joined with
    ``", "`` (RFC 9110 §5.3), every line kept (:meth:`get_all`; Set-Cookie
    must be read that way).  A missing field is a KeyError.
    """

    __slots__ = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (any case), or ``default``."""
        low = name.lower()
        for key, value in self:
            if key.lower() == low:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` (any case), in wire order."""
        low = name.lower()
        return [value for key, value in self if key.lower() == low]

    @overload
    def __getitem__(self, key: str) -> str: ...

    @overload
    def __getitem__(self, key: SupportsIndex) -> tuple[str, str]: ...

    @overload
    def __getitem__(self, key: slice) -> tuple[tuple[str, str], ...]: ...

    def __getitem__(
        self, key: str | SupportsIndex | slice
    ) -> str | tuple[str, str] | tuple[tuple[str, str], ...]:
        if isinstance(key, str):
            values = self.get_all(key)
            if not values:
                names = ", ".join(dict.fromkeys(k for k, _ in self)) or "none"
                raise KeyError(f"no {key!r} header (the head has: {names})")
            return ", ".join(values)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return self.get(key) is not None
        return super().__contains__(key)

    def keys(self) -> list[str]:
        """The field names, in wire order, each once, as first sent."""
        seen: dict[str, str] = {}
        for key, _ in self:
            seen.setdefault(key.lower(), key)
        return list(seen.values())


@dataclass(slots=True)
class HTTP(Layer):
    """An HTTP/1.x request or response head, and the body bytes in this segment."""

    name: ClassVar[str] = "http"
    short: ClassVar[str] = "http"
    kind: str  #: ``"request"`` or ``"response"``
    method: str | None  #: requests only
    target: str | None  #: requests only: the request-target as sent
    version: str  #: ``"HTTP/1.1"``; ``""`` when the start line did not name one
    status: int | None  #: responses only; None if the code is not three digits
    reason: str | None  #: responses only (``""`` when absent)
    #: (name, value) in order, original case; ``headers["Content-Type"]`` ignores case
    headers: HeaderFields
    body: bytes = field(default=b"", repr=False)  #: body bytes present in this segment
    complete: bool = True  #: True when the blank line ending the head is in this segment

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        low = name.lower()
        for key, value in self.headers:  # a plain tuple too (a layer built by hand)
            if key.lower() == low:
                return value
        return None

    def headers_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        low = name.lower()
        return [value for key, value in self.headers if key.lower() == low]

    def summary(self) -> str:
        """``GET /index.html HTTP/1.1`` or ``HTTP/1.1 200 OK``."""
        if self.kind == "request":
            text = f"{self.method} {self.target} {self.version}".rstrip()
        else:
            code = "?" if self.status is None else str(self.status)
            text = f"{self.version} {code} {self.reason or ''}".rstrip()
        return text if self.complete else text + " (head incomplete)"


def sniff(buf: bytes, start: int, end: int) -> bool:
    """Does ``buf[start:end]`` start like an HTTP/1.x request or response?"""
    return buf.startswith(STARTS, start, end)


def decode(buf: bytes, start: int, end: int) -> Decoded:
    if not buf.startswith(STARTS, start, end):
        return new_payload(buf[start:end]), None
    # The head ends at the first empty line.  Two C-speed searches find it:
    # "\n\r\n" (CRLF heads, and a bare-LF line before a CRLF blank line) and
    # "\n\n" (bare-LF heads); the per-line work below then needs no bounds.
    body_start = end
    blank = buf.find(b"\n\r\n", start, end)
    bare = buf.find(b"\n\n", start, blank + 1 if blank >= 0 else end)
    if bare >= 0 and (blank < 0 or bare < blank):
        blank, body_start = bare, bare + 2
    elif blank >= 0:
        body_start = blank + 3
    complete = blank >= 0
    # maxsplit: a head of a million tiny header lines must not become a million
    # strings only to keep the first MAX_HEADERS (the rest stays one string).
    lines = buf[start : blank if complete else end].decode("latin-1").split("\n", MAX_HEADERS + 1)
    if not complete:
        partial = lines.pop()  # the line the segment cuts (or "" after a final LF)
        if not lines:
            lines.append(partial[:MAX_LINE])  # only part of the start line is here
    if len(lines) > MAX_HEADERS + 1:
        del lines[MAX_HEADERS + 1 :]
        complete = False
    if (blank if complete else end) - start > MAX_LINE:
        for i, line in enumerate(lines):
            if len(line) > MAX_LINE + 1:  # + 1: the CR of a CRLF line end
                del lines[max(i, 1) :]
                lines[0] = lines[0][:MAX_LINE]
                complete = False
                break
    first = lines[0].rstrip("\r")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in _FOLD:  # obs-fold: the line continues the previous value
            if headers:
                name, value = headers[-1]
                more = line.strip(" \t\r")
                headers[-1] = (name, f"{value} {more}" if value else more)
            continue
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.rstrip(" \t"), value.strip(" \t\r")))
    body = buf[body_start:end] if complete else b""
    if first.startswith("HTTP/"):
        version, _, rest = first.partition(" ")
        code, _, reason = rest.partition(" ")
        status = int(code) if len(code) == 3 and code.isdigit() and code.isascii() else None
        return HTTP(
            "response", None, None, version, status, reason, HeaderFields(headers), body,
            complete
        ), None
    method, _, rest = first.partition(" ")
    target, space, version = rest.rpartition(" ")
    if not space or not version.startswith("HTTP/"):  # no version (cut, or HTTP/0.9 style)
        target, version = rest, ""
    return HTTP(
        "request", method, target, version, None, None, HeaderFields(headers), body, complete
    ), None


DISSECTOR = Dissector("http", decode, sniff)
