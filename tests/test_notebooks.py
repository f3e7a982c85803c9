"""Every notebook in notebooks/ runs top to bottom on the bundled captures.

The code cells are executed in order in one namespace, from the repository
root, as Jupyter would run them (``tests/notebook/nbrun.py``: the last
expression of a cell is displayed through its ``_repr_html_``, so the rich
displays run too); a cell that raises fails the test.  This needs no Jupyter
installation, so it runs wherever the tests run.  ``test_real_kernel``
runs one notebook in a real Jupyter kernel when nbclient is installed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "notebook"))

from nbrun import run  # noqa: E402

#: What each notebook exists to show, so a notebook cannot quietly lose its point.
EXPECTED = {
    "01_layers_of_one_packet.ipynb": "lp-packet",
    "02_handshake_and_teardown.ipynb": "lp-ladder",
    "03_http_transactions.ipynb": "lp-http",
    "04_page_load.ipynb": "lp-packet",
    "05_dataframes.ipynb": "image/png",
    "06_tables_parquet_dask.ipynb": "dataframe",
    "07_https.ipynb": "lp-tls",
}
#: The optional packages (the ``notebook`` extra) each notebook imports.
NEEDS = {
    "03_http_transactions.ipynb": ("pandas", "pyarrow"),
    "05_dataframes.ipynb": ("pandas", "pyarrow", "matplotlib"),
    "06_tables_parquet_dask.ipynb": ("numpy", "pyarrow", "pandas", "dask"),
    "07_https.ipynb": ("cryptography", "hpack"),
}


def test_the_notebook_extra_installs_what_every_notebook_imports() -> None:
    """`pip install '.[notebook]'` is all a reader needs to open and run every notebook."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names = {re.split(r"[\[<>=!~ ]", req, maxsplit=1)[0] for req in extras["notebook"]}
    assert "jupyterlab" in names, "the notebook extra must bring Jupyter itself"
    for notebook, modules in NEEDS.items():
        missing = set(modules) - names
        assert not missing, f"{notebook} imports {sorted(missing)}, which the notebook extra lacks"


def test_the_notebooks_are_the_documented_seven() -> None:
    assert [p.name for p in NOTEBOOKS] == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in NEEDS.get(path.name, ()):
        pytest.importorskip(module)
    monkeypatch.chdir(ROOT)
    cells = run(path)
    code = [c for c in cells if c.kind == "code"]
    assert code, f"{path.name} has no code"
    shown = "".join(o.data if o.mime == "text/html" else o.mime for c in code for o in c.outputs)
    want = EXPECTED.get(path.name)
    if want is not None:
        assert want in shown, f"{path.name} no longer displays {want}"
    assert os.getcwd() == str(ROOT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_bulky_outputs(path: Path) -> None:
    """Outputs would churn in review and could hold a developer's paths."""
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], f"{path.name}: clear the outputs"
            assert cell.get("execution_count") is None


def test_the_layers_notebook_shows_the_explainers_figure_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Notebook 01 opens with a packet drawn as nested layer boxes, before any text output."""
    monkeypatch.chdir(ROOT)
    cells = run(ROOT / "notebooks" / "01_layers_of_one_packet.ipynb")
    first = next(o for c in cells if c.kind == "code" for o in c.outputs)
    assert first.mime == "text/html" and 'class="lp-packet"' in first.data


def test_the_layers_notebook_claims_hold_for_the_bundled_capture() -> None:
    """The notebook says packet 4 is the greeting, carried in four layers."""
    import layerpeek

    packets = list(layerpeek.read(ROOT / "captures" / "tcp_3040_greeting.pcap"))
    assert [p.protocols for p in packets[:3]] == ["eth:ipv4:tcp"] * 3
    assert packets[3].protocols == "eth:ipv4:tcp:data"
    assert packets[3].payload_after(layerpeek.TCP).startswith(b"Welcome")


def test_real_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Notebook 02 in a real Jupyter kernel: the ladder arrives as text/html."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    monkeypatch.chdir(ROOT)
    nb = nbformat.read(ROOT / "notebooks" / "02_handshake_and_teardown.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    html = [
        out["data"]["text/html"]
        for cell in nb.cells if cell.cell_type == "code"
        for out in cell.outputs if "text/html" in out.get("data", {})
    ]
    assert any('class="lp-ladder"' in h for h in html)
