"""Benchmark: the conversation pipeline beside the plain decode, in one run.

What does following TCP cost on top of decoding?  Each row reads the same
capture from the start:

* ``decode``: ``layerpeek.read`` (every layer, nothing kept);
* ``dump (annotate)``: decode + defragmenter + TCP/UDP trackers with a
  :class:`~layerpeek.flows.tracker.PacketFlowInfo` per packet (what ``dump``
  shows by default);
* ``conversations``: decode + trackers + reassembly, summaries only
  (``layerpeek flows``);
* ``conversations + data``: the same keeping every stream's bytes
  (``keep_data=True``: memory grows with the payload, by design);
* ``dpkt decode``: dpkt's Ethernet/IP/TCP-UDP parse, for scale (dpkt has no
  conversation stage to compare with).

Each row runs in a child process (``--child``) so its peak memory (ru_maxrss)
is its own; times are best of ``--repeat`` runs.

Usage:  python bench/bench_flows.py [CAPTURE] [--repeat 3] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def decode(path: Path) -> int:
    import layerpeek

    return sum(1 for _ in layerpeek.read(path))


def annotate(path: Path) -> int:
    import layerpeek
    from layerpeek.flows import annotate

    with layerpeek.read(path) as reader:
        return sum(1 for _ in annotate(reader))


def conversations(path: Path) -> int:
    from layerpeek.flows import conversations

    return len(conversations(path))


def conversations_data(path: Path) -> int:
    from layerpeek.flows import conversations

    return len(conversations(path, keep_data=True))


def dpkt_decode(path: Path) -> int:
    import dpkt

    n = 0
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            n += 1
            _ = eth.data
    return n


ROWS: dict[str, Callable[[Path], int]] = {
    "decode": decode,
    "dump (annotate)": annotate,
    "conversations": conversations,
    "conversations + data": conversations_data,
    "dpkt decode": dpkt_decode,
}


def child(name: str, path: Path) -> None:
    start = time.perf_counter()
    result = ROWS[name](path)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "result": result, "peak_kb": peak_kb}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", nargs="?", default=str(HERE / "bench.pcap"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = Path(args.capture)
    if args.child:
        child(args.child, path)
        return 0
    if not path.exists():
        print(f"{path}: not found; make it with sudo python3 bench/make_bench_capture.py",
              file=sys.stderr)
        return 1
    import layerpeek

    packets = sum(1 for _ in layerpeek.open_capture(path))
    print(f"{path}: {packets} packets, {path.stat().st_size / 1e6:.1f} MB; best of {args.repeat}")
    print(f"{'row':<24}{'seconds':>9}{'pkt/s':>10}{'vs decode':>11}{'peak MB':>9}  result")
    base: float | None = None
    for name in ROWS:
        best: dict[str, float] | None = None
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, str(path), "--child", name],
                                 capture_output=True, text=True, check=True)
            run = json.loads(out.stdout)
            if best is None or run["seconds"] < best["seconds"]:
                best = run
        assert best is not None
        if base is None:
            base = best["seconds"]
        print(f"{name:<24}{best['seconds']:>9.2f}{packets / best['seconds']:>10,.0f}"
              f"{base / best['seconds']:>10.2f}x{best['peak_kb'] / 1024:>9.0f}  "
              f"{int(best['result'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
