"""``layerpeek explain``: a capture told step by step, in plain language.

For a page load this is the explainer's story: the DNS lookup (which name
resolved to which address), the TCP three-way handshake (both initial
sequence numbers and the round-trip time), for HTTPS the TLS handshake (the
versions, server name, ALPN, cipher suite, certificate and round trips), each
HTTP request and response (inside HTTPS with ``--keylog``; without it, the
sizes and timing of the encrypted records each side sent),
the further requests on the same connection, and the teardown with the
states each side went through, every step with its frame numbers.  Other
captures get the same treatment for what they contain: UDP datagrams, a
refused connection, a reset, DNS alone.  The logic is
:func:`layerpeek.story.explain`; this module only reads and prints.

``--json`` writes one JSON object::

    {"kind": "page load" | "web" | "https" | "dns" | "tcp" | "udp" | "other",
     "overview": "...",
     "steps": [{"number", "kind", "title", "text", "frames", "time", "stream",
                "facts"}, ...],
     "conclusion": "...",
     "notes": ["...", ...]}

Step kinds: ``dns``, ``handshake``, ``refused``, ``no-answer`` (a SYN never
answered), ``midstream`` (a connection picked up after its handshake),
``tls-handshake``, ``request``, ``response``, ``data`` (TCP payload that is
not HTTP), ``tls-data`` (TLS application data not decrypted, or decrypted but
not HTTP), ``tls-alert``, ``udp``, ``teardown``, ``reset``, ``open`` (still
open at the end).
``time`` is seconds since the epoch; ``stream`` is ``"tcp N"`` or ``"udp N"``
(tshark's tcp.stream / udp.stream); ``facts`` holds the numbers behind the
text (the handshake's ISNs and RTTs, the DNS answer, the HTTP status …).
``conclusion`` is the explainer's last step when HTTP responses were fetched
(what the client ended up with, and how long it took), else "".
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

from layerpeek.commands import common, problems

if TYPE_CHECKING:
    from layerpeek.filter import DisplayFilter
    from layerpeek.packet import Packet
    from layerpeek.story import Story

DESCRIPTION = """\
Tell what happens in a capture, step by step, as the explainer tells a page
load: DNS lookup -> TCP three-way handshake -> (HTTPS: TLS handshake) -> HTTP
request -> response -> further requests -> teardown, with the packet (frame)
numbers of each step.  HTTPS is decrypted with --keylog; without it the
handshake and the sizes and timing of the encrypted data are told.
Captures that are not page loads are told too: UDP exchanges, refused or
reset connections, DNS lookups."""

#: Steps told by default: a big capture would otherwise print thousands.
DEFAULT_MAX_STEPS = 60


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="tell the capture's story step by step (DNS, handshake, TLS, HTTP, teardown)",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 unreadable or not a capture, 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_file_options(parser)
    parser.add_argument("--json", action="store_true", help="the story as one JSON object")
    parser.add_argument(
        "-Y", "--display-filter", dest="display_filter", metavar="EXPR",
        help="tell only the steps with a packet matching this Wireshark display filter, "
        "e.g. 'tcp.stream == 1' or 'dns' (the whole capture is still analysed, so streams "
        "and states are those of the full capture)",
    )
    parser.add_argument(
        "--max-steps", type=_count, default=DEFAULT_MAX_STEPS, metavar="N",
        help=f"tell at most N steps (default {DEFAULT_MAX_STEPS}; 0 for all; "
        "--json always has all)",
    )
    parser.add_argument("--width", type=_width, default=100, metavar="COLS",
                        help="wrap the text at COLS columns (default 100)")
    common.add_keylog_option(parser, "the HTTP inside HTTPS connections is told like cleartext")
    problems.add_max_connections(parser)
    parser.set_defaults(func=run, parser=parser)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _width(text: str) -> int:
    value = _count(text)
    if value < 40:
        raise argparse.ArgumentTypeError("must be at least 40")
    return value


def run(args: argparse.Namespace) -> int:
    import json  # here: `layerpeek --help` imports every command module

    from layerpeek.story import explain

    path = common.capture_path(args)
    keep = common.display_filter(args.display_filter)
    reader = common.open_packets(path)
    try:
        # One pass over the capture, from a file or a pipe alike: the story
        # stage keeps what it tells of each HTTP body, not the body.
        packets = common.iter_packets(reader, path)
        if keep is None:
            story = explain(packets, keylog=common.load_keylog(args))
        else:
            story = _filtered(packets, keep, args)
            if not story.steps:
                common.nothing_found(path, "steps (packets of the story)", True)
                common.print_problems(reader, path)
                return common.EXIT_OK
        from layerpeek.termsafe import json_safe, terminal_safe

        out = common.prepare_stdout()
        if args.json:
            out.write(json_safe(json.dumps(story.to_dict(), ensure_ascii=False)) + "\n")
        else:
            text = story.text(width=args.width, max_steps=args.max_steps)
            out.writelines(terminal_safe(line) + "\n" for line in text.splitlines())
        common.print_problems(reader, path)
    finally:
        reader.close()
    return common.EXIT_OK


def _filtered(packets: Iterator[Packet], keep: DisplayFilter, args: argparse.Namespace) -> Story:
    """The story of every packet, keeping the steps that hold a packet ``keep`` matches.

    The filter sees each packet with what the conversation stage knows of
    it (``tcp.stream``, ``tcp.analysis.*``), as ``dump -Y`` does; the story
    itself is told of the whole capture, so a step's stream numbers and
    states do not change with the filter.
    """
    from layerpeek.analysis import Analysis
    from layerpeek.story import Story, Storyteller

    keylog = common.load_keylog(args)
    teller = Storyteller()
    if keylog is None:
        analysis = Analysis(["defrag", teller])
    else:
        analysis = Analysis(["defrag", teller, "tls"],
                            settings={"tls": {"keylog": keylog, "keep_connections": False}})
    matched: set[int] = set()
    for step in analysis.run(packets):
        if keep(step.packet, step.flow):
            matched.add(step.packet.index)
    (story,) = (e for e in analysis.finish() if isinstance(e, Story))
    steps = [s for s in story.steps if not matched.isdisjoint(s.frames)]
    return dataclasses.replace(story, steps=steps)
