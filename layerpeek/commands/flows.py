"""``layerpeek flows``: one row per TCP or UDP conversation.

Columns: the stream id (tshark's ``tcp.stream`` / ``udp.stream``; TCP and
UDP are numbered separately), protocol, client and server (the SYN sender
is the client; see :mod:`layerpeek.flows.tracker`), packets and payload
bytes each way, duration, the handshake's round-trip time, Zeek's
``conn_state`` and ``history``, and how the conversation ended.

``--json`` writes JSON Lines, one object per conversation, with these keys:

===================== =======================================================
id                    stream number (separate counters for tcp and udp)
proto                 "tcp" or "udp"
client, server        "addr:port" ("[v6]:port" for IPv6)
client_by             how the client was chosen: syn, synack, port, first packet
first_frame,          first and last frame numbers (1-based)
last_frame
start, duration       seconds since the epoch / seconds
packets               total packets; also packets_client, packets_server
bytes_client,         payload bytes each side sent (retransmissions included)
bytes_server
conn_state, history   Zeek's fields (see layerpeek/flows/zeek.py)
handshake             TCP: {complete, client_isn, server_isn, syn_frame,
                      synack_frame, ack_frame, syn_count, rtt_ms,
                      rtt_server_ms, rtt_client_ms, client_options,
                      server_options, window_scaling, sack, timestamps};
                      UDP: null
close                 TCP: {kind (four-way, simultaneous, half-close, rst,
                      refused, open), initiator, client_fin_frame,
                      server_fin_frame, rst_frame, rst_by, half_closed,
                      description}; UDP: null
vlans                 the VLAN ids it travels on, outermost first (part of
                      the conversation's key; [] when untagged)
tunnels               the tunnels it travelled in, as Zeek's tunnel_parents:
                      [{type (vxlan, geneve, gre, gre-in-udp, gtp, teredo,
                      ayiya, mpls, ip-in-ip, udp), src, dst (outer "addr" or
                      "addr:port"), id (VNI, GRE key, PPTP call id, GTP TEID,
                      or null)}], each as first seen
===================== =======================================================

TCP records also carry ``stream_bytes_client/server`` (unique bytes
reassembled), ``missed_bytes_client/server`` (bytes in gaps),
``client_state``/``server_state`` (final RFC 9293 states; ``?`` for a server
that never answered the SYN), ``analysis``
(counts per ``tcp.analysis.*`` flag), ``transitions`` (every state change:
frame, endpoint, from, to, why), ``anomalies``, ``inconsistencies`` (segments
that re-sent bytes differently) and ``history_dropped`` (Zeek history letters
past the 256 kept, normally 0).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from layerpeek.commands import common, problems

if TYPE_CHECKING:
    from layerpeek.flows.pipeline import Conversation

DESCRIPTION = """\
List the TCP and UDP conversations of a capture, one row each:

  ID PROTO CLIENT SERVER PACKETS BYTES DURATION RTT STATE HISTORY END

PACKETS and BYTES are client→server/server→client; BYTES counts TCP or UDP
payload.  RTT is the handshake's SYN → SYN-ACK → ACK time.  STATE and
HISTORY are Zeek's conn_state and history (upper case: client, lower case:
server).  END says how a TCP conversation ended."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "flows",
        help="list TCP and UDP conversations (one row each, or JSON Lines)",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 unreadable or not a capture, 2 usage error, "
        "3 with --strict: a malformed or truncated packet or a damaged file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_file_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per conversation")
    parser.add_argument(
        "--proto", choices=("tcp", "udp"), help="only TCP or only UDP conversations"
    )
    parser.add_argument(
        "--no-defrag", dest="defrag", action="store_false",
        help="do not reassemble fragmented IP datagrams",
    )
    parser.add_argument(
        "-Y", "--display-filter", dest="display_filter", metavar="EXPR",
        help="only conversations with at least one packet matching this Wireshark display "
        "filter, e.g. 'tcp.analysis.retransmission' or 'http.request.method == \"POST\"'",
    )
    problems.add_options(parser, connections=True)
    common.add_keylog_option(
        parser, "the summary on stderr then says which TLS connections could not be decrypted")
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    import json

    from layerpeek.flows.events import ConversationSummary
    from layerpeek.quic.stage import QUICConnection, QUICConversation

    path = common.capture_path(args)
    keep = common.display_filter(getattr(args, "display_filter", None))
    reader = common.open_packets(path)
    try:
        # Reassembly stays on: gaps and retransmitted bytes feed the history
        # letters (g, t) and the missed-byte counts, and a close is complete
        # only when both directions were delivered up to their FIN.
        # Summaries are not kept until the end: each conversation becomes its
        # output (table cells or a JSON line) when the tracker raises its
        # ConversationSummary (120 s after its close, evicted, or at the end);
        # memory holds a compact row per conversation listed, not the
        # conversation objects.
        table = {"keep_conversations": False}
        analysis = common.analysis(args, ["tcp", "udp", "quic"],
                                   settings={"tcp": table, "udp": table,
                                             "quic": {"keep_connections": False}},
                                   flow_info=keep is not None)
        summary = problems.ProblemSummary()
        summary.analysis(analysis)
        matched: set[tuple[str, int]] = set()  # (proto, stream) with a packet -Y selects
        done: list[tuple[tuple[int, str], str | list[str]]] = []
        # A QUIC connection is told on the row of the UDP conversation it began on, the
        # one whose first frame is its first Initial (its summary may come before or after
        # that conversation's).
        udp_rows: dict[int, int] = {}  # first frame of a UDP conversation → its index in done
        quic_early: dict[int, QUICConnection] = {}

        def quic_row(index: int, conn: QUICConnection) -> None:
            key, cells = done[index]
            if isinstance(cells, str):
                record = json.loads(cells)
                record["quic"] = conn.to_dict()  # proto stays "udp": the transport
                done[index] = (key, json.dumps(record, separators=(",", ":")))
            else:
                rtt = conn.handshake_rtt_ns
                cells[1] = "quic"
                cells[7] = "-" if rtt is None else f"{rtt / 1e6:.3f}ms"
                cells[10] = f"{conn.state} ({conn.close})" if conn.close else conn.state

        def take(events: list[object]) -> None:
            summary.events(events)
            for event in events:
                if isinstance(event, QUICConversation):
                    conn = event.connection
                    if conn.first_frame in udp_rows:
                        quic_row(udp_rows.pop(conn.first_frame), conn)
                    else:
                        quic_early[conn.first_frame] = conn
                    continue
                if not isinstance(event, ConversationSummary):
                    continue
                conv = event.summary
                if args.proto not in (None, conv.proto):
                    continue
                if keep is not None and (conv.proto, conv.id) not in matched:
                    continue
                key = (conv.first_frame, conv.proto)
                if args.json:
                    done.append((key, json.dumps(conv.to_dict(), separators=(",", ":"))))
                else:
                    done.append((key, row(conv)))
                if conv.proto == "udp":
                    early = quic_early.pop(conv.first_frame, None)
                    if early is not None:
                        quic_row(len(done) - 1, early)
                    else:  # an int pair beside the row already kept
                        udp_rows[conv.first_frame] = len(done) - 1

        for packet in summary.watch(common.iter_packets(reader, path)):
            step = analysis.feed(packet)
            info = step.flow
            if keep is not None and info is not None and info.stream >= 0 and keep(
                    step.packet, info):
                matched.add((info.proto, info.stream))
            if step.events:
                take(step.events)
        take(analysis.finish())
        done.sort(key=lambda item: item[0])
        out = common.prepare_stdout()
        if args.json:
            for _, line in done:
                out.write(f"{line}\n")
        else:
            cells = [row_ for _, row_ in done if isinstance(row_, list)]
            out.write(common.align([HEADER, *cells], RIGHT))
        common.print_problems(reader, path)
        summary.reader(reader)
        summary.report()
    finally:
        reader.close()
    return summary.exit_code(args.strict)


def _end(conv: Conversation) -> str:
    if conv.proto != "tcp":
        return ""
    close = conv.close  # type: ignore[union-attr]
    kind = close.kind
    if kind == "rst":
        return f"RST by {close.rst_by}"
    if kind == "refused":
        return "refused"
    if kind in ("four-way", "half-close") and close.initiator:
        return f"{kind} ({close.initiator})"
    if kind == "open" and close.fins:
        return f"open ({close.initiator} FIN)"
    return kind


def _rtt(conv: Conversation) -> str:
    if conv.proto != "tcp":
        return "-"
    rtt = conv.handshake.rtt_ns  # type: ignore[union-attr]
    return "-" if rtt is None else f"{rtt / 1e6:.3f}ms"


HEADER = ["ID", "PROTO", "CLIENT", "SERVER", "PACKETS", "BYTES", "DURATION", "RTT",
          "STATE", "HISTORY", "END"]


def row(c: Conversation) -> list[str]:
    """One conversation's cells in the table."""
    return [
        str(c.id),
        c.proto,
        str(c.client),
        str(c.server),
        f"{c.packets_client}/{c.packets_server}",
        f"{c.bytes_client}/{c.bytes_server}",
        f"{c.duration_ns / 1e9:.6f}",
        _rtt(c),
        c.conn_state,
        c.history or "-",
        _end(c),
    ]


def rows(convs: list[Conversation]) -> list[list[str]]:
    """The table's cells, header first (exposed for tests)."""
    return [HEADER, *(row(c) for c in convs)]


#: Numeric columns, right-aligned.
RIGHT = {0, 4, 5, 6, 7}


def table(convs: list[Conversation]) -> str:
    """Aligned text table (numbers right-aligned), one line per conversation."""
    return common.align(rows(convs), RIGHT)
