"""Import directions the package keeps, checked by reading the source (``ast``), not by importing.

Every ``import`` statement counts, also one inside a function (a lazy import
is still a dependency).  A rule is a set of modules that must not import a
set of others; add one by listing the two sides.

* Protocol modules stand alone: nothing under ``layers/`` imports the
  registry (the decoder types come from :mod:`layerpeek.dissect`), so a new
  protocol is one module plus one line in ``registry.default_registry``.
* Decoding, the flow stages and capture do not import the notebook layer:
  Jupyter views are presentation and live in ``render/``/``notebook/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "layerpeek"


def module_name(path: Path) -> str:
    """``layerpeek/layers/tcp.py`` → ``layerpeek.layers.tcp`` (a package is its ``__init__``)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, absolute; ``from X import name`` gives both X and X.name.

    ``from layerpeek import registry`` names the module ``layerpeek.registry``;
    listing ``X.name`` for every imported name catches that form without
    knowing which names are modules.  Relative imports are resolved against
    the package of ``module`` (``module`` itself when it is a package).
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def imported_modules(path: Path) -> set[str]:
    """:func:`imports_in` for a file of the package."""
    return imports_in(
        path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py"
    )


def modules(*roots: str) -> list[Path]:
    """The ``.py`` files of the given packages (directories) or modules under ``layerpeek/``."""
    out: list[Path] = []
    for root in roots:
        path = PACKAGE / root
        out.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    assert out, roots
    return out


def offenders(sources: list[Path], forbidden: str) -> list[str]:
    """``module: imported`` for every import of ``forbidden`` or a module inside it."""
    bad = []
    for path in sources:
        for imported in sorted(imported_modules(path)):
            if imported == forbidden or imported.startswith(forbidden + "."):
                bad.append(f"{module_name(path)}: {imported}")
    return bad


class TestTheCheckItself:
    def test_every_form_of_import_is_seen(self) -> None:
        source = (
            "import layerpeek.registry as r\n"
            "from layerpeek import registry\n"
            "def lazy():\n"
            "    from layerpeek.registry import Registry\n"
        )
        found = imports_in(source, "layerpeek.layers.x")
        assert {"layerpeek.registry", "layerpeek.registry.Registry"} <= found
        bad = [m for m in found if m == "layerpeek.registry" or m.startswith("layerpeek.registry.")]
        assert len(bad) == 2

    def test_relative_imports_resolve_against_the_package(self) -> None:
        assert imports_in("from ..registry import Registry", "layerpeek.layers.tcp") >= {
            "layerpeek.registry"
        }
        assert imports_in("from . import tcp", "layerpeek.layers", is_package=True) == {
            "layerpeek.layers",
            "layerpeek.layers.tcp",
        }
        assert imports_in("from .tcp import TCP", "layerpeek.layers.udp") >= {
            "layerpeek.layers.tcp"
        }

    def test_an_offender_is_reported(self) -> None:
        # decode.py imports the registry on purpose: the check must see that.
        assert offenders(modules("decode.py"), "layerpeek.registry") == [
            "layerpeek.decode: layerpeek.registry",
            "layerpeek.decode: layerpeek.registry.DEPTHS",
            "layerpeek.decode: layerpeek.registry.Dissector",
            "layerpeek.decode: layerpeek.registry.Registry",
            "layerpeek.decode: layerpeek.registry.default_registry",
        ]


class TestImportDirections:
    def test_layers_do_not_import_the_registry(self) -> None:
        assert offenders(modules("layers"), "layerpeek.registry") == []

    def test_dissect_is_a_leaf(self) -> None:
        """The decoder types depend only on the packet model, errors and wire helpers."""
        allowed = ("layerpeek.packet", "layerpeek.errors", "layerpeek.wire")
        ours = [
            m
            for m in imported_modules(PACKAGE / "dissect.py")
            if m.startswith("layerpeek") and not m.startswith(allowed)
        ]
        assert ours == []

    @pytest.mark.xfail(
        strict=True,
        reason="the Jupyter views of Packet, Conversation and HTTPExchange still import "
        "layerpeek.notebook; issue 14 moves them into render/ (the render/ move)",
    )
    def test_decoding_flows_and_capture_do_not_import_the_notebook(self) -> None:
        sources = modules("layers", "flows", "http", "capture", "packet.py", "decode.py")
        assert offenders(sources, "layerpeek.notebook") == []
