"""TLS: records, handshake messages, fingerprints, and decryption with a key log.

* :mod:`layerpeek.tls.records`, :mod:`layerpeek.tls.handshake`: pure
  decoders shared by the per-packet layer (:mod:`layerpeek.layers.tls`) and
  the stream stage;
* :mod:`layerpeek.tls.connection` (one connection, sans-IO) and
  :mod:`layerpeek.tls.tracker` (the stage over all TCP conversations);
* :mod:`layerpeek.tls.keylog` (NSS key log) and :mod:`layerpeek.tls.decrypt`
  (record protection, with ``cryptography``: the ``tls`` extra);
* :mod:`layerpeek.tls.events`: what the stage emits, including
  :class:`~layerpeek.tls.events.DecryptedData` for the HTTP readers.

Importing this package imports no cryptography: that happens when a
certificate is read or a record decrypted.
"""

from __future__ import annotations

from layerpeek.tls.connection import TLSConnection
from layerpeek.tls.events import (
    DecryptedData,
    TLSAlert,
    TLSApplicationData,
    TLSChangeCipherSpec,
    TLSEvent,
    TLSHandshake,
    TLSProblem,
)
from layerpeek.tls.keylog import KeyLog
from layerpeek.tls.tracker import TLSTracker

__all__ = [
    "DecryptedData",
    "KeyLog",
    "TLSAlert",
    "TLSApplicationData",
    "TLSChangeCipherSpec",
    "TLSConnection",
    "TLSEvent",
    "TLSHandshake",
    "TLSProblem",
    "TLSTracker",
]
