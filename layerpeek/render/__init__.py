"""Renderers: turn packets and the analysis records into text, JSON and HTML.

The layer dataclasses and the records of the flow, HTTP, DNS and story stages
stay data; everything about *showing* them lives here, so a notebook, the CLI
and ``Packet._repr_pretty_`` all print the same thing.  A record keeps at most
a one-statement ``to_dict()``/``describe()``/``_repr_html_``… that hands itself
over to a function here (``tests/test_architecture.py`` holds the packages to
that).  Nothing is imported at package import time: ``layerpeek --help`` must
not pay for ``json`` or the text tables.

* :mod:`layerpeek.render.text`: ``packet_line`` (dump's one-line view, with
  ``flow_suffix``), ``packet_tree`` (``dump -V``, the nested diagram).
* :mod:`layerpeek.render.hexdump`: ``hexdump`` with layer boundaries (``dump -x``).
* :mod:`layerpeek.render.json`: ``packet_to_dict`` / ``layer_to_dict`` in the
  documented schema (``layerpeek/schema/packet.schema.json``).
* :mod:`layerpeek.render.html`: a packet as nested boxes, packet and
  conversation tables (Jupyter).
* :mod:`layerpeek.render.flows`: conversations, handshakes, closes, a packet's
  flow facts and IP fragments (``flows --json``, dump's flow notes).
* :mod:`layerpeek.render.ladder`: a TCP conversation as an SVG ladder or text.
* :mod:`layerpeek.render.http`: HTTP exchanges (``http --json``, HTML).
* :mod:`layerpeek.render.dns`: DNS transactions (``dns --json``, the answer).
* :mod:`layerpeek.render.story`: the explain story (text, ``explain --json``).
* :mod:`layerpeek.render.http2`: one-line summaries of HTTP/2 frames.
"""

from __future__ import annotations
