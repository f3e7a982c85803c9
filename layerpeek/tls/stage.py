"""The TLS stage of :class:`~layerpeek.analysis.Analysis`: TCP events in, TLS events out.

It runs after the TCP tracker and before the HTTP pairer (``"tls"`` in
:data:`~layerpeek.analysis.STAGES`), reading the tracker's ``StreamData``,
``StreamGap`` and ``ConnectionClosed`` from ``step.events`` and returning
what :class:`~layerpeek.tls.tracker.TLSTracker` makes of them:
``TLSHandshake``, ``TLSAlert``, ``TLSChangeCipherSpec``,
``TLSApplicationData``, ``TLSProblem`` and, for sessions whose secrets the key
log holds, :class:`~layerpeek.tls.events.DecryptedData`, which the HTTP
pairer reads in place of the connection's ciphertext.  Each connection's
problems (keys missing, a record that does not authenticate, …) also come
out once as a :class:`~layerpeek.flows.events.Problem` for the summaries::

    Analysis(["http", "tls"], settings={"tls": {"keylog": "captures/tls12_http11.keys"}})
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from layerpeek.flows.events import ConnectionClosed, Problem, StreamData, StreamGap
from layerpeek.tls.events import TLSEvent
from layerpeek.tls.keylog import KeyLog
from layerpeek.tls.tracker import TLSTracker

if TYPE_CHECKING:
    from layerpeek.analysis import Step


class TLSStage:
    """:class:`TLSTracker` in the analysis pipeline's stage shape.

    ``keylog`` is a :class:`KeyLog`, the path of an NSS key log, or None
    (handshakes and record sizes only).  ``keep_connections`` keeps every
    :class:`~layerpeek.tls.connection.TLSConnection` for summaries
    (:attr:`connections`); commands that list a long capture turn it off.
    """

    stage_name: ClassVar[str] = "tls"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {"tcp": {}}

    def __init__(self, keylog: KeyLog | str | os.PathLike[str] | None = None, *,
                 keep_connections: bool = True) -> None:
        if keylog is not None and not isinstance(keylog, KeyLog):
            keylog = KeyLog.load(keylog)
        self.keylog = keylog
        self.tracker = TLSTracker(keylog, keep_connections=keep_connections)

    @property
    def connections(self) -> dict[int, Any]:
        return self.tracker.connections

    def _run(self, events: Sequence[object]) -> list[TLSEvent | Problem]:
        out: list[TLSEvent | Problem] = []
        for event in events:
            if isinstance(event, (StreamData, StreamGap, ConnectionClosed)):
                out.extend(self.tracker.feed(event))
        return self._told(out)

    def _told(self, out: list[TLSEvent | Problem]) -> list[TLSEvent | Problem]:
        """Each connection's first problem of a kind, once more as a summary Problem."""
        first = self.tracker.first_problems
        if first:
            out.extend(Problem("tls", f"stream {p.conversation}: {p.reason}") for p in first)
            first.clear()
        return out

    def on_packet(self, step: Step) -> list[TLSEvent | Problem]:
        return self._run(step.events) if step.events else []

    def on_finish(self, events: Sequence[object]) -> list[TLSEvent | Problem]:
        out = self._run(events)
        out.extend(self.tracker.finish())
        return self._told(out)
