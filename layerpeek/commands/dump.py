"""``layerpeek dump``: list the packets of a capture.

Default: one line per packet (index, time since the first packet, protocol
path, endpoints, key facts, problems inline).  ``-V`` draws every layer and
field as a nested tree, ``-x`` adds a hex dump with the layer boundaries
marked, ``--json`` writes JSON Lines in the documented schema.  ``-c N`` stops
after N packets; ``-r FILE`` is accepted for tcpdump habits; ``-`` reads stdin
(``tcpdump -U -w - | layerpeek dump -``).

Selecting and extracting, as tshark and tcpdump users type it (see
:mod:`layerpeek.filter`): ``-Y EXPR`` keeps packets matching a Wireshark
display filter (evaluated after the conversation stage, so ``tcp.stream``
and ``tcp.analysis.*`` work); a trailing tcpdump expression or ``-f EXPR``
is a capture filter compiled by libpcap and applied to the file's frames
before anything else, selecting what ``tcpdump -r FILE EXPR`` selects;
``-T fields -e FIELD … [-E header=y,separator=,]`` prints chosen fields as
TSV/CSV.  ``-c N`` counts packets *printed*; ``-l`` flushes every packet.

The default listing is the hot path: one ``packet_line`` f-string and one
buffered ``write`` per packet, nothing else beyond the decode.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layerpeek.commands import common, problems, savefile
from layerpeek.commands.timecolumn import TIME_FORMATS, TimeColumn

if TYPE_CHECKING:
    from layerpeek.filter import DisplayFilter
    from layerpeek.filter.output import FieldsFormat
    from layerpeek.flows.tracker import PacketFlowInfo
    from layerpeek.packet import Packet
    from layerpeek.tls.keylog import KeyLog

#: ``sys.stdout.write``: the text stream buffers, so one call per packet is cheap.
Writer = Callable[[str], object]

DESCRIPTION = """\
List the packets of a pcap or pcapng capture, one line each:

  #12 0.003141 eth:ipv4:tcp:http 127.0.0.1:51234 → 127.0.0.1:8080 GET /d03.json

index, seconds since the first packet, protocol path, endpoints and the key
facts of the innermost layer.  A packet whose decoding stopped early ends with
[Truncated …] or [Malformed …]; problems with the file itself (a record cut by
the end of the file) are printed to stderr after the listing."""



def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dump",
        help="list the packets of a capture (one line each, a tree, hex or JSON)",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok (even with malformed packets), 1 unreadable or not a "
        "capture, 2 usage error, 3 with --strict: a malformed or truncated packet or a "
        "damaged file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="capture file; - for stdin")
    parser.add_argument(
        "-r", dest="read_file", metavar="FILE", help="capture file (same as FILE, as in tcpdump)"
    )
    parser.add_argument("-n", dest="numeric", action="count", default=0, help=common.NO_RESOLVE)
    parser.add_argument(
        "-c", "--count", type=common.positive_int, metavar="N",
        help="stop after printing N packets (packets a filter drops do not count)",
    )
    parser.add_argument(
        "-Y", "--display-filter", dest="display_filter", metavar="EXPR",
        help="only packets matching this Wireshark display filter, e.g. "
        "'tcp.port == 80 && tcp.flags.syn == 1' (field names: `layerpeek fields`)",
    )
    parser.add_argument(
        "-f", "--capture-filter", dest="capture_filter", metavar="EXPR",
        help="a capture filter in tcpdump syntax applied to the file's frames (same as "
        "trailing FILTER words), e.g. 'tcp port 80'",
    )
    parser.add_argument(
        "-T", dest="output", choices=("text", "fields", "json", "ek"),
        help="output format as tshark -T: text (default), fields (with -e), json (one JSON "
        "array in tshark's layout: _source.layers.<protocol>.<field>) or ek (newline-"
        "delimited Elasticsearch bulk input); layerpeek's own JSON Lines schema is --json",
    )
    parser.add_argument(
        "-e", dest="fields", action="append", metavar="FIELD",
        help="a field to print with -T fields (repeat for more; implies -T fields)",
    )
    parser.add_argument(
        "-E", dest="field_options", action="append", metavar="KEY=VALUE",
        help="-T fields option as in tshark: header=y, separator=/t|/s|C, quote=d|s|n, "
        "occurrence=f|l|a|N, aggregator=C",
    )
    parser.add_argument(
        "-l", "--line-buffered", dest="line_buffered", action="store_true",
        help="flush the output after every packet (for pipes, as tcpdump -l)",
    )
    parser.add_argument(
        "-V", "-v", "--verbose", "--layers", dest="verbose", action="store_true",
        help="show every layer and field as a nested tree (-v: the same, for tcpdump habits)",
    )
    parser.add_argument(
        "-x", "-X", "--hex", dest="hex", action="store_true",
        help="add a hex and ASCII dump of each packet with the layer boundaries marked "
        "(-X as tcpdump -X; tcpdump's -x, hex without ASCII, gets the ASCII column too)",
    )
    parser.add_argument(
        "-A", "--ascii", dest="ascii", action="store_true",
        help="print each packet's bytes after the link-layer header as ASCII, as tcpdump -A "
        "(non-printable bytes as '.', line ends kept): reads HTTP at a glance",
    )
    parser.add_argument(
        "-t", dest="time_format", choices=TIME_FORMATS, metavar="FORMAT",
        help="the time column, as tshark -t: r seconds since the first packet (default), "
        "a local time of day, ad local date and time, adoy local year/day-of-year and time, "
        "u/ud/udoy the same in UTC, e seconds since the epoch, d since the previous packet, "
        "dd since the previous packet shown",
    )
    parser.add_argument(
        "-w", "--write", dest="write", metavar="OUT",
        help="write the packets kept by -Y, the capture filter and -c to OUT (- for stdout) "
        "as the input held them (bytes, lengths, timestamps, link types), as tshark -w and "
        "tcpdump -w; nothing is listed. pcapng for a name ending in .pcapng, else pcap",
    )
    parser.add_argument(
        "-F", dest="write_format", choices=savefile.FORMATS,
        help="the -w file's format, whatever its name (as tshark -F)",
    )
    parser.add_argument(
        "-q", "--quiet", dest="quiet", action="store_true",
        help="do not list packets (as tshark -q): with -w only the file is written; the "
        "problem summary still ends the run on stderr",
    )
    parser.add_argument(
        "--json", action="store_true",
        help="one JSON object per packet (JSON Lines; schema: layerpeek/schema/packet.schema.json)",
    )
    parser.add_argument(
        "--no-flows", dest="flows", action="store_false",
        help="skip the conversation stage: no stream index, states or analysis flags, raw "
        "sequence numbers (the fastest listing)",
    )
    parser.add_argument(
        "--no-defrag", dest="defrag", action="store_false",
        help="show IP fragments as they are instead of decoding the reassembled datagram "
        "on the frame that completes it",
    )
    parser.add_argument(
        "-S", "--absolute-seq", dest="absolute", action="store_true",
        help="print raw TCP sequence numbers instead of relative ones (as tcpdump -S)",
    )
    parser.add_argument(
        "-i", "--interface", metavar="IFACE",
        help="capture live from IFACE instead of reading a file (see `layerpeek live`)",
    )
    parser.add_argument(
        "expression", nargs="*", metavar="FILTER",
        help="a capture filter in tcpdump syntax, e.g. tcp port 80: applied to the file "
        "(as tcpdump -r FILE tcp port 80) or, with -i, to the live capture",
    )
    problems.add_options(parser, connections=True)
    common.add_keylog_option(
        parser, "the summary on stderr then says which TLS connections could not be "
        "decrypted (keys missing, wrong key log)")
    parser.set_defaults(func=run, parser=parser)


def _source(args: argparse.Namespace) -> tuple[str, str | None]:
    """The capture path (FILE or -r) and the capture filter text, else a usage error.

    ``dump -r x.pcap tcp port 80`` puts "tcp" in FILE: with -r, FILE is the
    first word of the filter, as tcpdump users expect.
    """
    parser: argparse.ArgumentParser = args.parser
    words: list[str] = list(args.expression or [])
    if args.file is not None and args.read_file is not None:
        if os.path.exists(args.file) or args.file.endswith((".pcap", ".pcapng", ".cap")):
            parser.error("give the capture either as FILE or with -r, not both")
        words.insert(0, args.file)
        path: str | None = args.read_file
    else:
        path = args.file if args.file is not None else args.read_file
    if path is None:
        parser.error("a capture file is required (FILE, -r FILE, or - for stdin)")
    if (args.json or args.output in ("json", "ek")) and (args.verbose or args.hex):
        parser.error("--json and -T json/ek cannot be combined with -V or -x")
    if args.json and args.output in ("json", "ek", "fields"):
        parser.error(f"--json is layerpeek's JSON Lines; -T {args.output} is another "
                     "output: give one")
    if words and args.capture_filter is not None:
        parser.error("give the capture filter either with -f or as trailing words, not both")
    expression = " ".join(words) if words else args.capture_filter
    return path, expression


def _fields_format(args: argparse.Namespace) -> FieldsFormat | None:
    """``-T fields -e … -E …`` as a :class:`FieldsFormat`; None for other outputs."""
    parser: argparse.ArgumentParser = args.parser
    if args.output != "fields" and not args.fields:
        if args.field_options:
            parser.error("-E needs -T fields and at least one -e FIELD")
        return None
    if args.output not in (None, "fields"):
        parser.error(f"-e cannot be combined with -T {args.output}")
    if args.json or args.verbose or args.hex:
        parser.error("-T fields cannot be combined with --json, -V or -x")
    from layerpeek.filter import FilterError
    from layerpeek.filter.output import parse_format

    try:
        return parse_format(args.fields or (), args.field_options or ())
    except FilterError as e:
        parser.error(str(e))


def _live(args: argparse.Namespace) -> int:
    """``dump -i IFACE``: hand over to live capture, with -f as the filter words."""
    from layerpeek.commands import live

    parser: argparse.ArgumentParser = args.parser
    file_only = [name for name, on in (
        ("-w", args.write is not None), ("-A", args.ascii), ("-t", args.time_format),
        ("-T json/ek", args.output in ("json", "ek")),
    ) if on]
    if file_only:
        parser.error(f"{file_only[0]} works on capture files; capture live with `layerpeek "
                     "live` (live -w FILE records one)")
    if args.display_filter is not None or args.fields or args.output == "fields":
        parser.error(
            "-Y and -T fields work on capture files; filter a live capture with a tcpdump "
            "expression, or save it first (layerpeek live -i IFACE -w FILE)"
        )
    if args.capture_filter is not None:
        if args.expression or (args.file is not None and args.interface is not None):
            parser.error("give the capture filter either with -f or as trailing words")
        args.expression = [args.capture_filter]
    return live.run_dump(args)


def run(args: argparse.Namespace) -> int:
    if args.interface is not None or (
        args.expression and args.file is None and args.read_file is None
    ):
        return _live(args)
    path, expression = _source(args)
    fields = _fields_format(args)
    _check_views(args)
    keep = common.display_filter(args.display_filter)
    capture_keep = common.capture_filter(expression)
    reader = common.open_packets(path)
    saver: savefile.CaptureSaver | None = None
    if args.write is not None:
        fmt = savefile.format_for(args.write, args.write_format)
        saver = savefile.CaptureSaver(args.write, fmt, lambda: reader.interfaces)
    try:
        out = common.prepare_stdout()
        write = _flushing(out.write, out.flush) if args.line_buffered else out.write
        summary = problems.ProblemSummary()
        packets = common.iter_packets(reader, path)
        if capture_keep is not None:
            packets = (p for p in packets if capture_keep(p))
        # After the capture filter: the frames it drops are as if never captured,
        # their damage included.
        packets = summary.watch(packets)
        time_format: str | None = args.time_format
        column = TimeColumn(time_format) if time_format not in (None, "r") else None
        first = _FirstTime(column)
        packets = first.watch(packets)  # before -Y: its hidden frames still count
        count: int | None = args.count
        color = common.use_color(out)
        view = _View(tree=args.verbose, hexdump=args.hex, ascii=args.ascii, color=color,
                     relative=not args.absolute, column=column)
        if args.flows or args.defrag:
            annotated = _annotated(packets, flows=args.flows, defrag=args.defrag,
                                   summary=summary, max_connections=args.max_connections,
                                   keylog=common.load_keylog(args))
        elif keep is None and fields is None and saver is None and not args.quiet and (
            not args.json and args.output not in ("json", "ek") and view.plain
        ):
            annotated = None  # the fastest listing: packets alone, no (packet, info) pairs
            _lines(packets, write, count, color, first)
        else:
            annotated = ((p, None) for p in packets)
        if annotated is not None:
            if keep is not None and fields is None and args.output not in ("json", "ek"):
                annotated = ((p, i) for p, i in annotated if keep(p, i))
            if fields is not None:
                _field_rows(annotated, write, count, fields, keep)
            elif args.output in ("json", "ek"):
                _tshark_json(annotated, write, count, keep, args.output)
            elif saver is not None:
                _save(annotated, saver, count, first)
            elif args.quiet:
                _drain(annotated, count)
            elif args.json:
                _json_lines_flows(annotated, write, count)
            elif view.plain:
                _lines_flows(annotated, write, count, color, view.relative, first)
            else:
                _shown(annotated, write, count, view, first)
        if saver is not None:
            saver.close()
            saver = None
        common.print_problems(reader, path)
        summary.reader(reader)
        summary.report()
    finally:
        if saver is not None:  # an error (or Ctrl-C) before the end: no partial file
            saver.close(failed=True)
        reader.close()
    return summary.exit_code(args.strict)


def _save(items: Annotated, saver: savefile.CaptureSaver, count: int | None,
          first: _FirstTime) -> None:
    """``-w``: each packet kept, as the file held it (``first.current``: the frame read,
    not the datagram the defragmenter may have put in its place)."""
    for n, (packet, _info) in enumerate(items, 1):
        current = first.current
        saver.write(current if current is not None else packet)
        if n == count:
            break


def _check_views(args: argparse.Namespace) -> None:
    """Refuse listings that cannot be combined, naming both options."""
    parser: argparse.ArgumentParser = args.parser
    listing = [name for name, on in (
        ("--json/-T json", args.json or args.output in ("json", "ek")),
        ("-V", args.verbose), ("-x", args.hex), ("-A", args.ascii),
        ("-T fields", args.fields or args.output == "fields"),
    ) if on]
    if args.quiet and listing:
        parser.error(f"-q lists nothing: it cannot be combined with {listing[0]}")
    if args.write is not None and listing:
        parser.error(f"-w writes the packets to a file and lists nothing: it cannot be "
                     f"combined with {listing[0]}")
    if args.write_format is not None and args.write is None:
        parser.error("-F gives the format of the -w file: it needs -w")
    if (args.json or args.fields or args.output in ("fields", "json", "ek")) and (
        args.ascii or args.time_format is not None
    ):
        parser.error("-A and -t change the text listing: they cannot be combined with JSON "
                     "or -T fields")


@dataclass(frozen=True, slots=True)
class _View:
    """What the text listing shows of each packet, beyond its line."""

    tree: bool  #: -V: the layer tree instead of the line
    hexdump: bool  #: -x/-X
    ascii: bool  #: -A
    color: bool
    relative: bool  #: relative TCP sequence numbers (not -S)
    column: TimeColumn | None  #: -t other than r

    @property
    def plain(self) -> bool:
        """Nothing but the default line: the hot path."""
        return not (self.tree or self.hexdump or self.ascii or self.column is not None)


def _flushing(write: Writer, flush: Callable[[], object]) -> Writer:
    """``-l``: every packet's text reaches the pipe at once (tcpdump -l, tshark -l)."""

    def write_and_flush(text: str) -> object:
        result = write(text)
        flush()
        return result

    return write_and_flush


def _field_rows(items: Annotated, write: Writer, count: int | None, fmt: FieldsFormat,
                keep: DisplayFilter | None) -> None:
    """``-T fields``: one row per packet kept by ``keep``.

    Frame times are tracked over *every* packet, so ``frame.time_delta`` is
    the delta from the previous captured frame, as tshark prints it, even
    when a display filter hides that frame.
    """
    from layerpeek.filter import Frame

    if fmt.header:
        write(f"{fmt.header_line()}\n")
    first: int | None = None
    prev: int | None = None
    printed = 0
    for packet, info in items:
        frame = Frame(packet, info, first, prev)
        first = frame.first_ns
        prev = packet.ts_ns
        if keep is not None and not keep.test(frame):
            continue
        write(f"{fmt.row(frame)}\n")
        printed += 1
        if printed == count:
            break


def _tshark_json(items: Annotated, write: Writer, count: int | None,
                 keep: DisplayFilter | None, output: str) -> None:
    """``-T json`` (one array) or ``-T ek`` (bulk lines), from the field registry.

    Like ``-T fields``, frame times are tracked over every packet, so
    ``frame.time_delta`` is from the previous *captured* frame under ``-Y``.
    """
    from layerpeek.filter import Frame
    from layerpeek.filter.tshark_json import ek_lines, json_document

    first: int | None = None
    prev: int | None = None
    printed = 0
    if output == "json":
        write("[\n")
    for packet, info in items:
        frame = Frame(packet, info, first, prev)
        first = frame.first_ns
        prev = packet.ts_ns
        if keep is not None and not keep.test(frame):
            continue
        if output == "json":
            doc = json_document(frame)
            write(f",\n{doc}" if printed else doc)
        else:
            write(f"{ek_lines(frame)}\n")
        printed += 1
        if printed == count:
            break
    if output == "json":
        write("\n]\n")


class _FirstTime:
    """When the capture's first frame was taken: the zero of the time column.

    Taken after a capture filter (its frames are as if never captured, as
    with ``tcpdump -r FILE EXPR``) but before ``-Y``: tshark counts
    ``frame.time_relative`` from the first frame also when a display filter
    hides it, so ``-Y`` shows the same times as the unfiltered listing.  A
    ``-t`` column sees every frame here too (``-t d`` is the gap from the
    previous frame *captured*).  :attr:`current` is the frame last read, as
    the file holds it (not the datagram the defragmenter may have made of it).
    """

    def __init__(self, column: TimeColumn | None = None) -> None:
        self.ns: int | None = None
        self.column = column
        self.current: Packet | None = None

    def watch(self, packets: Iterator[Packet]) -> Iterator[Packet]:
        column = self.column
        for packet in packets:
            if self.ns is None:
                self.ns = packet.ts_ns
            if column is not None:
                column.captured(packet.ts_ns)
            self.current = packet
            yield packet


def _lines(packets: Iterator[Packet], write: Writer, count: int | None, color: bool,
           first: _FirstTime) -> None:
    from layerpeek.render.text import packet_line

    t0: int | None = None
    for n, packet in enumerate(packets, 1):
        if t0 is None:
            t0 = first.ns if first.ns is not None else packet.ts_ns
        write(f"{packet_line(packet, t0, color)}\n")
        if n == count:
            break


def _detailed(packets: Iterator[Packet], write: Writer, count: int | None, tree: bool,
              hexdump: bool, color: bool, first: _FirstTime) -> None:
    view = _View(tree=tree, hexdump=hexdump, ascii=False, color=color, relative=True,
                 column=None)
    _shown(((p, None) for p in packets), write, count, view, first)


def _drain(items: Annotated, count: int | None) -> None:
    """``-q``: read (and count problems) without listing; ``-c`` still stops."""
    for n, _ in enumerate(items, 1):
        if n == count:
            break


#: tcpdump -A: printable ASCII, space, tab and newline stay; the rest is "."
_ASCII_A = bytes(b if 0x20 <= b < 0x7F or b in (0x09, 0x0A) else 0x2E for b in range(256))


def ascii_text(packet: Packet) -> str:
    """``-A``: the frame after its link-layer header as ASCII, as tcpdump -A prints it.

    CR before LF is dropped (the line end reads as one), every other byte
    that is not printable ASCII, a space, a tab or a newline becomes ".", so
    no capture can send control sequences to the terminal.
    """
    spans = packet.spans
    start = spans[0][1] if len(spans) > 1 else 0  # a lone layer (raw data) is shown whole
    data = packet.data[start:].replace(b"\r\n", b"\n")
    return data.translate(_ASCII_A).decode("ascii")


def _shown(items: Annotated, write: Writer, count: int | None, view: _View,
           first: _FirstTime) -> None:
    """Every listing but the default line: -V, -x/-X, -A and -t in any combination."""
    from layerpeek.render.hexdump import hexdump as hex_text
    from layerpeek.render.text import packet_line, packet_tree

    t0: int | None = None
    column = view.column
    blank = view.tree or view.hexdump or view.ascii  # blocks, not lines: one blank line after
    for n, (packet, info) in enumerate(items, 1):
        if t0 is None:
            t0 = first.ns if first.ns is not None else packet.ts_ns
        if view.tree:
            head = packet_tree(packet, view.color, info, view.relative)
        else:
            head = packet_line(packet, t0, view.color, info, view.relative)
            if column is not None:
                # "#12 0.003141 rest": only the time word changes
                index, _, rest = head.split(" ", 2)
                head = f"{index} {column.text(packet.ts_ns)} {rest}"
        parts = [head]
        if view.hexdump:
            parts.append(hex_text(packet, view.color))
        if view.ascii:
            parts.append(ascii_text(packet))
        write("\n".join(parts) + ("\n\n" if blank else "\n"))
        if n == count:
            break


def _json_lines(packets: Iterator[Packet], write: Writer, count: int | None) -> None:
    from layerpeek.render.json import packet_to_json

    for n, packet in enumerate(packets, 1):
        write(f"{packet_to_json(packet)}\n")
        if n == count:
            break


# --------------------------------------------------------------------------- with flows
# The default: every packet passes the conversation stage (defragmenter, TCP and
# UDP trackers) first, and its PacketFlowInfo is shown beside it.

Annotated = Iterator[tuple["Packet", "PacketFlowInfo | None"]]


def _annotated(
    packets: Iterator[Packet], *, flows: bool, defrag: bool,
    summary: problems.ProblemSummary | None = None, max_connections: int = 50_000,
    keylog: KeyLog | None = None,
) -> Annotated:
    """``(packet, info)`` pairs; ``flows=False`` keeps only the defragmenter.

    The trackers keep no conversation summaries (a listing needs only each
    packet's facts), so memory stays bounded by ``max_connections`` however
    long the capture; stream gaps and evictions go to ``summary``.
    """
    from layerpeek.analysis import Analysis

    stages = (["defrag"] if defrag else []) + (
        ["tcp", "udp", "quic", "http2_frames"] if flows else [])
    table: dict[str, object] = {"max_connections": max_connections, "keep_conversations": False}
    settings: dict[str, dict[str, object]] = {"tcp": table, "udp": table}
    # QUIC: short headers attributed to their connection, and with a key log decrypted.
    settings["quic"] = {"keylog": keylog if flows else None, "keep_connections": False}
    if keylog is not None and flows:  # the summary then names what was not decrypted
        stages.append("tls")
        settings["tls"] = {"keylog": keylog, "keep_connections": False}
    analysis = Analysis(stages, settings=settings)
    if summary is not None:
        summary.analysis(analysis)
    for packet in packets:
        step = analysis.feed(packet)
        if step.events and summary is not None:
            summary.events(step.events)
        yield step.packet, step.flow
    if summary is not None:
        summary.events(analysis.finish())


def _lines_flows(items: Annotated, write: Writer, count: int | None, color: bool,
                 relative: bool, first: _FirstTime) -> None:
    from layerpeek.render.text import packet_line

    t0: int | None = None
    for n, (packet, info) in enumerate(items, 1):
        if t0 is None:
            t0 = first.ns if first.ns is not None else packet.ts_ns
        write(f"{packet_line(packet, t0, color, info, relative)}\n")
        if n == count:
            break


def _json_lines_flows(items: Annotated, write: Writer, count: int | None) -> None:
    from layerpeek.render.json import packet_to_json

    for n, (packet, info) in enumerate(items, 1):
        write(f"{packet_to_json(packet, info)}\n")
        if n == count:
            break
