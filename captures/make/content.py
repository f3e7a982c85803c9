"""The fixed content the demo web server serves (README.md records every sha256).

Everything is built in code, byte for byte the same on every run, so the
bodies in the captures can be checked against known digests: a small page
that references a stylesheet and an image (the explainer's page load), a JSON
document that compresses well (the gzip capture), and a 200 000-byte binary
that does not compress at all (the large-body and RST captures).
"""

from __future__ import annotations

import hashlib
import struct
import zlib

PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>layerpeek demo page</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<h1>Layers all the way down</h1>
<p>This page was served by the layerpeek demo server on port 8080.</p>
<img src="/logo.png" width="16" height="16" alt="layerpeek logo">
</body>
</html>
"""

CSS = b"""body { font-family: sans-serif; margin: 2em; background: #fdfdfd; }
h1 { color: #246; border-bottom: 2px solid #246; }
img { image-rendering: pixelated; }
"""


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack("!I", len(data))
        + kind
        + data
        + struct.pack("!I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def make_png() -> bytes:
    """A valid 16x16 RGB PNG: four coloured stripes, one per layer.

    Compressed at zlib level 0 ("stored" blocks) so the bytes do not depend on
    the zlib version: the recorded sha256 holds on any machine.
    """
    stripes = [(0x24, 0x46, 0x66), (0x2E, 0x8B, 0x57), (0xDA, 0xA5, 0x20), (0xB2, 0x22, 0x22)]
    rows = b"".join(b"\x00" + bytes(stripes[y // 4]) * 16 for y in range(16))
    header = struct.pack("!IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows, 0))
        + _png_chunk(b"IEND", b"")
    )


PNG = make_png()

JSON = (
    b'{"capture": "layerpeek demo", "layers": [\n'
    + b",\n".join(
        b'  {"index": %d, "name": "%s", "bytes": %d}' % (i, name, size)
        for i, (name, size) in enumerate(
            [(b"ethernet", 14), (b"ipv4", 20), (b"tcp", 32), (b"http", 0)] * 16
        )
    )
    + b"\n]}\n"
)


def pseudo_random(n: int, label: bytes) -> bytes:
    """``n`` incompressible but reproducible bytes: SHA-256 in counter mode."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(label + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


LARGE = pseudo_random(200_000, b"layerpeek large.bin")

FILES: dict[str, tuple[str, bytes]] = {
    "/index.html": ("text/html; charset=utf-8", PAGE),
    "/style.css": ("text/css", CSS),
    "/logo.png": ("image/png", PNG),
    "/data.json": ("application/json", JSON),
    "/large.bin": ("application/octet-stream", LARGE),
}

#: The trailer of the chunked response carries the sha256 of these chunks.
CHUNKS = [
    b"chunk 1: a chunked body arrives in pieces,\n",
    b"chunk 2: each one prefixed by its size in hex,\n",
    b"chunk 3: this one written with a chunk extension,\n",
    b"chunk 4: and a zero-size chunk ends it, then the trailer.\n",
]


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


if __name__ == "__main__":
    import gzip

    for path, (_, body) in FILES.items():
        print(f"{path}\t{len(body)}\t{hashlib.sha256(body).hexdigest()}")
    gz = gzip.compress(JSON, compresslevel=6, mtime=0)
    print(f"/data.json (gzip)\t{len(gz)}\t{hashlib.sha256(gz).hexdigest()}")
    chunked = b"".join(CHUNKS)
    print(f"/chunked\t{len(chunked)}\t{hashlib.sha256(chunked).hexdigest()}")
