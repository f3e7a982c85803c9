"""Where a notebook function's packets come from: a path, a file object, or packets.

Notebook helpers accept all three so that a cell can pass a file name and a
later cell can pass a filtered list of packets it already holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast

from layerpeek.packet import Packet

Source = str | os.PathLike[str] | BinaryIO | Iterable[Packet]


def iter_packets(source: Source) -> Iterator[Packet]:
    """Packets from a path or binary file (read and decoded), or from an iterable as is."""
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        from layerpeek.reader import read

        # A file object is told apart by its read(), which mypy cannot narrow on.
        with read(cast("str | os.PathLike[str] | BinaryIO", source)) as reader:
            yield from reader
    else:
        yield from source
