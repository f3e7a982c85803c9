"""``layerpeek handshake``: a TCP conversation as a ladder diagram, from real packets.

The explainer's figure of the three-way handshake and the four-way
teardown, drawn from a capture: the client on the left, the server on the
right, one arrow per segment with its flags, relative seq/ack and length,
and each side's RFC 9293 state printed under its column whenever it
changes::

    frame  time       client 10.0.0.1:40000                  server 10.0.0.2:3040
                      CLOSED                                               LISTEN
        1  0.000000   |---- SYN seq=0 len=0 -------------------------------->| handshake 1/3
                      SYN_SENT                                             LISTEN

A side that passes through two states in one packet shows both
(``CLOSE_WAIT > LAST_ACK``: it acknowledged the FIN and sent its own).

Handshake packets and the FINs/RSTs of the teardown are labelled at the
right; Wireshark's analysis labels (``[TCP Retransmission]`` …) follow.

A TLS conversation has the TLS messages each segment completed drawn on a
second arrow under its own (``|==== TLS ClientHello SNI=example.test ===>|``),
so the TLS handshake shows after the TCP one; with ``--keylog`` TLS 1.3's
encrypted handshake messages are named too.  Its header line says what the
handshake settled (version, cipher suite, SNI, ALPN, round trips).
Without STREAM every TCP stream of the capture is drawn, one after another,
each as soon as it is over (two minutes of capture time after its close, or
at the end of the capture): in stream order for a short capture, in the
order they ended for a long one, so memory stays bounded however many
connections the capture holds.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from layerpeek.commands import common, problems

if TYPE_CHECKING:
    from layerpeek.flows.tracker import PacketFlowInfo, TCPConversation
    from layerpeek.tls.summary import TLSSummary

DESCRIPTION = """\
Draw TCP conversations as ladder diagrams: client on the left, server on the
right, one arrow per segment (flags, relative seq/ack, length), and each
side's TCP state as it changes.  STREAM is the id from `layerpeek flows`;
without it every TCP stream is drawn.  Times are seconds since the first
packet of the capture, as in `dump`.

States are read at the capture point: a segment on the wire is taken to
reach its destination, one direction's segments to arrive in the order
captured, and a state change is shown at the first frame that proves it.
So two FINs that cross (neither acknowledges the other) take both sides
through CLOSING (RFC 9293 §3.6).  A state the capture has not shown is `?`
in `dump`; here the ladder starts from what it turned out to be: the server
was LISTEN if it answered the SYN, CLOSED throughout if it refused it (RST),
and a conversation the capture joined late starts "joined mid-stream"."""

#: The label of the time column's origin.
TIME_ORIGIN = "time: seconds since the first packet of the capture"

#: Width of the arrow between the two columns.
ARROW = 56


def _stream_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a stream number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"stream numbers start at 0, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "handshake",
        help="draw a TCP conversation as a ladder diagram with each side's state",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 unreadable or not a capture, 2 usage error "
        "(including a stream the capture does not have), 3 with --strict: a malformed or "
        "truncated packet or a damaged file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_file_options(parser)
    parser.add_argument(
        "stream", metavar="STREAM", type=_stream_id, nargs="?", help="stream number (default: all)"
    )
    parser.add_argument(
        "--no-defrag", dest="defrag", action="store_false",
        help="do not reassemble fragmented IP datagrams",
    )
    common.add_keylog_option(
        parser, "TLS 1.3's encrypted handshake messages are named on the arrows")
    parser.add_argument(
        "-Y", "--display-filter", dest="display_filter", metavar="EXPR",
        help="draw only the segments matching this Wireshark display filter, e.g. "
        "'tcp.flags.syn == 1 || tcp.flags.fin == 1' (a conversation none of whose segments "
        "match is not drawn; states still follow every segment)",
    )
    problems.add_options(parser, connections=True)
    parser.set_defaults(func=run, parser=parser)


@dataclass(slots=True)
class _Row:
    frame: int
    ts_ns: int
    from_client: bool
    label: str
    notes: str
    client_states: list[str]  #: states the client went through in this packet
    server_states: list[str]
    tls: list[str] = field(default_factory=list)  #: TLS messages this segment completed
    shown: bool = True  #: False: -Y hides it (its state changes still count)


def run(args: argparse.Namespace) -> int:
    from layerpeek.flows.events import ConversationSummary, StateChanged
    from layerpeek.flows.key import innermost_transport
    from layerpeek.flows.tracker import TCPConversation, TCPTracker
    from layerpeek.layers.tcp import TCP
    from layerpeek.tls.summary import TLSSummaries, message_labels

    path = common.capture_path(args, "stream")
    wanted: int | None = args.stream
    keep = common.display_filter(args.display_filter)
    reader = common.open_packets(path)
    try:
        # A ladder is drawn as soon as its conversation's summary is final
        # (ConversationSummary: two minutes of capture time after its close,
        # evicted, or at the end), and its rows dropped: memory holds the rows
        # of the conversations still tracked, at most --max-connections.
        analysis = common.analysis(args, ["tcp", "tls"], settings={
            "tcp": {"keep_conversations": False}, "tls": {"keep_connections": False}})
        tracker = analysis.get(TCPTracker)
        assert tracker is not None
        summary = problems.ProblemSummary()
        summary.analysis(analysis)
        rows: dict[int, list[_Row]] = {}
        tls = TLSSummaries()
        drawn = 0
        out: TextIO | None = None

        def draw(events: list[object]) -> None:
            nonlocal drawn, out
            for e in events:
                if not isinstance(e, ConversationSummary):
                    continue
                conv = e.summary
                if not isinstance(conv, TCPConversation):
                    continue
                its = rows.pop(conv.id, None)
                told = tls.pop(conv.id)
                if its is None or not any(row.shown for row in its):
                    continue
                if out is None:
                    out = common.prepare_stdout()
                if drawn:
                    out.write("\n")
                drawn += 1
                ladder(conv, its, out, told, t0=first_ts)

        first_ts: int | None = None  # the capture's first packet: the time origin
        for packet in summary.watch(common.iter_packets(reader, path)):
            if first_ts is None:
                first_ts = packet.ts_ns
            step = analysis.feed(packet)
            info = step.flow
            if info is not None and info.proto == "tcp" and wanted in (None, info.stream):
                found = innermost_transport(step.packet, TCP)
                assert found is not None  # the tracker found this segment there
                tcp = step.packet.layers[found[0]]
                assert isinstance(tcp, TCP)
                row = _row(step.packet.index, step.packet.ts_ns, tcp.flags, info)
                if keep is not None:
                    row.shown = keep(step.packet, info)
                for e in step.events:
                    if isinstance(e, StateChanged) and e.conversation == info.stream:
                        side = row.client_states if e.endpoint == "client" else row.server_states
                        side.append(e.new.value)
                row.tls = message_labels(step.events, info.stream)
                rows.setdefault(info.stream, []).append(row)
            for e in step.events:
                tls.feed(e)
            if step.events:
                draw(step.events)
        draw(analysis.finish())
        count = tracker.conversation_count
        if wanted is not None and wanted >= count:
            have = f"it has streams 0-{count - 1}" if count else "it has no TCP streams"
            raise common.CommandError(
                f"{common.display_name(path)}: no TCP stream {wanted} ({have})", common.EXIT_USAGE
            )
        if out is None:
            out = common.prepare_stdout()
        if not drawn:
            common.nothing_found(path, "TCP conversations", keep is not None)
        common.print_problems(reader, path)
        summary.reader(reader)
        summary.report()
    finally:
        reader.close()
    return summary.exit_code(args.strict)


def _row(frame: int, ts: int, flags: int, info: PacketFlowInfo) -> _Row:
    from layerpeek.layers.tcp import flag_names  # here, not at import: `--help` needs no decoder

    parts = [f"{flag_names(flags & 0xFF)} seq={info.seq}"]
    if info.ack is not None:
        parts.append(f"ack={info.ack}")
    parts.append(f"len={info.seglen}")
    notes = "" if info.analysis is None else " ".join(f"[{x}]" for x in info.analysis.labels())
    return _Row(frame, ts, info.direction == "client", " ".join(parts), notes, [], [])


def _arrow(label: str, to_right: bool, line: str = "-") -> str:
    body = f" {label} "
    fill = max(ARROW - len(body) - 6, 2)
    if to_right:
        return f"|{line * 4}{body}{line * fill}>|"
    return f"|<{line * fill}{body}{line * 4}|"


def _tls_arrows(labels: list[str], to_right: bool) -> list[str]:
    """The TLS messages on arrows of ``=`` under the segment's, as many as they need.

    A label carries capture text (a server name, a certificate's subject): it
    is made terminal-safe first (:func:`layerpeek.termsafe.terminal_safe`).
    """
    from layerpeek.termsafe import terminal_safe

    room = ARROW - 10 - len("TLS ")
    lines: list[str] = []
    current = ""
    for label in map(terminal_safe, labels):
        if len(label) > room:
            label = label[: room - 1] + "…"
        if current and len(current) + 2 + len(label) > room:
            lines.append(current)
            current = label
        else:
            current = f"{current}, {label}" if current else label
    if current:
        lines.append(current)
    return [_arrow(f"TLS {text}", to_right, "=") for text in lines]


#: Columns before the arrow: "frame  time       ".
_MARGIN = 18


def _columns(left: str, right: str) -> str:
    """``left`` under the client's end of the arrows, ``right`` ending under the server's."""
    width = ARROW + 1
    gap = max(width - len(left) - len(right), 1)
    return f"{'':<{_MARGIN}}{left}{' ' * gap}{right}"


def _phase(conv: TCPConversation, row: _Row) -> str:
    from layerpeek.flows.events import CLOSE_LABELS

    hs = conv.handshake
    close = conv.close
    marks = {
        hs.syn_frame: "handshake 1/3",
        hs.synack_frame: "handshake 2/3",
        hs.ack_frame: "handshake 3/3",
        close.client_fin_frame: "teardown: client FIN",
        close.server_fin_frame: "teardown: server FIN",
        close.rst_frame: f"{CLOSE_LABELS.get(close.kind, CLOSE_LABELS['rst'])} "
                         f"by the {close.rst_by}",
    }
    marks.pop(None, None)
    return marks.get(row.frame, "")


def ladder(conv: TCPConversation, rows: list[_Row], out: TextIO,
           tls: TLSSummary | None = None, t0: int | None = None) -> None:
    """Write one conversation's ladder diagram (with its TLS account, if it is TLS).

    ``t0`` is the time origin: the capture's first packet (``dump``'s), or
    else the conversation's first row."""
    from layerpeek.flows.records import initial_states

    hs = conv.handshake
    out.write(f"TCP stream {conv.id}: client {conv.client}, server {conv.server}\n")
    if hs.syn_frame is not None or hs.synack_frame is not None:
        out.write(f"  {_handshake_text(conv)}\n")
    if tls is not None:
        from layerpeek.termsafe import terminal_safe
        from layerpeek.tls.summary import settled_text

        out.write(f"  TLS: {terminal_safe(settled_text(tls))}\n")
    out.write(f"  end: {conv.close.describe()}; Zeek {conv.conn_state} {conv.history}\n")
    if t0 is None:
        t0 = rows[0].ts_ns if rows else 0
        out.write("  time: seconds since the conversation's first packet\n\n")
    else:
        out.write(f"  {TIME_ORIGIN}\n\n")
    head = _columns(f"client {conv.client}", f"server {conv.server}")
    out.write(f"{'frame':>5}  {'time':<9}  {head[_MARGIN:]}\n")
    client, server = initial_states(conv)
    out.write(_columns(client, server) + "\n")
    printed = (client, server)
    for row in rows:
        if not row.shown:  # -Y hid it: its state changes are shown with the next row
            client = row.client_states[-1] if row.client_states else client
            server = row.server_states[-1] if row.server_states else server
            continue
        mark = _phase(conv, row)
        notes = " ".join(x for x in (mark, row.notes) if x)
        when = (row.ts_ns - t0) / 1e9
        line = f"{row.frame:>5}  {when:<9.6f}  {_arrow(row.label, row.from_client)}"
        out.write(f"{line} {notes}".rstrip() + "\n")
        for arrow in _tls_arrows(row.tls, row.from_client):
            out.write(f"{'':<{_MARGIN}}{arrow}\n")
        if row.client_states or row.server_states or printed != (client, server):
            # Every state a side went through in this packet, e.g. CLOSE_WAIT > LAST_ACK.
            client = " > ".join(row.client_states) if row.client_states else client
            server = " > ".join(row.server_states) if row.server_states else server
            out.write(_columns(client, server) + "\n")
            client = row.client_states[-1] if row.client_states else client
            server = row.server_states[-1] if row.server_states else server
            printed = (client, server)


def _handshake_text(conv: TCPConversation) -> str:
    hs = conv.handshake
    parts = []
    total, server_leg, client_leg = hs.rtt_ns, hs.rtt_server_ns, hs.rtt_client_ns
    if total is not None and server_leg is not None and client_leg is not None:
        parts.append(
            f"RTT {total / 1e6:.3f} ms (SYN→SYN-ACK {server_leg / 1e6:.3f} ms, "
            f"SYN-ACK→ACK {client_leg / 1e6:.3f} ms)"
        )
    elif not hs.complete:
        parts.append("handshake not fully captured")
    parts.extend(hs.options_text())
    if hs.client_isn is not None or hs.server_isn is not None:
        parts.append(f"ISN client {hs.client_isn} server {hs.server_isn}")
    return "; ".join(parts)

