"""Arrow arrays made from NumPy buffers, the building blocks of the table's columns.

Not ``pa.array`` nor ``to_numpy()``: their first call in a process imports
pandas when pandas is installed (a quarter of a second, longer than a whole
table of a small capture); ``from_buffers`` does not.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from numpy.typing import NDArray

    BoolArray = NDArray[np.bool_]

#: Two 64-bit words as they lie in memory, and in network order (an IPv6
#: address, or an IPv4 one in the top half of the first word).
NATIVE_PAIR = struct.Struct("=QQ")
NETWORK_PAIR = struct.Struct(">QQ")

#: The NumPy type of each Arrow type the table's columns use.
_NUMPY_OF = {
    pa.int64(): np.int64,
    pa.int32(): np.int32,
    pa.uint64(): np.uint64,
    pa.uint32(): np.uint32,
    pa.uint16(): np.uint16,
    pa.uint8(): np.uint8,
}


def numbers(
    values: NDArray[Any], kind: pa.DataType, valid: BoolArray | None = None,
    bitmap: tuple[pa.Buffer | None, int] | None = None,
) -> pa.Array:
    """An Arrow array over a NumPy column, made from its buffers.

    Not ``pa.array``: its first call in a process imports pandas when pandas
    is installed (a quarter of a second, longer than a whole table of a small
    capture); ``from_buffers`` does not.  ``bitmap``: a validity bitmap and
    null count already made for ``valid``.
    """
    count = len(values)
    data = pa.py_buffer(np.ascontiguousarray(values, _NUMPY_OF[kind]))
    if bitmap is None:
        bitmap = validity(valid, count)
    return pa.Array.from_buffers(kind, count, [bitmap[0], data], null_count=bitmap[1])


def validity(valid: BoolArray | None, count: int) -> tuple[pa.Buffer | None, int]:
    """An Arrow validity bitmap and null count for a mask (None: every row valid)."""
    nulls = 0 if valid is None else count - int(np.count_nonzero(valid))
    if not nulls:
        return None, 0
    assert valid is not None
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def indices(encoded: pa.DictionaryArray) -> NDArray[np.int32]:
    """A dictionary array's int32 indices as NumPy, a view of their buffer.

    Not ``to_numpy()``, which imports pandas too (see :func:`numbers`);
    for arrays without nulls, which the dictionary encoding of a column
    without nulls gives.
    """
    index = encoded.indices
    assert index.type == pa.int32() and index.null_count == 0
    return np.frombuffer(index.buffers()[1], np.int32, len(index), index.offset * 4)


def strings(texts: Sequence[str]) -> pa.Array:
    """An Arrow string array of ``texts``, made from its buffers (see :func:`numbers`)."""
    encoded = [text.encode() for text in texts]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(data) for data in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(
        len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))
    )
