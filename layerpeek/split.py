"""Deprecated: :func:`layerpeek.columnar.split` and :class:`layerpeek.columnar.Chunk`.

The columnar modules are one package now (:mod:`layerpeek.columnar`); this
module keeps the old spelling working and says where the names went.
"""

from __future__ import annotations

import warnings

from layerpeek.columnar.chunks import DEFAULT_CHUNK_BYTES, Chunk, split

warnings.warn(
    "layerpeek.split is deprecated: use layerpeek.columnar.split and layerpeek.columnar.Chunk",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["DEFAULT_CHUNK_BYTES", "Chunk", "split"]
