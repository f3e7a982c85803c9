"""HTTP exchanges shown: their ``--json`` records, and as HTML (heads, body previews, tables).

An exchange is shown the way a browser's network panel shows it: the
request head as it was sent, the response head, and a preview of each body
after its Content-Encoding is undone (the gzip capture shows JSON, not
compressed bytes).  Text bodies are shown as text, the common raster image
types as the image itself, anything else as hex.

:func:`exchange_to_dict` and :func:`message_to_dict` are the documented
``http --json`` records (``HTTPExchange.to_dict()`` hands over to them).

Bodies are attacker-controlled.  Text is escaped like every other string
(:func:`~layerpeek.render.html.esc`); images are embedded only as
``data:`` URIs of PNG, JPEG or GIF inside ``<img>``, where a browser never
runs scripts (SVG, which can carry script, is previewed as text instead).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from layerpeek.render.html import HTML, esc, table_html

if TYPE_CHECKING:
    from layerpeek.http.message import HTTPExchange, HTTPMessage

#: Characters of a text body shown in a preview.
TEXT_PREVIEW = 2000
#: Bytes of a binary body shown as hex.
HEX_PREVIEW = 128
#: Largest image embedded in the page (bigger ones are described, not shown).
IMAGE_MAX = 256 * 1024
_IMAGES = ("image/png", "image/jpeg", "image/gif")
_TEXTUAL = ("text/", "application/json", "application/javascript", "application/xml",
            "image/svg+xml", "application/x-www-form-urlencoded")
_FONT = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px"


# --------------------------------------------------------------------------- JSON


def message_to_dict(message: HTTPMessage) -> dict[str, Any]:
    """Plain data for JSON: everything but the body bytes (their sizes instead)."""
    decoded = message.decoded()
    out: dict[str, Any] = {"kind": message.kind}
    if message.kind == "request":
        out.update(method=message.method, target=message.target)
    else:
        out.update(status=message.status, reason=message.reason)
    out.update(
        version=message.version,
        headers=[list(f) for f in message.headers.fields],
        trailers=[list(f) for f in message.trailers.fields],
        framing=message.framing,
        body_len=len(message.body) + message.missing,
        body_wire_len=message.body_wire_len,
        body_decoded_len=len(decoded.data),
        decode_problem=decoded.problem,
        missing=message.missing,
        complete=message.complete,
        problems=list(message.problems),
        notes=list(message.notes),
        frames=list(message.frames),
        start=message.start_ts_ns / 1e9,
        end=message.end_ts_ns / 1e9,
    )
    return out


def exchange_to_dict(ex: HTTPExchange) -> dict[str, Any]:
    """The documented ``http --json`` record (see ``layerpeek/commands/http.py``)."""
    req, resp = ex.request, ex.response
    dreq = req.decoded() if req is not None else None
    dresp = resp.decoded() if resp is not None else None
    duration = ex.duration_ns
    return {
        "stream": ex.stream,
        "index": ex.index,
        "http_version": ex.http_version or None,
        "http2_stream": ex.http2_stream,
        "pushed_by": ex.pushed_by,
        "client": ex.client,
        "server": ex.server,
        "time": ex.start_ts_ns / 1e9,
        "method": req.method if req is not None else None,
        "host": ex.host or None,
        "target": req.target if req is not None else None,
        "request_version": req.version if req is not None else None,
        "status": resp.status if resp is not None else None,
        "reason": resp.reason if resp is not None else None,
        "response_version": resp.version if resp is not None else None,
        "interim": [m.status for m in ex.interim],
        "request_body_len": len(req.body) + req.missing if req is not None else None,
        "request_body_wire_len": req.body_wire_len if req is not None else None,
        "request_body_decoded_len": len(dreq.data) if dreq is not None else None,
        "response_body_len": len(resp.body) + resp.missing if resp is not None else None,
        "response_body_wire_len": resp.body_wire_len if resp is not None else None,
        "response_body_decoded_len": len(dresp.data) if dresp is not None else None,
        "content_type": resp.content_type or None if resp is not None else None,
        "content_encoding": resp.content_encoding or None if resp is not None else None,
        "transfer_encoding": resp.transfer_encoding or None if resp is not None else None,
        "request_start": req.start_ts_ns / 1e9 if req is not None else None,
        "response_start": resp.start_ts_ns / 1e9 if resp is not None else None,
        "response_end": resp.end_ts_ns / 1e9 if resp is not None else None,
        "duration": round(duration / 1e9, 9) if duration is not None else None,
        "request_frames": list(req.frames) if req is not None else [],
        "response_frames": list(resp.frames) if resp is not None else [],
        "complete": ex.complete,
        "problem": ex.problem,
    }


# --------------------------------------------------------------------------- HTML


def _is_text(content_type: str, body: bytes) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind.startswith(_TEXTUAL) or kind.endswith(("+json", "+xml")):
        return True
    if kind:
        return False
    sample = body[:512]  # no type given: text if it decodes and has no NULs
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in sample


def body_preview(message: HTTPMessage) -> str:
    """The decoded body as text, an image, or hex; with its sizes and any decoding problem."""
    decoded = message.decoded()
    body = decoded.data
    sizes = f"{len(message.body)} bytes on the wire"
    if decoded.codings:
        sizes += f", {len(body)} after undoing {', '.join(decoded.codings)}"
    if message.missing:
        sizes += f", {message.missing} lost in capture gaps"
    notes = [sizes]
    if decoded.problem:
        notes.append(f"decoding stopped: {decoded.problem}")
    head = f'<div style="color:#666">body: {esc("; ".join(notes))}</div>'
    if not body:
        return head
    kind = message.content_type.split(";", 1)[0].strip().lower()
    if kind in _IMAGES and len(body) <= IMAGE_MAX and decoded.complete and not message.missing:
        data = base64.b64encode(body).decode("ascii")
        return (
            f'{head}<img class="lp-body-image" alt="{esc(kind)} body" '
            f'src="data:{kind};base64,{data}" style="max-width:320px;max-height:240px"/>'
        )
    if _is_text(message.content_type, body):
        text = body[:TEXT_PREVIEW * 4].decode("utf-8", errors="replace")
        more = len(text) > TEXT_PREVIEW
        text = text[:TEXT_PREVIEW]
        tail = '<span style="color:#777">… (preview cut)</span>' if more else ""
        return (
            f'{head}<pre class="lp-body" style="{_FONT};white-space:pre-wrap;margin:2px 0;'
            f'max-height:16em;overflow:auto;background:#fafafa;padding:3px">{esc(text, lines=True)}'
            f"{tail}</pre>"
        )
    shown = body[:HEX_PREVIEW]
    cut = " …" if len(body) > len(shown) else ""
    return f'{head}<pre class="lp-body" style="{_FONT};margin:2px 0">{shown.hex(" ")}{cut}</pre>'


def message_html(message: HTTPMessage, title: str) -> str:
    """One message: its start line, headers as sent, frames, problems, body preview."""
    headers = "".join(
        f"<div><b>{esc(name)}</b>: {esc(value)}</div>" for name, value in message.headers
    )
    frames = message.frames
    where = (
        f"frames {frames[0]}–{frames[-1]}" if len(frames) > 1
        else f"frame {frames[0]}" if frames else "no frames"
    )
    problems = "".join(
        f'<div style="color:#c62828">⚠ {esc(p)}</div>' for p in message.problems
    )
    notes = "".join(f'<div style="color:#666">{esc(n)}</div>' for n in message.notes)
    framing = "" if message.framing == "none" else f" · {esc(message.framing)}"
    fill = "#f3f8ff" if message.kind == "request" else "#f6fbf3"
    return (
        f'<div class="lp-http-{message.kind}" style="border:1px solid #b0b7c3;border-radius:6px;'
        f'padding:4px 8px;margin:4px 0;background:{fill}">'
        f'<div style="display:flex;justify-content:space-between;gap:8px">'
        f"<span><b>{esc(title)}</b> {esc(message.start_line())}</span>"
        f'<span style="color:#777;white-space:nowrap">{esc(where)}{framing}'
        f"</span></div>{headers}{problems}{notes}{body_preview(message)}</div>"
    )


def exchange_html(ex: HTTPExchange) -> str:
    """``HTTPExchange._repr_html_``: the request above its response."""
    duration = ex.duration_ns
    facts = [f"HTTP exchange {ex.index} on TCP stream {ex.stream}"]
    if ex.client or ex.server:
        facts.append(f"{ex.client} → {ex.server}")
    if duration is not None:
        facts.append(f"{duration / 1e6:.3f} ms")
    parts = [f"<div><b>{esc(' · '.join(facts))}</b></div>"]
    if ex.problem:
        parts.append(f'<div style="color:#c62828">⚠ {esc(ex.problem)}</div>')
    if ex.request is not None:
        parts.append(message_html(ex.request, "request"))
    for interim in ex.interim:
        parts.append(message_html(interim, "interim response"))
    if ex.response is not None:
        parts.append(message_html(ex.response, "response"))
    return (
        f'<div class="lp-http" data-stream="{ex.stream}" data-index="{ex.index}" '
        f'data-complete="{"true" if ex.complete else "false"}" '
        f'style="{_FONT};line-height:1.35;max-width:960px">{"".join(parts)}</div>'
    )


def exchange_text(ex: HTTPExchange) -> str:
    """One line for terminals: ``stream 0 #1 GET /style.css → 200 OK (155 bytes)``."""
    req = ex.request.start_line() if ex.request is not None else "(request not captured)"
    resp = ex.response
    answer = f"{resp.status} {resp.reason}" if resp is not None else ex.unanswered or "-"
    size = f" ({len(resp.decoded_body)} bytes)" if resp is not None else ""
    problem = f" [{ex.problem}]" if ex.problem else ""
    return f"stream {ex.stream} #{ex.index} {req} → {answer}{size}{problem}"


EXCHANGE_COLUMNS = (
    "Stream", "#", "Client", "Method", "Host", "Target", "Status", "Content type",
    "Body bytes", "Time ms", "Frames", "Problem",
)


def exchanges_table(items: Sequence[HTTPExchange], limit: int = 500) -> HTML:
    """Exchanges as a table, one row each; incomplete ones tinted red."""
    rows: list[tuple[object, ...]] = []
    styles: list[str] = []
    for ex in items[:limit]:
        resp = ex.response
        duration = ex.duration_ns
        frames = [m.first_frame for m in (ex.request, ex.response) if m is not None]
        last = [m.last_frame for m in (ex.request, ex.response) if m is not None]
        rows.append((
            ex.stream, ex.index, ex.client, ex.method, ex.host, ex.target,
            f"{resp.status} {resp.reason}" if resp is not None else "",
            resp.content_type if resp is not None else "",
            len(resp.decoded_body) if resp is not None else "",
            f"{duration / 1e6:.3f}" if duration is not None else "",
            f"{min(frames)}–{max(last)}" if frames else "",
            ex.problem or "",
        ))
        styles.append("" if ex.complete else "background:#fdecea")
    text = "\n".join(exchange_text(ex) for ex in items[:limit])
    return HTML(table_html(EXCHANGE_COLUMNS, rows, len(items), "exchanges", styles), text)


__all__ = [
    "EXCHANGE_COLUMNS",
    "body_preview",
    "exchange_html",
    "exchange_text",
    "exchange_to_dict",
    "exchanges_table",
    "message_html",
    "message_to_dict",
]
