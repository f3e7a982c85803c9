"""HTTP/2 (RFC 9113) read from reassembled TCP streams: frames, HPACK, exchanges.

The stages are sans-IO and usable alone:

* :class:`HTTP2Connection`: both directions' bytes in, frames out
  (:class:`FrameRead`, with each header block decoded by the ``hpack``
  package, a dynamic table per direction);
* :class:`HTTP2Pairer`: one connection's flow events in, the same
  :class:`~layerpeek.http.message.HTTPExchange` records as HTTP/1.x out, one
  per stream;
* :class:`HTTP2PacketStage`: the flow tracker's events in, each packet's
  :class:`~layerpeek.layers.http2.HTTP2` layer out (what ``dump`` shows).

:func:`layerpeek.http.exchanges` and ``layerpeek http`` find HTTP/2 by
content on any port (the client's connection preface, or ``Upgrade: h2c``
answered by ``101``) and list its exchanges with the HTTP/1.x ones.  The
frame records and their constants are in :mod:`layerpeek.layers.http2`.
Submodules load on first use, so ``import layerpeek.http2`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerpeek._lazy import lazy_getattr

if TYPE_CHECKING:
    from layerpeek.http2.connection import (
        MAX_BLOCK,
        MAX_HEADER_LIST,
        FrameRead,
        HeaderBlock,
        HTTP2Connection,
        PrefaceRead,
        Read,
        ReadStopped,
    )
    from layerpeek.http2.packets import HTTP2PacketStage
    from layerpeek.http2.pairing import HTTP2Pairer

_WHERE = {
    "MAX_BLOCK": "connection",
    "MAX_HEADER_LIST": "connection",
    "FrameRead": "connection",
    "HeaderBlock": "connection",
    "HTTP2Connection": "connection",
    "PrefaceRead": "connection",
    "Read": "connection",
    "ReadStopped": "connection",
    "HTTP2PacketStage": "packets",
    "HTTP2Pairer": "pairing",
}

__all__ = [
    "MAX_BLOCK",
    "MAX_HEADER_LIST",
    "FrameRead",
    "HTTP2Connection",
    "HTTP2PacketStage",
    "HTTP2Pairer",
    "HeaderBlock",
    "PrefaceRead",
    "Read",
    "ReadStopped",
]

__getattr__ = lazy_getattr(__name__, _WHERE, globals())
