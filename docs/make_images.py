"""Redraw the README's pictures: the ladder of the port-3040 exchange and one nested packet.

    python3 docs/make_images.py      # from the repository root; needs chromium and Pillow

Each picture is the notebook display itself (``_repr_html_``), opened in
headless Chromium and cropped to what was drawn, so the README shows exactly
what a notebook shows.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import layerpeek  # noqa: E402
from layerpeek import notebook as lpn  # noqa: E402


def shoot(fragment: str, out: Path, width: int, height: int) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(
            '<!doctype html><html><head><meta charset="utf-8"></head>'
            f'<body style="margin:12px;background:#fff">{fragment}</body></html>',
            encoding="utf-8",
        )
        shot = Path(tmp) / "shot.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--hide-scrollbars", f"--user-data-dir={tmp}/profile",
             f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
        with Image.open(shot) as image:
            rgb = image.convert("RGB")
        background = Image.new("RGB", rgb.size, (255, 255, 255))
        box = ImageChops.difference(rgb, background).getbbox()
        if box is None:
            raise SystemExit(f"{out.name}: the screenshot is blank")
        left, top, right, bottom = box
        rgb.crop((max(left - 8, 0), max(top - 8, 0), min(right + 8, rgb.width),
                  min(bottom + 8, rgb.height))).save(out, optimize=True)
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    captures = ROOT / "captures"
    conv = lpn.conversations(captures / "tcp_3040_greeting.pcap").tcp(0)
    shoot(conv._repr_html_(), ROOT / "docs" / "ladder.png", 820, 700)
    packet = list(layerpeek.read(captures / "page_load.pcap"))[7]
    shoot(packet._repr_html_(), ROOT / "docs" / "packet.png", 940, 700)


if __name__ == "__main__":
    main()
