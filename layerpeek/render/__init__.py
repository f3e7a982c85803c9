"""Renderers: turn decoded packets into text lines, trees, hex dumps and JSON.

The layer dataclasses stay pure data; everything about *showing* them lives
here, so a notebook, the CLI and ``Packet._repr_pretty_`` all print the same
thing.  Nothing is imported at package import time: ``layerpeek --help`` must
not pay for ``json`` or the text tables.

* :mod:`layerpeek.render.text`: ``packet_line`` (dump's one-line view),
  ``packet_tree`` (``dump -V``, the nested diagram).
* :mod:`layerpeek.render.hexdump`: ``hexdump`` with layer boundaries (``dump -x``).
* :mod:`layerpeek.render.json`: ``packet_to_dict`` / ``layer_to_dict`` in the
  documented schema (``layerpeek/schema/packet.schema.json``).
"""

from __future__ import annotations
