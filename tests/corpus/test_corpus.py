"""The third-party corpora (tcpdump's and Zeek's own test captures), opt-in: ``pytest --corpus``.

Fetch them first with ``python3 tests/corpus/fetch.py``; ``run.py`` says what
is checked.  Here each capture is one test that fails on a traceback, a
timeout, or a packet count different from tshark's on a file tshark reads
cleanly.  Without ``--corpus`` (CI's default run) or without the fetched
files, one test says so and skips.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # the runner beside this file


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "capture" not in metafunc.fixturenames:
        return
    files = run.corpus_files() if metafunc.config.getoption("--corpus") else []
    ids = [str(p.relative_to(run.DATA)) for p in files]
    metafunc.parametrize("capture", files or [None], ids=ids or ["corpus"])


def test_layerpeek_reads_the_capture_as_tshark_does(capture: Path | None) -> None:
    if capture is None:
        pytest.skip("the corpus run is opt-in: python3 tests/corpus/fetch.py, then "
                    "python3 -m pytest --corpus tests/corpus")
    result = run.check(capture)
    assert not run.failures(result), "\n".join(run.failures(result))
