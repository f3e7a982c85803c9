"""Import directions the package keeps, checked by reading the source (``ast``), not by importing.

Every ``import`` statement counts, also one inside a function (a lazy import
is still a dependency).  A rule is a set of modules that must not import a
set of others; add one by listing the two sides.

* Protocol modules stand alone: nothing under ``layers/`` imports the
  registry (the decoder types come from :mod:`layerpeek.dissect`), so a new
  protocol is one module plus one line in ``registry.default_registry``.
* Decoding, the flow stages and capture do not import the notebook layer at
  all, and import ``render/`` only from a display hook of one statement
  (``_repr_html_``, ``_repr_pretty_``, ``__str__``) or a kept public method
  (``to_dict``, ``summary``, ``describe``…) that hands the record to
  ``render/``: how a record is shown lives in ``render/``, never beside it.
* The records of those modules, of ``dnstx.py`` and of ``story.py`` keep no
  presentation logic: a method named like a renderer is such a hand-over
  or a constant default.
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


def _is_under(imported: str, forbidden: str) -> bool:
    return imported == forbidden or imported.startswith(forbidden + ".")


def offenders(sources: list[Path], forbidden: str) -> list[str]:
    """``module: imported`` for every import of ``forbidden`` or a module inside it."""
    bad = []
    for path in sources:
        for imported in sorted(imported_modules(path)):
            if _is_under(imported, forbidden):
                bad.append(f"{module_name(path)}: {imported}")
    return bad


#: Methods that show a record; in the modules below they may only hand over to ``render/``.
PRESENTATION_METHODS = frozenset({
    "_repr_html_", "_repr_pretty_", "to_dict", "describe", "summary", "labels",
    "tree_lines", "options_text", "text", "show",
})
#: Where those modules may import ``render/``: the methods above and ``__str__``
#: (which may also stay a record's own: ``Endpoint`` is ``10.0.0.1:80`` everywhere).
HOOK_METHODS = PRESENTATION_METHODS | {"__str__"}

#: The modules that may import ``render/`` only from such a hand-over.
DECODING_AND_STAGES = ("layers", "flows", "http", "capture", "packet.py", "decode.py")


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing_function(
    node: ast.AST, parents: dict[ast.AST, ast.AST]
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def _statements(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """The body without its docstring."""
    body = list(func.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body


#: Expressions that are logic, not a hand-over: a hook passing ``self`` on has none.
_LOGIC = (ast.IfExp, ast.BoolOp, ast.BinOp, ast.Compare, ast.JoinedStr, ast.Lambda,
          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Subscript)


def _is_hand_over(func: ast.FunctionDef | ast.AsyncFunctionDef, module: str) -> bool:
    """``from layerpeek.render.x import f`` then one ``return f(self)``/``p.text(f(self))``."""
    body = _statements(func)
    if len(body) != 2 or not isinstance(body[0], ast.ImportFrom):
        return False
    if not any(_is_under(m, "layerpeek.render") for m in imports_in(ast.unparse(body[0]), module)):
        return False
    last = body[1]
    if not isinstance(last, (ast.Return, ast.Expr)) or last.value is None:
        return False
    return not any(isinstance(n, _LOGIC) for n in ast.walk(last.value))


def _is_constant_default(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``return ""``: a base class's default that subclasses override."""
    body = _statements(func)
    return (
        len(body) == 1
        and isinstance(body[0], ast.Return)
        and isinstance(body[0].value, ast.Constant)
    )


def render_imports_outside_hooks(source: str, module: str, is_package: bool = False) -> list[str]:
    """``module: line N`` for every import of ``layerpeek.render`` that is not a hand-over."""
    tree = ast.parse(source)
    parents = _parents(tree)
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        names = imports_in(ast.unparse(node), module, is_package)
        if not any(_is_under(m, "layerpeek.render") for m in names):
            continue
        func = _enclosing_function(node, parents)
        if (
            func is None
            or func.name not in HOOK_METHODS
            or not _is_hand_over(func, module)
        ):
            bad.append(f"{module}: line {node.lineno}")
    return bad


def presentation_logic(source: str, module: str) -> list[str]:
    """``module: Class.method`` for every renderer-named method that does more than hand over."""
    tree = ast.parse(source)
    bad = []
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        for func in cls.body:
            if (
                isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
                and func.name in PRESENTATION_METHODS
                and not _is_hand_over(func, module)
                and not _is_constant_default(func)
            ):
                bad.append(f"{module}: {cls.name}.{func.name}")
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


    HOOKS = (
        "class Packet:\n"
        "    def _repr_html_(self) -> str:\n"
        "        \"\"\"Jupyter's view.\"\"\"\n"
        "        from layerpeek.render.html import packet_html\n"
        "        return packet_html(self)\n"
        "    def _repr_pretty_(self, p, cycle):\n"
        "        from ..render.text import packet_tree\n"
        "        p.text(packet_tree(self))\n"
    )

    def test_a_one_statement_hook_may_import_render(self) -> None:
        assert render_imports_outside_hooks(self.HOOKS, "layerpeek.packet") == []
        assert presentation_logic(self.HOOKS, "layerpeek.flows.x") == []

    def test_render_imported_anywhere_else_is_reported(self) -> None:
        source = (
            "from layerpeek.render import text\n"  # module level
            "class C:\n"
            "    def helper(self):\n"  # not a presentation method
            "        from layerpeek.render.text import packet_line\n"
            "        return packet_line(self)\n"
            "    def to_dict(self):\n"  # a hook with logic of its own
            "        from layerpeek.render.json import packet_to_dict\n"
            "        d = packet_to_dict(self)\n"
            "        return d\n"
            "    def summary(self):\n"
            "        from layerpeek.render.text import key_facts\n"
            "        return key_facts(self)[0] if self else ''\n"
        )
        assert render_imports_outside_hooks(source, "layerpeek.flows.x") == [
            "layerpeek.flows.x: line 1",
            "layerpeek.flows.x: line 4",
            "layerpeek.flows.x: line 7",
            "layerpeek.flows.x: line 11",
        ]

    def test_presentation_logic_in_a_record_is_reported(self) -> None:
        source = (
            "class Base:\n"
            "    def summary(self) -> str:\n"
            "        return ''\n"  # a default: allowed
            "class Teardown:\n"
            "    def describe(self) -> str:\n"
            "        return f'closed by {self.initiator}'\n"
            "    def to_dict(self):\n"
            "        return {'kind': self.kind}\n"
        )
        assert presentation_logic(source, "layerpeek.flows.x") == [
            "layerpeek.flows.x: Teardown.describe",
            "layerpeek.flows.x: Teardown.to_dict",
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

    def test_decoding_flows_and_capture_do_not_import_the_notebook(self) -> None:
        assert offenders(modules(*DECODING_AND_STAGES), "layerpeek.notebook") == []

    def test_decoding_flows_and_capture_import_render_only_from_hooks(self) -> None:
        bad: list[str] = []
        for path in modules(*DECODING_AND_STAGES):
            bad.extend(render_imports_outside_hooks(
                path.read_text(encoding="utf-8"), module_name(path),
                is_package=path.name == "__init__.py",
            ))
        assert bad == []


class TestRecordsHoldNoPresentation:
    """Where the records live that ``render/`` shows (``layers/`` keep their own summaries)."""

    @pytest.mark.parametrize(
        "root", ["packet.py", "http", "dnstx.py", "story.py", "flows"],
    )
    def test_renderer_named_methods_hand_over_to_render(self, root: str) -> None:
        bad: list[str] = []
        for path in modules(root):
            bad.extend(presentation_logic(path.read_text(encoding="utf-8"), module_name(path)))
        assert bad == []
