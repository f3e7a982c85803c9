"""Peak memory of the CLI commands on a large capture at 1×, 2× and 4× its size.

    python3 bench/bench_memory.py [bench/bench.pcap] [--commands dump,flows,http]
                                  [--sizes 1,2,4] [--mode distinct|replay]
                                  [--syns 1000000] [--variant 'dump --max-connections 2000']

Each command runs in a child process (``python3 -m layerpeek CMD FILE``,
output to /dev/null) and its own peak RSS is read with ``os.wait4``.  The 2×
and 4× files are written to a temporary directory by copying the capture's
records:

* ``--mode distinct`` (default): copy *k* gets IPv4/IPv6 addresses with one
  byte set to *k* and its timestamps moved past the previous copy, so every
  copy is a new set of conversations.  Memory that grows with the number of
  conversations (``flows`` keeps one summary per conversation to list them at
  the end) shows up honestly.
* ``--mode replay``: the records repeated as they are (same conversations).

``--syns N`` adds the hostile case from issue 8: a capture of N SYNs to
distinct ports (one prebuilt record patched in place, like
``tests/test_hostile.py``) through ``flows``, whose connection table must stay
at ``--max-connections`` with the oldest evicted and reported on stderr.

What it shows (numbers in the final report of issue 8): memory does not grow
with the number of *packets*; what grows is per-conversation state.  ``dump``
and ``flows`` keep about 5 kB per TCP conversation in the connection table
(open ones, and closed ones remembered for late packets and port reuse),
capped at ``--max-connections`` (default 50 000, so at most ~250 MB), after
which memory is flat whatever the file size; ``flows`` also keeps each
conversation's summary (~3 kB) to list it at the end.  ``--variant 'dump
--max-connections 2000'`` shows the flat line directly.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent



def byte_order(header: bytes) -> str:
    return "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"


def scaled_capture(src: Path, times: int, dest: Path, distinct: bool, gap_s: int = 0) -> Path:
    """``src`` repeated ``times`` times (pcap, Ethernet link type), streamed to ``dest``.

    Record by record, so this process stays small: a child started by fork
    inherits its parent's peak RSS, which would spoil the measurement.
    """
    with open(src, "rb") as f:
        header = f.read(24)
    record = struct.Struct(byte_order(header) + "IIII")
    first = last = None
    for sec, _frame in records(src, record):
        first = sec if first is None else first
        last = sec if last is None else max(last, sec)
    span = (last or 0) - (first or 0) + 1
    with open(dest, "wb") as out:
        out.write(header)
        for k in range(times):
            for sec, frame in records(src, record):
                frac, incl, orig = record.unpack_from(frame, 0)[1:]
                data = bytearray(frame[16:])
                if k and distinct:
                    sec += k * (span + gap_s)
                    ethertype = data[12:14]
                    if ethertype == b"\x08\x00" and incl >= 34:
                        data[14 + 12 + 1] = k  # 127.k.x.x: same conversations, new ones
                        data[14 + 16 + 1] = k
                    elif ethertype == b"\x86\xdd" and incl >= 54:
                        data[14 + 8 + 11] = k  # a middle byte of ::1 and friends
                        data[14 + 24 + 11] = k
                out.write(record.pack(sec, frac, incl, orig) + data)
    return dest


def records(src: Path, record: struct.Struct) -> Iterator[tuple[int, bytes]]:
    """(ts_sec, record header + data) of each pcap record, read sequentially."""
    with open(src, "rb") as f:
        f.read(24)
        while True:
            head = f.read(16)
            if len(head) < 16:
                return
            sec, _frac, incl, _orig = record.unpack(head)
            yield sec, head + f.read(incl)


def syn_flood(count: int, dest: Path) -> Path:
    """A pcap of ``count`` SYNs to distinct (address, port) pairs, written in batches."""
    sys.path.insert(0, str(ROOT / "tests"))
    from builders import eth, ipv4_tcp, pcap_bytes, tcp

    template = pcap_bytes([eth(ipv4_tcp(tcp(flags="S", sport=40000, dport=1, seq=7)))])
    header, rec = template[:24], template[24:]
    size = len(rec)
    batch = 10_000
    with open(dest, "wb") as out:
        out.write(header)
        for first in range(0, count, batch):
            n = min(batch, count - first)
            buf = bytearray(rec * n)
            for j in range(n):
                i, at = first + j, j * size
                struct.pack_into("<II", buf, at, 1_700_000_000 + i // 1_000_000, i % 1_000_000)
                struct.pack_into("!BB", buf, at + 16 + 14 + 18, (i >> 16) & 0xFF, (i >> 8) & 0xFF)
                struct.pack_into("!H", buf, at + 16 + 14 + 22, 1 + i % 60000)
            out.write(buf)
    return dest


def peak_rss(argv: list[str]) -> tuple[float, float, int, str]:
    """(peak RSS MiB, seconds, exit code, last stderr line) of one CLI run."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "layerpeek", *argv],
            stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - t0
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return usage.ru_maxrss / 1024, seconds, proc.returncode, lines[-1] if lines else ""


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("capture", nargs="?", default=str(HERE / "bench.pcap"))
    ap.add_argument("--commands", default="dump,flows,http")
    ap.add_argument(
        "--variant", action="append", default=[], metavar="'CMD OPTIONS'",
        help="also measure this command line (repeatable), e.g. 'dump --max-connections 2000'",
    )
    ap.add_argument("--sizes", default="1,2,4", help="multiples of the capture to measure")
    ap.add_argument("--mode", choices=("distinct", "replay"), default="distinct")
    ap.add_argument(
        "--gap-s", type=int, default=0,
        help="with --mode distinct: seconds of quiet between copies (a long capture: closed "
        "connections are forgotten 120 s after their last packet)",
    )
    ap.add_argument("--syns", type=int, default=0, help="also run flows on N distinct SYNs")
    ap.add_argument("--max-connections", type=int, default=50_000)
    args = ap.parse_args()
    path = Path(args.capture)
    if not path.exists():
        print(f"{path} missing: run `sudo python3 bench/make_bench_capture.py` first",
              file=sys.stderr)
        return 1
    commands = [c for c in args.commands.split(",") if c] + list(args.variant)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"capture: {path} ({path.stat().st_size / 1e6:.0f} MB), mode {args.mode}, "
          f"python {sys.version.split()[0]}")
    print()
    print("| command | " + " | ".join(f"{s}×" for s in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    failed = False
    with tempfile.TemporaryDirectory(prefix="layerpeek-mem-") as tmp:
        files: dict[int, Path] = {}
        for times in sizes:
            files[times] = path if times == 1 else scaled_capture(
                path, times, Path(tmp) / f"x{times}.pcap", args.mode == "distinct", args.gap_s
            )
        for command in commands:
            cells = []
            for times in sizes:
                mib, secs, code, last = peak_rss([*command.split(), str(files[times])])
                failed |= code not in (0,)
                size = files[times].stat().st_size / 1e6
                cells.append(f"{mib:.0f} MiB ({size:.0f} MB, {secs:.0f}s)"
                             + ("" if code == 0 else f" exit {code}: {last}"))
            print(f"| {command} | " + " | ".join(cells) + " |")
        if args.syns:
            flood = syn_flood(args.syns, Path(tmp) / "syns.pcap")
            print()
            print(f"{args.syns} SYNs to distinct ports ({flood.stat().st_size / 1e6:.0f} MB):")
            for command in ("dump", "flows"):
                mib, secs, code, last = peak_rss(
                    [command, "--max-connections", str(args.max_connections), str(flood)]
                )
                print(f"  {command} --max-connections {args.max_connections}: {mib:.0f} MiB "
                      f"peak, {secs:.0f}s, exit {code}; stderr ends: {last.strip()}")
                failed |= code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
