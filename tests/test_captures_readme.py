"""captures/README.md describes the files beside it: the packet counts it gives are the files'."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import layerpeek

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
ROW = re.compile(r"^\| `([^`]+\.pcap(?:ng)?)` \| (\d+) \|", re.MULTILINE)


def documented() -> dict[str, int]:
    return {name: int(n) for name, n in ROW.findall((CAPTURES / "README.md").read_text())}


def test_every_capture_is_documented_and_every_documented_capture_exists() -> None:
    on_disk = {p.name for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng")}
    assert set(documented()) == on_disk


@pytest.mark.parametrize("name", sorted(documented()))
def test_documented_packet_count_is_the_files(name: str) -> None:
    assert sum(1 for _ in layerpeek.read(CAPTURES / name)) == documented()[name]
