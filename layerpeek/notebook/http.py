"""HTTP exchanges for Jupyter: :func:`exchanges` reads a capture into a list shown as a table.

The HTML (request and response heads, body previews, the table) is drawn by
:mod:`layerpeek.render.http`; its names are re-exported here for notebooks
that import them from ``layerpeek.notebook.http``.
"""

from __future__ import annotations

from typing import Any

from layerpeek.notebook._source import Source
from layerpeek.render.http import (
    body_preview,
    exchange_html,
    exchange_text,
    exchanges_table,
    message_html,
)


class ExchangeList(list[Any]):
    """HTTP exchanges that Jupyter shows as a table; an ordinary list otherwise."""

    def _repr_html_(self) -> str:
        return exchanges_table(self)._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(exchanges_table(self, limit=50).text)


def exchanges(source: Source) -> ExchangeList:
    """Every HTTP/1.x exchange of a capture (:func:`layerpeek.http.exchanges`), as a table."""
    from layerpeek.http import exchanges as rebuild
    from layerpeek.notebook._source import iter_packets

    out = ExchangeList()
    out.extend(rebuild(iter_packets(source)))
    return out


__all__ = [
    "ExchangeList",
    "body_preview",
    "exchange_html",
    "exchange_text",
    "exchanges",
    "exchanges_table",
    "message_html",
]
