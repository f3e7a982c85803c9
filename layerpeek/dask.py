"""Deprecated: :mod:`layerpeek.columnar.dask` (``read_captures``, ``conversations``, ...).

The columnar modules are one package now (:mod:`layerpeek.columnar`); this
module keeps the old spelling working and says where the names went.
"""

from __future__ import annotations

import warnings

from layerpeek.columnar.dask import (
    CONVERSATION_COLUMNS,
    PathsOrGlob,
    conversation_table,
    conversations,
    expand_paths,
    load_chunk,
    read_captures,
    to_pandas,
)

warnings.warn(
    "layerpeek.dask is deprecated: use layerpeek.columnar.read_captures and "
    "layerpeek.columnar.conversations (or layerpeek.columnar.dask)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "CONVERSATION_COLUMNS",
    "PathsOrGlob",
    "conversation_table",
    "conversations",
    "expand_paths",
    "load_chunk",
    "read_captures",
    "to_pandas",
]
