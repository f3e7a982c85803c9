"""Run a notebook's code cells in this process, collecting what Jupyter would display.

Why not a Jupyter kernel: executing in-process needs nothing beyond the test
dependencies, runs in a second, and a failing cell gives an ordinary
traceback with the notebook and cell in its file name.  It mimics the parts
of IPython the notebooks rely on: the value of a cell's last expression is
displayed (rich HTML first, like Jupyter), ``display()`` is a builtin, and
matplotlib figures created by a cell are shown (as PNG) when it ends.
``test_real_kernel`` checks one notebook in a real kernel too, when
nbclient and ipykernel are installed.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Output:
    """One displayed thing: its MIME type and its data (text, HTML, or base64 PNG)."""

    mime: str
    data: str


@dataclass
class Cell:
    kind: str  #: "markdown" or "code"
    source: str
    outputs: list[Output] = field(default_factory=list)


def _rich(value: Any) -> Output:
    html = getattr(value, "_repr_html_", None)
    if callable(html):
        text = html()
        if isinstance(text, str):
            return Output("text/html", text)
    return Output("text/plain", repr(value))


def _figures(outputs: list[Output]) -> None:
    """Show and close every open matplotlib figure, as the inline backend does."""
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib.pyplot as plt

    for number in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(number).savefig(buf, format="png", dpi=72)
        outputs.append(Output("image/png", base64.b64encode(buf.getvalue()).decode()))
    plt.close("all")


def run(path: Path) -> list[Cell]:
    """Execute ``path``'s code cells top to bottom in one namespace; return every cell.

    Raises whatever a cell raises.  Run it from the repository root, as the
    notebooks expect (they also work from ``notebooks/``).
    """
    os.environ.setdefault("MPLBACKEND", "Agg")
    cells_json = json.loads(path.read_text())["cells"]
    namespace: dict[str, Any] = {"__name__": "__notebook__"}
    cells: list[Cell] = []
    for i, raw in enumerate(cells_json):
        source = "".join(raw["source"])
        cell = Cell(raw["cell_type"], source)
        cells.append(cell)
        if cell.kind != "code":
            continue
        outputs = cell.outputs
        namespace["display"] = lambda *values, into=outputs: into.extend(_rich(v) for v in values)
        tree = ast.parse(source, f"{path.name}[{i}]")
        last: ast.Expression | None = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(tree, f"{path.name}[{i}]", "exec"), namespace)
            value = eval(compile(last, f"{path.name}[{i}]", "eval"), namespace) if last else None
        if buf.getvalue():
            outputs.insert(0, Output("text/plain", buf.getvalue()))
        if value is not None:
            outputs.append(_rich(value))
        _figures(outputs)
    return cells
