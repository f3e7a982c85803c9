"""Where the CPU time of ``layerpeek dump FILE`` goes, stage by stage (issue 19).

Each row runs in a fresh interpreter and does what the row before it did plus
one more part of what ``dump``'s default listing does, with dump's own code:

1. ``start``: the interpreter and the imports only;
2. ``records``: the capture's record walk (:func:`layerpeek.capture.open_capture`);
3. ``decode``: every record decoded into a :class:`~layerpeek.packet.Packet`
   (:func:`layerpeek.read`, as ``dump`` opens the file);
4. ``plumbing``: the generators ``dump`` stacks on the packets (read errors,
   the problem summary, the time origin);
5. ``defrag``: the analysis with the IP defragmenter only;
6. ``trackers``: + the TCP and UDP conversation trackers (states, relative
   numbers, reassembly, the analysis flags);
7. ``quic+http2``: + the QUIC and HTTP/2-frame stages: the whole analysis of
   the default listing (``_annotated``);
8. ``format``: + each packet's line built (``packet_line``), not written;
9. ``dump``: the command itself, ``main(["dump", FILE])``, stdout to /dev/null.

The clock is each child's CPU time (user + system, ``wait4``), the best of
``--rounds`` rounds, the rows alternated inside a round so that a busy moment
on a shared machine hits every row; a row's share is its difference from the
row before.

    python3 bench/bench_dump_stages.py [FILE] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = ("start", "records", "decode", "plumbing", "defrag", "trackers", "quic+http2", "format",
        "dump")


def child(row: str, path: str) -> None:
    """Run one row in this process."""
    from layerpeek.analysis import Analysis
    from layerpeek.cli import main
    from layerpeek.commands import common, dump, problems
    from layerpeek.render.text import packet_line

    if row == "start":
        return
    if row == "records":
        from layerpeek.capture import open_capture

        with open_capture(path) as reader:
            for _ in reader:
                pass
        return
    if row == "dump":
        with open(os.devnull, "w") as sys.stdout:
            main(["dump", path])
        return
    reader = common.open_packets(path)
    packets = common.iter_packets(reader, path)
    if row == "decode":
        for _ in packets:
            pass
        return
    summary = problems.ProblemSummary()
    first = dump._FirstTime(None)
    packets = first.watch(summary.watch(packets))
    if row == "plumbing":
        for _ in packets:
            pass
        return
    if row in ("defrag", "trackers"):
        stages = ["defrag"] if row == "defrag" else ["defrag", "tcp", "udp"]
        table = {"max_connections": 50_000, "keep_conversations": False}
        analysis = Analysis(stages, settings={"tcp": table, "udp": table})
        summary.analysis(analysis)
        for packet in packets:
            step = analysis.feed(packet)
            if step.events:
                summary.events(step.events)
        summary.events(analysis.finish())
        return
    items = dump._annotated(packets, flows=True, defrag=True, summary=summary)
    if row == "quic+http2":
        for _ in items:
            pass
        return
    assert row == "format"
    t0 = None
    for packet, info in items:
        if t0 is None:
            t0 = first.ns
        packet_line(packet, t0, False, info, True)


def cpu_s(argv: list[str]) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed (wait status {status})")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", default=str(HERE / "bench.pcap"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=ROWS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file)
        return
    env_note = "PYTHONDONTWRITEBYTECODE set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    times: dict[str, list[float]] = {row: [] for row in ROWS}
    for _ in range(args.rounds):
        for row in ROWS:
            times[row].append(cpu_s([sys.executable, __file__, args.file, "--child", row]))
    print(f"{args.file}: best and median of {args.rounds} rounds, CPU s; "
          f"load average {os.getloadavg()[0]:.1f} at the end {env_note}")
    print("| row | best | median | this part (best − best of the row before) | share |")
    print("|---|---:|---:|---:|---:|")
    total = min(times["dump"]) - min(times["start"])
    before = None
    for row in ROWS:
        best = min(times[row])
        part = "" if before is None else f"{best - before:+.2f}"
        share = "" if before is None else f"{100 * (best - before) / total:.0f}%"
        print(f"| {row} | {best:.2f} | {statistics.median(times[row]):.2f} | {part} | {share} |")
        before = best


if __name__ == "__main__":
    main()
