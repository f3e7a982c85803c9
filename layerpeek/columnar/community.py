"""Community ID v1 (https://github.com/corelight/community-id-spec): one flow hash per row.

:func:`community_id` hashes one flow as the spec says; :func:`community_column`
gives the table's ``community_id`` column, hashing each distinct flow once.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from layerpeek.columnar import column_arrays
from layerpeek.columnar.arrays import NETWORK_PAIR, indices, numbers, strings

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from layerpeek.columnar.column_arrays import ColumnArrays

    BoolArray = NDArray[np.bool_]

#: ICMP type → the type of its answer (Zeek's mapping, which the spec adopts):
#: a request and its reply hash to the same flow.
_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6_PAIRS = {
    128: 129,
    129: 128,
    133: 134,
    134: 133,
    135: 136,
    136: 135,
    130: 131,
    131: 130,
    139: 140,
    140: 139,
    144: 145,
    145: 144,
}


def community_id(
    src: bytes,
    dst: bytes,
    proto: int,
    src_port: int | None = None,
    dst_port: int | None = None,
    *,
    seed: int = 0,
) -> str:
    """The Community ID v1 of a flow: ``"1:"`` + base64(SHA-1 of the ordered 5-tuple).

    ``src``/``dst`` are raw 4- or 16-byte addresses.  Both directions of a flow
    give the same ID because the endpoints are put in order first (the smaller
    address, then the smaller port).  For ICMP (1) and ICMPv6 (58) pass the
    type as ``src_port`` and the code as ``dst_port``: they are mapped to the
    spec's pseudo-ports here, and a message without an answer type ("one-way",
    e.g. destination unreachable) is never reordered.  Protocols without ports
    hash the addresses and the protocol only.
    """
    one_way = False
    if proto in (1, 58) and src_port is not None and dst_port is not None:
        pairs = _ICMP4_PAIRS if proto == 1 else _ICMP6_PAIRS
        answer = pairs.get(src_port)
        if answer is None:
            one_way = True  # ports stay (type, code)
        else:
            dst_port = answer
    if src_port is None or dst_port is None:
        if not one_way and dst < src:
            src, dst = dst, src
        body = struct.pack("!H", seed) + src + dst + bytes((proto, 0))
    else:
        if not one_way and (dst, dst_port) < (src, src_port):
            src, dst, src_port, dst_port = dst, src, dst_port, src_port
        body = (
            struct.pack("!H", seed) + src + dst + bytes((proto, 0))
            + struct.pack("!HH", src_port, dst_port)
        )
    return "1:" + base64.b64encode(hashlib.sha1(body).digest()).decode("ascii")




def _flow_keys(cols: ColumnArrays, rows: slice, key: NDArray[np.uint64]) -> BoolArray:
    """Fill ``key`` with the flow key of each of ``rows``; return which rows have a flow.

    A key is five words: IP version, protocol, kind (0 no ports, 1 ports,
    2 ICMP type/code) and the two ports or type/code, then the two
    addresses, both directions of a flow put in the spec's order (not ICMP,
    whose order :func:`community_id` decides), so each flow is one distinct
    key and hashed once.
    """
    version = cols.ip_version[rows]
    ports = cols.ports[rows]
    proto = cols.ip_proto[rows]
    ip = version > 0
    with_ports = ip & ports
    icmp = ip & ~ports & cols.icmp[rows]
    portless = ip & ~ports & ~cols.icmp[rows] & ~np.isin(proto, (1, 58, 6, 17, 132))
    wide = np.uint64
    kind = np.where(with_ports, 1, np.where(icmp, 2, 0)).astype(wide)
    # (A row's ports hold whatever lies under a null unless it has ports.)
    a = np.where(with_ports, cols.src_port[rows], np.where(icmp, cols.icmp_type[rows], 0))
    b = np.where(with_ports, cols.dst_port[rows], np.where(icmp, cols.icmp_code[rows], 0))
    a, b = a.astype(wide), b.astype(wide)
    src, dst = cols.ip_src[rows], cols.ip_dst[rows]
    same_hi = dst[:, 0] == src[:, 0]
    swap = (
        (dst[:, 0] < src[:, 0])
        | (same_hi & (dst[:, 1] < src[:, 1]))
        | (same_hi & (dst[:, 1] == src[:, 1]) & (b < a))
    ) & ~icmp
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    key[:, 0] = version.astype(wide) | (proto.astype(wide) << 8) | (kind << 16) | (a << 24)
    key[:, 0] |= b << 40
    key[:, 1:3] = np.where(swap[:, None], dst, src)
    key[:, 3:5] = np.where(swap[:, None], src, dst)
    valid: BoolArray = with_ports | icmp | portless
    return valid


def community_column(cols: ColumnArrays) -> pa.Array:
    """Community ID per row, hashing each distinct flow tuple once.

    Rows with an IP layer get one when they carry TCP or UDP ports, ICMP
    type/code, or a protocol without ports; an IP fragment of a TCP, UDP or
    SCTP datagram (no ports to hash) gets null rather than a wrong flow.
    """
    n = cols.n
    key = np.empty((n, 5), np.uint64)
    valid = np.empty(n, np.bool_)
    for start in range(0, n, column_arrays.BATCH):  # in cache-sized batches, as the decoder works
        rows = slice(start, start + column_arrays.BATCH)
        valid[rows] = _flow_keys(cols, rows, key[rows])
    if not valid.any():
        return pa.nulls(cols.n, pa.string())
    if not valid.all():
        key[~valid] = 0  # one entry for every row without a flow (what lies under a null)
    # The keys are hashed as they lie in memory (40 bytes a row); only the
    # distinct ones are unpacked and hashed by the spec.
    encoded = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(40), cols.n, [None, pa.py_buffer(key)]
    ).dictionary_encode()

    texts = strings(_community_texts(encoded.dictionary))
    return pc.take(texts, numbers(indices(encoded), pa.int32(), valid))


#: The bytes Community ID v1 hashes for a flow with ports (seed 0): seed,
#: addresses, protocol, a zero, ports; for IPv4 and for IPv6.
_BODY4 = np.dtype([("seed", ">u2"), ("src", ">u4"), ("dst", ">u4"), ("proto", "u1"),
                   ("pad", "u1"), ("a", ">u2"), ("b", ">u2")])
_BODY6 = np.dtype([("seed", ">u2"), ("src", ">u8", 2), ("dst", ">u8", 2), ("proto", "u1"),
                   ("pad", "u1"), ("a", ">u2"), ("b", ">u2")])


def _community_texts(keys: pa.FixedSizeBinaryArray) -> list[str]:
    """The Community ID of each distinct flow key (see :func:`_flow_keys`).

    Flows with ports, the bulk, have their hashed bytes laid out by NumPy, one
    row per flow, so that per flow only SHA-1 and base64 run in Python; ICMP
    and port-less flows go through :func:`community_id`.
    """
    count = len(keys)
    words = np.frombuffer(keys.buffers()[1], np.uint64, count * 5, keys.offset * 40)
    words = words.reshape(count, 5)
    head = words[:, 0]
    version = head & np.uint64(0xFF)
    kind = (head >> np.uint64(16)) & np.uint64(0xFF)
    texts: list[str | None] = [None] * count
    for ip_version, layout in ((4, _BODY4), (6, _BODY6)):
        rows = np.flatnonzero((kind == 1) & (version == ip_version))
        if not len(rows):
            continue
        body = np.zeros(len(rows), layout)
        if ip_version == 4:
            body["src"] = words[rows, 1] >> np.uint64(32)
            body["dst"] = words[rows, 3] >> np.uint64(32)
        else:
            body["src"] = words[rows, 1:3]
            body["dst"] = words[rows, 3:5]
        body["proto"] = (head[rows] >> np.uint64(8)) & np.uint64(0xFF)
        body["a"] = (head[rows] >> np.uint64(24)) & np.uint64(0xFFFF)
        body["b"] = (head[rows] >> np.uint64(40)) & np.uint64(0xFFFF)
        raw = body.tobytes()
        size = layout.itemsize
        sha1, b64 = hashlib.sha1, base64.b64encode
        for i, row in enumerate(rows.tolist()):
            texts[row] = "1:" + b64(sha1(raw[i * size : (i + 1) * size]).digest()).decode()
    for row in np.flatnonzero(kind != 1).tolist():
        head_, src_hi, src_lo, dst_hi, dst_lo = (int(w) for w in words[row])
        size = 4 if head_ & 0xFF == 4 else 16
        proto, a, b = (head_ >> 8) & 0xFF, (head_ >> 24) & 0xFFFF, (head_ >> 40) & 0xFFFF
        src = NETWORK_PAIR.pack(src_hi, src_lo)[:size]
        dst = NETWORK_PAIR.pack(dst_hi, dst_lo)[:size]
        if (head_ >> 16) & 0xFF == 0:
            texts[row] = community_id(src, dst, proto)
        else:
            texts[row] = community_id(src, dst, proto, a, b)
    return [text or "" for text in texts]
