"""Shared fixtures: where the captures are, and the test-only builders on sys.path."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CAPTURES = ROOT / "captures"
PUBLIC = ROOT.parent / "shared" / "captures" / "public"
#: Where ``tests/corpus/fetch.py`` puts tcpdump's and Zeek's test captures.
CORPUS = TESTS / "corpus" / "data"

sys.path.insert(0, str(TESTS))

#: ``LAYERPEEK_TEST_WITHOUT_PEERS=1`` hides tshark, editcap and Chromium from the
#: tests (they skip as on a machine without them).  CI sets it for the suites on
#: the other Pythons: those comparisons check the peers' output against ours,
#: which does not change with the interpreter, and they are most of the time.
PEERS_HIDDEN = frozenset({
    "tshark", "editcap", "mergecap", "capinfos", "chromium", "chromium-browser", "google-chrome",
})
if os.environ.get("LAYERPEEK_TEST_WITHOUT_PEERS", "") not in ("", "0"):
    _which = shutil.which

    def _which_without_peers(cmd: str, *args: Any, **kwargs: Any) -> str | None:
        if Path(cmd).name in PEERS_HIDDEN:
            return None
        return _which(cmd, *args, **kwargs)

    shutil.which = _which_without_peers  # type: ignore[assignment]


def own_captures() -> list[Path]:
    """Every capture the project made itself (captures/**/*.pcap*)."""
    return sorted(p for p in CAPTURES.rglob("*") if p.suffix in {".pcap", ".pcapng", ".gz"})


def public_captures() -> list[Path]:
    """The third-party captures beside the checkout; empty when ../shared is absent."""
    if not PUBLIC.is_dir():
        return []
    return sorted(p for p in PUBLIC.iterdir() if p.suffix in {".pcap", ".pcapng"})


@pytest.fixture
def capture() -> object:
    def find(name: str) -> Path:
        path = CAPTURES / name
        if not path.exists():
            pytest.skip(f"capture {name} not present")
        return path

    return find


@pytest.fixture
def public() -> object:
    def find(name: str) -> Path:
        path = PUBLIC / name
        if not path.exists():
            pytest.skip("../shared/captures/public is absent")
        return path

    return find


@pytest.fixture
def corpus() -> object:
    """``corpus("zeek/tunnels/vxlan.pcap")``: a fetched third-party trace, or a skip."""

    def find(name: str) -> Path:
        path = CORPUS / name
        if not path.exists():
            pytest.skip(f"corpus trace {name} not fetched (python3 tests/corpus/fetch.py)")
        return path

    return find


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--corpus", action="store_true",
        help="also run tests/corpus: tcpdump's and Zeek's test captures against tshark "
        "(fetch them first: python3 tests/corpus/fetch.py; about 30 minutes)",
    )
    parser.addoption(
        "--update-golden", action="store_true",
        help="rewrite tests/golden/ (and the README's and tutorial's outputs shown whole) from "
        "what the documented commands print now (also LAYERPEEK_UPDATE_GOLDEN=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--update-golden", default=False):
        import os

        os.environ["LAYERPEEK_UPDATE_GOLDEN"] = "1"
