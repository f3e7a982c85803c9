"""``layerpeek live``: capture from an interface and show packets as they arrive.

``layerpeek live -i lo -f 'tcp port 3040'`` while the explainer's socket demo
runs shows the SYN, SYN-ACK, ACK, the greeting, the message and the FINs the
moment they happen, in ``dump``'s formats (one line, ``-V``, ``-x``,
``--json``: the same renderers, fed from :mod:`layerpeek.capture.live`
instead of a file).  ``-w out.pcapng`` also records them; ``--duration`` and
``-c`` bound the capture.  ``layerpeek dump -i IFACE [FILTER]`` routes here, as
tcpdump users type it.

Stopping: Ctrl-C (or SIGTERM) is the normal way to end a live capture, so it
is not an interruption: the handler only asks the capture to stop; the packet
in hand is finished, the ``-w`` file is flushed whole (it is written as
``FILE.part`` and renamed then; a FIFO or ``/dev/...`` device is written
through; see :mod:`layerpeek.commands.outfile`), a summary (packets
captured, dropped by the kernel) goes to stderr and the exit code is 0.  A
second Ctrl-C while stopping interrupts for real (exit 130).

Status lines ("listening on …" and the summary) go to stderr, like tcpdump's,
so stdout stays pure listing or JSON Lines.  Every output line is flushed at
once: a live view that waits for a 8 KiB pipe buffer to fill is not live.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO

from layerpeek.commands import common

if TYPE_CHECKING:
    from layerpeek.capture.live import LiveCapture
    from layerpeek.flows.tracker import TCPConversation
    from layerpeek.packet import Packet
    from layerpeek.tls.keylog import KeyLog

DESCRIPTION = """\
Capture packets from a network interface (Linux; needs root or CAP_NET_RAW)
and show them as they arrive, in the formats of `layerpeek dump`:

  layerpeek live -i lo -f 'tcp port 3040'
  layerpeek live -i eth0 -c 20 -V udp port 53
  layerpeek live -i lo --duration 10 -w demo.pcapng

The filter is tcpdump's expression language (given with -f or as trailing
words) and runs in the kernel.  On loopback each packet is shown once (the
kernel's outgoing copy is skipped).  Ctrl-C stops the capture, prints a summary
on stderr (packets captured, dropped by the kernel) and leaves the -w file
complete."""

EPILOG = """\
exit codes: 0 stopped normally (count, duration or Ctrl-C), 1 the capture could
not start or had to end (permission, no such interface, interface down or gone
down, bad filter, -w file), 2 usage error, 130 a second Ctrl-C while stopping"""



def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "live",
        help="capture from an interface and show packets as they arrive",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-i", "--interface", required=True, metavar="IFACE", help="interface to capture on"
    )
    parser.add_argument(
        "-f", "--filter", dest="bpf_filter", metavar="EXPR",
        help="capture filter in tcpdump syntax, e.g. 'tcp port 80' (or give it as trailing words)",
    )
    parser.add_argument(
        "expression", nargs="*", metavar="FILTER",
        help="capture filter words, as tcpdump takes them",
    )
    parser.add_argument(
        "-c", "--count", type=common.positive_int, metavar="N", help="stop after N packets"
    )
    parser.add_argument(
        "--duration", type=_seconds, metavar="S", help="stop after S seconds"
    )
    parser.add_argument(
        "-w", "--write", metavar="FILE",
        help="also record the packets to FILE as pcapng ('-' for stdout: nothing else is printed)",
    )
    parser.add_argument(
        "-s", "--snaplen", type=common.positive_int, metavar="BYTES",
        help="keep at most BYTES of each packet (default 262144, as tcpdump)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="do not list packets (useful with -w)"
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
        "--json", action="store_true", help="one JSON object per packet (JSON Lines, dump's schema)"
    )
    parser.add_argument(
        "--handshake", action="store_true",
        help="draw each TCP conversation as a ladder diagram while it happens",
    )
    common.add_keylog_option(
        parser, "with --handshake, TLS messages are drawn on the arrows and TLS 1.3's "
        "encrypted handshake is named (a key log is read as it is when the capture starts)")
    parser.set_defaults(func=run, parser=parser)


@dataclass(slots=True)
class Options:
    """What a live run needs, whichever command line (``live`` or ``dump -i``) asked."""

    interface: str
    bpf_filter: str
    count: int | None = None
    duration: float | None = None
    write: str | None = None
    snaplen: int | None = None
    view: str = "lines"  #: "lines", "detailed", "json", "handshake" or "none"
    tree: bool = False  #: with view "detailed": -V
    hexdump: bool = False  #: with view "detailed": -x
    keylog: KeyLog | None = None  #: with view "handshake": names TLS 1.3's encrypted handshake


def _filter_from(parser: argparse.ArgumentParser, flag: str | None, words: list[str]) -> str:
    if flag is not None and words:
        parser.error(
            f"give the filter either with -f or as trailing words, not both "
            f"(got -f {flag!r} and {' '.join(words)!r})"
        )
    return flag if flag is not None else " ".join(words)


def _view(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    handshake = bool(getattr(args, "handshake", False))
    quiet = bool(getattr(args, "quiet", False))
    chosen = [
        name
        for name, on in (
            ("--json", args.json),
            ("--handshake", handshake),
            ("-q", quiet),
            ("-V/-x", args.verbose or args.hex),
        )
        if on
    ]
    if len(chosen) > 1:
        parser.error(f"{' and '.join(chosen)} cannot be combined")
    if args.json:
        return "json"
    if handshake:
        return "handshake"
    if quiet:
        return "none"
    if args.verbose or args.hex:
        return "detailed"
    return "lines"


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    opts = Options(
        interface=args.interface,
        bpf_filter=_filter_from(parser, args.bpf_filter, args.expression),
        count=args.count,
        duration=args.duration,
        write=args.write,
        snaplen=args.snaplen,
        view=_view(parser, args),
        tree=args.verbose,
        hexdump=args.hex,
        keylog=common.load_keylog(args),
    )
    if opts.write == "-" and opts.view != "none":
        if args.json or args.verbose or args.hex or args.handshake:
            parser.error("-w - writes the capture to stdout: it cannot be combined with a listing")
        opts.view = "none"
    return capture(opts)


def run_dump(args: argparse.Namespace) -> int:
    """``layerpeek dump -i IFACE [FILTER words]``: live capture with dump's options.

    ``dump`` has no -w, --duration or --handshake: those are ``live``'s.
    Trailing words after ``-i`` are the filter, as in ``tcpdump -i lo tcp port 80``.
    """
    parser: argparse.ArgumentParser = args.parser
    words: list[str] = list(getattr(args, "expression", None) or [])
    if args.interface is None:
        extra = [w for w in (args.file, *words) if w is not None]
        parser.error(
            f"unexpected arguments {' '.join(extra)!r}: dump reads one capture file; "
            "trailing filter words are for live capture with -i IFACE"
        )
    if args.read_file is not None:
        parser.error("-i captures live and -r reads a file: give one of them")
    if args.file is not None:
        words.insert(0, args.file)  # `dump -i lo tcp port 80`: the first word landed in FILE
    opts = Options(
        interface=args.interface,
        bpf_filter=" ".join(words),
        count=args.count,
        view=_view(parser, args),
        tree=args.verbose,
        hexdump=args.hex,
        keylog=common.load_keylog(args),
    )
    return capture(opts)


# --------------------------------------------------------------------------- running


def _open_capture(opts: Options) -> LiveCapture:
    from layerpeek.capture.live import DEFAULT_SNAPLEN, LiveCapture, LiveCaptureError

    try:
        return LiveCapture(
            opts.interface,
            opts.bpf_filter,
            snaplen=opts.snaplen if opts.snaplen is not None else DEFAULT_SNAPLEN,
        )
    except LiveCaptureError as e:
        raise common.CommandError(str(e)) from None


class _StopOnSignal:
    """While installed, SIGINT and SIGTERM ask the capture to stop instead of raising.

    The first signal restores Python's default SIGINT behaviour, so a second
    Ctrl-C (say, stdout is blocked on a stalled terminal) does interrupt.
    Outside the main thread (tests calling ``main()`` from a thread) signals
    cannot be handled and nothing is installed.
    """

    def __init__(self, capture: LiveCapture) -> None:
        self._capture = capture
        self._saved: list[tuple[int, Any]] = []  #: (signal, handler to restore)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        import signal  # in the methods: `layerpeek --help` imports this module

        self._capture.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> _StopOnSignal:
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._saved.append((signum, signal.signal(signum, self._handle)))
            except ValueError:  # not the main thread
                break
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for signum, handler in self._saved:
            # None: the old handler was not set from Python; the default is the best guess.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _open_output(path: str) -> tuple[BinaryIO, str | None]:
    """The file ``-w`` writes, and its ``.part`` name when it is renamed at the end.

    ``-``, a FIFO or a character device is written through; an absent or
    regular file is written as ``FILE.part`` and renamed when the capture
    stops cleanly; anything else (a symlink, a directory) is refused.  See
    :mod:`layerpeek.commands.outfile`.
    """
    from layerpeek.commands import outfile

    if path == "-":
        return sys.stdout.buffer, None
    if outfile.check_target(path, stream_ok=True):
        try:
            return open(path, "wb"), None  # closed by capture()'s ExitStack
        except OSError as e:
            raise outfile.write_error(path, e) from None
    part, fileobj = outfile.open_part(path)
    return fileobj, part


def capture(opts: Options) -> int:
    """Open the capture (errors → exit 1), then show/record packets until it stops."""
    from layerpeek.capture.live import LiveCaptureError

    live = _open_capture(opts)
    with contextlib.ExitStack() as stack:
        stack.callback(live.close)
        record: Callable[[Packet], None] | None = None
        if opts.write is not None:
            fileobj, part = _open_output(opts.write)
            if fileobj is not sys.stdout.buffer:
                stack.callback(_close_quietly, fileobj)
            record = _recorder(live, fileobj, opts.write, part)
        stack.callback(_summary, live)
        # Signals are handled before "listening on" is printed: whoever waits
        # for that line may stop us at once, and that must be a clean stop.
        stack.enter_context(_StopOnSignal(live))
        what = f", filter {live.bpf_filter!r}" if live.bpf_filter else ""
        common.error(
            f"listening on {live.interface}{what}, snaplen {live.snaplen}; Ctrl-C to stop"
        )
        sys.stderr.flush()
        packets = live.packets(opts.count, opts.duration)
        if record is not None:
            packets = _recording(packets, record)
        try:
            _show(packets, opts)
        except LiveCaptureError as e:  # e.g. the interface went down mid-capture
            raise common.CommandError(str(e)) from None
        if opts.write is not None and part is not None:
            from layerpeek.commands import outfile

            try:
                fileobj.close()
            except OSError as e:
                raise _cut(opts.write, part, e) from None
            outfile.finish(part, opts.write)  # a clean stop: the file gets its name
    return common.EXIT_OK


def _close_quietly(fileobj: BinaryIO) -> None:
    with contextlib.suppress(OSError):  # a failed write was already reported
        fileobj.close()


def _cut(path: str, part: str | None, error: OSError) -> common.CommandError:
    """The error for a ``-w`` write that failed; the packets so far stay in the ``.part``."""
    kept = f" (the packets written so far are in {part})" if part is not None else ""
    return common.CommandError(f"{path}: cannot write: {error.strerror or error}{kept}")


def _recorder(
    live: LiveCapture, fileobj: BinaryIO, path: str = "-", part: str | None = None
) -> Callable[[Packet], None]:
    """A pcapng writer for ``live``'s packets that flushes after each one.

    The interface description names the interface and its link type and asks
    for nanosecond time stamps (``if_tsresol`` 9), so nothing the kernel told
    us is lost.  Flushing per packet keeps the file valid at every moment,
    even if the process is killed rather than stopped (it is then left as
    ``FILE.part``: only a clean stop gives it its name).
    """
    from layerpeek.capture.frame import RawFrame
    from layerpeek.capture.writer import PcapngWriter

    try:
        writer = PcapngWriter(fileobj)
        iface = writer.add_interface(
            live.linktype, name=live.interface, snaplen=live.snaplen, tsresol=9
        )
        fileobj.flush()
    except OSError as e:  # /dev/full, a full disk
        raise _cut(path, part, e) from None

    def record(packet: Packet) -> None:
        frame = RawFrame(
            packet.ts_ns, packet.wire_len, packet.data, packet.linktype, iface,
            packet.interface_name,
        )
        try:
            writer.write(frame, iface)
            fileobj.flush()
        except OSError as e:
            if fileobj is sys.stdout.buffer:
                raise  # stdout: BrokenPipeError and the rest are the CLI's to report
            raise _cut(path, part, e) from None

    return record


def _recording(packets: Iterator[Packet], record: Callable[[Packet], None]) -> Iterator[Packet]:
    for packet in packets:
        record(packet)  # before it is shown: what was shown is always in the file
        yield packet


def _summary(live: LiveCapture) -> None:
    stats = live.stats()
    dropped = "unknown" if stats.dropped is None else str(stats.dropped)
    noun = "packet" if stats.captured == 1 else "packets"
    with contextlib.suppress(BrokenPipeError):
        common.flush_stdout()
    common.error(
        f"{stats.captured} {noun} captured on {stats.interface}, {dropped} dropped by the kernel"
    )


def _show(packets: Iterator[Packet], opts: Options) -> None:
    """Render with dump's own functions, flushing after every packet."""
    from layerpeek.commands import dump

    out = common.prepare_stdout()

    def write(text: str) -> None:
        out.write(text)
        out.flush()

    color = common.use_color(out)
    if opts.view == "none":
        for _ in packets:
            pass
    elif opts.view == "json":
        dump._json_lines(packets, write, None)
    elif opts.view == "detailed":
        dump._detailed(packets, write, None, opts.tree, opts.hexdump, color, dump._FirstTime())
    elif opts.view == "handshake":
        _handshake(packets, write, color, opts.keylog)
    else:
        dump._lines(packets, write, None, color, dump._FirstTime())


def _handshake(packets: Iterator[Packet], write: Callable[[str], None], color: bool,
               keylog: KeyLog | None = None) -> None:
    ladder = LiveLadder(write, keylog)
    try:
        for packet in packets:
            ladder.feed(packet)
    finally:
        ladder.finish()


class LiveLadder:
    """``live --handshake``: the ``handshake`` command's ladder, drawn row by row.

    ``layerpeek handshake FILE`` knows each conversation whole before drawing
    it; live, each row must be written the moment its packet arrives.  So
    this feeds the same flow pipeline one packet at a time and uses the
    ``handshake`` command's own row, arrow and state renderers, printing:

    * the conversation's header when its first packet arrives;
    * each segment's arrow, and both sides' states whenever they change;
    * the handshake summary (RTT, options, ISNs) once the handshake completes;
    * the TLS messages a segment completed, on arrows of their own under it
      (named inside TLS 1.3's encrypted handshake when ``keylog`` has the
      session's secrets);
    * the end line once both sides are closed (or when the capture stops).

    Rows of concurrent conversations interleave; a ``(continued)`` line says
    whose rows follow whenever the conversation changes.
    """

    def __init__(self, write: Callable[[str], None], keylog: KeyLog | None = None) -> None:
        from layerpeek.analysis import Analysis
        from layerpeek.flows.tracker import TCPTracker

        # Conversations are forgotten once over, and so is what was drawn of
        # them: memory stays bounded however long the capture runs.
        self._analysis = Analysis(["defrag", "tcp", "tls"], settings={
            "tcp": {"keep_conversations": False},
            "tls": {"keylog": keylog, "keep_connections": False}})
        tracker = self._analysis.get(TCPTracker)
        assert tracker is not None
        self._tracker = tracker
        self._write = write
        self._drawn: dict[int, _Drawn] = {}  #: conversations being drawn
        self._last: int | None = None
        self._t0: int | None = None  #: the first packet's time: the time origin, as dump's

    def feed(self, packet: Packet) -> None:
        from layerpeek.commands import handshake as hs
        from layerpeek.flows.events import ConnectionClosed, StateChanged
        from layerpeek.flows.key import innermost_transport
        from layerpeek.flows.records import JOINED_MIDSTREAM
        from layerpeek.layers.tcp import TCP
        from layerpeek.tls.summary import message_labels

        if self._t0 is None:
            self._t0 = packet.ts_ns
        step = self._analysis.feed(packet)
        packet, info, events = step.packet, step.flow, step.events
        for e in events:
            if isinstance(e, ConnectionClosed) and e.conversation in self._drawn:
                self._drawn[e.conversation].closed = True
        self._take_summaries(events)
        if info is None or info.proto != "tcp":
            return
        found = innermost_transport(packet, TCP)
        if found is None:
            return
        tcp = packet.layers[found[0]]
        assert isinstance(tcp, TCP)
        sid = info.stream
        conv = self._tracker.conversations[sid]
        out: list[str] = []
        drawn = self._drawn.get(sid)
        if drawn is None:
            drawn = self._drawn[sid] = _Drawn(self._t0)
            if conv.client_by in ("port", "first packet"):  # no SYN or SYN-ACK
                drawn.client = drawn.server = JOINED_MIDSTREAM
            if self._last is not None:
                out.append("\n")
            out.append(f"TCP stream {sid}: client {conv.client}, server {conv.server}\n")
            out.append(f"  {hs.TIME_ORIGIN}\n")
            head = hs._columns(f"client {conv.client}", f"server {conv.server}")
            out.append(f"{'frame':>5}  {'time':<9}  {head[hs._MARGIN :]}\n")
            out.append(hs._columns(drawn.client, drawn.server) + "\n")
        elif sid != self._last:
            out.append(
                f"TCP stream {sid} (continued): client {conv.client}, server {conv.server}\n"
            )
        self._last = sid
        row = hs._row(packet.index, packet.ts_ns, tcp.flags, info)
        for e in events:
            if isinstance(e, StateChanged) and e.conversation == sid:
                side = row.client_states if e.endpoint == "client" else row.server_states
                side.append(e.new.value)
        notes = " ".join(x for x in (hs._phase(conv, row), row.notes) if x)
        seconds = (row.ts_ns - drawn.t0) / 1e9
        line = f"{row.frame:>5}  {seconds:<9.6f}  {hs._arrow(row.label, row.from_client)}"
        out.append(f"{line} {notes}".rstrip() + "\n")
        for arrow in hs._tls_arrows(message_labels(events, sid), row.from_client):
            out.append(f"{'':<{hs._MARGIN}}{arrow}\n")
        if row.client_states or row.server_states:
            # Every state a side went through in this packet, e.g. CLOSE_WAIT > LAST_ACK.
            out.append(
                hs._columns(
                    " > ".join(row.client_states) if row.client_states else drawn.client,
                    " > ".join(row.server_states) if row.server_states else drawn.server,
                )
                + "\n"
            )
            drawn.client = row.client_states[-1] if row.client_states else drawn.client
            drawn.server = row.server_states[-1] if row.server_states else drawn.server
        if conv.handshake.complete and not drawn.summarised:
            drawn.summarised = True
            out.append(f"  {hs._handshake_text(conv)}\n")
        if drawn.closed and not drawn.ended and {drawn.client, drawn.server} <= {
                "CLOSED", "TIME_WAIT"}:
            drawn.ended = True
            out.append(_end_line(conv))
        self._write("".join(out))

    def _take_summaries(self, events: list[object]) -> None:
        """A conversation the tracker let go: its end line if not yet drawn, then forget it."""
        from layerpeek.flows.events import ConversationSummary
        from layerpeek.flows.tracker import TCPConversation

        for e in events:
            if isinstance(e, ConversationSummary) and isinstance(e.summary, TCPConversation):
                drawn = self._drawn.pop(e.summary.id, None)
                if drawn is not None and not drawn.ended:
                    self._write(_end_line(e.summary))

    def finish(self) -> None:
        """The capture stopped: close the books on conversations still drawn as open."""
        self._take_summaries(self._analysis.finish())


class _Drawn:
    """What ``live --handshake`` has drawn of one conversation so far."""

    __slots__ = ("client", "closed", "ended", "server", "summarised", "t0")

    def __init__(self, t0: int) -> None:
        self.t0 = t0
        self.client = "CLOSED"  #: the states last drawn under each column
        self.server = "?"  #: until it answers the SYN (TCPState.UNKNOWN, tcp_state's theory)
        self.closed = False  #: ConnectionClosed seen
        self.ended = False  #: end line written
        self.summarised = False  #: handshake summary written


def _end_line(conv: TCPConversation) -> str:
    return f"  end: {conv.close.describe()}; Zeek {conv.conn_state} {conv.history}\n"
