"""Build the API reference from the docstrings with pdoc; any warning fails the build.

    python3 docs/build.py [-o OUTPUT]      # default docs/api (not committed)

Every public module of the library is documented (names beginning with ``_``
are private; ``layerpeek.split`` and ``layerpeek.dask`` are deprecated former
homes, and ``layerpeek.cli`` and ``layerpeek.commands`` the command-line
programs, documented by ``--help`` and the README: these are left out).
Packages that serve their names lazily (PEP 562 ``__getattr__``, so ``import
layerpeek.flows`` stays cheap) have those names resolved first, so that the
reference lists what ``__all__`` promises.
Docstrings are reStructuredText (``:class:`` and ``:func:`` cross-references
become links).  A warning from pdoc (a name in ``__all__`` that does not
resolve, a docstring it cannot read) or from importing a module is printed
and the exit status is 1, as ``sphinx -W`` would.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Left out: the deprecated former homes, and the command-line programs (their
#: reference is ``layerpeek COMMAND --help`` and the README).
LEFT_OUT = ("layerpeek.split", "layerpeek.dask", "layerpeek.cli", "layerpeek.commands")


def public_modules() -> list[str]:
    """The package and every submodule a user may import, in a stable order."""
    import layerpeek

    names = ["layerpeek"]
    for info in pkgutil.walk_packages(layerpeek.__path__, "layerpeek."):
        if info.name.startswith(LEFT_OUT) or any(p.startswith("_") for p in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def specs(names: list[str]) -> list[str]:
    """``names`` less those pdoc reaches from a package named before them (it walks a package's
    submodules, those in its ``__all__`` when it has one): each module documented once."""
    import pdoc.extract

    covered: set[str] = set()
    chosen = []
    for name in names:
        if name not in covered:
            chosen.append(name)
            covered.update(pdoc.extract.walk_specs([name]))
    return chosen


def resolve_lazy(names: list[str]) -> None:
    """Put each module's lazily served ``__all__`` names in its namespace, where pdoc looks.

    Also give each ``NamedTuple``'s generated ``__new__`` its class's module:
    Python files it under a made-up one (``namedtuple_Move``), where pdoc
    cannot resolve the field annotations.
    """
    for name in names:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            if attr not in vars(module):
                setattr(module, attr, getattr(module, attr))
        for value in list(vars(module).values()):
            new = getattr(value, "__new__", None)
            if (
                isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "_fields")
                and value.__module__ == name
                and getattr(new, "__module__", "").startswith("namedtuple_")
            ):
                new.__module__ = name


#: Sphinx's ``:class:`~a.b.C``` (shown as ``C``): pdoc keeps the ``~`` and
#: does not link it, so the reference gets the full name, which it links.
_TILDE = re.compile(r"(:(?:py:)?[a-z]+:)`~([\w.]+)`")


def _read_tildes(convert: Callable[[str, str, Path | None], str]) -> Callable[..., str]:
    def without_tildes(docstring: str, docformat: str, source_file: Path | None) -> str:
        return convert(_TILDE.sub(r"\1`\2`", docstring), docformat, source_file)

    return without_tildes


def build(output: Path) -> list[str]:
    """Write the HTML reference to ``output``; return the warnings met (none for a good build)."""
    sys.path.insert(0, str(ROOT))
    import pdoc
    import pdoc.docstrings
    import pdoc.render

    pdoc.docstrings.convert = _read_tildes(pdoc.docstrings.convert)  # type: ignore[assignment]

    with warnings.catch_warnings(record=True) as met:
        warnings.simplefilter("always")
        names = public_modules()
        resolve_lazy(names)
        # No source listings: they double the build's time and size, and the
        # source is in the repository.
        pdoc.render.configure(
            docformat="restructuredtext", footer_text="layerpeek", show_source=False
        )
        pdoc.pdoc(*specs(names), output_directory=output)
    return [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in met]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "api")
    args = parser.parse_args(argv)
    problems = build(args.output)
    for problem in problems:
        print(f"docs/build.py: {problem}", file=sys.stderr)
    if problems:
        print(f"docs/build.py: {len(problems)} warnings: the reference is not clean",
              file=sys.stderr)
        return 1
    print(f"API reference written to {args.output}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
