"""Benchmark: what display and capture filters add to reading a capture.

The first ``--limit`` packets are decoded once (the first row times that,
as the baseline); each other row times only the filter over those decoded
packets, in microseconds per packet (best of ``--repeat``), so the machine's
noise in decoding does not hide the filter's own cost:

* ``-Y EXPR``: a compiled display filter (no flow stage, so header fields
  only; the flow stage's cost is in ``bench_flows.py``);
* ``-f EXPR``: the libpcap-compiled BPF program, run by libpcap's
  ``bpf_filter()`` through ctypes, and by the pure-Python interpreter.

Usage:  python bench/bench_filter.py [CAPTURE] [--repeat 3] [--limit 20000]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import layerpeek  # noqa: E402
from layerpeek import filter as lpf  # noqa: E402
from layerpeek.filter.bpf import CaptureFilter  # noqa: E402
from layerpeek.packet import Packet  # noqa: E402

DISPLAY = (
    "tcp.port == 8080",
    'ip.addr == 10.0.0.0/8 && tcp.flags.syn == 1 && !(tcp.flags.ack == 1)',
    'http.request.method == "GET" || dns.qry.name contains "example"',
)
CAPTURE = ("tcp port 8080", "udp and port 53")


def _best(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", nargs="?", default=str(HERE / "bench.pcap"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=20000)
    args = ap.parse_args()
    path = Path(args.capture)

    def decode() -> list[Packet]:
        with layerpeek.read(path) as reader:
            return list(itertools.islice(reader, args.limit))

    packets = decode()
    n = len(packets)
    print(f"{'decode (layerpeek.read)':<75} {_best(args.repeat, decode) / n * 1e6:7.2f} µs/packet")
    rows: list[tuple[str, Callable[[Packet], bool]]] = []
    rows += [(f"-Y {e}", lpf.compile(e)) for e in DISPLAY]
    rows += [(f"-f {e} (libpcap bpf_filter)", CaptureFilter(e)) for e in CAPTURE]
    rows += [(f"-f {e} (Python interpreter)", CaptureFilter(e, native=False)) for e in CAPTURE]
    for label, test in rows:
        per = _best(args.repeat, lambda t=test: [p for p in packets if t(p)]) / n * 1e6
        kept = sum(1 for p in packets if test(p))
        print(f"{label:<75} {per:7.2f} µs/packet  kept {kept}/{n}")


if __name__ == "__main__":
    main()
