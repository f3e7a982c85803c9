"""Time and memory of the crafted hostile inputs of issue 16, before and after.

    python3 bench/bench_hostile.py [--before TREE] [--after TREE] [--timeout S] [--only TEXT]

Writes each attack (``tests/hostile_inputs.py``, the same definitions the
tests use) to a temporary folder, runs the command it targets under
``/usr/bin/time -v`` with ``PYTHONPATH`` set to each source tree (a
checkout of layerpeek: ``--before`` an older one, ``--after`` this one), and
prints a Markdown table of wall time and maximum resident memory.  A run
still going after ``--timeout`` seconds is stopped and shown as such.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import hostile_inputs as h  # noqa: E402

#: (name, command after the file, file contents)
CASES: list[tuple[str, list[str], Callable[[], bytes]]] = [
    ("oversize IPv6 datagram (46 fragments)", ["dump"],
     lambda: h.capture(h.oversize_datagram(6))),
    ("20k duplicate fragments of one datagram", ["flows"],
     lambda: h.capture(h.duplicate_fragments(20_000))),
    ("100k one-byte segments, descending", ["follow", "{file}", "0"],
     lambda: h.capture(h.descending_segments(100_000))),
    ("16 kB then 20k retransmissions", ["flows"],
     lambda: h.capture(h.retransmissions(20_000))),
    ("mid-stream, 16k one-byte segments", ["http"],
     lambda: h.capture(h.midstream_one_byte(16_000))),
    ("DNS/TCP 64 kB message, one-byte segments", ["dns"],
     lambda: h.capture(h.dns_tcp_one_byte())),
    ("50 bodies gzip-encoded three times", ["http"],
     lambda: h.capture(h.nested_gzip_bombs(50))),
    ("2,000 bodies named index.html, --export", ["http", "--export", "{dir}", "{file}"],
     lambda: h.capture(h.same_named_bodies(2000))),
    ("one 128 MiB record (D-Bus link type)", ["dump"], lambda: h.huge_record(128 << 20)),
    ("one 255 MiB Ethernet record", ["dump"], lambda: h.huge_record(255 << 20, linktype=1)),
]


def run(tree: Path, argv: list[str], timeout: float, cwd: str) -> tuple[str, str]:
    # cwd elsewhere: `python -m` puts the current directory first on sys.path.
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "layerpeek", *argv]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=cwd)
    except subprocess.TimeoutExpired:
        return f"> {timeout:g} s", "-"
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    seconds = 0.0
    if wall:
        hours, minutes, secs = wall.groups()
        seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
    crashed = " (traceback)" if "Traceback" in done.stderr else ""
    memory = f"{int(rss.group(1)) / 1024:.0f} MB" if rss else "?"
    return f"{seconds:.2f} s{crashed}", memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older layerpeek source tree")
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    args = parser.parse_args()
    trees = [("before", args.before)] if args.before else []
    trees.append(("after", args.after))
    head = ["input", "command"] + [f"{name} {what}" for name, _ in trees
                                   for what in ("time", "max RSS")]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, command, make) in enumerate(CASES):
            if args.only not in name:
                continue
            path = Path(tmp) / f"case{n}.pcap"
            path.write_bytes(make())
            cells = [name, " ".join(c for c in command if not c.startswith("{"))]
            for label, tree in trees:
                folder = Path(tmp) / f"export{n}-{label}"
                argv = [c.replace("{file}", str(path)).replace("{dir}", str(folder))
                        for c in command]
                if "{file}" not in command:
                    argv.append(str(path))
                cells += run(tree, argv, args.timeout, tmp)
            print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
