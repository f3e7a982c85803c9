"""``layerpeek http``: one row per HTTP/1.x or HTTP/2 exchange, from reassembled TCP streams.

Columns: the TCP stream (tshark's ``tcp.stream``), the time of the request
(seconds from the first packet), method, host, target, status, the request
and response body sizes as ``wire/decoded`` (wire: the bytes the body took
on the wire, chunk framing included; decoded: after chunking and
Content-Encoding are undone), the response's content type, the duration
(request's first byte to the response's last) and ``ok`` or why the
exchange is not complete.

``--json`` writes JSON Lines, one object per exchange, with these keys:

=========================== ==================================================
stream, index               TCP stream id; position of the exchange on it (0-)
http_version                "HTTP/2", "HTTP/1.1", "HTTP/1.0" (an h2c upgrade
                            counts as HTTP/2)
http2_stream                the HTTP/2 stream id (null for HTTP/1.x)
pushed_by                   for a server push: the stream whose PUSH_PROMISE
                            announced it (else null)
client, server              "addr:port" ("[v6]:port" for IPv6)
time                        request start (response start without a request),
                            seconds since the epoch
method, host, target        from the request (null without one); host is the
                            Host header or the absolute target's authority
request_version,            "HTTP/1.1", "HTTP/2" …
response_version
status, reason              from the final response (null without one)
interim                     status codes of 1xx responses before it ([100])
request_body_len,           body length with the transfer coding removed
response_body_len           (what Content-Length counts; gap bytes included)
request_body_wire_len,      bytes the body took on the wire (chunk framing,
response_body_wire_len      trailers included)
request_body_decoded_len,   after Content-Encoding is undone
response_body_decoded_len
content_type,               the response's Content-Type, Content-Encoding and
content_encoding,           Transfer-Encoding (comma-joined, lower case), or
transfer_encoding           null when absent
request_start,              seconds since the epoch (null when unknown)
response_start,
response_end
duration                    response_end - request_start, seconds (or null)
request_frames,             frame numbers that carried each message
response_frames
complete                    both messages present, whole, surely paired
problem                     why not complete (null when complete)
=========================== ==================================================

``--export DIR`` writes every request and response body (decoded) to a file
in DIR, named from the target's last path segment like Wireshark's Export
Objects, but made safe: percent-decoded, reduced to letters, digits,
``.``, ``_`` and ``-``, never starting with a dot, and never overwriting a
file (``style(1).css`` instead).  A body that is not whole, or whose
Content-Encoding could not be undone in full (cut at the decoding cap, a
damaged or cut stream, an unknown coding), gets ``.partial`` appended.
Each file is written as ``NAME.part`` and renamed when complete.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from layerpeek.commands import common, problems

if TYPE_CHECKING:
    from layerpeek.http.message import HTTPExchange, HTTPMessage

DESCRIPTION = """\
List the HTTP/1.x and HTTP/2 exchanges of a capture (requests paired with
their responses over reassembled TCP streams; HTTP/2 found by content on any
port, prior knowledge or Upgrade: h2c), one row each:

  STREAM TIME METHOD HOST TARGET STATUS REQ RESP TYPE DURATION RESULT

TIME is seconds since the first packet.  REQ and RESP are body sizes as
wire/decoded bytes.  RESULT is "ok" or why the exchange is incomplete
(no response, connection reset mid-body, stream gap, …)."""

#: Longest target shown in the table (the JSON keeps it whole).
TARGET_WIDTH = 60


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "http",
        help="list HTTP/1.x and HTTP/2 requests and responses (one row per exchange, or JSON "
        "Lines)",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 unreadable or not a capture (or DIR unusable), "
               "2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_file_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per exchange")
    parser.add_argument(
        "--export", metavar="DIR",
        help="write each body (decoded) to a file in DIR (created if missing)",
    )
    parser.add_argument(
        "--no-defrag", dest="defrag", action="store_false",
        help="do not reassemble fragmented IP datagrams",
    )
    parser.add_argument(
        "-Y", "--display-filter", dest="display_filter", metavar="EXPR",
        help="only exchanges with a packet (of the request or the response) matching this "
        "Wireshark display filter, e.g. 'ip.addr == 10.0.0.5' or 'tcp.analysis.retransmission'",
    )
    common.add_keylog_option(parser, "HTTPS exchanges are listed like cleartext ones")
    problems.add_max_connections(parser)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    import json  # here: `layerpeek --help` imports every command module

    from layerpeek.flows.events import Problem
    from layerpeek.http.message import HTTPExchange

    path = common.capture_path(args)
    export: str | None = args.export
    if export is not None:
        _prepare_dir(export)
    keep = common.display_filter(getattr(args, "display_filter", None))
    matched: set[int] = set()  # frame numbers -Y selects
    reader = common.open_packets(path)
    try:
        # Conversation summaries are not needed for a listing: forget them when
        # they expire (the pairer has each connection's endpoints from its opening).
        # -Y may name http2.* fields: those exist once the HTTP/2 frames stage ran.
        stages = ["http", "http2_frames"] if keep is not None else ["http"]
        stages.append("quic")  # HTTP/3: QUIC connections' exchanges
        analysis = common.analysis(args, stages, settings={"tcp": {"keep_conversations": False}},
                                   flow_info=keep is not None)
        pair_problems: list[str] = []
        # Each exchange is turned into its output (a table row or a JSON line)
        # as soon as the pairer hands it over, and its bodies written out then
        # and dropped: memory holds one compact row per exchange, never the
        # capture's bodies (a -Y decision can be made then too: every frame of
        # the exchange has been seen by the time it is complete).
        done: list[tuple[tuple[int, int, int], str | list[str]]] = []
        written = 0
        first_ts: int | None = None

        def take(events: list[object]) -> None:
            nonlocal written
            for ex in events:
                if isinstance(ex, Problem):
                    pair_problems.append(ex.text)
                    continue
                if not isinstance(ex, HTTPExchange):
                    continue
                if keep is not None and not any(
                    frame in matched for msg in (ex.request, ex.response) if msg is not None
                    for frame in msg.frames
                ):
                    continue
                key = (ex.first_frame, ex.stream, ex.index)
                if args.json:
                    done.append((key, json.dumps(ex.to_dict(), separators=(",", ":"))))
                else:
                    done.append((key, row(ex, first_ts or 0)))
                if export is not None:
                    written += len(export_bodies([ex], export))

        for packet in common.iter_packets(reader, path):
            if first_ts is None:
                first_ts = packet.ts_ns
            step = analysis.feed(packet)
            if keep is not None and keep(step.packet, step.flow):
                matched.add(step.packet.index)
            if step.events:
                take(step.events)
        take(analysis.finish())
        done.sort(key=lambda item: item[0])
        out = common.prepare_stdout()
        if not done:
            common.nothing_found(path, "HTTP exchanges", keep is not None)
        elif args.json:
            for _, line in done:
                out.write(f"{line}\n")
        else:
            cells = [row_ for _, row_ in done if isinstance(row_, list)]
            out.write(common.align([HEADER, *cells], RIGHT))
        if export is not None:
            common.flush_stdout()
            common.error(f"wrote {written} bodies to {export}")
        common.print_problems(reader, path)
        if pair_problems:
            common.flush_stdout()
            for problem in pair_problems:
                common.warn(f"{common.display_name(path)}: {problem}")
    finally:
        reader.close()
    return common.EXIT_OK


def _sizes(msg: HTTPMessage | None) -> str:
    if msg is None:
        return "-"
    return f"{msg.body_wire_len}/{len(msg.decoded().data)}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


HEADER = ["STREAM", "TIME", "METHOD", "HOST", "TARGET", "STATUS", "REQ", "RESP", "TYPE",
          "DURATION", "RESULT"]


def row(ex: HTTPExchange, first_ts: int) -> list[str]:
    """One exchange's cells in the table."""
    resp = ex.response
    duration = ex.duration_ns
    return [
        str(ex.stream),
        f"{(ex.start_ts_ns - first_ts) / 1e9:.6f}",
        ex.method or "-",
        ex.host or "-",
        _short(ex.target, TARGET_WIDTH) if ex.request is not None else "-",
        str(resp.status) if resp is not None else "-",
        _sizes(ex.request),
        _sizes(resp),
        (resp.content_type.split(";")[0].strip() or "-") if resp is not None else "-",
        f"{duration / 1e9:.6f}" if duration is not None else "-",
        "ok" if ex.complete else (ex.problem or "incomplete"),
    ]


def rows(items: list[HTTPExchange], first_ts: int) -> list[list[str]]:
    """The table's cells, header first (exposed for tests)."""
    return [HEADER, *(row(ex, first_ts) for ex in items)]


#: Numeric columns, right-aligned.
RIGHT = {0, 1, 5, 6, 7, 9}


def table(items: list[HTTPExchange], first_ts: int) -> str:
    """Aligned text table, one line per exchange."""
    return common.align(rows(items, first_ts), RIGHT)


# -- export ----------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Longest file name written (before a "(n)" or ".partial" suffix).
NAME_WIDTH = 100


def safe_name(target: str) -> str:
    """A file name from a request target that cannot leave the export directory.

    The last path segment (query and fragment dropped), percent-decoded, with
    every run of other characters than letters, digits, ``.``, ``_`` and
    ``-`` turned into ``_``: so no ``/``, ``\\``, ``..``, NUL or control
    character survives, and a leading dot (hidden file, ``..``) is removed.
    """
    path = target.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:  # absolute-form: drop scheme and authority
        path = path.split("://", 1)[1].partition("/")[2]
    segment = unquote(path.rstrip("/").rsplit("/", 1)[-1], errors="replace")
    segment = segment.replace("\\", "/").rsplit("/", 1)[-1]  # %2F and %5C decode to slashes
    name = _UNSAFE.sub("_", segment).lstrip(".")[:NAME_WIDTH]
    return name or "index"


def _prepare_dir(directory: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise common.CommandError(f"{directory}: cannot create export directory: "
                                  f"{e.strerror or e}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise common.CommandError(f"{directory}: export directory is not writable")


#: Per export directory and wanted name, the suffix to try next: the unique-name
#: search resumes where it stopped instead of trying ``(1)``, ``(2)`` … again for
#: every body (8,000 bodies of one name cost 324 s that way).  Only a hint (a
#: name taken on disk is still skipped); cleared past :data:`MAX_NAME_HINTS`.
_next_suffix: dict[tuple[str, str], int] = {}
MAX_NAME_HINTS = 100_000


def _write_new(directory: str, name: str, data: bytes) -> str:
    """Write ``data`` to a file that did not exist, ``stem(n).ext`` on a clash; return its name.

    The bytes go to ``NAME.part`` first (created exclusively, never through a
    link) and the complete file is linked to its final name, which fails
    rather than replace anything there: a full disk leaves no cut file under
    a final name, and no existing file is ever overwritten.
    """
    from layerpeek.commands import outfile

    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    hint = (directory, name)
    n = _next_suffix.get(hint, 0)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    while True:
        candidate = f"{stem}({n}){dot}{ext}" if n else name
        final = os.path.join(directory, candidate)
        part = final + outfile.PART
        n += 1
        if os.path.lexists(final):
            continue
        try:
            fd = os.open(part, flags, 0o644)
        except FileExistsError:
            continue
        except OSError as e:
            raise outfile.write_error(part, e) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            outfile.discard(part)
            raise outfile.write_error(part, e) from None
        try:
            os.link(part, final)  # fails if the name was taken meanwhile: nothing replaced
        except FileExistsError:
            outfile.discard(part)
            continue
        except OSError:  # a file system without hard links
            if os.path.lexists(final):
                outfile.discard(part)
                continue
            os.replace(part, final)
        outfile.discard(part)
        if len(_next_suffix) >= MAX_NAME_HINTS:
            _next_suffix.clear()
        _next_suffix[hint] = n
        return candidate


def export_bodies(items: list[HTTPExchange], directory: str) -> list[str]:
    """Write each non-empty body (decoded) into ``directory``; return the names written."""
    written: list[str] = []
    for ex in items:
        for msg in (ex.request, ex.response):
            if msg is None or not msg.body:
                continue
            name = safe_name(ex.target) if ex.request is not None else "response"
            decoded = msg.decoded()
            if not msg.complete or not decoded.complete:  # cut, or not decodable in full
                name += ".partial"
            written.append(_write_new(directory, name, decoded.data))
    return written
