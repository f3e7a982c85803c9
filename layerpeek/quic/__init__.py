"""QUIC (RFC 9000, 9001, 9369) and HTTP/3 (RFC 9114, QPACK RFC 9204).

* :mod:`layerpeek.quic.packets`: the per-datagram layer (long and short
  headers, coalesced packets; client Initials decrypted with the keys
  anyone can derive), registered on UDP 443 and by its long-header form;
* :mod:`layerpeek.quic.frames`: the frames of a decrypted payload;
* :mod:`layerpeek.quic.protection`: keys, header protection and the AEAD
  (``cryptography``: the ``quic`` extra), imported on first use;
* :mod:`layerpeek.quic.versions`: what differs between versions 1, 2 and
  the drafts;
* :mod:`layerpeek.quic.stage`: the conversation stage: connections by
  connection id, decryption with the key log, the TLS handshake from the
  CRYPTO frames, streams, and HTTP/3 exchanges.
"""

from __future__ import annotations

from layerpeek.quic.packets import QUIC, QUICPacket

__all__ = ["QUIC", "QUICPacket"]
