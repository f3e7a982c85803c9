"""``dump`` shows each packet's HTTP/2 frames (the conversation stage reads them).

One-liners, the ``-V`` tree, ``-Y`` on ``http2.*`` fields; none of it without
the conversation stage (``--no-flows``), and nothing for a connection that
is not HTTP/2.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import CAPTURES
from flows.flowwire import Wire, script
from h2wire import GET, H2, PREFACE

from layerpeek.commands.dump import _annotated
from layerpeek.layers.http2 import HTTP2, HeadersFrame

pytest.importorskip("hpack")


def dump(*args: str) -> list[str]:
    run = subprocess.run([sys.executable, "-m", "layerpeek", "dump", *args],
                         capture_output=True, text=True, check=True)
    return run.stdout.splitlines()


def facts(line: str) -> str:
    """What a line says after the endpoints, without the conversation suffix."""
    return line.split(" → ", 1)[1].split(" ", 1)[1].split(" [stream ", 1)[0]


def test_one_liners_of_an_upgraded_connection() -> None:
    lines = dump(str(CAPTURES / "http2_upgrade_h2c.pcap"), "-Y", "http || http2")
    assert [line.split()[2] for line in lines[:3]] == [
        "eth:ipv4:tcp:http", "eth:ipv4:tcp:http", "eth:ipv4:tcp:http2"]
    said = [facts(line) for line in lines]
    assert said[:2] == ["GET /index.html HTTP/1.1", "HTTP/1.1 101"]
    assert said[2].startswith("Magic, SETTINGS, WINDOW_UPDATE stream 0 +")
    assert "HEADERS stream 1 200" in said
    assert "DATA stream 1 341 bytes" in said
    assert any(s.endswith("HEADERS stream 3 GET /style.css END_STREAM") for s in said)


def test_display_filters_on_http2_fields() -> None:
    path = str(CAPTURES / "http2_parallel.pcap")
    (line,) = dump(path, "-Y", 'http2.headers.path == "/logo.png"')
    assert facts(line) == "HEADERS stream 5 GET /logo.png END_STREAM"
    rows = dump(path, "-Y", "http2.type == 0 && http2.flags.end_stream", "-T", "fields",
                "-e", "http2.streamid", "-E", "occurrence=l")
    assert sorted(set(rows)) == ["1", "3", "5", "7"]


def test_the_tree_shows_the_decoded_header_list() -> None:
    text = "\n".join(dump("-V", "-Y", "http2.type == 5", "-c", "1",
                          str(CAPTURES / "http2_push.pcap")))
    assert "HyperText Transfer Protocol 2  PUSH_PROMISE stream 13 → 2 GET /style.css" in text
    assert "type: 5 (PUSH_PROMISE)" in text and "flags: 0x04 (END_HEADERS)" in text
    assert ":path: /style.css" in text


def test_no_http2_layer_without_the_conversation_stage() -> None:
    lines = dump("--no-flows", str(CAPTURES / "http2_prior_knowledge.pcap"))
    assert not any("http2" in line for line in lines)
    assert any("eth:ipv4:tcp:data" in line for line in lines)


def test_frames_show_on_the_segment_that_completes_them() -> None:
    w, h = Wire(server=("10.0.0.2", 9999)), H2()
    client = PREFACE + h.settings() + h.headers("c", 1, GET("/split"), end_stream=True)
    packets = script(w, "c S", "s SA", "c A")
    packets += [w.c("PA", client[:40]), w.c("PA", client[40:])]
    out = [p for p, _ in _annotated(iter(packets), flows=True, defrag=True)]
    first, second = out[3].get(HTTP2), out[4].get(HTTP2)
    assert first is not None and first.magic and first.pending == 40 - len(PREFACE) - 9
    assert [type(f).__name__ for f in first.frames] == ["SettingsFrame"]
    assert second is not None and not second.magic
    (headers,) = second.frames
    assert isinstance(headers, HeadersFrame) and dict(headers.headers or ())[":path"] == "/split"
    assert out[4].protocols == "eth:ipv4:tcp:http2"


def test_a_connection_that_is_not_http2_gets_no_layer() -> None:
    w = Wire(server=("10.0.0.2", 9999))
    packets = script(w, "c S", "s SA", "c A")
    packets += [w.c("PA", b"PRI * HTTP/1.1\r\n\r\n" + b"x" * 40), w.s("PA", b"\x00" * 40)]
    out = [p for p, _ in _annotated(iter(packets), flows=True, defrag=True)]
    assert all(HTTP2 not in p for p in out)


def test_the_frames_stage_plugs_into_an_analysis() -> None:
    from layerpeek.analysis import STAGES, Analysis

    assert ("http2_frames", "layerpeek.http2.packets:HTTP2PacketStage") in STAGES
    analysis = Analysis(["http2_frames"])
    assert "tcp" in analysis  # it reads the tracker's events
    steps = list(analysis.run(CAPTURES / "http2_prior_knowledge.pcap"))
    analysis.finish()
    said = [step.packet[HTTP2].summary() for step in steps if HTTP2 in step.packet]
    assert "HEADERS stream 1 GET /index.html END_STREAM" in said


UPGRADE = (b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
           b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
SWITCHED = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"


@pytest.mark.parametrize("cut", [10, 60, len(UPGRADE) - 1])
def test_an_upgrade_asked_in_a_later_segment_of_the_head_still_switches(cut: int) -> None:
    # The stage gives up an HTTP/1.1 connection when its first head ends without
    # "h2c": a head cut anywhere must still be read whole before that is decided.
    w, h = Wire(server=("10.0.0.2", 8080)), H2()
    packets = script(w, "c S", "s SA", "c A")
    packets += [w.c("PA", UPGRADE[:cut]), w.c("PA", UPGRADE[cut:]),
                w.s("PA", SWITCHED + h.settings()), w.c("PA", PREFACE + h.settings())]
    out = [p for p, _ in _annotated(iter(packets), flows=True, defrag=True)]
    server, client = out[5].get(HTTP2), out[6].get(HTTP2)
    assert server is not None and [type(f).__name__ for f in server.frames] == ["SettingsFrame"]
    assert client is not None and client.magic


def test_the_head_check_decides_at_the_blank_line_as_the_readers_do() -> None:
    from layerpeek.http2.packets import HEAD_LIMIT, mentions_h2c

    # "h2c" anywhere in the head (here the path): the readers decide
    assert mentions_h2c(bytearray(), b"POST /h2c-free HTTP/1.1\r\nHost: x\r\n\r\n") is True
    head = bytearray()
    assert mentions_h2c(head, b"GET / HTTP/1.1\r\nHost: x\r\n\r") is None
    assert mentions_h2c(head, b"\nUpgrade: h2c") is False  # after the head: a body's bytes
    assert mentions_h2c(bytearray(), b"GET / HTTP/1.1\r\nUPGRADE: H2C\r\n\r\n") is True
    assert mentions_h2c(bytearray(), b"GET / HTTP/1.1\nHost: x\n\nh2c") is False  # bare LF
    assert mentions_h2c(bytearray(), b"GET / HTTP/1.1\r\n" + b"x" * HEAD_LIMIT) is True
