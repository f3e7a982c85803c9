"""How long layerpeek takes to start: ``import layerpeek``, ``--help``, ``dump --help``.

Each job runs in a fresh interpreter, ``--rounds`` times, the jobs alternated
within a round so a busy moment on a shared machine hits all of them.  The
clock is the child's CPU time (user + system, from ``wait4``): time spent
waiting for a core does not count.  Printed per job: the least and the median
CPU time, and the least minus the bare interpreter's least (``python -c
pass``: site, ``.pth`` files), which is what layerpeek itself costs.  Then the
``layerpeek`` line of ``python -X importtime -c "import layerpeek"``, the least
of the rounds (that one is wall-clock time, so only its least means much).

Bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` (warmed by one
untimed run of each job) even where ``PYTHONDONTWRITEBYTECODE`` is set: an
installed package has its ``.pyc`` files, and compiling the sources each time
would measure the compiler.

``--before TREE`` times the same jobs with ``PYTHONPATH=TREE`` (an older
checkout) in the same rounds, for a before/after table.

    python3 bench/bench_startup.py --rounds 20 [--before /path/to/old/checkout]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

JOBS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "import layerpeek": ["-c", "import layerpeek"],
    "import layerpeek + its decoders": ["-c", "import layerpeek; layerpeek.read"],
    "layerpeek --help": ["-m", "layerpeek", "--help"],
    "layerpeek dump --help": ["-m", "layerpeek", "dump", "--help"],
}


def cpu_ms(argv: list[str], env: dict[str, str]) -> float:
    """CPU time (user + system) of one child process, in milliseconds."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd=env["PYTHONPYCACHEPREFIX"])
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed (wait status {status})")
    return (usage.ru_utime + usage.ru_stime) * 1000


def importtime_ms(env: dict[str, str]) -> float:
    """The cumulative ``layerpeek`` figure of ``-X importtime`` (wall clock), in ms."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import layerpeek"],
                         capture_output=True, text=True, env=env, check=True,
                         cwd=env["PYTHONPYCACHEPREFIX"]).stderr
    for line in err.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[2].strip() == "layerpeek":
            return int(parts[1]) / 1000
    raise SystemExit("no layerpeek line in -X importtime's output")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--before", type=Path, help="an older checkout to time beside this one")
    args = parser.parse_args()

    trees = {"after": ROOT} if args.before is None else {"before": args.before, "after": ROOT}
    with tempfile.TemporaryDirectory(prefix="lp-pycache-") as cache:
        envs = {}
        for label, tree in trees.items():
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            # Run from the cache directory: `-c` and `-m` put the current
            # directory first on sys.path, which would shadow PYTHONPATH.
            env.update(PYTHONPATH=str(tree.resolve()), PYTHONPYCACHEPREFIX=f"{cache}/{label}")
            os.mkdir(env["PYTHONPYCACHEPREFIX"])
            envs[label] = env
        times: dict[tuple[str, str], list[float]] = {}
        imports: dict[str, list[float]] = {label: [] for label in trees}
        for env in envs.values():  # warm the bytecode cache
            for job in JOBS.values():
                cpu_ms([sys.executable, *job], env)
        for _ in range(args.rounds):
            for label, env in envs.items():
                for name, job in JOBS.items():
                    times.setdefault((label, name), []).append(cpu_ms([sys.executable, *job], env))
                imports[label].append(importtime_ms(env))

    print(f"{args.rounds} rounds, CPU ms; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"| {'job':34} | tree | least | median | least − python -c pass |")
    print("|---|---|---:|---:|---:|")
    for label in trees:
        base = min(times[(label, "python -c pass")])
        for name in JOBS:
            v = times[(label, name)]
            print(f"| {name:34} | {label} | {min(v):.1f} | {statistics.median(v):.1f} "
                  f"| {min(v) - base:.1f} |")
    for label in trees:
        print(f"-X importtime, layerpeek cumulative, least of {args.rounds} ({label}): "
              f"{min(imports[label]):.1f} ms")


if __name__ == "__main__":
    main()
