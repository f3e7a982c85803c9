"""HTTP/2 as text: the one-line summary of a packet's frames (``dump``).

Kept here, not in :mod:`layerpeek.layers.http2`, so the layer module stays
the wire format and this module the presentation::

    Magic, SETTINGS, WINDOW_UPDATE stream 0 +1073741823
    HEADERS stream 1 GET /index.html
    HEADERS stream 1 200, DATA stream 1 341 bytes END_STREAM
    RST_STREAM stream 3 CANCEL
"""

from __future__ import annotations

from layerpeek.layers.http2 import (
    HTTP2,
    ContinuationFrame,
    DataFrame,
    ErrorCode,
    FrameFlags,
    GoAwayFrame,
    HeaderList,
    HeadersFrame,
    HTTP2Frame,
    MalformedFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
    type_name,
)
from layerpeek.wire import enum_name


def _head(headers: HeaderList | None) -> str:
    """``GET /index.html`` for a request block, ``200`` for a response block."""
    if headers is None:
        return ""
    pseudo = {name: value for name, value in headers if name.startswith(":")}
    if ":status" in pseudo:
        return pseudo[":status"]
    if ":method" in pseudo:
        target = pseudo.get(":path") or pseudo.get(":authority", "")
        return f"{pseudo[':method']} {target}".rstrip()
    return "trailers" if headers else ""


def frame_summary(frame: HTTP2Frame) -> str:
    """One frame in a few words: its type, stream and the fact that matters most."""
    name = type_name(frame.type)
    if isinstance(frame, MalformedFrame):
        return f"{name} stream {frame.stream_id} [malformed: {frame.reason}]"
    if isinstance(frame, SettingsFrame):
        return "SETTINGS ACK" if frame.ack else "SETTINGS"
    if isinstance(frame, PingFrame):
        return "PING ACK" if frame.ack else "PING"
    if isinstance(frame, GoAwayFrame):
        return (f"GOAWAY last stream {frame.last_stream_id} "
                f"{enum_name(ErrorCode, frame.error_code)}")
    if isinstance(frame, WindowUpdateFrame):
        return f"WINDOW_UPDATE stream {frame.stream_id} +{frame.increment}"
    parts = [f"{name} stream {frame.stream_id}"]
    if isinstance(frame, (HeadersFrame, ContinuationFrame)):
        parts.append(_head(frame.headers))
    elif isinstance(frame, PushPromiseFrame):
        parts.append(f"→ {frame.promised_stream_id} {_head(frame.headers)}".rstrip())
    elif isinstance(frame, DataFrame):
        parts.append(f"{len(frame.data)} bytes")
    elif isinstance(frame, RstStreamFrame):
        parts.append(enum_name(ErrorCode, frame.error_code))
    elif isinstance(frame, PriorityFrame) and frame.priority is not None:
        parts.append(f"depends on {frame.priority.depends_on}")
    if frame.flags & FrameFlags.END_STREAM and isinstance(frame, (DataFrame, HeadersFrame)):
        parts.append("END_STREAM")
    return " ".join(p for p in parts if p)


def layer_summary(layer: HTTP2) -> str:
    """The frames a segment completed, joined by ", " (``Magic`` for the preface)."""
    parts = ["Magic"] if layer.magic else []
    parts.extend(frame_summary(frame) for frame in layer.frames)
    if layer.pending and not parts:
        parts.append(f"{layer.pending} bytes of a frame continued in a later segment")
    if layer.problem:
        parts.append(f"[{layer.problem}]")
    return ", ".join(parts)
