"""Every notebook in notebooks/ runs top to bottom on the bundled captures.

The code cells are executed in order in one namespace, from the repository
root, as Jupyter would run them; a cell that raises fails the test.  This
needs no Jupyter installation, so it runs wherever the tests run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code"
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    for i, cell in enumerate(code):
        source = "".join(cell["source"])
        exec(compile(source, f"{path.name}[{i}]", "exec"), namespace)
    assert os.getcwd() == str(ROOT)


def test_the_layers_notebook_claims_hold_for_the_bundled_capture() -> None:
    """The notebook says packet 4 is the greeting, carried in four layers."""
    import layerpeek

    packets = list(layerpeek.read(ROOT / "captures" / "tcp_3040_greeting.pcap"))
    assert [p.protocols for p in packets[:3]] == ["eth:ipv4:tcp"] * 3
    assert packets[3].protocols == "eth:ipv4:tcp:data"
    assert packets[3].payload_after(layerpeek.TCP).startswith(b"Welcome")
