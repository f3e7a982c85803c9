"""Lazy exports for packages whose names live in submodules.

``import layerpeek.flows`` (or ``.http``, ``.notebook``) must stay cheap, so
each package lists where its public names live and imports that submodule on
first use (PEP 562 module ``__getattr__``); the value is then cached in the
package's namespace, so the lookup happens once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str, where: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``name`` from ``package.<where[name]>``."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
