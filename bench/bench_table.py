"""Benchmark: columnar tables and Dask against dpkt and scapy, in one run.

Every contestant reads the same capture and gets, for every packet, the link,
IP and TCP/UDP fields (addresses, ports, seq/ack, flags):

* ``header walk``: a pure-Python loop over the pcap record headers that
  decodes nothing, the floor for any reader that has to find the records one
  after the other;
* ``layerpeek.table``: :func:`layerpeek.table` → a pyarrow Table of all
  default columns (addresses as text, protocol path, malformed reason), and
  once more with the ``community_id`` column, and once more with the
  compiled loops (``layerpeek._speedups``: the record walk, the copy of each
  frame's first bytes) replaced by their Python/NumPy twins, as on a machine
  without a C compiler (``LAYERPEEK_PURE_PYTHON=1``);
* ``layerpeek.dask``: :func:`layerpeek.columnar.read_captures` on the same file
  cut into chunks, a group-by computed with Dask's process scheduler on 1 and
  on 2 workers (process start-up and moving results back included);
* dpkt, scapy and layerpeek's per-packet decoder, with the functions of
  ``bench/bench.py`` (imported, so both benchmarks time the same code).

Best of ``--repeat`` wall-clock runs in this process, the rounds interleaved
(each round runs every contestant once); ratios are against dpkt measured in
the same run, so a busy machine slows every contestant alike.  The Dask
contestants get rounds of their own after the others: Dask's process
scheduler forks this process, and afterwards every page of it written for
the first time since takes a copy-on-write fault, which slowed whichever
contestant came next (``layerpeek.table``: 69 → 111 ms a run when the Dask
rounds were interleaved with it).

Usage:  python bench/bench_table.py [CAPTURE] [--repeat 3] [--scapy-limit 20000]
        [--parts 4] [--no-per-packet]
"""

from __future__ import annotations

import argparse
import mmap
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench as per_packet  # noqa: E402  (bench/bench.py: dpkt, scapy, per-packet layerpeek)


def run_header_walk(path: Path, limit: int | None) -> int:
    """Find every record and nothing else: one unpack per record header.

    The file is mapped, not read into a bytes object: copying 105 MB costs
    about 60 ms here, more than the walk itself, and :func:`layerpeek.table`
    maps it too.
    """
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        length = struct.Struct(order + "I").unpack_from
        pos = 24
        last = len(data) - 16
        n = 0
        while pos <= last:
            pos += 16 + length(data, pos + 8)[0]
            n += 1
    return n


def run_table(path: Path, limit: int | None) -> int:
    from layerpeek.columnar import table

    return int(table(path).num_rows)


def run_table_community(path: Path, limit: int | None) -> int:
    from layerpeek.columnar import COLUMNS, table

    return int(table(path, [*COLUMNS, "community_id"]).num_rows)


def run_table_pure_python(path: Path, limit: int | None) -> int:
    """``layerpeek.table`` with its Python walk and NumPy window copy (no extension)."""
    from layerpeek.columnar import _compiled, table

    saved = _compiled.ENABLED
    _compiled.ENABLED = False
    try:
        return int(table(path).num_rows)
    finally:
        _compiled.ENABLED = saved


def dask_runner(workers: int, parts: int) -> Callable[[Path, int | None], int]:
    def run(path: Path, limit: int | None) -> int:
        import dask

        from layerpeek.columnar import read_captures

        frame = read_captures(path, parts=parts)
        # Fork, not spawn: workers start with layerpeek, numpy and pyarrow loaded.
        with dask.config.set({"multiprocessing.context": "fork"}):
            counts = frame.groupby("protocols").size().compute(
                scheduler="processes", num_workers=workers
            )
        return int(counts.sum())

    return run


def interleaved_rates(
    contestants: dict[str, tuple[Callable[[Path, int | None], int], int | None, int]],
    path: Path,
    repeat: int,
    total: int,
) -> dict[str, float]:
    """Best rate of each contestant, the rounds interleaved.

    One round times every contestant once, so a burst of load from other work
    on the machine hits all of them rather than whichever ran at that moment.
    """
    best = dict.fromkeys(contestants, float("inf"))
    counts = dict.fromkeys(contestants, 0)
    for round_ in range(repeat):
        for name, (fn, limit, rounds) in contestants.items():
            if round_ >= rounds:
                continue
            t0 = time.perf_counter()
            counts[name] = fn(path, limit)
            best[name] = min(best[name], time.perf_counter() - t0)
    for name, (_fn, limit, _rounds) in contestants.items():
        if limit is None and counts[name] != total:
            print(f"warning: {name} saw {counts[name]} packets, expected {total}",
                  file=sys.stderr)
    return {name: counts[name] / best[name] for name in contestants}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("capture", nargs="?", default=str(HERE / "bench.pcap"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scapy-limit", type=int, default=20000,
                    help="scapy is slow: time it on the first N packets (rate is per packet)")
    ap.add_argument("--parts", type=int, default=4, help="chunks the Dask path cuts the file into")
    ap.add_argument("--no-per-packet", action="store_true",
                    help="skip layerpeek's per-packet decoder (bench/bench.py times it)")
    args = ap.parse_args()
    path = Path(args.capture)
    if not path.exists():
        print(f"{path} missing: run `sudo python3 bench/make_bench_capture.py` first",
              file=sys.stderr)
        return 1
    try:
        import dask  # noqa: F401
    except ImportError:
        print("dask is not installed: pip install 'layerpeek[dask]'", file=sys.stderr)
        return 1
    Contestants = dict[str, tuple[Callable[[Path, int | None], int], int | None, int]]
    contestants: Contestants = {
        "header walk (pure Python, no decoding)": (run_header_walk, None, args.repeat),
        "layerpeek.table": (run_table, None, args.repeat),
        "layerpeek.table + community_id": (run_table_community, None, args.repeat),
        "layerpeek.table, pure Python (no compiled loops)": (
            run_table_pure_python, None, args.repeat
        ),
        "dpkt": (per_packet.run_dpkt, None, args.repeat),
        "scapy": (per_packet.run_scapy, args.scapy_limit, 1),
    }
    if not args.no_per_packet:
        contestants["layerpeek per-packet (layerpeek.read)"] = (
            per_packet.run_layerpeek, None, args.repeat
        )
    forking: Contestants = {
        "layerpeek.dask, 1 worker": (dask_runner(1, args.parts), None, args.repeat),
        "layerpeek.dask, 2 workers": (dask_runner(2, args.parts), None, args.repeat),
    }
    from layerpeek.columnar import _compiled

    total = run_header_walk(path, None)
    print(
        f"capture: {path} ({total} packets, {path.stat().st_size / 1e6:.1f} MB), "
        f"python {sys.version.split()[0]}, best of {args.repeat}, Dask on {args.parts} chunks, "
        f"compiled loops {'built' if _compiled.speedups is not None else 'NOT built'}"
    )
    rates = interleaved_rates(contestants, path, args.repeat, total)
    rates.update(interleaved_rates(forking, path, args.repeat, total))
    base = rates["dpkt"]
    print()
    print("| reader | packets/s | µs/packet | × dpkt |")
    print("|---|---:|---:|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:.2f} | {rate / base:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
