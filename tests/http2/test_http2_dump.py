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
