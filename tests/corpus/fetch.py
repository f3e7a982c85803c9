"""Fetch the third-party capture corpora the corpus run checks layerpeek against.

Two peers' own test suites, nobody here wrote them:

* tcpdump's ``tests/`` (about 830 pcap/pcapng files; BSD licence): every
  link type and protocol tcpdump prints, many of them damaged on purpose;
* Zeek's ``testing/btest/Traces`` (about 790 traces; BSD licence), with the
  ``conn.log`` each Zeek test expects for its trace, so that conversation
  states and history letters can be compared with Zeek's.

They are not committed (about 40 MB, and their licences are the peers'); this
script puts them under ``tests/corpus/data/`` (git-ignored)::

    python3 tests/corpus/fetch.py                      # git clone (sparse, shallow)
    python3 tests/corpus/fetch.py --mirror tcpdump=/path/to/tcpdump.git \\
                                  --mirror zeek=/path/to/zeek.git

A mirror is any git directory of that repository (a bare clone is enough).
``data/SOURCES.json`` records the commit each corpus came from.  Files a
snapshot lacks (some hosts leave out blobs of 4 MiB and more) are skipped and
listed there.  Then ``python3 tests/corpus/run.py`` (or ``pytest --corpus``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

#: name → (GitHub repository, the folder holding its captures)
CORPORA = {
    "tcpdump": ("the-tcpdump-group/tcpdump", "tests"),
    "zeek": ("zeek/zeek", "testing/btest/Traces"),
}
CAPTURE = re.compile(r"\.(pcap|pcapng|cap|trace|dump)(\.gz)?$", re.IGNORECASE)
#: Zeek's test scripts and their expected logs, for the conn.log comparison
ZEEK_EXTRA = ("testing/btest/Baseline", "testing/btest/scripts", "testing/btest/core")
_TRACE_ARG = re.compile(r"-r\s+\$TRACES/(\S+)")


def git(*args: str, cwd: Path | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True).stdout


def clone(repo: str, folders: tuple[str, ...], into: Path) -> Path:
    """A shallow, sparse clone holding only ``folders``."""
    git("clone", "--quiet", "--depth", "1", "--filter=blob:none", "--sparse",
        f"https://github.com/{repo}.git", str(into))
    git("sparse-checkout", "set", *folders, cwd=into)
    return into / ".git"


def files_of(git_dir: Path, folders: tuple[str, ...]) -> dict[str, bytes]:
    """Every file under ``folders`` at HEAD, by path (b"" for blobs the snapshot lacks)."""
    listing = git("--git-dir", str(git_dir), "ls-tree", "-r", "HEAD", "--", *folders)
    entries = []
    for line in listing.decode().splitlines():
        meta, path = line.split("\t", 1)
        kind, sha = meta.split()[1:3]
        if kind == "blob":
            entries.append((path, sha))
    # One `git cat-file --batch` for all of them (thousands of files).
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        input="".join(f"{sha}\n" for _, sha in entries).encode(),
        capture_output=True, check=True,
    )
    out: dict[str, bytes] = {}
    data, pos = proc.stdout, 0
    for path, _sha in entries:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] != b"blob":  # "<sha> missing"
            out[path] = b""
            continue
        size = int(header[2])
        out[path] = data[pos : pos + size]
        pos += size + 1
    return out


def zeek_conn_baselines(files: dict[str, bytes]) -> dict[str, list[str]]:
    """Trace → the conn.log baselines of the Zeek tests that read it (and nothing else).

    A btest script ``testing/btest/a/b/c.zeek`` keeps its expected output in
    ``testing/btest/Baseline/a.b.c/``; a test that reads one trace with
    ``zeek -r $TRACES/x.pcap`` and expects a conn.log gives that trace's conn.log.
    """
    found: dict[str, list[str]] = {}
    for path, body in files.items():
        if not path.endswith(".zeek") or "/Baseline" in path:
            continue
        traces = set(_TRACE_ARG.findall(body.decode("utf-8", "replace")))
        if len(traces) != 1:
            continue
        test = path.removeprefix("testing/btest/").removesuffix(".zeek").replace("/", ".")
        log = f"testing/btest/Baseline/{test}/conn.log"
        if files.get(log):
            found.setdefault(traces.pop(), []).append(log)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", action="append", default=[], metavar="NAME=GITDIR",
                        help="take a corpus from a local git directory instead of GitHub")
    args = parser.parse_args(argv)
    mirrors = dict(m.split("=", 1) for m in args.mirror)
    sources: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (repo, folder) in CORPORA.items():
            folders = (folder, *ZEEK_EXTRA) if name == "zeek" else (folder,)
            git_dir = Path(mirrors[name]) if name in mirrors else clone(
                repo, folders, Path(tmp) / name)
            commit = git("--git-dir", str(git_dir), "rev-parse", "HEAD").decode().strip()
            files = files_of(git_dir, folders)
            target = DATA / name
            shutil.rmtree(target, ignore_errors=True)
            kept, absent = 0, []
            for path, body in files.items():
                rel = path.removeprefix(folder + "/")
                if path.startswith(folder + "/") and CAPTURE.search(path):
                    if not body:
                        absent.append(rel)
                        continue
                    (target / rel).parent.mkdir(parents=True, exist_ok=True)
                    (target / rel).write_bytes(body)
                    kept += 1
            if name == "zeek":
                baselines = zeek_conn_baselines(files)
                logs = DATA / "zeek-conn"
                shutil.rmtree(logs, ignore_errors=True)
                index: dict[str, list[str]] = {}
                for trace, paths in sorted(baselines.items()):
                    for log in paths:
                        rel = log.removeprefix("testing/btest/Baseline/")
                        (logs / rel).parent.mkdir(parents=True, exist_ok=True)
                        (logs / rel).write_bytes(files[log])
                        index.setdefault(trace, []).append(rel)
                (DATA / "zeek-conn.json").write_text(json.dumps(index, indent=1, sort_keys=True))
            sources[name] = {"repository": f"https://github.com/{repo}", "commit": commit,
                             "folder": folder, "captures": kept, "absent": sorted(absent)}
            print(f"{name}: {kept} captures from {repo} at {commit[:12]}"
                  + (f" ({len(absent)} absent from the snapshot)" if absent else ""))
    (DATA / "SOURCES.json").write_text(json.dumps(sources, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

