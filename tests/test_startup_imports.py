"""Starting up imports only what the start needs (issue 19).

``import layerpeek`` and ``layerpeek --help`` are what a user waits for most
often, so they must not load the decoders, the renderers, the analysis or any
optional dependency.  These tests look at which modules a fresh interpreter
holds afterwards, never at a clock: timings on a shared machine prove nothing,
while a module that is present was certainly paid for.  (The CPU time these
imports take is measured by ``bench/bench_startup.py``.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Optional dependencies and the heavy parts of layerpeek that a start must not load.
HEAVY = (
    "numpy", "pyarrow", "pandas", "dask", "cryptography", "hpack", "pylsqpack", "scapy",
    "ctypes", "layerpeek.tls", "layerpeek.http2", "layerpeek.quic", "layerpeek.columnar",
    "layerpeek.render", "layerpeek.analysis", "layerpeek.flows", "layerpeek.filter",
    "layerpeek.capture.live",
)

#: The decoders: needed to read a capture, not to print usage.
DECODERS = ("layerpeek.layers", "layerpeek.decode", "layerpeek.reader", "layerpeek.capture")


def modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after a fresh interpreter ran ``code``."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=60, check=True)
    return set(result.stdout.split("\n"))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (a package counts with its submodules) are in ``modules``."""
    return sorted(m for m in modules for name in names if m == name or m.startswith(f"{name}."))


def cli(*argv: str) -> str:
    """Code running ``layerpeek ARGV`` in process, its output swallowed."""
    return ("import contextlib, io\nfrom layerpeek.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main({list(argv)!r}) == 0")


def test_import_layerpeek_loads_no_submodule() -> None:
    # Every public name is served on first use (the package's __getattr__).
    modules = modules_after("import layerpeek")
    assert sorted(m for m in modules if m.startswith("layerpeek.")) == []
    assert loaded(modules, HEAVY) == []


def test_a_public_name_loads_the_decoders_and_nothing_heavy() -> None:
    modules = modules_after("from layerpeek import TCP, read")
    assert "layerpeek.layers.tcp" in modules and "layerpeek.reader" in modules
    assert loaded(modules, HEAVY) == []


@pytest.mark.parametrize("argv", [("--help",), ("--version",), ("dump", "--help"),
                                  ("flows", "--help"), ("http", "--help"), ("live", "--help")])
def test_usage_loads_neither_decoders_nor_heavy_modules(argv: tuple[str, ...]) -> None:
    modules = modules_after(cli(*argv))
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, DECODERS) == []
    # Modules only some commands need at run time, not for their usage.
    assert loaded(modules, ("json", "datetime", "signal", "socket")) == []


def test_the_check_sees_an_eager_import() -> None:
    # The helpers above would notice a heavy import: a check that cannot fail proves nothing.
    modules = modules_after("import layerpeek.flows.tracker, json")
    assert loaded(modules, HEAVY) != [] and loaded(modules, DECODERS) != []
    assert loaded(modules, ("json",)) == ["json", "json.decoder", "json.encoder", "json.scanner"]


def test_layerpeek_decode_stays_the_function_whoever_imports_the_submodule_first() -> None:
    # The submodule layerpeek.decode shares the function's name; importing it
    # (here through the tracker) must not rebind the package's attribute.
    code = ("import layerpeek.flows.tracker, layerpeek, layerpeek.decode\n"
            "from layerpeek import decode\n"
            "assert callable(layerpeek.decode) and decode is layerpeek.decode, layerpeek.decode\n"
            "assert callable(layerpeek.reader.read)")
    assert "layerpeek.decode" in modules_after(code)
