"""Run layerpeek over the third-party corpora, with tshark and Zeek's logs as oracles.

For every capture fetched by ``fetch.py`` (tcpdump's and Zeek's own test
suites), in worker processes with a time limit per file:

* **robustness**: every packet is decoded, run through every analysis stage
  (defrag, TCP/UDP, HTTP, DNS, the story) and rendered (one-liner, ``-V``
  tree, JSON); any exception is a failure, with its traceback;
* **packet counts**: equal to tshark's on every file tshark reads cleanly;
* **fields**: the fields ``tests/test_differential.py`` compares (outermost
  IP and its transport, DNS counts) agree with tshark's, packet by packet;
* **depth**: packets in which tshark finds more IP headers than layerpeek
  (a tunnel layerpeek does not go through), counted per file;
* **Zeek**: for the traces whose Zeek test expects a ``conn.log``, each
  connection's ``conn_state`` and ``history`` against layerpeek's
  (``layerpeek flows``), matched by 5-tuple and start time.

::

    python3 tests/corpus/run.py                 # everything, summary on stdout
    python3 tests/corpus/run.py zeek/tunnels    # files under a path prefix
    python3 tests/corpus/run.py --json report.json --check

``--check`` exits 1 on any traceback, timeout or packet-count difference
(what ``pytest --corpus`` asserts).  The field and Zeek figures are reported,
and listed per file in the JSON, for the README's evidence section.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

#: Seconds one file may take in layerpeek (decode, every stage, every renderer).
TIMEOUT = 120


def corpus_files(prefixes: list[str] | None = None) -> list[Path]:
    """The fetched captures, in a stable order (empty when nothing was fetched)."""
    from fetch import CAPTURE

    found = []
    for name in ("tcpdump", "zeek"):
        base = DATA / name
        if base.is_dir():
            found += sorted(p for p in base.rglob("*") if p.is_file() and CAPTURE.search(p.name))
    if prefixes:
        found = [p for p in found
                 if any(str(p.relative_to(DATA)).startswith(x) for x in prefixes)]
    return found


# -- layerpeek's side (runs in a worker) -------------------------------------------


def ours(path: Path) -> dict[str, Any]:
    """Decode, analyse and render every packet; what we found, or the traceback."""
    import layerpeek
    from layerpeek.analysis import Analysis
    from layerpeek.errors import CaptureFormatError
    from layerpeek.flows.events import ConversationSummary
    from layerpeek.layers.ipv4 import IPv4
    from layerpeek.layers.ipv6 import IPv6
    from layerpeek.render.json import packet_to_json
    from layerpeek.render.text import packet_line, packet_tree

    out: dict[str, Any] = {"packets": 0}
    try:
        analysis = Analysis(["defrag", "story"])
        fields: dict[int, dict[str, Any]] = {}
        ips: dict[int, int] = {}
        convs = []
        with layerpeek.read(path) as reader:
            for packet in reader:
                out["packets"] += 1
                fields[packet.index] = occurrences(packet)
                ips[packet.index] = sum(isinstance(x, (IPv4, IPv6)) for x in packet.layers)
                step = analysis.feed(packet)
                packet_line(step.packet, 0, False, step.flow, True)
                packet_tree(step.packet, False, step.flow)
                packet_to_json(step.packet, step.flow)
                convs += [e.summary for e in step.events if isinstance(e, ConversationSummary)]
            convs += [e.summary for e in analysis.finish() if isinstance(e, ConversationSummary)]
            out["file_problems"] = list(reader.problems)
        out["fields"] = fields
        out["ips"] = ips
        out["conversations"] = [
            {"proto": c.proto, "client": [c.client.ip, c.client.port],
             "server": [c.server.ip, c.server.port],
             "start": c.first_ts_ns, "conn_state": c.conn_state, "history": c.history}
            for c in convs
        ]
    except CaptureFormatError as e:
        out["not_a_capture"] = str(e)
    except Exception:  # the one place where anything is caught: it is what we look for
        out["traceback"] = traceback.format_exc()
    return out


#: tshark field → how layerpeek's value is read off a layer, and how tshark's text is read.
#: Each is compared as the list of its occurrences in the frame, outermost first, so a
#: tunnel's inner headers are compared with tshark's inner ones.
FIELDS: dict[str, tuple[str, str, Any]] = {
    "eth.src": ("Ethernet", "src_mac", str),
    "eth.dst": ("Ethernet", "dst_mac", str),
    "vlan.id": ("VLAN", "vid", int),
    "ip.src": ("IPv4", "src_ip", str),
    "ip.dst": ("IPv4", "dst_ip", str),
    "ip.ttl": ("IPv4", "ttl", int),
    "ip.id": ("IPv4", "id", lambda t: int(t, 16)),
    "ip.proto": ("IPv4", "protocol", int),
    "ip.len": ("IPv4", "total_len", int),
    "ipv6.src": ("IPv6", "src_ip", str),
    "ipv6.dst": ("IPv6", "dst_ip", str),
    "ipv6.hlim": ("IPv6", "hop_limit", int),
    "ipv6.plen": ("IPv6", "payload_len", int),
    "tcp.srcport": ("TCP", "src_port", int),
    "tcp.dstport": ("TCP", "dst_port", int),
    "tcp.seq_raw": ("TCP", "seq", int),
    "tcp.ack_raw": ("TCP", "ack", int),
    "tcp.flags": ("TCP", "flags", lambda t: int(t, 16)),
    "tcp.window_size_value": ("TCP", "window", int),
    "tcp.hdr_len": ("TCP", "header_len", int),
    "udp.srcport": ("UDP", "src_port", int),
    "udp.dstport": ("UDP", "dst_port", int),
    "udp.length": ("UDP", "length", int),
    "gre.key": ("GRE", "key", lambda t: int(t, 16)),
    "gre.sequence_number": ("GRE", "sequence", int),
    "vxlan.vni": ("VXLAN", "vni", int),
    "geneve.vni": ("Geneve", "vni", lambda t: int(t, 16)),
    "mpls.label": ("MPLS", "label", int),
    "gtp.teid": ("GTP", "teid", lambda t: int(t, 16)),
    "pppoe.session_id": ("PPPoE", "session_id", lambda t: int(t, 16)),
}


def occurrences(packet: Any) -> dict[str, list[Any]]:
    """Each of :data:`FIELDS` as the list of its values in ``packet``, outermost first."""
    out: dict[str, list[Any]] = {}
    for layer in packet.layers:
        kind = type(layer).__name__
        for name, (cls, attr, _) in FIELDS.items():
            if cls == kind:
                value = getattr(layer, attr)
                if value is None:  # an optional field this header does not carry
                    continue
                out.setdefault(name, []).append(
                    value if isinstance(value, int) else str(value))
    return out


# -- tshark's side --------------------------------------------------------------------

TSHARK_EXTRA = ("frame.protocols",)


def theirs(path: Path) -> dict[str, Any]:
    """tshark's packet count, its fields (every occurrence), and its IP headers per packet."""
    cmd = ["tshark", "-n", "-r", str(path),
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
           "-e", "frame.encap_type", "-e", "frame.protocols"]
    for name in FIELDS:
        cmd += ["-e", name]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                              errors="replace")
    except subprocess.TimeoutExpired:
        return {"error": "tshark timed out"}
    rows: dict[int, dict[str, list[Any]]] = {}
    ips: dict[int, int] = {}
    number = 0
    for line in done.stdout.splitlines():
        cols = line.split("\t")
        if not cols[0]:
            continue  # a pcapng block tshark numbers but that carries no packet
        number += 1
        protocols = cols[1].split(":") if len(cols) > 1 else []
        ips[number] = sum(p in ("ip", "ipv6") for p in protocols)
        row: dict[str, list[Any]] = {}
        for (name, (_, _, read)), text in zip(FIELDS.items(), cols[2:], strict=False):
            if not text:
                continue
            try:
                row[name] = [read(t) for t in text.split(",")]
            except ValueError:
                continue
        rows[number] = row
    stderr = "\n".join(line for line in done.stderr.splitlines()
                        if not line.startswith("Running as user"))
    clean = done.returncode == 0 and not stderr.strip()
    return {"packets": number, "clean": clean, "stderr": stderr.strip()[:500],
            "fields": rows, "ips": ips}


# -- Zeek's side ----------------------------------------------------------------------


def zeek_connections(log: Path) -> list[dict[str, Any]]:
    """The rows of a Zeek conn.log (TSV with a #fields header)."""
    names: list[str] = []
    rows = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("#fields"):
            names = line.split("\t")[1:]
        elif line and not line.startswith("#") and names:
            rows.append(dict(zip(names, line.split("\t"), strict=False)))
    return rows


def compare_zeek(mine: list[dict[str, Any]], log: Path) -> dict[str, int]:
    """conn_state and history agreement, connections matched by 5-tuple (and by start time,
    ±1 s, where the baseline keeps it; most mask it, and then the n-th connection of a
    5-tuple in the log is matched with the n-th one layerpeek found)."""
    counts: Counter[str] = Counter()
    by_tuple: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for c in mine:
        for a, b in ((c["client"], c["server"]), (c["server"], c["client"])):
            by_tuple.setdefault((c["proto"], a[0], a[1], b[0], b[1]), []).append(c)
    for row in zeek_connections(log):
        proto = row.get("proto", "")
        if proto not in ("tcp", "udp"):
            continue
        counts["zeek"] += 1
        try:
            key = (proto, row["id.orig_h"], int(row["id.orig_p"]), row["id.resp_h"],
                   int(row["id.resp_p"]))
        except (KeyError, ValueError):
            continue
        candidates = by_tuple.get(key, [])
        try:
            start = int(float(row["ts"]) * 1e9)
            candidates = [c for c in candidates if abs(c["start"] - start) < 1_000_000_000]
        except ValueError:
            pass  # masked: XXXXXXXXXX.XXXXXX
        if not candidates:
            counts["unmatched"] += 1
            continue
        c = candidates[0]
        for other in by_tuple.values():  # matched once
            if c in other:
                other.remove(c)
        counts["matched"] += 1
        counts["conn_state"] += c["conn_state"] == row.get("conn_state")
        counts["history"] += c["history"] == row.get("history")
    return dict(counts)


# -- one file -------------------------------------------------------------------------


def check(path: Path) -> dict[str, Any]:
    rel = str(path.relative_to(DATA))
    result: dict[str, Any] = {"file": rel}
    began = time.monotonic()
    try:
        done = subprocess.run([sys.executable, __file__, "--one", str(path)], capture_output=True,
                              timeout=TIMEOUT, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        result["timeout"] = True
        return result
    result["seconds"] = round(time.monotonic() - began, 3)
    if done.returncode != 0:
        result["traceback"] = (f"exit code {done.returncode}\n"
                               + done.stderr.decode(errors="replace")[-3000:])
        return result
    mine = json.loads(done.stdout)
    mine["fields"] = {int(k): v for k, v in mine.get("fields", {}).items()}
    mine["ips"] = {int(k): v for k, v in mine.get("ips", {}).items()}
    if "traceback" in mine:
        result["traceback"] = mine["traceback"]
        return result
    result["packets"] = mine["packets"]
    if "not_a_capture" in mine:
        result["not_a_capture"] = mine["not_a_capture"]
    if shutil.which("tshark"):
        ref = theirs(path)
        result["tshark_packets"] = ref.get("packets")
        result["tshark_clean"] = ref.get("clean", False)
        if not ref.get("clean"):
            result["tshark_stderr"] = ref.get("stderr", ref.get("error", ""))
        compared = differ = 0
        examples = []
        for number, row in ref.get("fields", {}).items():
            have = mine.get("fields", {}).get(number)
            if have is None:
                continue
            for key, values in row.items():
                # Occurrence by occurrence, as far as both went: where layerpeek stopped
                # earlier (an undecoded tunnel), the rest counts under "shallower".
                for value, mine_value in zip(values, have.get(key, []), strict=False):
                    compared += 1
                    if mine_value != value:
                        differ += 1
                        if len(examples) < 5:
                            examples.append(f"frame {number} {key}: ours {mine_value!r} "
                                            f"tshark {value!r}")
        result["fields_compared"] = compared
        result["fields_differ"] = differ
        if examples:
            result["field_examples"] = examples
        result["shallower"] = sum(
            1 for n, count in ref.get("ips", {}).items()
            if count > mine.get("ips", {}).get(n, 0))
    logs = json.loads((DATA / "zeek-conn.json").read_text()) if (
        DATA / "zeek-conn.json").is_file() else {}
    if rel.startswith("zeek/") and rel[5:] in logs:
        zeek: Counter[str] = Counter()
        for log in logs[rel[5:]]:
            zeek.update(compare_zeek(mine.get("conversations", []), DATA / "zeek-conn" / log))
        result["zeek"] = dict(zeek)
    return result


def _limit_memory() -> None:
    """A worker may use 4 GiB: a blow-up is a failure of its own, not a frozen machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def failures(result: dict[str, Any]) -> list[str]:
    """What ``--check`` fails on: a traceback, a timeout, a packet count tshark disagrees with."""
    out = []
    if "traceback" in result:
        out.append("traceback:\n" + result["traceback"])
    if result.get("timeout"):
        out.append(f"took longer than {TIMEOUT} s")
    if result.get("tshark_clean") and result.get("packets") != result.get("tshark_packets"):
        out.append(f"{result.get('packets')} packets, tshark {result.get('tshark_packets')}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", nargs="*", help="only files under these paths (e.g. zeek/http)")
    parser.add_argument("--json", metavar="FILE", help="write every file's result here")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 on a traceback, timeout or packet-count difference")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="files checked at once")
    parser.add_argument("--one", metavar="FILE", help=argparse.SUPPRESS)  # a worker's job
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(ours(Path(args.one))))
        return 0
    files = corpus_files(args.prefix)
    if not files:
        print("no corpus: run python3 tests/corpus/fetch.py first", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(args.jobs) as pool:  # each check runs its own worker process
        results = list(pool.map(check, files))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(summary(results))
    bad = [(r["file"], f) for r in results for f in failures(r)]
    for name, why in bad:
        print(f"FAIL {name}: {why}", file=sys.stderr)
    return 1 if args.check and bad else 0


def summary(results: list[dict[str, Any]]) -> str:
    lines = []
    for corpus in ("tcpdump", "zeek"):
        rs = [r for r in results if r["file"].startswith(corpus + "/")]
        if not rs:
            continue
        clean = [r for r in rs if r.get("tshark_clean")]
        equal = [r for r in clean if r.get("packets") == r.get("tshark_packets")]
        compared = sum(r.get("fields_compared", 0) for r in rs)
        differ = sum(r.get("fields_differ", 0) for r in rs)
        shallower = [r for r in rs if r.get("shallower")]
        lines.append(
            f"{corpus}: {len(rs)} files, {sum('traceback' in r for r in rs)} tracebacks, "
            f"{sum(bool(r.get('timeout')) for r in rs)} timeouts; packet counts equal to "
            f"tshark's on {len(equal)} of the {len(clean)} files tshark reads cleanly; "
            f"{compared - differ} of {compared} fields agree; "
            f"{sum(r.get('shallower', 0) for r in rs)} packets in {len(shallower)} files where "
            "tshark finds an IP header layerpeek does not (tunnels)")
        zeek: Counter[str] = Counter()
        for r in rs:
            zeek.update(r.get("zeek", {}))
        if zeek:
            lines.append(
                f"  Zeek conn.log: {zeek['matched']} of {zeek['zeek']} connections matched; "
                f"conn_state equal on {zeek['conn_state']}, history equal on {zeek['history']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
