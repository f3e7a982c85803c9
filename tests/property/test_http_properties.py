"""The HTTP stream readers give the same messages however the stream is split.

TCP delivers a stream in whatever segments the sender and the network chose,
and reassembly hands them on as they come, so a reader must not care where
the cuts fall (h11 tests its readers fed whole and one byte at a time).  For
real streams from ``captures/`` and generated ones (Content-Length, chunked
with any chunk sizes and extensions, close-delimited, pipelined, interim 1xx
responses, damaged), feeding in arbitrary pieces gives the same messages and
the same problems as feeding everything at once.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from layerpeek.flows.pipeline import conversations
from layerpeek.http.reader import MessageReader, RequestReader, ResponseReader

from .frames import CAPTURES, PROPERTY


def captured_streams() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(CAPTURES.glob("http_*.pcap")):
        for conv in conversations(path, keep_data=True):
            for kind, stream in (("request", conv.client_stream),
                                 ("response", conv.server_stream)):
                data = stream.data if stream is not None else b""
                if data:
                    out.append((kind, data[:20000]))
    assert out, "captures/ holds HTTP conversations"
    return out


STREAMS = captured_streams()


def read(kind: str, parts: list[bytes]) -> tuple[list[dict[str, Any]], list[str]]:
    reader: MessageReader = RequestReader() if kind == "request" else ResponseReader()
    messages = []
    for part in parts:
        messages += reader.feed(part)
    messages += reader.finish("fin")
    return [m.to_dict() for m in messages], reader.problems


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(1, 3))):
        method = draw(st.sampled_from(("GET", "POST", "PUT", "HEAD")))
        headers = draw(st.lists(st.tuples(token, token), max_size=4))
        body = draw(st.binary(max_size=80)) if method in ("POST", "PUT") else b""
        head = f"{method} /{draw(token)} HTTP/1.1\r\nHost: x\r\n"
        head += "".join(f"X-{k}: {v}\r\n" for k, v in headers)
        if body and draw(st.booleans()):
            sizes = draw(st.lists(st.integers(1, 30), min_size=1, max_size=5))
            chunks, pos = b"", 0
            for size in sizes:
                piece = body[pos : pos + size]
                pos += size
                if piece:
                    ext = ";x=y" if draw(st.booleans()) else ""
                    chunks += f"{len(piece):x}{ext}\r\n".encode() + piece + b"\r\n"
            out += (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
        else:
            out += (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return out


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    out = b""
    if draw(st.booleans()):
        out += b"HTTP/1.1 100 Continue\r\n\r\n"
    body = draw(st.binary(max_size=120))
    framing = draw(st.sampled_from(("length", "chunked", "close")))
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
    if framing == "length":
        out += head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    elif framing == "chunked":
        out += head + b"Transfer-Encoding: chunked\r\n\r\n"
        if body:
            out += b"%x\r\n" % len(body) + body + b"\r\n"
        out += b"0\r\nX-Trailer: 1\r\n\r\n"
    else:
        out += head + b"\r\n" + body
    return out


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    kind, data = draw(st.sampled_from(STREAMS))
    buf = bytearray(data[:3000])
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(buf)))
        buf[pos:pos] = draw(st.sampled_from(
            (b"\r\n", b"\n\n", b"0\r\n\r\n", b"ffffffffffffffffff\r\n", b":", b"HTTP/1.1 ")
        ))
    return kind, bytes(buf)


def streams() -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(
        st.sampled_from(STREAMS),
        requests().map(lambda d: ("request", d)),
        responses().map(lambda d: ("response", d)),
        damaged(),
    )


@PROPERTY
@given(stream=streams(), cuts=st.lists(st.integers(0, 1 << 20), max_size=12))
def test_any_split_of_a_stream_gives_the_same_messages_and_problems(
    stream: tuple[str, bytes], cuts: list[int]
) -> None:
    kind, data = stream
    assert read(kind, pieces(data, cuts)) == read(kind, [data])


@PROPERTY
@given(stream=st.one_of(requests().map(lambda d: ("request", d)),
                        responses().map(lambda d: ("response", d))))
def test_one_byte_at_a_time_gives_the_same_messages(stream: tuple[str, bytes]) -> None:
    kind, data = stream
    whole, problems = read(kind, [data])
    assert read(kind, [data[i : i + 1] for i in range(len(data))]) == (whole, problems)
    assert whole and all(m["complete"] for m in whole), "generated streams are well formed"
