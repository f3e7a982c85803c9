"""Whether the table path runs its compiled loops (``layerpeek._speedups``).

``setup.py`` builds the extension where a C compiler is present; every loop
it holds has a pure-Python twin giving the same results.  ``ENABLED`` is read
at call time by the modules that choose (so a test can switch it), and
``LAYERPEEK_PURE_PYTHON=1`` in the environment turns the compiled loops off.
"""

from __future__ import annotations

import os

try:  # the optional compiled loops (setup.py builds them when a C compiler is present)
    from layerpeek import _speedups as speedups
except ImportError:  # pragma: no cover - depends on the build
    speedups = None  # type: ignore[assignment]


def pure_python_wanted() -> bool:
    """``LAYERPEEK_PURE_PYTHON`` is set to something other than ``""`` or ``"0"``."""
    return os.environ.get("LAYERPEEK_PURE_PYTHON", "") not in ("", "0")


#: Whether the compiled loops are used: the extension was built and
#: ``LAYERPEEK_PURE_PYTHON`` was not set at import.
ENABLED = speedups is not None and not pure_python_wanted()

__all__ = ["ENABLED", "pure_python_wanted", "speedups"]
