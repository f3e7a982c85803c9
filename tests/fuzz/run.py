"""Bounded fuzzing run for CI: every target for its share of a time budget.

    python3 tests/fuzz/run.py --seconds 60 [--targets decode,dns]

Each target of ``targets.TARGETS`` runs in its own process for
``seconds / number of targets``, seeded from ``tests/fuzz/corpus/<target>/``
(new inputs the fuzzer finds go to a scratch directory, so the committed
corpus only changes when someone runs ``make_corpus.py`` or copies them in).
A crash, an input slower than ``--timeout`` seconds or one that needs more
than ``--rss-mb`` of memory is written to ``tests/fuzz/crashes/<target>/``
and makes the run exit 1: commit the file, fix the bug, and
``tests/fuzz/test_crashes.py`` replays it from then on.

With atheris installed (``pip install atheris``) the runs are coverage-guided
(libFuzzer).  Without it the same targets get a plain mutation fuzzer
(random byte edits of the seeds), which is weaker but still catches the
shallow crashes, and the summary says so.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"
#: Seconds a target needs before fuzzing starts (instrumented import, seed replay).
STARTUP = 5
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))


def target_names() -> list[str]:
    from targets import TARGETS

    return list(TARGETS)


def run_atheris(
    name: str, seconds: int, timeout: int, rss_mb: int, scratch: Path
) -> tuple[bool, str]:
    """One libFuzzer run; returns (clean, one-line summary)."""
    crashes = CRASHES / name
    crashes.mkdir(parents=True, exist_ok=True)
    work = scratch / name
    work.mkdir()
    # Importing layerpeek under instrumentation and replaying the seeds take a
    # few seconds before libFuzzer's clock starts: leave them out of the share
    # so the whole run stays within --seconds of wall time.
    fuzz_time = max(1, seconds - STARTUP)
    cmd = [
        sys.executable, str(HERE / "fuzz.py"), name,
        f"-max_total_time={fuzz_time}", f"-timeout={timeout}", f"-rss_limit_mb={rss_mb}",
        f"-artifact_prefix={crashes}/", "-print_final_stats=1", "-max_len=65536",
        str(work), str(CORPUS / name),
    ]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=seconds + 90
        )
    except subprocess.TimeoutExpired as e:
        partial = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else ""
        (scratch / f"{name}.log").write_text(partial)
        tail = "\n".join(partial.splitlines()[-10:])
        return False, f"did not stop within {seconds + 90}s (a hang libFuzzer missed)\n{tail}"
    log = proc.stderr
    (scratch / f"{name}.log").write_text(log)
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    facts = f"{runs[-1] if runs else '?'} runs"
    if cov:
        facts += f", cov {cov[-1][0]} ft {cov[-1][1]}"
    if proc.returncode == 0:
        return True, facts
    found = re.findall(r"Test unit written to (\S+)", log)
    tail = "\n".join(log.splitlines()[-25:])
    return False, f"{facts}; FOUND {', '.join(found) or 'a failure'}\n{tail}"


def mutate(rng: random.Random, seed: bytes) -> bytes:
    buf = bytearray(seed)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randint(0, len(buf))
        if op < 0.45 and pos < len(buf):
            buf[pos] = rng.randrange(256)
        elif op < 0.6:
            del buf[pos : pos + rng.randint(1, 64)]
        elif op < 0.8:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        else:
            buf[pos:pos] = rng.choice(
                (b"\x00", b"\xff", b"\x00\x00", b"\xff\xff", b"\xc0\x0c", b"\xff\xff\xff\xff",
                 b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff")
            )
    return bytes(buf)


def run_plain(name: str, seconds: int) -> tuple[bool, str]:
    """The fallback without atheris: random mutations of the seeds, in-process."""
    from targets import TARGETS

    target = TARGETS[name]
    seeds = [p.read_bytes() for p in sorted((CORPUS / name).iterdir())] or [b""]
    rng = random.Random(0x1A7E4)
    deadline = time.monotonic() + seconds
    runs = 0
    while time.monotonic() < deadline:
        data = mutate(rng, rng.choice(seeds))
        runs += 1
        try:
            target(data)
        except Exception:
            folder = CRASHES / name
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{hashlib.sha1(data).hexdigest()}"
            path.write_bytes(data)
            return False, f"{runs} runs; FOUND {path}\n{traceback.format_exc()}"
    return True, f"{runs} runs (plain mutation, not coverage-guided)"


def main() -> int:
    names = target_names()
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60,
                    help="total time budget, shared equally by the targets (default 60)")
    ap.add_argument("--targets", default=",".join(names),
                    help=f"comma-separated subset of {','.join(names)}")
    ap.add_argument("--timeout", type=int, default=10,
                    help="seconds one input may take before it counts as a finding")
    ap.add_argument("--rss-mb", type=int, default=1024,
                    help="memory one fuzzing process may use before it counts as a finding")
    args = ap.parse_args()
    chosen = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.seconds < len(chosen):
        ap.error(f"--seconds must be at least {len(chosen)} (one per target)")
    share = args.seconds // len(chosen)
    guided = importlib.util.find_spec("atheris") is not None
    mode = "atheris (coverage-guided)" if guided else "plain mutation (atheris not installed)"
    print(f"fuzzing {len(chosen)} targets for {share}s each with {mode}")
    clean = True
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="layerpeek-fuzz-") as tmp:
        for name in chosen:
            if guided:
                ok, summary = run_atheris(name, share, args.timeout, args.rss_mb, Path(tmp))
            else:
                ok, summary = run_plain(name, share)
            print(f"  {name:8} {'ok' if ok else 'FAILED'}: {summary}")
            clean &= ok
    print(f"total {time.monotonic() - started:.0f}s wall time")
    if not clean:
        print("commit the inputs under tests/fuzz/crashes/ with the fix; "
              "tests/fuzz/test_crashes.py replays them", file=sys.stderr)
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
