"""The ``layerpeek`` command: argument parsing and the edges, nothing else.

Each subcommand lives in ``layerpeek/commands/<name>.py`` and is listed in
:data:`COMMAND_MODULES`; this module only builds the parser, dispatches, and
keeps the CLI's promises in one place:

* exit codes (see :data:`EPILOG`), with argparse's usage errors returned as 2
  rather than raised, so ``main([...])`` is easy to test;
* a write that fails (stdout on a full disk or ``/dev/full``) is one
  ``cannot write`` line and exit 1, never a traceback;
* a closed stdout pipe (``layerpeek dump f | head``) ends the command quietly
  with exit code 0: the reader asked for no more, which is not a failure
  (and ``set -o pipefail`` scripts must not break on it);
* Ctrl-C ends quietly with 130.

Command modules are imported by name when the parser is built; they keep
their own imports lazy, so ``layerpeek --help`` does not load the decoders'
renderers or json.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from layerpeek.commands import common

#: The subcommands, in the order ``--help`` lists them.  One module each in
#: ``layerpeek/commands/``.
COMMAND_MODULES: tuple[str, ...] = (
    "dump", "live", "flows", "follow", "handshake", "dns", "http", "explain", "export",
    "fields",
)

EPILOG = """\
exit codes:
  0    success (malformed packets are shown inline, not errors)
  1    the capture file could not be read or is not a pcap/pcapng file,
       or a live capture could not start (permission, interface, filter)
  2    usage error
  3    --strict: a packet was malformed or truncated, or the file was damaged
       (without --strict such captures exit 0; either way a summary of every
       problem met ends the run on stderr)
  130  interrupted (Ctrl-C)

Colour is used on a terminal only, and never when NO_COLOR is set."""


def compiled_status() -> str:
    """Which path ``layerpeek.table`` takes here: its compiled loops or their Python twins.

    Found without importing the table package (it imports NumPy), so
    ``--version`` stays as quick as ``--help``.
    """
    import importlib.util
    import os

    if importlib.util.find_spec("layerpeek._speedups") is None:
        return "compiled loops (layerpeek._speedups): not built; the pure-Python path runs"
    if os.environ.get("LAYERPEEK_PURE_PYTHON", "") not in ("", "0"):
        return "compiled loops (layerpeek._speedups): built, off (LAYERPEEK_PURE_PYTHON is set)"
    return "compiled loops (layerpeek._speedups): built and used"


def build_parser() -> argparse.ArgumentParser:
    from layerpeek import __version__

    parser = argparse.ArgumentParser(
        prog=common.PROG,
        description="Dissect network captures (pcap, pcapng) layer by layer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__version__}\n{compiled_status()}")
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"layerpeek.commands.{name}")
        module.register(subparsers)
    return parser


def _no_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """``layerpeek -r x.pcap`` or ``layerpeek x.pcap``: name the command they meant.

    tcpdump and tshark read a file with no subcommand; here listing packets
    is ``dump``, so the usage error says so with the line to type.
    """
    if not argv:
        return
    first = argv[0]
    if first == "-r" or (first.startswith("-r") and len(first) > 2):
        rest = " ".join(argv)
        parser.error(f"reading a capture needs a command: try `{common.PROG} dump {rest}` "
                     "(or flows, http, dns, explain … -r FILE)")
    if not first.startswith("-") and first not in COMMAND_MODULES and (
        first.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"))
    ):
        rest = " ".join(argv)
        parser.error(f"{first!r} is not a command: to list its packets try "
                     f"`{common.PROG} dump {rest}`")


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        if argv is None:
            argv = sys.argv[1:]
        _no_command(parser, argv)
        args, extra = parser.parse_known_args(argv)
        if extra and hasattr(args, "expression") and not any(w.startswith("-") for w in extra):
            # `dump x.pcap -w out.pcap udp port 53`: argparse fills the trailing
            # filter words before the options that come between; tcpdump takes them.
            args.expression = [*(args.expression or []), *extra]
            extra = []
        if extra:
            # The subcommand's own usage, not the top level's: the words are
            # wrong for that subcommand, and its usage says what it takes.
            sub: argparse.ArgumentParser = args.parser
            sub.error(f"unrecognized arguments: {' '.join(extra)}")
        run: Callable[[argparse.Namespace], int] = args.func
        code = run(args)
        common.flush_stdout()  # inside the try: a closed pipe surfaces here
        return code
    except SystemExit as e:  # argparse usage errors (2), --help and --version (0)
        return _exit_code(e)
    except common.CommandError as e:
        try:
            common.flush_stdout()  # what was listed before the error comes first
        except BrokenPipeError:
            common.silence_stdout()
        common.error(e.message)
        return e.code
    except BrokenPipeError:
        common.silence_stdout()
        return common.EXIT_OK
    except OSError as e:  # stdout on a full disk, /dev/full, an I/O error: one line, exit 1
        common.silence_stdout()
        where = e.filename if e.filename else "output"
        common.error(f"{where}: cannot write: {e.strerror or e}")
        return common.EXIT_FILE
    except KeyboardInterrupt:
        try:
            common.flush_stdout()
        except (BrokenPipeError, KeyboardInterrupt):
            common.silence_stdout()
        return common.EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
