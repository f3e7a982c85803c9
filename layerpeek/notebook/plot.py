"""The time-sequence graph of a TCP connection (Stevens' "tcptrace" plot), in matplotlib.

Each data segment is a short vertical bar at the time it was captured,
spanning the relative sequence numbers it carries; a smooth transfer is a
staircase climbing to the right.  The other side's acknowledgements are a
step line underneath: the gap between the bars and that line is the data in
flight.  Segments the flow tracker's analysis flagged are marked, with
Wireshark's names, so loss and reordering stand out:

* retransmissions (plain, fast and spurious) in red, with a cross;
* out-of-order segments in orange, with a diamond;
* "previous segment not captured" (a hole before the segment) with a purple
  triangle where the hole ends.

Why the numbers come from :class:`~layerpeek.notebook.ladder.LadderSegment`
and not from the raw TCP header: the relative numbers already have the ISN
removed and the 32-bit wrap unwound by the tracker, and the flags are the
ones ``dump`` and the tshark comparison tests use.
"""

from __future__ import annotations

import importlib
from typing import Any

from layerpeek.flows.analysis import Flag
from layerpeek.flows.tracker import TCPConversation

_RETRANSMITTED = Flag.RETRANSMISSION | Flag.FAST_RETRANSMISSION | Flag.SPURIOUS_RETRANSMISSION


def _pyplot() -> Any:
    try:
        return importlib.import_module("matplotlib.pyplot")
    except ImportError as e:
        raise ImportError(
            "the time-sequence graph needs matplotlib: pip install 'layerpeek[notebook]'"
        ) from e


def busiest_direction(conv: TCPConversation) -> str:
    """The side that sent more payload: the one whose sequence graph is worth drawing."""
    return "client" if conv.bytes_client >= conv.bytes_server else "server"


def time_sequence(
    conv: TCPConversation,
    direction: str | None = None,
    *,
    ax: Any = None,
    acks: bool = True,
) -> Any:
    """Draw the time-sequence graph of one direction of ``conv``; return the Axes.

    ``conv`` must be recorded (from :func:`layerpeek.notebook.conversations`),
    since the graph needs every segment.  ``direction`` is ``"client"`` or
    ``"server"`` (the sender whose bytes are drawn; default: the one that sent
    more).  Pass ``ax`` to draw into an existing Axes.
    """
    segments = getattr(conv, "segments", None)
    if segments is None:
        raise ValueError(
            "this conversation has no recorded segments: get it from "
            "layerpeek.notebook.conversations(path)"
        )
    side = direction if direction is not None else busiest_direction(conv)
    if side not in ("client", "server"):
        raise ValueError(f"direction must be 'client' or 'server', not {side!r}")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    t0 = segments[0].ts_ns if segments else conv.first_ts_ns
    normal_x: list[float] = []
    normal_y0: list[int] = []
    normal_y1: list[int] = []
    marks: dict[str, tuple[list[float], list[int]]] = {
        "retransmission": ([], []),
        "out-of-order": ([], []),
        "previous segment not captured": ([], []),
    }
    ack_x: list[float] = []
    ack_y: list[int] = []
    for seg in segments:
        t = (seg.ts_ns - t0) / 1e9
        if seg.direction == side:
            if seg.seq is None or (seg.seglen == 0 and not seg.flags & 0x03):
                continue
            top = seg.seq + max(seg.seglen, 1)
            flags = seg.analysis
            if flags & _RETRANSMITTED:
                marks["retransmission"][0].append(t)
                marks["retransmission"][1].append(top)
            elif flags & Flag.OUT_OF_ORDER:
                marks["out-of-order"][0].append(t)
                marks["out-of-order"][1].append(top)
            if flags & Flag.LOST_SEGMENT:
                marks["previous segment not captured"][0].append(t)
                marks["previous segment not captured"][1].append(seg.seq)
            normal_x.append(t)
            normal_y0.append(seg.seq)
            normal_y1.append(top)
        elif acks and seg.ack is not None:
            ack_x.append(t)
            ack_y.append(seg.ack)
    ax.vlines(normal_x, normal_y0, normal_y1, colors="#1565c0", linewidth=1.6,
              label=f"{side} data segments")
    if ack_x:
        other = "server" if side == "client" else "client"
        ax.step(ack_x, ack_y, where="post", color="#757575", linewidth=1,
                label=f"{other} acknowledgements")
    styles = {
        "retransmission": ("x", "#c62828"),
        "out-of-order": ("D", "#ef6c00"),
        "previous segment not captured": ("v", "#6a1b9a"),
    }
    for name, (xs, ys) in marks.items():
        if xs:
            marker, colour = styles[name]
            ax.scatter(xs, ys, marker=marker, color=colour, s=36, zorder=3,
                       label=f"{name} ({len(xs)})")
    ax.set_xlabel("time since the first packet (s)")
    ax.set_ylabel("relative sequence number (bytes)")
    ax.set_title(f"TCP stream {conv.id}: {side} {getattr(conv, side)} sending")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return ax


__all__ = ["busiest_direction", "time_sequence"]
