"""HTTP exchanges for Jupyter: :func:`exchanges` reads a capture into a list shown as a table.

The HTML (request and response heads, body previews, the table) is drawn by
:mod:`layerpeek.render.http`; its names are re-exported here for notebooks
that import them from ``layerpeek.notebook.http``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

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


if TYPE_CHECKING:
    from layerpeek.tls.keylog import KeyLog


def exchanges(source: Source, *,
              keylog: KeyLog | str | os.PathLike[str] | None = None) -> ExchangeList:
    """Every HTTP/1.x and HTTP/2 exchange of a capture (:func:`layerpeek.http.exchanges`), as a
    table; ``keylog`` (a :class:`~layerpeek.tls.KeyLog` or the path of an NSS key log)
    adds the HTTPS ones."""
    from layerpeek.http import exchanges as rebuild
    from layerpeek.notebook._source import iter_packets

    out = ExchangeList()
    out.extend(rebuild(iter_packets(source), keylog=keylog))
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
