"""layerpeek's commands beside their nearest tshark equivalents, in one run (issue 19).

Each pair reads the same capture and writes to /dev/null:

=========================  =========================================
layerpeek                  tshark
=========================  =========================================
``dump FILE``              ``-r FILE`` (one line per packet)
``dump --json FILE``       ``-r FILE -T ek`` (one JSON object per packet)
``dump -V FILE``           ``-r FILE -V`` (every layer's fields)
``flows FILE``             ``-r FILE -q -z conv,tcp`` (the conversations)
``http FILE``              ``-r FILE -Y http -T fields`` (the HTTP messages)
=========================  =========================================

Every command runs under ``/usr/bin/time``, which reports its CPU time (user
+ system; waiting for a core does not count) and its peak resident set.  A
round runs every command once, layerpeek's and tshark's alternated; the
figures are the median of ``--rounds`` rounds, with the spread (half the
range, relative to the median), and the ratio of the medians.  layerpeek is
started as ``python -m layerpeek`` with bytecode cached (see
``bench_startup.py``), from the tree this script is in.

    python3 bench/bench_vs_tshark.py [FILE] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: (job, layerpeek's arguments, tshark's arguments); FILE stands for the capture.
PAIRS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("one line per packet", ["dump", "FILE"], ["-r", "FILE"]),
    ("JSON per packet", ["dump", "--json", "FILE"], ["-r", "FILE", "-T", "ek"]),
    ("every field (-V)", ["dump", "-V", "FILE"], ["-r", "FILE", "-V"]),
    ("TCP conversations", ["flows", "FILE"], ["-r", "FILE", "-q", "-z", "conv,tcp"]),
    ("HTTP messages", ["http", "FILE"],
     ["-r", "FILE", "-Y", "http", "-T", "fields", "-e", "frame.number", "-e",
      "http.request.method", "-e", "http.request.uri", "-e", "http.response.code"]),
)


def measure(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MiB) of one run of ``argv``, by /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        proc = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%U %S %M", *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              cwd=cwd, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed (exit {proc.returncode})")
        user, sys_, rss_kb = report.read().split()[-3:]
    return float(user) + float(sys_), int(rss_kb) / 1024


def spread(values: list[float]) -> str:
    median = statistics.median(values)
    return f"±{50 * (max(values) - min(values)) / median:.0f}%" if median else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", default=str(HERE / "bench.pcap"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tshark = shutil.which("tshark")
    if tshark is None or not Path("/usr/bin/time").exists():
        raise SystemExit("needs tshark and /usr/bin/time")
    path = str(Path(args.file).resolve())
    version = subprocess.run([tshark, "--version"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[0]

    with tempfile.TemporaryDirectory(prefix="lp-bench-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=cache)
        ours = {job: [sys.executable, "-m", "layerpeek", *[path if a == "FILE" else a for a in lp]]
                for job, lp, _ in PAIRS}
        theirs = {job: [tshark, *[path if a == "FILE" else a for a in ts]] for job, _, ts in PAIRS}
        measure([sys.executable, "-m", "layerpeek", "--help"], env, cache)  # warm the bytecode
        cpu: dict[tuple[str, str], list[float]] = {}
        rss: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for job, _, _ in PAIRS:
                for who, argv in (("layerpeek", ours[job]), ("tshark", theirs[job])):
                    c, r = measure(argv, env, cache)
                    cpu.setdefault((job, who), []).append(c)
                    rss.setdefault((job, who), []).append(r)

    size = Path(path).stat().st_size / 1e6
    print(f"{datetime.date.today()}, {path} ({size:.1f} MB), {platform.python_implementation()} "
          f"{platform.python_version()}, {version}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the end; median of {args.rounds} alternated rounds")
    print()
    print("| job | layerpeek | tshark | CPU time, layerpeek ÷ tshark | layerpeek peak RSS | "
          "tshark peak RSS |")
    print("|---|---|---|---:|---:|---:|")
    for job, lp, ts in PAIRS:
        ours_cpu, theirs_cpu = cpu[(job, "layerpeek")], cpu[(job, "tshark")]
        o, t = statistics.median(ours_cpu), statistics.median(theirs_cpu)
        print(f"| {job} | `{' '.join(lp)}` {o:.2f} s {spread(ours_cpu)} "
              f"| `{' '.join(ts)}` {t:.2f} s {spread(theirs_cpu)} | **{o / t:.2f}×** "
              f"| {statistics.median(rss[(job, 'layerpeek')]):.0f} MiB "
              f"| {statistics.median(rss[(job, 'tshark')]):.0f} MiB |")


if __name__ == "__main__":
    main()
