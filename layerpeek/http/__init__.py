"""HTTP/1.x exchanges rebuilt from reassembled TCP streams.

One call gives every request with its response:

>>> import layerpeek.http
>>> for ex in layerpeek.http.exchanges("captures/page_load.pcap"):
...     body = ex.response.decoded_body if ex.response else b""
...     print(ex.stream, ex.method, ex.target, ex.status, len(body), ex.complete, ex.problem)
0 GET / 200 341 True None
0 GET /style.css 200 155 True None
0 GET /logo.png 200 852 True None

The stages under it are sans-IO and usable alone: :class:`RequestReader` /
:class:`ResponseReader` (bytes in, :class:`HTTPMessage` out) and
:class:`HTTPPairer` (the flow tracker's events in, :class:`HTTPExchange`
out).  Submodules load on first use, so ``import layerpeek.http`` is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from layerpeek._lazy import lazy_getattr

if TYPE_CHECKING:
    from layerpeek.analysis import Source
    from layerpeek.http.decoding import DEFAULT_CAP, DecodedBody, decode_body
    from layerpeek.http.message import Headers, HTTPExchange, HTTPMessage
    from layerpeek.http.pairing import HTTPPairer
    from layerpeek.http.reader import (
        MAX_BODY,
        MAX_HEAD,
        MAX_HEADERS,
        MessageReader,
        RequestReader,
        ResponseReader,
    )
    from layerpeek.tls.keylog import KeyLog

_WHERE = {
    "DEFAULT_CAP": "decoding",
    "DecodedBody": "decoding",
    "decode_body": "decoding",
    "Headers": "message",
    "HTTPExchange": "message",
    "HTTPMessage": "message",
    "HTTPPairer": "pairing",
    "MAX_BODY": "reader",
    "MAX_HEAD": "reader",
    "MAX_HEADERS": "reader",
    "MessageReader": "reader",
    "RequestReader": "reader",
    "ResponseReader": "reader",
}

__all__ = [
    "DEFAULT_CAP",
    "MAX_BODY",
    "MAX_HEAD",
    "MAX_HEADERS",
    "DecodedBody",
    "HTTPExchange",
    "HTTPMessage",
    "HTTPPairer",
    "Headers",
    "MessageReader",
    "RequestReader",
    "ResponseReader",
    "decode_body",
    "exchanges",
    "iter_exchanges",
    "sort_exchanges",
]


def exchanges(
    source: Source, *, defrag: bool = True, problems: list[str] | None = None,
    keylog: KeyLog | str | os.PathLike[str] | None = None,
) -> list[HTTPExchange]:
    """Every HTTP/1.x exchange of a capture, in order of first frame.

    ``source`` is a path, a binary file object, or an iterable of
    :class:`~layerpeek.packet.Packet` (as for
    :func:`layerpeek.flows.conversations`).  Pass a list as ``problems`` to
    receive the problems that belong to no single exchange (bytes skipped
    inside an HTTP stream).  Reading the file may raise
    :class:`~layerpeek.errors.CaptureFormatError` or ``OSError``; nothing in
    the traffic itself raises.

    ``keylog`` (a :class:`~layerpeek.tls.KeyLog` or the path of an NSS key
    log) decrypts HTTPS and QUIC: the exchanges inside the TLS connections
    and the HTTP/3 ones inside the QUIC connections whose secrets it holds
    come out like cleartext ones.
    """
    return sort_exchanges(list(iter_exchanges(source, defrag=defrag, problems=problems,
                                              keylog=keylog)))


def iter_exchanges(
    source: Source, *, defrag: bool = True, problems: list[str] | None = None,
    keylog: KeyLog | str | os.PathLike[str] | None = None,
) -> Iterator[HTTPExchange]:
    """:func:`exchanges` one by one, as each is paired (not sorted), bodies and all.

    For a consumer that keeps less than the whole exchange (a row, a size):
    memory then holds the exchanges of the connections still open, not all
    of the capture's.  ``problems`` is filled when the iteration ends.
    """
    from layerpeek.analysis import Analysis
    from layerpeek.flows.events import Problem
    from layerpeek.http.message import HTTPExchange

    # With a key log: HTTPS (the tls stage) and HTTP/3 over QUIC (the quic stage) too.
    stages = (["defrag"] if defrag else []) + ["http"] + (
        ["tls", "quic"] if keylog is not None else [])
    settings = {"tls": {"keylog": keylog, "keep_connections": False},
                "quic": {"keylog": keylog, "keep_connections": False}}
    analysis = Analysis(stages, settings=settings if keylog is not None else None,
                        flow_info=False)
    for event in analysis.events(source):
        if isinstance(event, HTTPExchange):
            yield event
        elif isinstance(event, Problem) and problems is not None:
            problems.append(event.text)


def sort_exchanges(items: list[HTTPExchange]) -> list[HTTPExchange]:
    """Order exchanges as a listing shows them: by first frame, then stream and position."""
    return sorted(items, key=lambda ex: (ex.first_frame, ex.stream, ex.index))


__getattr__ = lazy_getattr(__name__, _WHERE, globals())
