"""``layerpeek.columnar`` is one package whose modules import each other without a cycle.

The table path was three modules that imported each other (the table reader
needed ``split.Chunk``, ``split`` needed the record index); now every module
of the package imports only the ones below it.  The graph is read from the
source (every ``import``, also inside functions and under
``TYPE_CHECKING``), so a cycle fails here before it can fail at import
time.  The public spellings the README, notebooks and older code use keep
working: ``layerpeek.table``, ``layerpeek.columnar.*``, and the former
modules ``layerpeek.split`` and ``layerpeek.dask`` (with a
DeprecationWarning).
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import layerpeek

PACKAGE = Path(layerpeek.__file__).resolve().parent
COLUMNAR = PACKAGE / "columnar"
#: The former modules, now shims over the package: part of the graph too.
SHIMS = (PACKAGE / "split.py", PACKAGE / "dask.py")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, anywhere in its source."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import name``: the submodule pkg.name if there is one, else pkg.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in known and t != me)
    return found


def import_graph() -> dict[str, set[str]]:
    files = [*sorted(COLUMNAR.glob("*.py")), *SHIMS]
    known = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, known) for f in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for after in sorted(graph.get(node, ())):
            if state.get(after) == 1:
                return [*path[path.index(after) :], after]
            if after not in state and (cycle := visit(after)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_cycle_finder_finds_the_cycle_the_old_modules_had() -> None:
    """columnar.py imported split.Chunk and split.py imported columnar.index_records."""
    old = {
        "layerpeek.columnar": {"layerpeek.split"},
        "layerpeek.split": {"layerpeek.columnar"},
        "layerpeek.dask": {"layerpeek.columnar", "layerpeek.split"},
    }
    assert find_cycle(old) == ["layerpeek.columnar", "layerpeek.split", "layerpeek.columnar"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_is_read_from_every_module_of_the_package() -> None:
    graph = import_graph()
    assert {"layerpeek.columnar", "layerpeek.columnar.build", "layerpeek.columnar.chunks",
            "layerpeek.columnar.dask", "layerpeek.split", "layerpeek.dask"} <= set(graph)
    assert "layerpeek.columnar.chunks" in graph["layerpeek.columnar.build"]
    assert "layerpeek.columnar.records" in graph["layerpeek.columnar.chunks"]
    assert graph["layerpeek.split"] == {"layerpeek.columnar.chunks"}


def test_the_columnar_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_no_module_of_the_package_imports_through_its_front_door() -> None:
    """The package's ``__init__`` serves names lazily from the modules; a module that
    imported from it would close a cycle as soon as ``__init__`` named it."""
    graph = import_graph()
    inside = [m for m in graph if m.startswith("layerpeek.columnar.")]
    assert inside
    for module in inside:
        assert "layerpeek.columnar" not in graph[module], module


def test_importing_the_package_is_free() -> None:
    """NumPy and pyarrow (the ``table`` extra) load with the first name that needs them."""
    code = (
        "import sys, layerpeek, layerpeek.columnar, layerpeek.columnar.vocabulary\n"
        "print(sorted(m for m in ('numpy', 'pyarrow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_spelling_names_the_same_object() -> None:
    pytest.importorskip("numpy")
    pytest.importorskip("pyarrow")
    import layerpeek.columnar as columnar

    for module in sorted(COLUMNAR.glob("*.py")):  # every submodule imported: nothing shadowed
        if module.stem != "__init__":
            importlib.import_module(f"layerpeek.columnar.{module.stem}")
    from layerpeek.columnar import build, chunks, dask

    assert layerpeek.table is build.table is columnar.table
    assert columnar.split is chunks.split and columnar.Chunk is chunks.Chunk
    assert columnar.read_captures is dask.read_captures
    assert columnar.conversations is dask.conversations
    for name in columnar.__all__:
        getattr(columnar, name)  # every listed name resolves


@pytest.mark.parametrize(
    "old, names",
    [
        ("layerpeek.split", ("split", "Chunk", "DEFAULT_CHUNK_BYTES")),
        ("layerpeek.dask", ("read_captures", "conversations", "conversation_table",
                            "to_pandas", "CONVERSATION_COLUMNS")),
    ],
)
def test_the_former_modules_still_work_and_say_where_their_names_went(
    old: str, names: tuple[str, ...]
) -> None:
    pytest.importorskip("numpy")
    pytest.importorskip("pyarrow")
    import layerpeek.columnar as columnar

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=r"layerpeek\.columnar"):
        shim = importlib.import_module(old)
    for name in names:
        new = getattr(columnar, name, None)
        if new is None:
            new = getattr(importlib.import_module("layerpeek.columnar.dask"), name)
        assert getattr(shim, name) is new, name


def test_the_library_itself_never_imports_a_former_module() -> None:
    """Only users' code should see the DeprecationWarning."""
    pytest.importorskip("numpy")
    pytest.importorskip("pyarrow")
    code = (
        "import warnings\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        "import layerpeek, layerpeek.columnar as c\n"
        "from layerpeek.commands import export\n"
        "c.split('captures/http_keepalive.pcap', 2)\n"
        "layerpeek.table('captures/http_keepalive.pcap', c.COLUMNS)\n"
        "import layerpeek.columnar.dask\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
