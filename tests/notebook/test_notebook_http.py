"""HTTP exchanges in notebooks: heads as sent, decoded body previews, tables; all escaped."""

from __future__ import annotations

import base64
import gzip
import hashlib
from pathlib import Path

import pytest
from htmltree import Element, parse

from layerpeek import notebook as lpn
from layerpeek.notebook.http import exchange_html, exchanges_table

http_message = pytest.importorskip("layerpeek.http.message")
CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def _message(kind: str, headers: list[tuple[str, str]], body: bytes = b"", **kw: object) -> object:
    return http_message.HTTPMessage(
        kind, headers=http_message.Headers(headers), body=body, body_wire_len=len(body),
        framing="length" if body else "none", frames=(4,), **kw,
    )


def _exchange(request: object, response: object) -> object:
    return http_message.HTTPExchange(0, 0, request, response, client="10.0.0.1:40000",
                                     server="10.0.0.2:80")


def _box(html: str, kind: str) -> Element:
    return parse(html).find_all("div", class_=f"lp-http-{kind}")[0]


def test_an_exchange_shows_both_heads_in_wire_order_and_the_body() -> None:
    ex = lpn.exchanges(CAPTURES / "http_get_post.pcap")[0]
    html = exchange_html(ex)
    root = parse(html).find_all("div", class_="lp-http")[0]
    assert root.attrs["data-complete"] == "true"
    request, response = _box(html, "request"), _box(html, "response")
    assert "GET /index.html HTTP/1.1" in request.all_text()
    assert "HTTP/1.1 200 OK" in response.all_text()
    names = [b.all_text() for b in response.find_all("b")][1:]  # after the title
    assert names == [name for name, _ in ex.response.headers]
    body = response.find_all("pre", class_="lp-body")[0].all_text()
    assert body == ex.response.body.decode()  # 341 bytes: shown whole, line breaks kept


def test_a_compressed_body_is_previewed_decoded() -> None:
    ex = lpn.exchanges(CAPTURES / "http_gzip.pcap")[0]
    response = _box(exchange_html(ex), "response")
    assert "after undoing gzip" in response.all_text()
    assert response.find_all("pre", class_="lp-body")[0].all_text().startswith('{"capture"')


def test_a_png_body_is_shown_as_the_image_it_is() -> None:
    ex = lpn.exchanges(CAPTURES / "http_keepalive.pcap")[2]
    assert ex.target == "/logo.png"
    img = _box(exchange_html(ex), "response").find_all("img", class_="lp-body-image")[0]
    prefix = "data:image/png;base64,"
    assert img.attrs["src"].startswith(prefix)
    png = base64.b64decode(img.attrs["src"][len(prefix):])
    assert hashlib.sha256(png).hexdigest().startswith("2104d24658f93c43")


def test_hostile_heads_and_bodies_are_escaped_and_svg_is_never_embedded() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    ex = _exchange(
        _message("request", [("Host", "<b>x</b>")], method="GET",
                 target="/<script>alert(1)</script>", version="HTTP/1.1"),
        _message("response", [("Content-Type", "image/svg+xml"), ("X-\x1b[31m", "red")], svg,
                 version="HTTP/1.1", status=200, reason="<i>OK</i>"),
    )
    html = exchange_html(ex)  # type: ignore[arg-type]
    for raw in ("<script", "<svg", "<b>x", "<i>", "\x1b"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "X-\\x1b[31m" in html
    assert not parse(html).find_all("img")


def test_a_gzip_bomb_is_not_expanded_into_the_page() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    ex = _exchange(
        _message("request", [], method="GET", target="/", version="HTTP/1.1"),
        _message("response", [("Content-Encoding", "gzip"), ("Content-Type", "text/plain")],
                 bomb, version="HTTP/1.1", status=200, reason="OK"),
    )
    html = exchange_html(ex)  # type: ignore[arg-type]
    assert len(html) < 60_000


def test_an_incomplete_exchange_says_why_and_is_tinted_in_tables() -> None:
    items = lpn.exchanges(CAPTURES / "http_rst_cut.pcap")
    root = parse(exchange_html(items[0])).find_all("div", class_="lp-http")[0]
    assert root.attrs["data-complete"] == "false"
    assert "connection was reset (RST)" in root.all_text()
    row = parse(exchanges_table(items)._repr_html_()).find_all("tbody")[0].find_all("tr")[0]
    assert "fdecea" in row.attrs["style"]


def test_the_exchange_list_is_a_table_with_a_row_each() -> None:
    items = lpn.exchanges(CAPTURES / "http_pipelined.pcap")
    rows = parse(items._repr_html_()).find_all("tbody")[0].find_all("tr")
    assert [r.find_all("td")[5].all_text() for r in rows] == [ex.target for ex in items]
    assert len(rows) == 3


def test_an_exchange_displays_itself_in_jupyter_and_in_a_terminal() -> None:
    from IPython.lib.pretty import pretty

    ex = lpn.exchanges(CAPTURES / "http_keepalive.pcap")[1]
    assert parse(ex._repr_html_()).find_all("div", class_="lp-http")
    assert pretty(ex) == "stream 0 #1 GET /style.css HTTP/1.1 → 200 OK (155 bytes)"
