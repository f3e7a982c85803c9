"""Notebook 02 rendered in a real browser: the ladders are laid out inside the page.

Structure tests cannot see layout: an SVG with a wrong ``viewBox`` or a
label pushed past the right edge parses fine and looks broken.  So this test
executes notebook 02 (``nbrun``), writes its cells and outputs into one HTML
page the way a notebook front end shows them, and opens it in headless
Chromium (Debian's ``chromium`` package; skipped when it is not installed).

* ``--dump-dom`` runs a script in the page that measures every ladder, arrow
  and state label with ``getBoundingClientRect`` and writes the numbers into
  the DOM, which the test reads back;
* ``--screenshot`` of the whole page must be a real picture: a PNG of the
  requested size with a fair share of non-white pixels.

The flags suit a machine with no network and no display: ``--headless``,
``--no-sandbox`` (root in a container), ``--disable-gpu``,
``--disable-dev-shm-usage`` (small /dev/shm), a throwaway profile, and
nothing fetched (the page is a local file with everything inline).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from nbrun import Cell, run

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_handshake_and_teardown.ipynb"
WIDTH = 1000

BROWSER = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome")
     if (found := shutil.which(name))),
    None,
)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="chromium is not installed")

#: Measures the ladders after layout and writes the result into <pre id="layout">.
MEASURE = """
<script>
(function () {
  function box(el) {
    const r = el.getBoundingClientRect();
    return {left: r.left + window.scrollX, top: r.top + window.scrollY,
            right: r.right + window.scrollX, bottom: r.bottom + window.scrollY,
            width: r.width, height: r.height};
  }
  const ladders = Array.from(document.querySelectorAll("svg.lp-ladder")).map(function (svg) {
    const parts = Array.from(svg.querySelectorAll("g.lp-seg, text.lp-state, rect.lp-phase"));
    return {stream: svg.dataset.stream, box: box(svg),
            parts: parts.map(function (el) {
              return {kind: el.getAttribute("class"), box: box(el)};
            })};
  });
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({
    viewport: {width: document.documentElement.clientWidth},
    page: {width: document.documentElement.scrollWidth,
           height: document.documentElement.scrollHeight},
    ladders: ladders});
  document.body.appendChild(out);
})();
</script>
"""


def page(cells: list[Cell]) -> str:
    """The notebook as one self-contained HTML page: sources escaped, outputs as displayed."""
    parts = ['<!doctype html><html><head><meta charset="utf-8"><title>02</title></head>',
             '<body style="margin:16px;font-family:sans-serif;max-width:960px">']
    for cell in cells:
        if cell.kind == "markdown":
            parts.append(f'<div style="white-space:pre-wrap">{html.escape(cell.source)}</div>')
            continue
        parts.append(f'<pre style="background:#f5f5f5;padding:4px">{html.escape(cell.source)}'
                     "</pre>")
        for out in cell.outputs:
            if out.mime == "text/html":
                parts.append(f"<div>{out.data}</div>")
            elif out.mime == "image/png":
                parts.append(f'<img src="data:image/png;base64,{out.data}"/>')
            else:
                parts.append(f"<pre>{html.escape(out.data)}</pre>")
    parts.append(MEASURE + "</body></html>")
    return "".join(parts)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        cells = run(NOTEBOOK)
    target = tmp / "02.html"
    target.write_text(page(cells), encoding="utf-8")
    dom = chromium(tmp, f"--window-size={WIDTH},1000", "--dump-dom", target.as_uri()).stdout
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    return target, json.loads(html.unescape(found.group(1)))


def test_every_ladder_and_its_parts_lie_inside_the_viewport(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    _, layout = rendered
    viewport = layout["viewport"]["width"]
    page_size = layout["page"]
    assert page_size["width"] <= viewport, "the page scrolls sideways"
    ladders = layout["ladders"]
    assert len(ladders) >= 3  # stream 0 of the greeting, the simultaneous close, a refusal
    for ladder in ladders:
        svg = ladder["box"]
        assert svg["width"] > 0 and svg["height"] > 0
        assert svg["left"] >= 0 and svg["right"] <= viewport
        assert svg["top"] >= 0 and svg["bottom"] <= page_size["height"]
        kinds = {p["kind"] for p in ladder["parts"]}
        assert {"lp-seg", "lp-state"} <= kinds
        for part in ladder["parts"]:
            b = part["box"]
            assert b["width"] > 0 and b["height"] > 0, part
            assert svg["left"] - 0.5 <= b["left"] and b["right"] <= svg["right"] + 0.5, part
            assert svg["top"] - 0.5 <= b["top"] and b["bottom"] <= svg["bottom"] + 0.5, part


def test_the_screenshot_is_a_real_picture(
    rendered: tuple[Path, dict[str, Any]], tmp_path: Path,
) -> None:
    target, layout = rendered
    height = min(int(layout["page"]["height"]), 8000)
    shot = tmp_path / "02.png"
    chromium(tmp_path, f"--window-size={WIDTH},{height}", f"--screenshot={shot}",
             target.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, tall = struct.unpack(">II", data[16:24])
    assert (width, tall) == (WIDTH, height)
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(shot) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    inked = sum(histogram[:200])  # pixels clearly darker than the white page
    assert inked > 0.01 * width * tall, "the screenshot is (nearly) blank"
