"""HTTP/1.x messages and exchanges as rebuilt from reassembled streams: typed, lenient records.

A message keeps everything needed to explain it later: the start line, the
header fields exactly as sent (order and case kept, because that is what a
student compares with the capture), the body with the transfer coding
removed, where it lay in the stream (offsets, frames, times) and, when it is
not a clean whole message, *why* (``complete=False`` plus ``problems``).
Damage is recorded here, never raised: captures are full of cut streams.

An :class:`HTTPExchange` is one request with the response the server gave to
it (the n-th response on a connection answers the n-th request, RFC 9112
§9.3.2), either side possibly missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from layerpeek.flows.events import CLOSE_TEXTS, CloseHow
from layerpeek.http.decoding import DEFAULT_CAP, DecodedBody, decode_body

#: How a message's body is delimited (RFC 9112 §6.3): no body, Content-Length,
#: chunked, until the connection closes, a tunnel after a protocol switch, or
#: HTTP/2 frames.
Framing = Literal["none", "length", "chunked", "close", "tunnel", "http2", "http3"]


class Headers:
    """Header fields in wire order with their original case; lookups ignore case.

    A list of pairs rather than a dict because HTTP allows repeated fields
    (``Set-Cookie``) and their order matters (RFC 9110 §5.3).
    """

    __slots__ = ("fields",)

    def __init__(self, fields: list[tuple[str, str]] | None = None) -> None:
        self.fields: list[tuple[str, str]] = fields if fields is not None else []

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (any case), or ``default``."""
        low = name.lower()
        for key, value in self.fields:
            if key.lower() == low:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` (any case), in wire order."""
        low = name.lower()
        return [value for key, value in self.fields if key.lower() == low]

    def tokens(self, name: str) -> list[str]:
        """Comma-separated list values of every ``name`` field, lower-cased, blanks dropped.

        List-valued fields may be split over several lines or joined with
        commas (RFC 9110 §5.3); both spellings give the same tokens.
        """
        out: list[str] = []
        for value in self.get_all(name):
            out.extend(t.strip().lower() for t in value.split(",") if t.strip())
        return out

    def __getitem__(self, name: str) -> str:
        """``headers["Content-Type"]``: the field's value, any case; a field sent on
        several lines is its values joined with ``", "`` (RFC 9110 §5.3; read
        Set-Cookie with :meth:`get_all`).  A missing field is a KeyError."""
        values = self.get_all(name)
        if not values:
            names = ", ".join(dict.fromkeys(k for k, _ in self.fields)) or "none"
            raise KeyError(f"no {name!r} header (the message has: {names})")
        return ", ".join(values)

    def keys(self) -> list[str]:
        """The field names, in wire order, each once, as first sent."""
        seen: dict[str, str] = {}
        for key, _ in self.fields:
            seen.setdefault(key.lower(), key)
        return list(seen.values())

    def raw_items(self) -> list[tuple[str, str]]:
        """The fields as sent: ``(name, value)`` in order, original case."""
        return list(self.fields)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"Headers({self.fields!r})"


@dataclass(slots=True, eq=False)
class HTTPMessage:
    """One request or response.

    ``body`` is the message body with the *transfer* coding removed (chunk
    framing gone) but the *content* coding kept (still gzip if it was sent
    gzip): what Wireshark calls the entity as sent.  :meth:`decoded` gives
    the content-decoded body.  ``body_wire_len`` counts the body's bytes on
    the wire, chunk framing, trailers and bytes lost in gaps included.
    """

    kind: str  #: "request" or "response"
    method: str = ""
    target: str = ""
    version: str = ""
    status: int = 0  #: 0 when the status code was not three digits
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    trailers: Headers = field(default_factory=Headers)
    body: bytes = field(default=b"", repr=False)
    body_wire_len: int = 0
    framing: Framing = "none"  #: how the body was delimited (RFC 9112 §6.3), or "http2" (frames)
    complete: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  #: remarks that are not damage
    start_offset: int = 0  #: stream offset of the start line's first byte
    head_len: int = 0  #: bytes of start line + headers + blank line
    end_offset: int = 0  #: stream offset just past the message
    frames: tuple[int, ...] = ()  #: frames that carried any byte of it (1-based)
    start_ts_ns: int = 0  #: when its first byte was delivered
    end_ts_ns: int = 0  #: when its last byte was delivered
    missing: int = 0  #: body bytes lost in stream gaps (not zero-filled)
    _decoded: DecodedBody | None = field(default=None, repr=False)

    @property
    def content_encoding(self) -> str:
        return ", ".join(self.headers.tokens("content-encoding"))

    @property
    def transfer_encoding(self) -> str:
        return ", ".join(self.headers.tokens("transfer-encoding"))

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").strip()

    @property
    def informational(self) -> bool:
        """A 1xx interim response (``100 Continue``, ``103 Early Hints``)."""
        return self.kind == "response" and 100 <= self.status < 200

    @property
    def first_frame(self) -> int:
        return self.frames[0] if self.frames else 0

    @property
    def last_frame(self) -> int:
        return self.frames[-1] if self.frames else 0

    def flag(self, problem: str) -> None:
        """Record damage: the message is no longer a clean whole message."""
        self.complete = False
        if problem not in self.problems:
            self.problems.append(problem)

    def decoded(self, cap: int | None = None) -> DecodedBody:
        """The body with its Content-Encoding undone (cached for the default cap).

        ``cap`` bounds the decoded size (decompression bombs); see
        :mod:`layerpeek.http.decoding`.
        """
        if cap is not None and cap != DEFAULT_CAP:
            return decode_body(self.body, self.headers.tokens("content-encoding"), cap)
        if self._decoded is None:
            self._decoded = decode_body(
                self.body, self.headers.tokens("content-encoding"), DEFAULT_CAP
            )
        return self._decoded

    @property
    def decoded_body(self) -> bytes:
        """The content-decoded body (the wire body when it could not be decoded)."""
        return self.decoded().data

    def start_line(self) -> str:
        if self.kind == "request":
            return f"{self.method} {self.target} {self.version}".rstrip()
        return f"{self.version} {self.status} {self.reason}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: everything but the body bytes (their sizes instead)."""
        from layerpeek.render.http import message_to_dict

        return message_to_dict(self)


#: Why an exchange has no response, by how the connection ended (ConnectionClosed.how),
#: from the one table of close texts.
NO_RESPONSE: dict[CloseHow, str] = {
    how: f"no response: {text}" if how == "refused" else f"no response before {text}"
    for how, text in CLOSE_TEXTS.items()
}


@dataclass(slots=True, eq=False)
class HTTPExchange:
    """A request and the response to it, on TCP conversation ``stream``.

    Either message may be None: a request the capture shows no answer to, or
    a response whose request was not captured.  ``interim`` holds the 1xx
    responses (``100 Continue``) that came before the final one.
    """

    stream: int  #: the TCP conversation id (tshark's tcp.stream)
    index: int  #: 0-based position of the exchange on its connection
    request: HTTPMessage | None = None
    response: HTTPMessage | None = None
    interim: list[HTTPMessage] = field(default_factory=list)
    client: str = ""  #: "addr:port" when known
    server: str = ""
    unanswered: str = ""  #: why there is no response, when there is none
    pairing: list[str] = field(default_factory=list)  #: doubts about the pairing itself
    #: the HTTP/2 stream that carried it (None for HTTP/1.x)
    http2_stream: int | None = None
    #: for a response the server pushed: the HTTP/2 stream whose PUSH_PROMISE announced it
    pushed_by: int | None = None

    @property
    def complete(self) -> bool:
        """Both messages present and whole (and no doubt about which answers which)."""
        return (
            self.request is not None
            and self.response is not None
            and self.request.complete
            and self.response.complete
            and not self.pairing
            and not self.decode_problems()
        )

    def decode_problems(self) -> list[str]:
        """Bodies whose Content-Encoding could not be undone in full (cut at the cap,
        damaged, cut short, unknown coding): the body is not what the sender meant."""
        out = []
        for side, msg in (("request", self.request), ("response", self.response)):
            if msg is not None and msg.body:
                decoded = msg.decoded()
                if not decoded.complete:
                    out.append(f"{side} body: {decoded.problem or 'not decoded in full'}")
        return out

    @property
    def problem(self) -> str | None:
        """Why the exchange is not complete, in plain language; None when it is."""
        parts: list[str] = []
        if self.request is None:
            parts.append("request not captured")
        else:
            parts.extend(f"request: {p}" for p in self.request.problems)
        if self.response is None:
            parts.append(self.unanswered or "no response")
        else:
            parts.extend(f"response: {p}" for p in self.response.problems)
        parts.extend(self.pairing)
        parts.extend(self.decode_problems())
        return "; ".join(parts) if parts else None

    # -- shortcuts for listings ---------------------------------------------

    @property
    def method(self) -> str:
        return self.request.method if self.request is not None else ""

    @property
    def target(self) -> str:
        return self.request.target if self.request is not None else ""

    @property
    def http_version(self) -> str:
        """The HTTP version the exchange used: ``"HTTP/2"``, ``"HTTP/1.1"``, ``"HTTP/1.0"``.

        An HTTP/1.1 request upgraded to HTTP/2 (``Upgrade: h2c``) counts as
        HTTP/2: its response came in HTTP/2 frames.
        """
        if self.http2_stream is not None:
            return "HTTP/2"
        for msg in (self.response, self.request):
            if msg is not None and msg.version:
                return msg.version
        return ""

    @property
    def host(self) -> str:
        """``:authority`` (HTTP/2), the Host header, or the authority of an absolute-form target."""
        if self.request is None:
            return ""
        host = self.request.headers.get(":authority") or self.request.headers.get("host")
        if host:
            return host.strip()
        target = self.request.target
        if "://" in target:
            return target.split("://", 1)[1].split("/", 1)[0]
        return ""

    @property
    def status(self) -> int | None:
        return self.response.status if self.response is not None else None

    @property
    def first_frame(self) -> int:
        frames = [m.first_frame for m in (self.request, self.response) if m is not None]
        return min(frames) if frames else 0

    @property
    def start_ts_ns(self) -> int:
        """When the exchange began: the request's first byte (or the response's)."""
        if self.request is not None:
            return self.request.start_ts_ns
        return self.response.start_ts_ns if self.response is not None else 0

    @property
    def duration_ns(self) -> int | None:
        """Request's first byte to the response's last byte; None without both."""
        if self.request is None or self.response is None:
            return None
        return self.response.end_ts_ns - self.request.start_ts_ns

    def _repr_html_(self) -> str:
        """Jupyter's view: the request above its response (:mod:`layerpeek.render.http`)."""
        from layerpeek.render.http import exchange_html

        return exchange_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from layerpeek.render.http import exchange_text

        p.text(exchange_text(self))

    def to_dict(self) -> dict[str, Any]:
        """The documented ``http --json`` record (see ``layerpeek/commands/http.py``)."""
        from layerpeek.render.http import exchange_to_dict

        return exchange_to_dict(self)
