"""``layerpeek follow``: a conversation's reassembled bytes, like Wireshark's Follow TCP Stream.

Both directions are interleaved in the order the bytes became deliverable
(the order a receiving application would have read them), each run headed
by who sent it; bytes the capture never showed are marked
``[12 bytes missing]``, never invented.  Non-printable bytes are shown as
``.`` except newlines and tabs (Wireshark's ASCII view).

``--raw --direction client|server`` writes the exact bytes of one direction
to stdout (binary), for piping into another tool; holes are skipped and
reported on stderr.  ``--udp`` follows a UDP stream instead (each datagram
is one run).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, BinaryIO, TextIO

from layerpeek.commands import common, problems

if TYPE_CHECKING:
    from layerpeek.flows.pipeline import Conversation

DESCRIPTION = """\
Print one TCP conversation's data like Wireshark's "Follow TCP Stream":
both directions in stream order, gaps marked as [N bytes missing].
STREAM is the id from `layerpeek flows` (tshark's tcp.stream)."""

_PRINTABLE = bytes(range(32, 127)) + b"\n\t"
_TO_DOTS = bytes(b if bytes([b]) in _PRINTABLE else ord(".") for b in range(256))

_RED = "\x1b[31m"
_BLUE = "\x1b[34m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


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
        "follow",
        help="print a TCP (or UDP) conversation's reassembled data",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 unreadable or not a capture, 2 usage error "
        "(including a stream the capture does not have), 3 with --strict: a malformed or "
        "truncated packet or a damaged file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_file_options(parser)
    parser.add_argument(
        "stream", metavar="STREAM", type=_stream_id, nargs="?",
        help="stream number (default 0, the first conversation, as Wireshark opens it)",
    )
    parser.add_argument(
        "--hex", action="store_true",
        help="show the data as a hex dump (offset, hex, ASCII) per run, as Wireshark's "
        "Follow Stream in Hex Dump mode; offsets count each direction's bytes",
    )
    parser.add_argument(
        "--raw", action="store_true",
        help="write the exact bytes of one direction to stdout (needs --direction)",
    )
    parser.add_argument(
        "--direction", choices=("client", "server"),
        help="only the bytes this side sent",
    )
    parser.add_argument("--udp", action="store_true", help="follow a UDP stream")
    parser.add_argument(
        "--no-defrag", dest="defrag", action="store_false",
        help="do not reassemble fragmented IP datagrams",
    )
    problems.add_options(parser, connections=True)
    common.add_keylog_option(
        parser, "a TLS stream whose secrets it holds is shown as its decrypted application "
        "data (the HTTP inside HTTPS)")
    parser.set_defaults(func=run, parser=parser)


class _Text:
    """Writes runs of one direction at a time, with a header per run."""

    def __init__(self, out: TextIO, color: bool, direction: str | None,
                 hexdump: bool = False) -> None:
        self.out = out
        self.color = color
        self.only = direction
        self.current: str | None = None
        self.hexdump = hexdump
        #: Bytes of each direction shown so far: the hex dump's offsets
        #: (Wireshark counts each side from 0; a gap advances it too).
        self.offset = {"client": 0, "server": 0}

    def _head(self, direction: str, arrow: str) -> None:
        if direction != self.current:
            if self.current is not None:
                self.out.write("\n")
            self.current = direction
            label = f"── {direction} {arrow} ──"
            self.out.write(f"{_DIM}{label}{_RESET}\n" if self.color else f"{label}\n")

    def data(self, direction: str, data: bytes, datagram: bool = False) -> None:
        if self.only not in (None, direction):
            return
        arrow = "→ server" if direction == "client" else "→ client"
        self._head(direction, arrow)
        if self.hexdump:
            text = _hex_block(data, self.offset[direction])
            self.offset[direction] += len(data)
        else:
            # CR LF reads as a line end; any other control byte is a dot (never sent
            # raw to the terminal: a capture must not be able to drive it).
            text = data.replace(b"\r\n", b"\n").translate(_TO_DOTS).decode("ascii")
            if datagram:
                text += "\n"  # one datagram per line block, as Wireshark's UDP follow
        if self.color:
            text = f"{_RED if direction == 'client' else _BLUE}{text}{_RESET}"
        self.out.write(text)

    def gap(self, direction: str, length: int, reason: str) -> None:
        if self.only not in (None, direction):
            return
        arrow = "→ server" if direction == "client" else "→ client"
        self._head(direction, arrow)
        mark = f"[{length} bytes missing]"
        if self.hexdump:
            self.offset[direction] += length
            mark += "\n"
        self.out.write(f"{_DIM}{mark}{_RESET}" if self.color else mark)

    def conflict(self, direction: str, offset: int, length: int, frame: int,
                 first_frame: int) -> None:
        """A retransmission in ``frame`` carried other bytes than ``first_frame`` (shown)."""
        if self.only not in (None, direction):
            return
        arrow = "→ server" if direction == "client" else "→ client"
        self._head(direction, arrow)
        from layerpeek.render.hexdump import byte_range

        first = f"#{first_frame}" if first_frame else "the first copy"
        mark = (f"[{byte_range(offset, offset + length)} re-sent in #{frame} with different "
                f"content; {first} shown]")
        if self.hexdump:
            mark += "\n"
        self.out.write(f"{_DIM}{mark}{_RESET}" if self.color else mark)

    def end(self) -> None:
        if self.current is not None and not self.hexdump:  # hex rows end their line
            self.out.write("\n")


def run(args: argparse.Namespace) -> int:
    from layerpeek.flows.events import (
        ConversationSummary,
        StreamData,
        StreamGap,
        StreamInconsistency,
    )
    from layerpeek.flows.tracker import TCPTracker
    from layerpeek.flows.udp import UDPTracker, udp_payload
    from layerpeek.tls.events import DecryptedData
    from layerpeek.tls.stage import TLSStage

    parser: argparse.ArgumentParser = args.parser
    if args.raw and args.direction is None:
        parser.error("--raw needs --direction client or --direction server")
    path = common.capture_path(args, "stream")
    stream: int = 0 if args.stream is None else args.stream
    if args.hex and args.raw:
        parser.error("--hex shows the data as text; --raw writes it as bytes: give one")
    reader = common.open_packets(path)
    try:
        # Only the followed conversation's summary is kept: the trackers forget
        # the others, so memory stays bounded by --max-connections.
        table = {"keep_conversations": False}
        analysis = common.analysis(args, ["tcp", "udp"], settings={"tcp": table, "udp": table})
        tracker: TCPTracker | UDPTracker | None = (
            analysis.get(UDPTracker) if args.udp else analysis.get(TCPTracker))
        assert tracker is not None
        proto = "udp" if args.udp else "tcp"
        summary = problems.ProblemSummary()
        summary.analysis(analysis)
        out: TextIO = sys.stdout if args.raw else common.prepare_stdout()
        sink: _Raw | _Text
        if args.raw:
            sink = _Raw(sys.stdout.buffer, args.direction)
        else:
            sink = _Text(out, common.use_color(out), args.direction, args.hex)
        started = False
        followed: Conversation | None = None
        tls = analysis.get(TLSStage)  # with --keylog: TLS streams shown decrypted

        def conversation() -> Conversation | None:
            return followed if followed is not None else tracker.conversations.get(stream)

        def begin() -> None:
            nonlocal started
            if not started:
                started = True
                if not args.raw:
                    _header(conversation(), stream, args.udp, out)

        def take(events: list[object]) -> None:
            nonlocal followed
            for e in events:
                if isinstance(e, ConversationSummary):
                    if e.summary.id == stream and e.summary.proto == proto:
                        followed = e.summary
                elif args.udp:
                    continue
                elif isinstance(e, DecryptedData) and e.conversation == stream:
                    begin()
                    sink.data(e.direction, e.data)
                elif isinstance(e, StreamData) and e.conversation == stream:
                    if tls is not None and tls.tracker.is_tls(stream):
                        continue  # a TLS stream: its plaintext comes as DecryptedData
                    begin()
                    sink.data(e.direction, e.data)
                elif isinstance(e, StreamGap) and e.conversation == stream:
                    begin()
                    sink.gap(e.direction, e.length, e.reason)
                    summary.events((e,))  # the followed stream's holes, not every stream's
                elif isinstance(e, StreamInconsistency) and e.conversation == stream:
                    begin()
                    if isinstance(sink, _Text):
                        sink.conflict(e.direction, e.offset, e.length, e.frame, e.first_frame)
                    summary.events((e,))

        for packet in summary.watch(common.iter_packets(reader, path)):
            step = analysis.feed(packet)
            info = step.flow
            if args.udp and info is not None and info.proto == "udp" and info.stream == stream:
                begin()
                sink.data(info.direction, udp_payload(step.packet), datagram=True)
            if step.events:
                take(step.events)
        take(analysis.finish())
        if followed is None:
            count = tracker.conversation_count
            have = f"it has streams 0-{count - 1}" if count else "it has none"
            raise common.CommandError(
                f"{common.display_name(path)}: no {proto.upper()} stream {stream} ({have})",
                common.EXIT_USAGE,
            )
        begin()
        sink.end()
        if not args.raw:
            _footer(followed, args.udp, out)
        common.print_problems(reader, path)
        summary.reader(reader)
        summary.report()
    finally:
        reader.close()
    return summary.exit_code(args.strict)


#: Bytes per hex dump row, as Wireshark's Follow Stream hex view.
_HEX_ROW = 16
_HEX_ASCII = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))


def _hex_block(data: bytes, offset: int) -> str:
    """``data`` as hex dump rows (``00000010  47 45 54 …  GET …``), ending in a newline.

    ``offset`` is where ``data`` starts in its direction's byte stream, so the
    offsets continue across runs as Wireshark numbers them.
    """
    rows = []
    for at in range(0, len(data), _HEX_ROW):
        chunk = data[at : at + _HEX_ROW]
        hex_part = chunk[:8].hex(" ")
        if len(chunk) > 8:
            hex_part = f"{hex_part}  {chunk[8:].hex(' ')}"
        rows.append(f"{offset + at:08x}  {hex_part:<48}  {chunk.translate(_HEX_ASCII).decode()}\n")
    return "".join(rows)


class _Raw:
    """Exact bytes of one direction to a binary stream; holes reported on stderr."""

    def __init__(self, out: BinaryIO, direction: str) -> None:
        self.out = out
        self.only = direction
        self.missing: list[tuple[int, str]] = []

    def data(self, direction: str, data: bytes, datagram: bool = False) -> None:
        if direction == self.only:
            self.out.write(data)

    def gap(self, direction: str, length: int, reason: str) -> None:
        if direction == self.only:
            self.missing.append((length, reason))

    def end(self) -> None:
        self.out.flush()
        for length, reason in self.missing:
            common.warn(f"{self.only} data: {length} bytes missing ({reason}), not written")


def _header(conv: Conversation | None, stream: int, udp: bool, out: TextIO) -> None:
    if conv is None:
        return
    proto = "UDP" if udp else "TCP"
    out.write(f"Follow {proto} stream {stream}: client {conv.client}, server {conv.server}\n")
    out.write("=" * 67 + "\n")


def _footer(conv: Conversation, udp: bool, out: TextIO) -> None:
    from layerpeek.flows.udp import UDPConversation

    out.write("=" * 67 + "\n")
    if isinstance(conv, UDPConversation):
        out.write(f"client sent {conv.bytes_client} bytes in {conv.packets_client} "
                  f"datagrams, server {conv.bytes_server} bytes in "
                  f"{conv.packets_server} datagrams\n")
        return
    out.write(
        f"client sent {conv.stream_bytes_client} bytes"
        f"{_missing(conv.missed_bytes_client)}, server {conv.stream_bytes_server} bytes"
        f"{_missing(conv.missed_bytes_server)}; {conv.close.describe()}\n"
    )


def _missing(n: int) -> str:
    return f" ({n} missing)" if n else ""
