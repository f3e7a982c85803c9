"""Test helper: HTTP/2 frames written by hand, header blocks compressed by ``hpack``.

``H2`` keeps one HPACK encoder per direction (as a real endpoint does), so a
test writes the frames of a connection in the order they are sent::

    h = H2()
    client = PREFACE + h.settings() + h.headers("c", 1, GET("/"), end_stream=True)
    server = h.settings() + h.headers("s", 1, [(":status", "200")]) + h.data(1, b"hi", end=True)

The library never builds frames; this builder is test-only.
"""

from __future__ import annotations

import struct

import hpack

from layerpeek.layers.http2 import PREFACE, FrameFlags, FrameType

__all__ = ["GET", "H2", "PREFACE", "frame"]


def frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """One frame: the nine-byte header, then ``payload`` as given."""
    n = len(payload)
    return struct.pack("!BHBBI", n >> 16, n & 0xFFFF, ftype, flags, stream) + payload


def GET(path: str, authority: str = "example.test", **extra: str) -> list[tuple[str, str]]:
    """The header list of a GET request (pseudo-header fields first)."""
    fields = [(":method", "GET"), (":scheme", "http"), (":authority", authority),
              (":path", path)]
    return fields + [(k.replace("_", "-"), v) for k, v in extra.items()]


class H2:
    """Frames of one connection, with each direction's HPACK encoder."""

    def __init__(self) -> None:
        self.encoders = {"c": hpack.Encoder(), "s": hpack.Encoder()}

    def block(self, side: str, fields: list[tuple[str, str]]) -> bytes:
        return self.encoders[side].encode(fields)

    def headers(self, side: str, stream: int, fields: list[tuple[str, str]], *,
                end_stream: bool = False, end_headers: bool = True, pad: int = 0) -> bytes:
        flags = (FrameFlags.END_STREAM if end_stream else 0) | (
            FrameFlags.END_HEADERS if end_headers else 0)
        payload = self.block(side, fields)
        if pad:
            flags |= FrameFlags.PADDED
            payload = bytes([pad]) + payload + b"\0" * pad
        return frame(FrameType.HEADERS, flags, stream, payload)

    def data(self, stream: int, body: bytes, *, end: bool = False, pad: int = 0) -> bytes:
        flags = FrameFlags.END_STREAM if end else 0
        payload = body
        if pad:
            flags |= FrameFlags.PADDED
            payload = bytes([pad]) + body + b"\0" * pad
        return frame(FrameType.DATA, flags, stream, payload)

    @staticmethod
    def settings(*pairs: tuple[int, int], ack: bool = False) -> bytes:
        payload = b"".join(struct.pack("!HI", k, v) for k, v in pairs)
        return frame(FrameType.SETTINGS, 1 if ack else 0, 0, payload)

    @staticmethod
    def rst(stream: int, code: int) -> bytes:
        return frame(FrameType.RST_STREAM, 0, stream, struct.pack("!I", code))

    @staticmethod
    def goaway(last: int, code: int = 0, debug: bytes = b"") -> bytes:
        return frame(FrameType.GOAWAY, 0, 0, struct.pack("!II", last, code) + debug)

    @staticmethod
    def window_update(stream: int, increment: int) -> bytes:
        return frame(FrameType.WINDOW_UPDATE, 0, stream, struct.pack("!I", increment))

    @staticmethod
    def ping(opaque: bytes = b"12345678", ack: bool = False) -> bytes:
        return frame(FrameType.PING, 1 if ack else 0, 0, opaque)

    def push_promise(self, stream: int, promised: int, fields: list[tuple[str, str]]) -> bytes:
        payload = struct.pack("!I", promised) + self.block("s", fields)
        return frame(FrameType.PUSH_PROMISE, FrameFlags.END_HEADERS, stream, payload)
