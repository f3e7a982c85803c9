"""Run what a Markdown document shows and compare it with what the document says.

Used by ``tests/test_readme.py`` and ``tests/test_tutorial.py``.  A document's
fenced code blocks are read by their kind:

* a block whose lines begin ``$ `` (no language, or ``console``) holds shell
  commands, each followed by the output it prints.  The command runs under
  bash from the repository root, with ``layerpeek`` meaning this tree's
  ``python -m layerpeek``; its whole output (stdout, then stderr when the
  command itself merges it with ``2>&1``) is kept in a golden file under
  ``tests/golden/``, and the lines the document shows must be that output.
  A line that is only ``…`` (indented or not) stands for any number of lines
  left out; every other line shown is compared exactly (trailing blanks and
  blank lines at the end aside), in order.
* ``pycon`` blocks are doctests (``>>>`` examples with their output),
  run from the repository root with ``ELLIPSIS``.
* ``python`` blocks are run as they are (their output is not shown).
* ``sh`` blocks are set-up instructions for the reader's machine (installing,
  starting Jupyter); they are not run here.
* any other block (a directory tree) is text.

``pytest --update-golden`` (or ``LAYERPEEK_UPDATE_GOLDEN=1``) rewrites the
golden files from what the commands print now, and the document's blocks that
show an output whole; a block that leaves lines out is the author's to fix,
with the failure's listing to go by.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
GAP = "…"

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Command:
    """One ``$ command`` of a document with the output lines shown under it."""

    doc: str  #: the document's path, relative to the repository root
    line: int  #: 1-based line of the ``$`` line in the document
    command: str
    shown: tuple[str, ...]

    @property
    def abbreviated(self) -> bool:
        return any(s.strip() == GAP for s in self.shown)

    @property
    def golden(self) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", self.command.removeprefix("layerpeek ")).strip("_")
        return GOLDEN / Path(self.doc).stem / f"{slug[:90]}.txt"

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: $ {self.command}"


@dataclass(frozen=True)
class Block:
    """One fenced block: its language tag, its text and its first line in the document."""

    lang: str
    text: str
    line: int


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    found = []
    for m in FENCE.finditer(text):
        first = text.count("\n", 0, m.start(2)) + 1
        found.append(Block(m.group(1), m.group(2), first))
    return found


def commands(doc: Path) -> list[Command]:
    """Every ``$`` command of the document with the lines shown after it."""
    name = str(doc.relative_to(ROOT))
    found: list[Command] = []
    for block in blocks(doc):
        if block.lang not in ("", "console") or not block.text.startswith("$ "):
            continue
        current: tuple[int, str] | None = None
        shown: list[str] = []
        for offset, raw in enumerate(block.text.splitlines()):
            if raw.startswith("$ "):
                if current is not None:
                    found.append(Command(name, current[0], current[1], tuple(shown)))
                current, shown = (block.line + offset, raw[2:].strip()), []
            else:
                shown.append(raw.rstrip())
        assert current is not None
        found.append(Command(name, current[0], current[1], tuple(shown)))
    keys = [c.golden for c in found]
    assert len(keys) == len(set(keys)), f"{name}: two commands share a golden file name"
    return found


def run(command: str, timeout: float = 120) -> str:
    """What ``command`` prints, run by bash from the root with this tree's layerpeek."""
    with tempfile.TemporaryDirectory() as bindir:
        shim = Path(bindir) / "layerpeek"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m layerpeek "$@"\n')
        shim.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env.update(
            PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            NO_COLOR="1",
            TZ="UTC",
        )
        env.pop("SSLKEYLOGFILE", None)
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )
    assert done.returncode == 0, f"$ {command}\nexit {done.returncode}\n{done.stderr}"
    assert not done.stderr, f"$ {command}\nprinted on stderr:\n{done.stderr}"
    return done.stdout


def shown_lines_match(shown: tuple[str, ...], actual: list[str]) -> bool:
    """Whether the lines shown are ``actual`` with each ``…`` line standing for lines left out.

    The lines before the first ``…`` begin the output, those after the last one
    end it, and each run in between is found in order.
    """
    segments: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == GAP:
            segments.append([])
        else:
            segments[-1].append(line)
    if len(segments) == 1:
        return segments[0] == actual
    first, *middle, last = segments
    if actual[: len(first)] != first:
        return False
    pos = len(first)
    for seg in middle:
        for start in range(pos, len(actual) - len(seg) + 1):
            if actual[start : start + len(seg)] == seg:
                pos = start + len(seg)
                break
        else:
            return False
    return len(actual) - len(last) >= pos and actual[len(actual) - len(last) :] == last


def updating() -> bool:
    return os.environ.get("LAYERPEEK_UPDATE_GOLDEN", "") not in ("", "0")


def rewrite_shown(command: Command, output: str) -> None:
    """Put ``output`` under ``command`` in its document (a block that shows everything)."""
    doc = ROOT / command.doc
    lines = doc.read_text().splitlines(keepends=True)
    i = command.line  # the line after the $ line (0-based index)
    assert lines[i - 1].startswith("$ ") and lines[i - 1][2:].strip() == command.command
    j = i
    while j < len(lines) and not lines[j].startswith(("$ ", "```")):
        j += 1
    lines[i:j] = [line + "\n" for line in output.splitlines()]
    doc.write_text("".join(lines))


def check(command: Command) -> None:
    """Run ``command``; its output must equal its golden file and show as the document says."""
    output = run(command.command)
    golden = command.golden
    if updating():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(output)
        if not command.abbreviated and command.shown != tuple(output.splitlines()):
            rewrite_shown(command, output)
            return
    assert golden.exists(), f"{command}: no golden file {golden.relative_to(ROOT)} " \
        "(run pytest --update-golden to write it)"
    expected = golden.read_text()
    if output != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), output.splitlines(keepends=True),
            str(golden.relative_to(ROOT)), "now", n=1,
        ))
        raise AssertionError(
            f"{command}: the output is no longer its golden file; if the change is meant, run "
            f"python3 -m pytest {Path(__file__).parent.name}/test_"
            f"{'readme' if command.doc == 'README.md' else 'tutorial'}.py --update-golden, "
            f"then check the lines the document shows\n{diff}"
        )
    actual = [line.rstrip() for line in output.splitlines()]
    while actual and not actual[-1]:  # a block does not end with blank lines
        actual.pop()
    assert shown_lines_match(command.shown, actual), (
        f"{command}: the document shows lines this command does not print.\n"
        "--- shown ---\n" + "\n".join(command.shown) + "\n--- printed ---\n" + "\n".join(actual)
    )
