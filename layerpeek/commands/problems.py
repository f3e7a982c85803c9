"""The problem summary printed at the end of a command, and ``--strict``.

A dissector reads whatever the network sent.  Damage is shown where it is
met (``[Malformed …]`` inline, a warning for a cut file), but in a listing of
a million packets nobody scrolls back, so every command also ends with one
summary on stderr counting each kind of problem it met:

* **malformed** packets: a decoder found an impossible value, by protocol
  and reason class (the reason with its numbers replaced by ``N``, so
  ``tcp.options[2].length 40 overflows …`` and ``… [0].length 12 …`` count
  together);
* **truncated** packets: the captured bytes ran out inside a header;
* **file** problems: a record cut by the end of the file, a block whose
  length lies (each is also printed in full as a warning);
* **stream gaps**: TCP bytes the capture never saw, by why the stream moved
  on (commands that reassemble);
* **evicted** connections: the connection table was full
  (``--max-connections``);
* **fragments** given up by IP reassembly.

Nothing is printed when nothing went wrong, so clean captures keep a clean
stderr.  With ``--strict`` the exit code says whether anything was wrong
with the *packets or the file*: :data:`EXIT_MALFORMED` (3) when any packet
was malformed or truncated or the file was damaged.  Stream gaps and
evictions are facts about the capture's coverage, not damage, and are only
reported.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

from layerpeek.commands import common

if TYPE_CHECKING:
    from layerpeek.analysis import Analysis
    from layerpeek.packet import Packet
    from layerpeek.reader import PacketReader

#: ``--strict`` and a malformed or truncated packet, or a damaged file.
EXIT_MALFORMED = 3

#: The default of ``--max-connections`` (``layerpeek.flows.tracker.DEFAULT_MAX_CONNECTIONS``,
#: repeated here so that building the parser does not import the tracker; a
#: test keeps the two equal).
MAX_CONNECTIONS_DEFAULT = 50_000

#: Reason classes listed per kind before "… and N more".
MAX_LISTED = 8

_NUMBER = re.compile(r"\d+")

#: TLSProblem kinds in the summary's words.
_TLS_KINDS = {
    "no-keys": "keys missing from the key log",
    "auth-failed": "records that did not authenticate",
    "unsupported": "cipher or version not decrypted",
    "gap": "stream gaps",
    "not-tls": "streams that stopped being TLS",
    "truncated": "cut by the end of the capture",
    "malformed": "malformed handshake messages",
}


def reason_class(protocol: str, reason: str) -> str:
    """``"tcp.options[2].length 40 overflows …"`` → ``"tcp.options[N].length N overflows …"``."""
    if reason.startswith(protocol + ": "):
        reason = reason[len(protocol) + 2 :]
    return _NUMBER.sub("N", reason)



def add_options(parser: argparse.ArgumentParser, *, connections: bool = False) -> None:
    """``--strict`` for every command; ``--max-connections`` for those that track flows."""
    parser.add_argument(
        "--strict", action="store_true",
        help=f"exit with code {EXIT_MALFORMED} if any packet was malformed or truncated, "
        "or the file was damaged (the summary on stderr says what)",
    )
    if connections:
        add_max_connections(parser)


def add_max_connections(parser: argparse.ArgumentParser) -> None:
    """``--max-connections``: the bound on the conversations a command tracks at once."""
    parser.add_argument(
        "--max-connections", type=common.positive_int, default=MAX_CONNECTIONS_DEFAULT,
        metavar="N",
        help="TCP and UDP conversations tracked at once; past it the least recently "
        f"seen is evicted and counted in the summary (default {MAX_CONNECTIONS_DEFAULT})",
    )


class ProblemSummary:
    """Counts of every problem one command run met, printed at its end."""

    def __init__(self) -> None:
        self.packets = 0
        self.malformed: Counter[tuple[str, str]] = Counter()  #: (protocol, class) → packets
        self.truncated: Counter[tuple[str, str]] = Counter()
        self.file_problems = 0
        self.gaps: Counter[str] = Counter()  #: reason → gaps
        self.gap_bytes = 0
        #: Retransmissions whose bytes differed from the first copy (the first is used).
        self.conflicts = 0
        self._analyses: list[Analysis] = []

    # -- counting ------------------------------------------------------------

    def watch(self, packets: Iterable[Packet]) -> Iterator[Packet]:
        """Pass ``packets`` through, counting the ones whose decoding stopped early."""
        from layerpeek.packet import Malformed

        for packet in packets:
            self.packets += 1
            layers = packet.layers
            if layers:
                last = layers[-1]
                if last.__class__ is Malformed:
                    assert isinstance(last, Malformed)
                    key = (last.protocol, reason_class(last.protocol, last.reason))
                    (self.truncated if last.truncated else self.malformed)[key] += 1
            yield packet

    def events(self, events: Iterable[object]) -> None:
        """Count the stream gaps and conflicting retransmissions among a flow stage's events."""
        from layerpeek.flows.events import StreamGap, StreamInconsistency

        for e in events:
            if e.__class__ is StreamGap:
                assert isinstance(e, StreamGap)
                self.gaps[e.reason] += 1
                self.gap_bytes += e.length
            elif e.__class__ is StreamInconsistency:
                self.conflicts += 1

    def reader(self, reader: PacketReader) -> None:
        """The file-level problems the capture reader met (after iterating it)."""
        self.file_problems = len(reader.problems)

    def analysis(self, analysis: Analysis) -> None:
        """Report ``analysis``'s evictions and abandoned fragments (read when reporting)."""
        self._analyses.append(analysis)

    @property
    def evicted_tcp(self) -> int:
        from layerpeek.flows.tracker import TCPTracker

        return sum(t.evicted for a in self._analyses if (t := a.get(TCPTracker)) is not None)

    @property
    def evicted_udp(self) -> int:
        from layerpeek.flows.udp import UDPTracker

        return sum(t.evicted for a in self._analyses if (t := a.get(UDPTracker)) is not None)

    @property
    def fragments_given_up(self) -> int:
        """Datagrams IP reassembly gave up (all of them; its problem list keeps the last 1000)."""
        from layerpeek.flows.defrag import Defragmenter

        return sum(d.given_up for a in self._analyses
                   if (d := a.get(Defragmenter)) is not None)

    @property
    def tls(self) -> Counter[str]:
        """TLS connections the key log did not open, by ``TLSProblem.kind`` (with --keylog)."""
        from layerpeek.tls.stage import TLSStage

        total: Counter[str] = Counter()
        for a in self._analyses:
            stage = a.get(TLSStage)
            if stage is not None:
                total.update(stage.tracker.problem_counts)
        return total

    @property
    def quic(self) -> int:
        """QUIC connections with packets the key log did not open (with --keylog)."""
        from layerpeek.quic.stage import QUICStage

        return sum(stage.not_decrypted for a in self._analyses
                   if (stage := a.get(QUICStage)) is not None and stage.keylog is not None)

    # -- verdict -------------------------------------------------------------

    @property
    def damaged(self) -> bool:
        """Anything ``--strict`` fails on: a malformed or truncated packet, a damaged file."""
        return bool(self.malformed or self.truncated or self.file_problems)

    def exit_code(self, strict: bool, code: int = 0) -> int:
        """``code`` unless ``strict`` and something was damaged (then 3)."""
        return EXIT_MALFORMED if strict and self.damaged and code == 0 else code

    def lines(self) -> list[str]:
        """The summary, one head line then one line per kind and reason; [] if all was well."""
        heads: list[str] = []
        body: list[str] = []
        for kind, counts in (("malformed", self.malformed), ("truncated", self.truncated)):
            total = sum(counts.values())
            if not total:
                continue
            heads.append(f"{total} {kind}")
            ranked = counts.most_common()
            for (protocol, reason), n in ranked[:MAX_LISTED]:
                body.append(f"  {kind:<10} {n:>7}  {protocol}: {reason}")
            if len(ranked) > MAX_LISTED:
                rest = sum(n for _, n in ranked[MAX_LISTED:])
                body.append(f"  {kind:<10} {rest:>7}  … {len(ranked) - MAX_LISTED} more reasons")
        if self.file_problems:
            s = "" if self.file_problems == 1 else "s"
            heads.append(f"{self.file_problems} file problem{s}")
            body.append(f"  {'file':<10} {self.file_problems:>7}  damage in the capture file "
                        "itself (warnings above)")
        if self.gaps:
            total = sum(self.gaps.values())
            heads.append(f"{total} stream gap{'' if total == 1 else 's'}")
            why = ", ".join(f"{reason} {n}" for reason, n in self.gaps.most_common())
            body.append(f"  {'gaps':<10} {total:>7}  {self.gap_bytes} TCP bytes never captured "
                        f"({why})")
        if self.conflicts:
            n = self.conflicts
            heads.append(f"{n} conflicting retransmission{'' if n == 1 else 's'}")
            body.append(f"  {'conflicts':<10} {n:>7}  TCP bytes re-sent with different content "
                        "(the first copy is used; a possible evasion)")
        tcp, udp = self.evicted_tcp, self.evicted_udp
        if tcp + udp:
            heads.append(f"{tcp + udp} evicted")
            body.append(f"  {'evicted':<10} {tcp + udp:>7}  conversations dropped from the full "
                        f"table (TCP {tcp}, UDP {udp}; see --max-connections)")
        fragments = self.fragments_given_up
        if fragments:
            heads.append(f"{fragments} fragment problem{'' if fragments == 1 else 's'}")
            body.append(f"  {'fragments':<10} {fragments:>7}  IP datagrams not reassembled "
                        "(expired, evicted or inconsistent)")
        quic = self.quic
        if quic:
            heads.append(f"{quic} QUIC connection{'' if quic == 1 else 's'} not decrypted")
            body.append(f"  {'quic':<10} {quic:>7}  connections with packets the key log did "
                        "not open (no secret, wrong key, or damaged)")
        tls = self.tls
        if tls:
            total = sum(tls.values())
            heads.append(f"{total} TLS connection{'' if total == 1 else 's'} not decrypted")
            why = ", ".join(f"{_TLS_KINDS.get(k, k)} {n}" for k, n in tls.most_common())
            body.append(f"  {'tls':<10} {total:>7}  connections not (fully) decrypted with the "
                        f"key log ({why})")
        if not heads:
            return []
        # Only damaged packets are problems *in packets*: a stream gap, an
        # eviction or a file problem belongs to no packet, so the packets read
        # are not counted as having problems (issue 15).
        damaged = sum(self.malformed.values()) + sum(self.truncated.values())
        where = f" in {damaged} of {self.packets} packet{'' if self.packets == 1 else 's'}"
        return [f"problems{where if damaged else ''}: {', '.join(heads)}", *body]

    def report(self, stream: TextIO | None = None) -> None:
        """Print the summary to stderr (nothing when there is nothing to say)."""
        lines = self.lines()
        if not lines:
            return
        from layerpeek.commands.common import PROG, flush_stdout

        flush_stdout()  # after the listing it summarises, on a terminal too
        out = sys.stderr if stream is None else stream
        out.write(f"{PROG}: {lines[0]}\n")
        for line in lines[1:]:
            out.write(line + "\n")
