"""Benchmark: HTTPS decoded and decrypted by layerpeek beside tshark, on the same file.

Rows (each reads the whole capture from the start, in a child process):

* ``layerpeek decode``: ``layerpeek.read`` (every layer, the per-packet ``tls``
  one included, nothing kept);
* ``layerpeek decrypt``: decode, TCP reassembly and the TLS stage with the key
  log (every record decrypted with ``cryptography``), no HTTP: the decryption
  throughput alone (the row counts plaintext bytes);
* ``layerpeek decrypt + HTTP``: decode, TCP reassembly, the TLS stage with the
  key log (every record decrypted with ``cryptography``) and the HTTP pairer:
  the exchanges ``layerpeek http --keylog`` lists;
* ``tshark decrypt + HTTP``: ``tshark -o tls.keylog_file:KEYS -Y http.response
  -T fields -e http.response.code``: the same work in Wireshark's dissectors.

Both sides must find the same number of HTTP responses (checked).  Times are
best of ``--repeat``; the ratio is tshark's time over layerpeek's (above 1:
layerpeek is faster).  Make the capture first with
``sudo python3 bench/make_tls_capture.py``.

Usage:  python bench/bench_tls.py [CAPTURE] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def decode(path: Path, keys: Path) -> int:
    import layerpeek

    return sum(1 for _ in layerpeek.read(path))


def decrypt_http(path: Path, keys: Path) -> int:
    from layerpeek.http import iter_exchanges

    return sum(1 for ex in iter_exchanges(path, keylog=keys) if ex.response is not None)


def decrypt(path: Path, keys: Path) -> int:
    from layerpeek.analysis import Analysis
    from layerpeek.tls.events import DecryptedData

    analysis = Analysis(["tls"], settings={"tls": {"keylog": keys, "keep_connections": False}},
                        flow_info=False)
    return sum(len(e.data) for e in analysis.events(path) if isinstance(e, DecryptedData))


ROWS = {"layerpeek decode": decode, "layerpeek decrypt": decrypt,
        "layerpeek decrypt + HTTP": decrypt_http}


def child(name: str, path: Path, keys: Path) -> None:
    started = time.perf_counter()
    count = ROWS[name](path, keys)
    print(json.dumps({"seconds": time.perf_counter() - started, "count": count}))


def run_row(name: str, path: Path, keys: Path) -> tuple[float, int]:
    out = subprocess.run([sys.executable, __file__, "--child", name, str(path)],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    return result["seconds"], result["count"]


def run_tshark(path: Path, keys: Path) -> tuple[float, int]:
    tshark = shutil.which("tshark")
    if tshark is None:
        raise SystemExit("bench_tls.py: tshark is not installed")
    started = time.perf_counter()
    out = subprocess.run([tshark, "-n", "-r", str(path), "-o", f"tls.keylog_file:{keys}",
                          "-Y", "http.response", "-T", "fields", "-e", "http.response.code"],
                         capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - started, len(out.split())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", nargs="?", default=str(HERE / "bench_tls.pcap"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = Path(args.capture)
    keys = path.with_suffix(".keys")
    if args.child:
        child(args.child, path, keys)
        return 0
    if not path.exists() or not keys.exists():
        print(f"{path} or {keys} missing: sudo python3 bench/make_tls_capture.py",
              file=sys.stderr)
        return 1
    mb = path.stat().st_size / 1e6
    results: dict[str, tuple[float, int]] = {}
    for name in [*ROWS, "tshark decrypt + HTTP"]:
        runs = [run_tshark(path, keys) if name.startswith("tshark") else run_row(name, path, keys)
                for _ in range(args.repeat)]
        results[name] = (min(r[0] for r in runs), runs[0][1])
    print(f"{path.name}: {mb:.1f} MB, {results['layerpeek decode'][1]} packets; "
          f"best of {args.repeat}")
    for name, (seconds, count) in results.items():
        what = {"layerpeek decode": "packets", "layerpeek decrypt": "plaintext bytes"}.get(
            name, "HTTP responses")
        print(f"  {name:<26} {seconds:7.2f} s  {mb / seconds:6.1f} MB/s  ({count} {what})")
    ours, theirs = results["layerpeek decrypt + HTTP"], results["tshark decrypt + HTTP"]
    if ours[1] != theirs[1]:
        print(f"  responses differ: layerpeek {ours[1]}, tshark {theirs[1]}", file=sys.stderr)
        return 1
    print(f"  decrypt + HTTP, tshark / layerpeek: {theirs[0] / ours[0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
