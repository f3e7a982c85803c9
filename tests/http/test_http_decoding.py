"""Content-Encoding (RFC 9110 §8.4): gzip, deflate both ways, stacked codings, bombs, damage."""

from __future__ import annotations

import gzip
import importlib.util
import zlib

import pytest

from layerpeek.http import decoding
from layerpeek.http.decoding import decode_body
from layerpeek.http.message import Headers, HTTPMessage

TEXT = b"layers all the way down\n" * 200


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


def test_identity_and_no_coding_leave_the_body_alone() -> None:
    for codings in ([], ["identity"]):
        out = decode_body(b"abc", codings)
        assert out.data == b"abc" and out.complete and out.codings == ()


def test_gzip() -> None:
    out = decode_body(gzip.compress(TEXT), ["gzip"])
    assert out.data == TEXT and out.complete and out.codings == ("gzip",)


def test_gzip_with_several_members_is_decoded_whole() -> None:
    out = decode_body(gzip.compress(b"one ") + gzip.compress(b"two"), ["x-gzip"])
    assert out.data == b"one two" and out.complete


def test_deflate_in_the_zlib_format_and_raw() -> None:
    assert decode_body(zlib.compress(TEXT), ["deflate"]).data == TEXT
    assert decode_body(raw_deflate(TEXT), ["deflate"]).data == TEXT


def test_stacked_codings_are_undone_last_first() -> None:
    body = gzip.compress(zlib.compress(TEXT))  # deflate applied first, then gzip
    out = decode_body(body, ["deflate", "gzip"])
    assert out.data == TEXT and out.codings == ("gzip", "deflate")


def test_a_decompression_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    out = decode_body(bomb, ["gzip"], cap=100_000)
    assert len(out.data) == 100_000 and not out.complete
    assert out.problem == "decoded body larger than the 100000-byte cap (cut there)"


def test_a_cut_gzip_stream_gives_what_decoded_so_far() -> None:
    body = gzip.compress(bytes(range(256)) * 100)
    out = decode_body(body[: len(body) // 2], ["gzip"])
    assert not out.complete and out.problem == "gzip stream is cut short"
    assert (bytes(range(256)) * 100).startswith(out.data)


def test_damaged_data_and_unknown_codings_keep_the_wire_bytes() -> None:
    out = decode_body(b"not gzip at all", ["gzip"])
    assert out.data == b"not gzip at all" and not out.complete
    assert out.problem is not None and out.problem.startswith("gzip data is damaged")
    unknown = decode_body(b"xyz", ["compress"])
    assert unknown.data == b"xyz" and unknown.problem == "unknown content-coding 'compress'"


def test_br_and_zstd_without_the_optional_packages_name_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decoding, "_optional", lambda *names: None)
    br = decode_body(b"\x0b\x02\x80hi\x03", ["br"])
    assert not br.complete and br.problem == "br needs the optional 'brotli' package"
    assert br.data == b"\x0b\x02\x80hi\x03"  # left as it was on the wire
    zstd = decode_body(b"\x28\xb5\x2f\xfd", ["zstd"])
    assert zstd.problem == "zstd needs the optional 'zstandard' package"


@pytest.mark.skipif(importlib.util.find_spec("brotli") is None, reason="brotli not installed")
def test_br_with_the_optional_package() -> None:
    import brotli

    assert decode_body(brotli.compress(TEXT), ["br"]).data == TEXT
    bomb = decode_body(brotli.compress(b"\0" * 5_000_000), ["br"], cap=1000)
    assert len(bomb.data) == 1000 and "cap" in (bomb.problem or "")
    assert decode_body(brotli.compress(TEXT)[:-3], ["br"]).problem == "br stream is cut short"


@pytest.mark.skipif(importlib.util.find_spec("zstandard") is None,
                    reason="zstandard not installed")
def test_zstd_with_the_optional_package() -> None:
    import zstandard

    z = zstandard.ZstdCompressor()
    assert decode_body(z.compress(TEXT), ["zstd"]).data == TEXT
    assert decode_body(z.compress(b"two ") + z.compress(b"frames"), ["zstd"]).data == b"two frames"
    bomb = decode_body(z.compress(b"\0" * 5_000_000), ["zstd"], cap=1000)
    assert len(bomb.data) == 1000 and "cap" in (bomb.problem or "")
    assert decode_body(z.compress(TEXT)[:-3], ["zstd"]).problem == "zstd stream is cut short"


def test_message_offers_wire_body_and_decoded_body() -> None:
    msg = HTTPMessage("response", headers=Headers([("Content-Encoding", "GZIP")]),
                      body=gzip.compress(TEXT))
    assert msg.content_encoding == "gzip"
    assert msg.decoded_body == TEXT and msg.body != TEXT
    assert msg.decoded(cap=10).data == TEXT[:10]


class _OldBrotli:
    """Stands in for brotli bindings older than 1.2: ``process`` takes no output limit."""

    error = zlib.error

    class Decompressor:
        def __init__(self) -> None:
            self._d = zlib.decompressobj()

        def process(self, data: bytes) -> bytes:
            return self._d.decompress(data)

        def is_finished(self) -> bool:
            return self._d.eof


def test_br_with_old_bindings_still_stops_near_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoding, "_optional", lambda *names: _OldBrotli)
    assert decode_body(zlib.compress(TEXT), ["br"]).data == TEXT
    bomb = decode_body(zlib.compress(b"\0" * 5_000_000), ["br"], cap=1000)
    assert len(bomb.data) == 1000 and not bomb.complete
