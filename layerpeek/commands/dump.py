"""``layerpeek dump``: list the packets of a capture.

Default: one line per packet (index, time since the first packet, protocol
path, endpoints, key facts, problems inline).  ``-V`` draws every layer and
field as a nested tree, ``-x`` adds a hex dump with the layer boundaries
marked, ``--json`` writes JSON Lines in the documented schema.  ``-c N`` stops
after N packets; ``-r FILE`` is accepted for tcpdump habits; ``-`` reads stdin
(``tcpdump -U -w - | layerpeek dump -``).

The default listing is the hot path: one ``packet_line`` f-string and one
buffered ``write`` per packet, nothing else beyond the decode.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from layerpeek.commands import common

if TYPE_CHECKING:
    from layerpeek.flows.tracker import PacketFlowInfo
    from layerpeek.packet import Packet

#: ``sys.stdout.write``: the text stream buffers, so one call per packet is cheap.
Writer = Callable[[str], object]

DESCRIPTION = """\
List the packets of a pcap or pcapng capture, one line each:

  #12 0.003141 eth:ipv4:tcp:http 127.0.0.1:51234 → 127.0.0.1:8080 GET /d03.json

index, seconds since the first packet, protocol path, endpoints and the key
facts of the innermost layer.  A packet whose decoding stopped early ends with
[Truncated …] or [Malformed …]; problems with the file itself (a record cut by
the end of the file) are printed to stderr after the listing."""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dump",
        help="list the packets of a capture (one line each, a tree, hex or JSON)",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok (even with malformed packets), 1 unreadable or not a "
        "capture, 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="capture file; - for stdin")
    parser.add_argument(
        "-r", dest="read_file", metavar="FILE", help="capture file (same as FILE, as in tcpdump)"
    )
    parser.add_argument(
        "-c", "--count", type=_count, metavar="N", help="stop after N packets"
    )
    parser.add_argument(
        "-V", "--verbose", "--layers", dest="verbose", action="store_true",
        help="show every layer and field as a nested tree",
    )
    parser.add_argument(
        "-x", "--hex", dest="hex", action="store_true",
        help="add a hex dump of each packet with the layer boundaries marked",
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
        help="with -i: a capture filter in tcpdump syntax, e.g. tcp port 80",
    )
    parser.set_defaults(func=run, parser=parser)


def _source(args: argparse.Namespace) -> str:
    """The capture path from FILE or -r (exactly one of them), else a usage error."""
    parser: argparse.ArgumentParser = args.parser
    if args.file is not None and args.read_file is not None:
        parser.error("give the capture either as FILE or with -r, not both")
    path: str | None = args.file if args.file is not None else args.read_file
    if path is None:
        parser.error("a capture file is required (FILE, -r FILE, or - for stdin)")
    if args.json and (args.verbose or args.hex):
        parser.error("--json cannot be combined with -V or -x")
    return path


def run(args: argparse.Namespace) -> int:
    if args.interface is not None or args.expression:
        from layerpeek.commands import live

        return live.run_dump(args)
    path = _source(args)
    reader = common.open_packets(path)
    try:
        out = common.prepare_stdout()
        packets = common.iter_packets(reader, path)
        count: int | None = args.count
        if args.flows or args.defrag:
            annotated = _annotated(packets, flows=args.flows, defrag=args.defrag)
            relative = not args.absolute
            if args.json:
                _json_lines_flows(annotated, out.write, count)
            elif args.verbose or args.hex:
                _detailed_flows(annotated, out.write, count, args.verbose, args.hex,
                                common.use_color(out), relative)
            else:
                _lines_flows(annotated, out.write, count, common.use_color(out), relative)
        elif args.json:
            _json_lines(packets, out.write, count)
        elif args.verbose or args.hex:
            _detailed(packets, out.write, count, args.verbose, args.hex, common.use_color(out))
        else:
            _lines(packets, out.write, count, common.use_color(out))
        common.print_problems(reader, path)
    finally:
        reader.close()
    return common.EXIT_OK


def _lines(packets: Iterator[Packet], write: Writer, count: int | None, color: bool) -> None:
    from layerpeek.render.text import packet_line

    t0: int | None = None
    for n, packet in enumerate(packets, 1):
        if t0 is None:
            t0 = packet.ts_ns
        write(f"{packet_line(packet, t0, color)}\n")
        if n == count:
            break


def _detailed(packets: Iterator[Packet], write: Writer, count: int | None, tree: bool,
              hexdump: bool, color: bool) -> None:
    from layerpeek.render.hexdump import hexdump as hex_text
    from layerpeek.render.text import packet_line, packet_tree

    t0: int | None = None
    for n, packet in enumerate(packets, 1):
        if t0 is None:
            t0 = packet.ts_ns
        head = packet_tree(packet, color) if tree else packet_line(packet, t0, color)
        if hexdump:
            write(f"{head}\n{hex_text(packet, color)}\n\n")
        else:
            write(f"{head}\n\n")
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


def _annotated(packets: Iterator[Packet], *, flows: bool, defrag: bool) -> Annotated:
    """``(packet, info)`` pairs; ``flows=False`` keeps only the defragmenter."""
    from layerpeek.flows.conversations import FlowPipeline

    if not flows:
        from layerpeek.flows.defrag import Defragmenter

        from layerpeek.flows.tracker import PacketFlowInfo

        defragmenter = Defragmenter()
        for packet in packets:
            new, frag = defragmenter.process(packet)
            if frag is None:
                yield new, None
            else:
                fragment_only = PacketFlowInfo("")
                fragment_only.defrag = frag
                yield new, fragment_only
        return
    pipeline = FlowPipeline(defrag=defrag)
    for packet in packets:
        new, info, _ = pipeline.process(packet)
        yield new, info


def _lines_flows(items: Annotated, write: Writer, count: int | None, color: bool,
                 relative: bool) -> None:
    from layerpeek.render.text import packet_line

    t0: int | None = None
    for n, (packet, info) in enumerate(items, 1):
        if t0 is None:
            t0 = packet.ts_ns
        write(f"{packet_line(packet, t0, color, info, relative)}\n")
        if n == count:
            break


def _detailed_flows(items: Annotated, write: Writer, count: int | None, tree: bool,
                    hexdump: bool, color: bool, relative: bool) -> None:
    from layerpeek.render.hexdump import hexdump as hex_text
    from layerpeek.render.text import packet_line, packet_tree

    t0: int | None = None
    for n, (packet, info) in enumerate(items, 1):
        if t0 is None:
            t0 = packet.ts_ns
        if tree:
            head = packet_tree(packet, color, info)
        else:
            head = packet_line(packet, t0, color, info, relative)
        if hexdump:
            write(f"{head}\n{hex_text(packet, color)}\n\n")
        else:
            write(f"{head}\n\n")
        if n == count:
            break


def _json_lines_flows(items: Annotated, write: Writer, count: int | None) -> None:
    from layerpeek.render.json import packet_to_json

    for n, (packet, info) in enumerate(items, 1):
        write(f"{packet_to_json(packet, info)}\n")
        if n == count:
            break
