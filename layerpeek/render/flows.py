"""The flow records shown: ``flows --json``, the close in words, dump's flow notes.

The flow stages keep plain records (:mod:`layerpeek.flows.records`,
:class:`~layerpeek.flows.udp.UDPConversation`,
:class:`~layerpeek.flows.defrag.FragmentInfo`,
:class:`~layerpeek.flows.analysis.Verdict`); what a person or a JSON reader
sees of them is written here, once.  Their ``to_dict()``, ``describe()``,
``options_text()``, ``labels()`` and ``tree_lines()`` hand over to these
functions, and dump's one-line suffix (:func:`layerpeek.render.text.flow_suffix`)
is built from :func:`flow_labels`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerpeek.flows.analysis import FLAG_ORDER, LABELS, Flag

if TYPE_CHECKING:
    from layerpeek.flows.analysis import Verdict
    from layerpeek.flows.defrag import FragmentInfo
    from layerpeek.flows.key import Tunnel
    from layerpeek.flows.records import (
        Handshake,
        PacketFlowInfo,
        SynOptions,
        TCPConversation,
        Teardown,
    )
    from layerpeek.flows.udp import UDPConversation

# --------------------------------------------------------------------------- conversations


def syn_options_to_dict(options: SynOptions) -> dict[str, Any]:
    """What one side's SYN announced, for ``flows --json``."""
    return {
        "mss": options.mss,
        "window_scale": options.window_scale,
        "sack_permitted": options.sack_permitted,
        "timestamps": options.timestamps,
    }


def handshake_options(hs: Handshake) -> list[str]:
    """What the two SYNs agreed, for listings: ``["MSS 1460/1460", "SACK", ...]``.

    Empty when either SYN was not captured (nothing was negotiated that we saw).
    """
    c, s = hs.client_options, hs.server_options
    if c is None or s is None:
        return []
    parts = [f"MSS {c.mss or '-'}/{s.mss or '-'}"]
    if hs.window_scaling:
        parts.append(f"window scale {c.window_scale}/{s.window_scale}")
    if hs.sack:
        parts.append("SACK")
    if hs.timestamps:
        parts.append("timestamps")
    return parts


def handshake_to_dict(hs: Handshake) -> dict[str, Any]:
    """The handshake of a ``flows --json`` record."""
    return {
        "complete": hs.complete,
        "client_isn": hs.client_isn,
        "server_isn": hs.server_isn,
        "syn_frame": hs.syn_frame,
        "synack_frame": hs.synack_frame,
        "ack_frame": hs.ack_frame,
        "syn_count": hs.syn_count,
        "rtt_ms": _ms(hs.rtt_ns),
        "rtt_server_ms": _ms(hs.rtt_server_ns),
        "rtt_client_ms": _ms(hs.rtt_client_ns),
        "client_options": _options(hs.client_options),
        "server_options": _options(hs.server_options),
        "window_scaling": hs.window_scaling,
        "sack": hs.sack,
        "timestamps": hs.timestamps,
    }


def teardown_text(close: Teardown) -> str:
    """One sentence for the ``flows`` table and the ladder diagram."""
    k = close.kind
    if k == "refused":
        return f"refused: the {close.rst_by} answered the SYN with RST (frame {close.rst_frame})"
    if k == "rst":
        half = " after a half-close" if close.half_closed else ""
        return f"aborted{half}: {close.rst_by} sent RST (frame {close.rst_frame})"
    if k == "evicted":
        return "evicted from the full connection table while still open"
    if k == "open":
        if close.fins:
            return f"still open at end of capture ({close.initiator} sent FIN)"
        return "still open at end of capture"
    other = "server" if close.initiator == "client" else "client"
    if k == "simultaneous":
        return "simultaneous close: both sides sent FIN before receiving the other's"
    if k == "half-close":
        return (
            f"half-close: the {close.initiator} sent FIN, the {other} kept sending, "
            f"then closed"
        )
    return f"four-way close begun by the {close.initiator}"


def teardown_to_dict(close: Teardown) -> dict[str, Any]:
    """The close of a ``flows --json`` record, with its sentence."""
    return {
        "kind": close.kind,
        "initiator": close.initiator,
        "client_fin_frame": close.client_fin_frame,
        "server_fin_frame": close.server_fin_frame,
        "rst_frame": close.rst_frame,
        "rst_by": close.rst_by,
        "half_closed": close.half_closed,
        "description": teardown_text(close),
    }


def conversation_to_dict(conv: TCPConversation) -> dict[str, Any]:
    """The documented ``flows --json`` record (see ``layerpeek/commands/flows.py``)."""
    return {
        "id": conv.id,
        "proto": "tcp",
        "client": str(conv.client),
        "server": str(conv.server),
        "client_by": conv.client_by,
        "first_frame": conv.first_frame,
        "last_frame": conv.last_frame,
        "start": conv.first_ts_ns / 1e9,
        "duration": round(conv.duration_ns / 1e9, 9),
        "packets": conv.packets,
        "packets_client": conv.packets_client,
        "packets_server": conv.packets_server,
        "bytes_client": conv.bytes_client,
        "bytes_server": conv.bytes_server,
        "stream_bytes_client": conv.stream_bytes_client,
        "stream_bytes_server": conv.stream_bytes_server,
        "missed_bytes_client": conv.missed_bytes_client,
        "missed_bytes_server": conv.missed_bytes_server,
        "conn_state": conv.conn_state,
        "history": conv.history,
        "history_dropped": conv.zeek.history_dropped,
        "client_state": conv.client_state.value,
        "server_state": conv.server_state.value,
        "handshake": handshake_to_dict(conv.handshake),
        "close": teardown_to_dict(conv.close),
        "analysis": dict(sorted(conv.analysis.items())),
        "transitions": [
            {
                "frame": t.frame,
                "endpoint": t.endpoint,
                "from": t.old.value,
                "to": t.new.value,
                "why": t.why,
            }
            for t in conv.transitions
        ],
        "anomalies": conv.anomaly_count,
        "inconsistencies": conv.inconsistencies,
        **encapsulation_dict(conv.vlans, conv.tunnels),
    }


def _options(options: SynOptions | None) -> dict[str, Any] | None:
    return None if options is None else syn_options_to_dict(options)


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 6)


def udp_conversation_to_dict(conv: UDPConversation) -> dict[str, Any]:
    """A UDP conversation's ``flows --json`` record (no handshake, no close)."""
    return {
        "id": conv.id,
        "proto": "udp",
        "client": str(conv.client),
        "server": str(conv.server),
        "client_by": "first packet",
        "first_frame": conv.first_frame,
        "last_frame": conv.last_frame,
        "start": conv.first_ts_ns / 1e9,
        "duration": round(conv.duration_ns / 1e9, 9),
        "packets": conv.packets,
        "packets_client": conv.packets_client,
        "packets_server": conv.packets_server,
        "bytes_client": conv.bytes_client,
        "bytes_server": conv.bytes_server,
        "conn_state": conv.conn_state,
        "history": conv.history,
        "handshake": None,
        "close": None,
        **encapsulation_dict(conv.vlans, conv.tunnels),
    }


def encapsulation_dict(vlans: tuple[int, ...], tunnels: list[Tunnel]) -> dict[str, object]:
    """The ``flows --json`` keys that say what a conversation travelled in."""
    return {"vlans": list(vlans), "tunnels": [tunnel_to_dict(t) for t in tunnels]}


def tunnel_to_dict(tunnel: Tunnel) -> dict[str, object]:
    """One tunnel of a conversation's ``tunnels`` in ``flows --json``."""
    return {"type": tunnel.kind, "src": tunnel.src, "dst": tunnel.dst, "id": tunnel.id}


# --------------------------------------------------------------------------- one packet


def verdict_labels(verdict: Verdict) -> list[str]:
    """Wireshark-style Info labels, e.g. ``["TCP Dup ACK 4#2"]``."""
    out: list[str] = []
    for flag in FLAG_ORDER:
        if verdict.flags & flag:
            label = LABELS[flag]
            if flag is Flag.DUPLICATE_ACK:
                label = f"{label} {verdict.dupack_frame}#{verdict.dupack_num}"
            out.append(label)
    return out


def flow_labels(flow: PacketFlowInfo) -> list[str]:
    """The bracketed notes after the stream: Wireshark's analysis labels
    (``[TCP Dup ACK 17#2]``), then the IP defragmentation note."""
    parts: list[str] = []
    if flow.analysis is not None and flow.analysis.flags:
        parts.extend(f"[{label}]" for label in verdict_labels(flow.analysis))
    if flow.conflict_with is not None:
        parts.append(f"[TCP retransmission with different data than #{flow.conflict_with}]")
    if flow.defrag is not None:
        parts.append(f"[{fragment_summary(flow.defrag)}]")
    return parts


def flow_tree_lines(flow: PacketFlowInfo) -> list[str]:
    """Indented detail lines for ``dump -V`` (after the TCP/UDP layer)."""
    lines: list[str] = []
    if flow.proto == "tcp":
        lines.append(f"Stream index: {flow.stream} ({flow.direction} → peer)")
        lines.append(
            f"Relative seq: {flow.seq}  next: {flow.next_seq}  "
            f"ack: {'-' if flow.ack is None else flow.ack}  len: {flow.seglen}"
        )
        if flow.client_state is not None and flow.server_state is not None:
            lines.append(
                f"State after: client {flow.client_state.value}, "
                f"server {flow.server_state.value}"
            )
        if flow.analysis is not None:
            for name, reason in flow.analysis.reasons():
                lines.append(f"{name}: {reason}")
        if flow.conflict_with is not None:
            lines.append(f"Conflicting retransmission: bytes differ from #{flow.conflict_with}"
                         " (the first copy is the stream's)")
    elif flow.proto == "udp":
        lines.append(f"Stream index: {flow.stream} ({flow.direction} → peer)")
    if flow.defrag is not None:
        lines.extend(fragment_tree_lines(flow.defrag))
    return lines


def flow_to_dict(flow: PacketFlowInfo) -> dict[str, Any]:
    """JSON form: a ``"flow"`` object beside the packet's layers."""
    out: dict[str, Any] = {"proto": flow.proto}
    if flow.proto in ("tcp", "udp"):
        out["stream"] = flow.stream
        out["direction"] = flow.direction
    if flow.proto == "tcp":
        out.update(
            seq=flow.seq,
            ack=flow.ack,
            next_seq=flow.next_seq,
            len=flow.seglen,
            client_state=None if flow.client_state is None else flow.client_state.value,
            server_state=None if flow.server_state is None else flow.server_state.value,
        )
        a = flow.analysis
        flags = [] if a is None else [name for name, _ in a.reasons()]
        out["analysis"] = flags
        if a is not None and a.flags & Flag.DUPLICATE_ACK:
            out["duplicate_ack_num"] = a.dupack_num
            out["duplicate_ack_frame"] = a.dupack_frame
        if flow.conflict_with is not None:
            out["conflict_with"] = flow.conflict_with
        out["window_shift"] = flow.window_shift
    if flow.defrag is not None:
        out["defrag"] = fragment_to_dict(flow.defrag)
    return out


def window_text(flow: PacketFlowInfo, raw: int, syn: bool = False) -> str:
    """The window as ``dump -V`` explains it: in bytes, with the field as sent and why."""
    shift = flow.window_shift
    if shift is None:
        return f"Window: {raw} (scale unknown: the handshake was not captured; as sent)"
    if shift == 0:
        why = "a SYN's window never is" if syn else "the handshake agreed on no scaling"
        return f"Window: {raw} (not scaled: {why})"
    return f"Window: {raw << shift} (raw {raw} × {1 << shift}, scale from the handshake)"


def fragment_summary(info: FragmentInfo) -> str:
    """``IPv4 fragment id=0x1c46 off=1480 len=1480 MF``, or the reassembled datagram."""
    v = f"IPv{info.version}"
    if info.complete:
        frames = ",".join(f"#{f}" for f in info.frames)
        return (
            f"{v} datagram id=0x{info.datagram_id:x} reassembled: {info.total_len} bytes "
            f"from {frames}"
        )
    text = (
        f"{v} fragment id=0x{info.datagram_id:x} off={info.offset} len={info.length}"
        f"{' MF' if info.more else ''}"
    )
    if info.first_frame:
        text += f" (datagram from #{info.first_frame})"
    if info.problems:
        text += " " + "; ".join(info.problems)
    return text


def fragment_tree_lines(info: FragmentInfo) -> list[str]:
    """The defragmentation lines of ``dump -V``: the summary, a datagram's problems."""
    lines = [fragment_summary(info)]
    if info.complete:  # a fragment's own problems are already in its summary
        lines.extend(f"problem: {p}" for p in info.problems)
    return lines


def fragment_to_dict(info: FragmentInfo) -> dict[str, Any]:
    """The ``defrag`` object of a packet's ``flow`` in ``dump --json``."""
    return {
        "version": info.version,
        "datagram_id": info.datagram_id,
        "first_frame": info.first_frame,
        "offset": info.offset,
        "length": info.length,
        "more": info.more,
        "complete": info.complete,
        "frames": list(info.frames),
        "total_len": info.total_len,
        "problems": list(info.problems),
    }


__all__ = [
    "conversation_to_dict",
    "encapsulation_dict",
    "flow_labels",
    "flow_to_dict",
    "flow_tree_lines",
    "fragment_summary",
    "fragment_to_dict",
    "fragment_tree_lines",
    "handshake_options",
    "handshake_to_dict",
    "syn_options_to_dict",
    "teardown_text",
    "teardown_to_dict",
    "tunnel_to_dict",
    "udp_conversation_to_dict",
    "verdict_labels",
    "window_text",
]
