"""What every command shares: opening a capture, stdout in pipes, colour, warnings.

The CLI's promises live here so each command keeps them without thinking:

* A file that cannot be read, or is not a capture, is **one line** on stderr
  (``layerpeek: x.txt: not a pcap or pcapng file …``) and exit code 1, never a
  traceback.  Commands raise :class:`CommandError`; :func:`layerpeek.cli.main`
  prints it.
* File-level problems the reader met (a record cut by the end of the file)
  are warnings printed *after* the listing: every whole record is still shown.
* ``| head`` closing the pipe early is not an error (see :func:`silence_stdout`).
* Colour only on a terminal, and never with ``NO_COLOR`` (https://no-color.org)
  or ``TERM=dumb``.

This module is imported by ``cli.py`` for every command, so it imports nothing
heavy at module level.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from layerpeek.analysis import Analysis
    from layerpeek.filter import DisplayFilter
    from layerpeek.filter.bpf import CaptureFilter
    from layerpeek.packet import Packet
    from layerpeek.reader import PacketReader
    from layerpeek.tls.keylog import KeyLog

PROG = "layerpeek"

#: Exit codes (documented in ``layerpeek --help``).
EXIT_OK = 0  #: success, including captures with malformed packets (shown inline)
EXIT_FILE = 1  #: the capture could not be opened or is not a pcap/pcapng file
EXIT_USAGE = 2  #: bad command line (argparse's own code)
EXIT_INTERRUPTED = 130  #: Ctrl-C (128 + SIGINT, the shell convention)


class CommandError(Exception):
    """A failure reported as one ``layerpeek: <message>`` line on stderr."""

    def __init__(self, message: str, code: int = EXIT_FILE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def display_name(path: str) -> str:
    """How a capture argument is named in messages (``-`` is standard input)."""
    return "<stdin>" if path == "-" else path


def _reason(error: BaseException, path: str) -> str:
    """The error's own text without a repeated path prefix."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error) or type(error).__name__
    for prefix in (f"{path}: ", f"'{path}': "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def open_packets(path: str) -> PacketReader:
    """Open ``path`` (``-`` for stdin) as a stream of decoded packets.

    Raises :class:`CommandError` with a one-line message when the file is
    missing, unreadable or not a capture.
    """
    from layerpeek.errors import CaptureFormatError
    from layerpeek.reader import read

    name = display_name(path)
    try:
        if path == "-":
            return read(sys.stdin.buffer)
        return read(path)
    except CaptureFormatError as e:
        raise CommandError(f"{name}: {_reason(e, path)}") from None
    except IsADirectoryError:
        raise CommandError(f"{name}: is a directory, not a capture file") from None
    except (OSError, EOFError) as e:
        raise CommandError(f"{name}: {_reason(e, path)}") from None


def iter_packets(reader: PacketReader, path: str) -> Iterator[Packet]:
    """Iterate ``reader``, turning a read error mid-file into :class:`CommandError`.

    Only errors raised while *reading* are caught here (the command's own
    writes to stdout stay outside the ``try``), so a closed stdout pipe is
    never mistaken for an unreadable capture.
    """
    from layerpeek.errors import CaptureFormatError

    it = iter(reader)
    while True:
        try:
            packet = next(it)
        except StopIteration:
            return
        except CaptureFormatError as e:
            raise CommandError(f"{display_name(path)}: {_reason(e, path)}") from None
        except (OSError, EOFError) as e:
            raise CommandError(f"{display_name(path)}: read error: {_reason(e, path)}") from None
        yield packet


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for pipes, files and closed streams)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (non-empty) or TERM=dumb."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False
    env = os.environ
    return tty and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


def prepare_stdout() -> TextIO:
    """sys.stdout, made unable to fail on characters its encoding lacks.

    Lines contain "→" and latin-1 text from packets; on a stdout whose encoding
    cannot show them (``PYTHONIOENCODING=ascii``, a legacy Windows console) they
    are written as backslash escapes instead of raising UnicodeEncodeError in
    the middle of a listing.
    """
    out = sys.stdout
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    if encoding not in ("utf8", "utf16", "utf32"):
        reconfigure = getattr(out, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")
    return out


def warn(message: str) -> None:
    """``layerpeek: warning: <message>`` on stderr."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    """``layerpeek: <message>`` on stderr."""
    print(f"{PROG}: {message}", file=sys.stderr)


def nothing_found(path: str, what: str, filtered: bool) -> None:
    """The one way ``handshake``, ``http``, ``dns`` and ``explain`` say they found nothing.

    stdout stays empty (no table header, no JSON), so a pipe reading it gets
    nothing to parse; one line on stderr says what was looked for, and
    whether ``-Y`` is why: ``layerpeek: x.pcap: no DNS transactions match -Y``.
    The exit code stays 0: an empty answer is an answer.
    """
    flush_stdout()
    tail = " match -Y" if filtered else " in this capture"
    print(f"{PROG}: {display_name(path)}: no {what}{tail}", file=sys.stderr)


def print_problems(reader: PacketReader, path: str) -> int:
    """Print the reader's file-level problems as warnings; return how many.

    A link type no dissector decodes is named here too, once per run (not
    counted: the file is not damaged, layerpeek just cannot read further).
    stdout is flushed first so that, on a terminal, the warnings come after
    the listing they are about.
    """
    problems = list(reader.problems)
    name = display_name(path)
    if problems:
        flush_stdout()
        for problem in problems:
            warn(f"{name}: {problem}")
    undecoded = reader.undecoded_linktypes()
    if undecoded:
        from layerpeek.capture.linktypes import describe

        flush_stdout()
        for linktype in undecoded:
            warn(f"{name}: {describe(linktype)} is not decoded: its frames are shown as "
                 "undecoded data")
    return len(problems)


def flush_stdout() -> None:
    """Flush stdout (a BrokenPipeError propagates to :func:`layerpeek.cli.main`)."""
    out = sys.stdout
    if out is not None:
        out.flush()


def silence_stdout() -> None:
    """After the reader of our stdout went away (``| head``): stop writing there.

    The recipe from the Python docs (library/signal.html, "Note on SIGPIPE"):
    point the stdout file descriptor at /dev/null so the interpreter's final
    flush does not raise again and print "Exception ignored …" on stderr.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (tests capture stdout): nothing to redirect
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def display_filter(expression: str | None) -> DisplayFilter | None:
    """Compile ``-Y EXPR``; a bad filter is a usage error showing where it is wrong.

    The message carries the expression and a caret line under the offending
    column, the way tshark reports it, so the mistake is visible at a glance.
    """
    if expression is None:
        return None
    from layerpeek.filter import FilterError, compile

    try:
        return compile(expression)
    except FilterError as e:
        raise CommandError(f"bad display filter: {e.message}\n{e.pointer()}", EXIT_USAGE) from None


def capture_filter(expression: str | None) -> CaptureFilter | None:
    """Compile a tcpdump filter for a file (``-f`` or the trailing expression).

    A filter libpcap rejects is a usage error (2) with libpcap's reason; a
    machine without libpcap gets exit code 1 and how to install it.
    """
    if expression is None or not expression.strip():
        return None
    from layerpeek.filter import FilterError
    from layerpeek.filter.bpf import CaptureFilter, LibpcapMissing

    try:
        return CaptureFilter(expression)
    except LibpcapMissing as e:
        raise CommandError(str(e), EXIT_FILE) from None
    except FilterError as e:
        raise CommandError(str(e), EXIT_USAGE) from None


def analysis(
    args: argparse.Namespace,
    stages: list[str],
    *,
    settings: Mapping[str, Mapping[str, object]] | None = None,
    flow_info: bool = True,
) -> Analysis:
    """The analysis a command runs: ``stages``, the defragmenter first unless
    ``--no-defrag``, the trackers bounded by ``--max-connections`` where the
    command has it, and the TLS stage with the key log of ``--keylog`` (or
    ``$SSLKEYLOGFILE``) where the command has that option."""
    from layerpeek.analysis import Analysis

    names = (["defrag"] if getattr(args, "defrag", True) else []) + stages
    merged = {name: dict(values) for name, values in (settings or {}).items()}
    keylog = load_keylog(args)
    if keylog is not None:  # --keylog / $SSLKEYLOGFILE: the TLS stage decrypts
        names.append("tls")
        merged.setdefault("tls", {}).update(keylog=keylog, keep_connections=False)
        if "quic" in names:  # and the QUIC stage, where the command runs it
            merged.setdefault("quic", {}).update(keylog=keylog)
    limit = getattr(args, "max_connections", None)
    if limit is not None:
        for tracker in ("tcp", "udp"):
            merged.setdefault(tracker, {}).setdefault("max_connections", limit)
    return Analysis(names, settings=merged, flow_info=flow_info)


#: Said wherever ``-n`` is offered: the flag is accepted so tcpdump and tshark
#: command lines work unchanged, and it changes nothing.
NO_RESOLVE = (
    "accepted as in tcpdump/tshark (-n, -nn) and ignored: layerpeek never resolves names, "
    "addresses and ports are always shown as numbers"
)


def add_file_options(parser: argparse.ArgumentParser) -> None:
    """``FILE`` or ``-r FILE`` (tcpdump's and tshark's spelling), and ``-n``/``-nn``.

    FILE is optional for argparse so that ``-r`` can stand in for it;
    :func:`capture_path` then insists on exactly one of them.
    """
    parser.add_argument("file", nargs="?", metavar="FILE", help="capture file; - for stdin")
    parser.add_argument(
        "-r", dest="read_file", metavar="FILE",
        help="capture file (same as FILE, as tcpdump -r and tshark -r take it)",
    )
    parser.add_argument("-n", dest="numeric", action="count", default=0, help=NO_RESOLVE)


def capture_path(args: argparse.Namespace, *after: str) -> str:
    """The capture named by FILE or ``-r FILE``; a usage error when neither or both.

    ``after`` names the optional positionals declared after FILE, in order.
    With ``-r`` the words given there were parsed one place too early
    (``follow -r x.pcap 3`` puts "3" in FILE): they are shifted back into
    place, each through its own argparse ``type`` so a bad value is reported
    as it would be at its own position.
    """
    parser: argparse.ArgumentParser = args.parser
    file: str | None = args.file
    read_file: str | None = args.read_file
    if read_file is None:
        if file is None:
            parser.error("a capture file is required (FILE, -r FILE, or - for stdin)")
        return file
    if file is None:
        return read_file
    words = [file] + [getattr(args, name) for name in after]
    if not after or words[-1] is not None:
        parser.error("give the capture either as FILE or with -r, not both")
    actions = {a.dest: a for a in parser._actions}
    for name, word in zip(after, words, strict=False):
        action = actions[name]
        value: object = word
        if isinstance(word, str) and callable(action.type):
            try:
                value = action.type(word)
            except (argparse.ArgumentTypeError, ValueError) as e:
                parser.error(f"argument {action.metavar or name}: {e}")
        setattr(args, name, value)
    args.file = None
    return read_file


def positive_int(text: str) -> int:
    """argparse ``type=`` for counts and sizes: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def align(cells: list[list[str]], right: set[int]) -> str:
    """An aligned text table, header row first: columns in ``right`` are
    right-aligned (numbers), the others left-aligned; trailing spaces dropped.

    Every cell is made terminal-safe here, the one place all tables pass
    (:func:`layerpeek.termsafe.terminal_safe`): cells carry capture text.
    """
    from layerpeek.termsafe import terminal_safe

    cells = [[v if v.isprintable() else terminal_safe(v) for v in r] for r in cells]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for r in cells:
        parts = [v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(r)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


def add_keylog_option(parser: argparse.ArgumentParser, effect: str) -> None:
    """``--keylog FILE`` (default ``$SSLKEYLOGFILE``, as Wireshark's ``tls.keylog_file``)."""
    parser.add_argument(
        "--keylog", metavar="FILE",
        help="NSS key log (the SSLKEYLOGFILE format curl and browsers write) to decrypt "
        f"TLS: {effect}; default: $SSLKEYLOGFILE when set",
    )


def load_keylog(args: argparse.Namespace) -> KeyLog | None:
    """The key log named by ``--keylog``, else ``$SSLKEYLOGFILE``, else None.

    A ``--keylog`` file that cannot be read is an error (exit 1).  A
    ``$SSLKEYLOGFILE`` that does not exist (yet) is only a warning: browsers
    are often configured with one that has not been written.  Lines that are
    not key log lines are counted in a warning, not refused.
    """
    from layerpeek.tls.keylog import KeyLog, from_environment

    if not hasattr(args, "keylog"):
        return None  # a command without the option
    if "_keylog" in vars(args):
        loaded: KeyLog | None = args._keylog  # read once per run, warnings once
        return loaded
    given: str | None = args.keylog
    path = given if given is not None else from_environment()
    args._keylog = None
    if path is None:
        return None
    try:
        log = KeyLog.load(path)
    except OSError as e:
        reason = e.strerror or str(e)
        if given is None:
            warn(f"$SSLKEYLOGFILE {path}: {reason}; not decrypting")
            return None
        raise CommandError(f"{path}: cannot read the key log: {reason}") from None
    if log.problems:
        n = len(log.problems)
        warn(f"{path}: {n} line{'' if n == 1 else 's'} not in the key log format "
             f"(first: {log.problems[0]})")
    if not len(log):
        warn(f"{path}: no secrets in this key log")
    args._keylog = log
    return log
