"""The API reference builds cleanly, and the examples in the docstrings print what they show.

``docs/build.py`` builds the reference with pdoc (``bash docs/build.sh`` also
runs the examples); a warning there (a name in ``__all__`` that does not
resolve, an annotation it cannot read) fails the build, as ``sphinx -W`` would.
Every ``>>>`` example in the package's docstrings runs here as a doctest, from
the repository root so that they can read the bundled captures.
"""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "layerpeek"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


#: The modules whose docstrings carry examples.
WITH_EXAMPLES = sorted(
    _module_name(p) for p in PACKAGE.rglob("*.py") if ">>> " in p.read_text(encoding="utf-8")
)


def test_the_main_entry_points_carry_examples() -> None:
    for name in ("layerpeek", "layerpeek.filter", "layerpeek.flows", "layerpeek.http"):
        assert name in WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_print_what_they_show(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name)
    assert any(t.examples for t in tests), f"{name} has '>>> ' but no example doctest finds"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_api_reference_builds_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("pdoc")
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "build.py"), "-o", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    page = (tmp_path / "layerpeek" / "flows.html").read_text()
    assert 'id="conversations"' in page, "a lazily served name is missing from the reference"
    assert (tmp_path / "layerpeek" / "http.html").exists()
    assert not (tmp_path / "layerpeek" / "commands").exists()
