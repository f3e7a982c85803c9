"""The fuzz targets: one function per entry point hostile bytes can reach.

Each target takes the fuzzer's bytes and returns normally for *any* input;
raising anything (an ``AssertionError`` from a broken invariant included) is
a finding.  The functions are plain Python so the regression test
(``tests/fuzz/test_crashes.py``) replays committed inputs without atheris,
and ``fuzz.py`` wraps them for coverage-guided runs.

Input layouts:

* ``decode``: first byte picks the link type (index into :data:`LINKTYPES`),
  the rest is one frame; the decoded packet is rendered every way the CLI can.
* ``readers``: the bytes are a capture file (pcap, pcapng or garbage); the
  streaming reader and ``layerpeek.table`` (its compiled walk included, when
  NumPy and pyarrow are installed) must find the same frames.
* ``dns``: first byte's low bit says whether the capture was cut, the rest is
  one DNS message (also tried as DNS over TCP, with its length prefix).
* ``flows``: a capture file whose packets go through the flow pipeline.
* ``http``: first two bytes give a split point, the rest is a client stream
  (requests) or, with the top bit of byte 0, a server stream (responses);
  fed whole and split in two, the messages and problems must be the same,
  and every body's Content-Encoding is undone (within its cap).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from layerpeek.analysis import Analysis
from layerpeek.capture import open_capture
from layerpeek.decode import decode_layers, registry
from layerpeek.errors import CaptureFormatError, DecodeError
from layerpeek.flows.events import ConversationSummary
from layerpeek.http.reader import MessageReader, RequestReader, ResponseReader
from layerpeek.layers.dns import DNS, decode_message, decode_tcp
from layerpeek.packet import Malformed, Packet, Payload
from layerpeek.reader import read
from layerpeek.render.hexdump import hexdump
from layerpeek.render.json import packet_to_json
from layerpeek.render.text import packet_line, packet_tree

#: Link types the first byte chooses from: every one the registry knows, and an unknown one.
LINKTYPES: tuple[int, ...] = (*sorted(registry().tables["linktype"]), 147)


def decode(data: bytes) -> None:
    if not data:
        return
    linktype = LINKTYPES[data[0] % len(LINKTYPES)]
    frame = data[1:]
    layers, spans = decode_layers(frame, linktype)
    assert len(layers) == len(spans)
    for layer in layers[:-1]:
        assert not isinstance(layer, (Malformed, Payload)), layers
    for start, end in spans:
        assert 0 <= start <= end <= len(frame), (start, end, len(frame))
    packet = Packet(1, 0, len(frame), linktype, frame, layers, spans)
    packet_line(packet, 0, False)
    packet_tree(packet, False)
    hexdump(packet, False)
    json.loads(packet_to_json(packet))


def readers(data: bytes) -> None:
    try:
        reader = open_capture(io.BytesIO(data), chunk_size=max(1, len(data) // 3 or 1))
    except CaptureFormatError:
        return
    lengths = []
    try:
        for frame in reader:
            assert len(frame.data) <= len(data)
            lengths.append(len(frame.data))
    except CaptureFormatError:
        return
    assert all(isinstance(p, str) for p in reader.problems)
    if _table is not None:
        problems: list[str] = []
        rows = _table(data, ["cap_len", "protocols"], problems=problems).to_pydict()
        assert rows["cap_len"] == lengths, (rows["cap_len"], lengths)
        # The table alone says when a time does not fit its int64 nanosecond
        # column (the streaming reader's times are Python ints: nothing to say).
        problems = [p for p in problems if "outside the int64 nanosecond range" not in p]
        assert problems == reader.problems, (problems, reader.problems)


try:  # the columnar reader, when its extra is installed
    from layerpeek.columnar import table as _table
except ImportError:  # pragma: no cover - depends on the environment
    _table = None


def dns(data: bytes) -> None:
    if not data:
        return
    cut, msg = bool(data[0] & 1), data[1:]
    for fn in (lambda: decode_message(msg, 0, len(msg), cut=cut),
               lambda: decode_tcp(msg, 0, len(msg))):
        try:
            layer, after = fn()
        except DecodeError:
            continue
        assert isinstance(layer, DNS)
        assert after is None or isinstance(after, Malformed)
        assert layer.complete == (after is None) or after is not None


def flows(data: bytes) -> None:
    try:
        packets = read(io.BytesIO(data))
    except CaptureFormatError:
        return
    analysis = Analysis(["defrag", "http", "dns"])
    summaries = []
    try:
        for step in analysis.run(packets):
            summaries += [e for e in step.events if isinstance(e, ConversationSummary)]
    except CaptureFormatError:
        return
    summaries += [e for e in analysis.finish() if isinstance(e, ConversationSummary)]
    for event in summaries:
        json.dumps(event.summary.to_dict())


def http_messages(kind: str, parts: list[bytes]) -> tuple[list[dict[str, object]], list[str]]:
    """Messages (as plain dicts, bodies decoded) from a stream fed in ``parts``."""
    reader: MessageReader = RequestReader() if kind == "request" else ResponseReader()
    out = []
    for part in parts:
        out += reader.feed(part)
    out += reader.finish("fin")
    return [m.to_dict() for m in out], reader.problems


def http(data: bytes) -> None:
    if len(data) < 2:
        return
    kind = "response" if data[0] & 0x80 else "request"
    stream = data[2:]
    split = (((data[0] & 0x7F) << 8) | data[1]) % (len(stream) + 1)
    whole = http_messages(kind, [stream])
    assert http_messages(kind, [stream[:split], stream[split:]]) == whole, split


TARGETS: dict[str, Callable[[bytes], None]] = {
    "decode": decode,
    "readers": readers,
    "dns": dns,
    "flows": flows,
    "http": http,
}
