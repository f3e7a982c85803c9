"""``layerpeek dns``: one row per DNS query, with its answer, rcode and response time.

Queries are paired with responses by DNS id within their UDP or TCP
conversation (see :mod:`layerpeek.dnstx`), the way Wireshark fills in
``dns.response_to`` and ``dns.time``; DNS over TCP is framed from the
reassembled stream, so a message spanning segments is whole.

``--json`` writes JSON Lines, one object per transaction, with these keys:

=========================== ====================================================
transport                   "udp" or "tcp"
stream                      udp.stream / tcp.stream of the conversation
client, server              "addr:port" ("[v6]:port"); for a query sent to a
                            multicast group (mDNS, LLMNR) the server is the group
dns_id                      the DNS header id (integer)
opcode                      "QUERY", "NOTIFY", "UPDATE" …
name, type                  the first question (type as text: "A", "AAAA" …)
questions                   every question: [{name, type, class}]
status                      "answered", "unanswered", or "unsolicited" (a response
                            whose query was not captured)
query_frame, query_ts       the first copy of the query: frame number (1-based)
                            and time (seconds since the epoch); null if unsolicited
response_frame, response_ts the first response; null when unanswered
response_time_ms            first query → first response (Wireshark's dns.time)
rcode, rcode_value          "NOERROR", "NXDOMAIN" … and the number (EDNS-extended);
                            null when unanswered
flags                       header flags set in the response (or the query when
                            unanswered): qr, aa, tc, rd, ra, ad, cd
truncated                   the response had TC set (answer did not fit in UDP)
answers, authorities        [{name, type, ttl, data}] with data as text
cname_chain                 the asked name and each CNAME target followed from it
                            ([] when no CNAME was involved)
addresses                   the A/AAAA addresses the asked name resolves to
retransmission_frames       later copies of the query (same id, unanswered, within
                            5 s: Wireshark's dns.retransmission)
duplicate_response_frames   further responses to an answered query
tcp_retry_frame             for a truncated UDP answer: the query frame of the TCP
                            transaction that retried it, or null
retry_of_frame              for a TCP transaction: the query frame of the truncated
                            UDP transaction it retried, or null
frames                      every frame of the transaction
problems                    messages that decoded only partly, and why
=========================== ====================================================
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from layerpeek.commands import common, problems

if TYPE_CHECKING:
    from layerpeek.dnstx import DNSTransaction

DESCRIPTION = """\
List the DNS queries of a capture, one row each, paired with their answers:

  QUERY RESP PROTO CLIENT SERVER ID QUESTION RCODE TIME ANSWER

QUERY and RESP are frame numbers (RESP is - when no answer came).  TIME is
the response time, from the first copy of the query.  ANSWER follows CNAME
chains to the addresses (www.example.test → host1.example.test → 127.0.0.1)
and notes retransmitted queries, truncated (TC) answers and the TCP retry."""

#: Widest ANSWER cell before it is cut with "…" (a TXT record can be kilobytes).
MAX_ANSWER = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dns",
        help="list DNS queries with their answers, rcode and response time",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 unreadable or not a capture, 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_file_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per transaction")
    problems.add_max_connections(parser)
    parser.add_argument(
        "-Y", "--display-filter", dest="display_filter", metavar="EXPR",
        help="only transactions with a packet (query or response) matching this Wireshark "
        "display filter, e.g. 'dns.flags.rcode != 0' or 'ip.addr == 10.0.0.53'",
    )
    parser.add_argument(
        "--wide", action="store_true",
        help=f"never cut the ANSWER column (on a terminal it is cut at {MAX_ANSWER} "
        "characters; piped output is never cut)",
    )
    common.add_keylog_option(parser, "DNS over TLS (port 853) is listed like DNS over TCP")
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    import json  # here: `layerpeek --help` imports every command module

    from layerpeek.dnstx import DNSTracker, DNSTransaction

    path = common.capture_path(args)
    keep = common.display_filter(args.display_filter)
    matched: set[int] = set()  # frame numbers -Y selects
    reader = common.open_packets(path)
    try:
        # DNS over TCP needs the streams, not the conversation summaries.
        analysis = common.analysis(args, ["dns"], settings={"tcp": {"keep_conversations": False}})
        for step in analysis.run(common.iter_packets(reader, path)):
            if keep is not None and keep(step.packet, step.flow):
                matched.add(step.packet.index)
        final = analysis.finish()
        txs = [e for e in final if isinstance(e, DNSTransaction)]
        if keep is not None:
            txs = [tx for tx in txs if not matched.isdisjoint(tx.frames)]
        tracker = analysis.get(DNSTracker)
        assert tracker is not None
        out = common.prepare_stdout()
        if not txs:
            common.nothing_found(path, "DNS transactions", keep is not None)
        elif args.json:
            for tx in txs:
                out.write(json.dumps(tx.to_dict(), separators=(",", ":")) + "\n")
        else:
            wide = args.wide or not common.is_terminal(out)
            out.write(table(txs, None if wide else MAX_ANSWER))
        common.print_problems(reader, path)
        for problem in tracker.problems:
            common.warn(f"{common.display_name(path)}: {problem}")
        unread = len(tracker.tls_seen - tracker.tls_read)
        if unread:
            how = ("the key log does not open them" if common.load_keylog(args) is not None
                   else "give the key log with --keylog to read them")
            common.warn(f"{common.display_name(path)}: {unread} DNS-over-TLS connection"
                        f"{'s' if unread != 1 else ''} (port 853) not read: {how}")
    finally:
        reader.close()
    return common.EXIT_OK


def answer_cell(tx: DNSTransaction, limit: int | None = MAX_ANSWER) -> str:
    """The ANSWER column: the answer, then what went wrong or is worth knowing.

    ``limit`` cuts a long answer with "…" (never the notes, which matter
    more); None keeps it whole (``--wide``, or output that is not a terminal:
    a script reading the table must get every address).
    """
    answer = tx.describe()
    if tx.status == "unsolicited":
        answer = "response without a captured query: " + answer
    notes = []
    if tx.retransmissions:
        frames = ", ".join(str(m.frame) for m in tx.retransmissions)
        notes.append(f"query retransmitted in {frames}")
    if tx.duplicate_responses:
        frames = ", ".join(str(m.frame) for m in tx.duplicate_responses)
        again = "sent again" if tx.query is None else "answered again"
        notes.append(f"{again} in {frames}")
    if tx.truncated:
        if tx.tcp_retry is not None and tx.tcp_retry.query is not None:
            notes.append(f"retried over TCP in {tx.tcp_retry.query.frame}")
        else:
            notes.append("not retried over TCP")
    if tx.retry_of is not None and tx.retry_of.query is not None:
        notes.append(f"TCP retry of truncated {tx.retry_of.query.frame}")
    if tx.problems:
        notes.append("partly decoded: " + "; ".join(tx.problems))
    tail = "".join("; " + n for n in notes)
    if limit is None:
        return answer + tail
    room = max(limit - len(tail), 20)  # the notes matter more than a long answer
    if len(answer) > room:
        answer = answer[: room - 1] + "…"
    return answer + tail


def rows(txs: list[DNSTransaction], limit: int | None = MAX_ANSWER) -> list[list[str]]:
    """The table's cells, header first (exposed for tests)."""
    out = [["QUERY", "RESP", "PROTO", "CLIENT", "SERVER", "ID", "QUESTION", "RCODE", "TIME",
            "ANSWER"]]
    for tx in txs:
        rt = tx.response_time_ns
        out.append([
            "-" if tx.query_frame is None else str(tx.query_frame),
            "-" if tx.response_frame is None else str(tx.response_frame),
            tx.transport,
            str(tx.client),
            str(tx.server),
            f"0x{tx.dns_id:04x}",
            tx.question_text,
            tx.rcode_name or "-",
            "-" if rt is None else f"{rt / 1e6:.3f}ms",
            answer_cell(tx, limit),
        ])
    return out


def table(txs: list[DNSTransaction], limit: int | None = MAX_ANSWER) -> str:
    """Aligned text table (frame numbers and times right-aligned); header only when empty."""
    cells = rows(txs, limit)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    right = {0, 1, 8}
    lines = []
    for r in cells:
        parts = [v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(r)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"
