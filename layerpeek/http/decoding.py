"""Undoing Content-Encoding (RFC 9110 §8.4): gzip, deflate, and br/zstd when available.

Why a cap: a few kilobytes of gzip can expand to gigabytes (a decompression
bomb), and a capture is hostile input.  Every decoder here is asked for at
most ``cap + 1`` bytes, so memory stays bounded whatever the body says; a
body that would decode past the cap comes back cut at the cap with a
problem saying so.

Nested codings (``gzip, gzip, gzip``) are where bombs multiply: every coding
but the last yields compressed data, which cannot grow much, so those steps
are capped at :data:`NESTED_GROWTH` times their input (plus
:data:`NESTED_SLACK`), and at most :data:`MAX_CODINGS` codings are undone:
the work per body stays proportional to its bytes.

Why never raise: a body that does not decode (a cut gzip stream, a coding we
do not know) is still a fact worth showing.  :class:`DecodedBody` carries
what could be decoded, or the wire bytes untouched, and the reason.

``deflate`` is ambiguous in practice: RFC 9110 means the zlib format
(RFC 1950), but some servers send raw deflate (RFC 1951), so both are tried,
as browsers do.  ``br`` uses the ``brotli`` (or ``brotlicffi``) package and
``zstd`` the ``zstandard`` package, imported only when such a body is met;
without them the body is left encoded and the problem names the package.
"""

from __future__ import annotations

import importlib
import zlib
from dataclasses import dataclass
from typing import Any

#: Largest decoded body kept, in bytes (the decompression-bomb guard).
DEFAULT_CAP = 64 * 1024 * 1024
#: Content codings undone at most per body; more is refused as a problem.
MAX_CODINGS = 4
#: A coding with another one still to undo yields compressed data, which does
#: not compress: more than ``2 x input + 1 KiB`` there is a nested bomb.
#: Without this, 265 bytes gzip-encoded three times each inflated to the 64 MiB
#: cap (0.5 s a body); with it a body decodes to at most ~1032x its bytes
#: times 2 per extra coding.
NESTED_GROWTH = 2
NESTED_SLACK = 1024

_IDENTITY = ("identity", "")
_GZIP_WBITS = 16 + zlib.MAX_WBITS


@dataclass(frozen=True, slots=True)
class DecodedBody:
    """A body with its content codings undone, as far as that was possible."""

    data: bytes
    codings: tuple[str, ...]  #: the codings that were undone, in the order applied
    complete: bool  #: False: decoding stopped (cap, damage, unknown coding)
    problem: str | None = None


class _Stop(Exception):
    """A coding could not be undone; ``data`` is what it gave before stopping."""

    def __init__(self, reason: str, data: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data


def _zlib(data: bytes, wbits: int, cap: int, name: str) -> bytes:
    out = bytearray()
    while True:
        d = zlib.decompressobj(wbits)
        try:
            out += d.decompress(data, cap + 1 - len(out))
        except zlib.error as e:
            raise _Stop(f"{name} data is damaged ({e})", bytes(out)) from None
        if len(out) > cap:
            raise _Stop(f"decoded body larger than the {cap}-byte cap (cut there)",
                        bytes(out[:cap]))
        if not d.eof:
            raise _Stop(f"{name} stream is cut short", bytes(out))
        rest = d.unused_data
        # gzip allows several members back to back (RFC 1952 §2.2); anything
        # else after the end of the stream is ignored, as browsers do.
        if wbits == _GZIP_WBITS and rest[:2] == b"\x1f\x8b":
            data = rest
            continue
        return bytes(out)


def _gzip(data: bytes, cap: int) -> bytes:
    return _zlib(data, _GZIP_WBITS, cap, "gzip")


def _deflate(data: bytes, cap: int) -> bytes:
    try:
        return _zlib(data, zlib.MAX_WBITS, cap, "deflate")
    except _Stop as first:
        if first.data:  # the zlib wrapper was right; the damage is real
            raise
    return _zlib(data, -zlib.MAX_WBITS, cap, "deflate")


def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _brotli(data: bytes, cap: int) -> bytes:
    mod = _optional("brotli", "brotlicffi")
    if mod is None:
        raise _Stop("br needs the optional 'brotli' package")
    decoder = mod.Decompressor()
    out = bytearray()
    try:
        try:
            # brotli >= 1.2 bounds each call's output: the bomb never materialises.
            out += decoder.process(data, output_buffer_limit=cap + 1)
            while len(out) <= cap and not decoder.is_finished():
                more = decoder.process(b"", output_buffer_limit=cap + 1 - len(out))
                if not more:
                    break
                out += more
        except TypeError:
            # Older bindings have no limit: feed small pieces and check between them.
            step = 1024
            for i in range(0, len(data), step):
                out += decoder.process(data[i : i + step])
                if len(out) > cap:
                    break
    except mod.error as e:
        raise _Stop(f"br data is damaged ({e})", bytes(out)) from None
    if len(out) > cap:
        raise _Stop(f"decoded body larger than the {cap}-byte cap (cut there)", bytes(out[:cap]))
    if not decoder.is_finished():
        raise _Stop("br stream is cut short", bytes(out))
    return bytes(out)


def _zstd(data: bytes, cap: int) -> bytes:
    mod = _optional("zstandard")
    if mod is None:
        raise _Stop("zstd needs the optional 'zstandard' package")
    try:
        reader = mod.ZstdDecompressor().stream_reader(data, read_across_frames=True)
        out = bytes(reader.read(cap + 1))
        if len(out) > cap:
            raise _Stop(f"decoded body larger than the {cap}-byte cap (cut there)", out[:cap])
        # The reader returns a cut frame's bytes without complaint; the output is
        # now known to fit under the cap, so a second, unbounded pass is safe and
        # tells whether every frame ended.
        rest = data
        while rest:
            frame = mod.ZstdDecompressor().decompressobj()
            frame.decompress(rest)
            if not frame.eof:
                raise _Stop("zstd stream is cut short", out)
            rest = frame.unused_data
    except mod.ZstdError as e:
        raise _Stop(f"zstd data is damaged ({e})") from None
    return out


_DECODERS = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def decode_body(body: bytes, codings: list[str], cap: int = DEFAULT_CAP) -> DecodedBody:
    """Undo ``codings`` (Content-Encoding tokens in the order the sender applied them).

    The last coding applied is undone first (RFC 9110 §8.4).  When one
    cannot be undone, the result is the bytes as far as decoding got, or the
    input of that step if it produced nothing, with ``complete=False``.
    """
    data = body
    done: list[str] = []
    steps = list(reversed([c for c in codings if c not in _IDENTITY]))
    if len(steps) > MAX_CODINGS:
        return DecodedBody(data, (), False, f"{len(steps)} content codings, more than "
                           f"{MAX_CODINGS}: left encoded")
    for n, coding in enumerate(steps):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            return DecodedBody(data, tuple(done), False, f"unknown content-coding {coding!r}")
        if not data:
            done.append(coding)
            continue
        nested = n < len(steps) - 1  # its output is still encoded
        limit = min(cap, NESTED_GROWTH * len(data) + NESTED_SLACK) if nested else cap
        try:
            data = decoder(data, limit)
        except _Stop as stop:
            if nested and limit < cap and stop.reason.startswith("decoded body larger"):
                stop = _Stop(f"{coding} inside another coding expands more than compressed "
                             "data can (a nested decompression bomb): decoding stopped",
                             stop.data)
            got = stop.data if stop.data else None
            if got is not None:
                done.append(coding)
            return DecodedBody(got if got is not None else data, tuple(done), False, stop.reason)
        done.append(coding)
    return DecodedBody(data, tuple(done), True)
