"""Every input a fuzzer ever broke layerpeek with, replayed through its target.

``tests/fuzz/run.py`` writes a failing input to ``tests/fuzz/crashes/<target>/``;
once the bug is fixed the file is committed and stays here as a regression
test.  The seed corpus is replayed too, so a change that breaks on ordinary
captures is caught without running the fuzzer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from targets import TARGETS  # noqa: E402


def inputs(folder: str) -> list[tuple[str, Path]]:
    return sorted(
        (target.name, path)
        for target in (HERE / folder).iterdir()
        if target.is_dir() and target.name in TARGETS
        for path in target.iterdir()
        if path.is_file()
    )


CRASHES = inputs("crashes")
SEEDS = inputs("corpus")


@pytest.mark.parametrize(("target", "path"), CRASHES, ids=[f"{t}/{p.name}" for t, p in CRASHES])
def test_a_past_crash_input_is_handled(target: str, path: Path) -> None:
    TARGETS[target](path.read_bytes())


@pytest.mark.parametrize(("target", "path"), SEEDS, ids=[f"{t}/{p.name}" for t, p in SEEDS])
def test_every_seed_passes_its_target(target: str, path: Path) -> None:
    TARGETS[target](path.read_bytes())


def test_every_target_has_seeds_and_crash_files_name_real_targets() -> None:
    assert {t for t, _ in SEEDS} == set(TARGETS)
    assert {p.parent.name for p in (HERE / "crashes").glob("*/*")} <= set(TARGETS)
