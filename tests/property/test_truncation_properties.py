"""Cutting a frame at any offset keeps what was decoded before the cut.

For one frame of every protocol path in ``captures/``, and every length
``n`` shorter than the frame, ``decode(frame[:n])`` must give:

* the same layers as the whole frame, in the same order, up to the cut;
* the layer at the cut may be a *partial* copy of the whole frame's layer
  (a DNS message with fewer records, ``complete=False``) when a truncation
  marker follows it: what was decoded is kept, never thrown away;
* then a last layer that explains the cut: ``Malformed(truncated=True)``,
  the same kind of layer cut shorter (payload bytes), or undecodable
  ``Payload`` bytes when too little is left to recognise the protocol.

This generalises aioquic's ``test_pull_bytes_truncated`` to whole frames.
"""

from __future__ import annotations

import pytest

import layerpeek
from layerpeek.packet import Malformed, Payload

from .frames import assert_valid_chain, comparable, distinct_frames, public_frames

FRAMES = distinct_frames()
#: The shared public captures add link types and protocols ours lack (VLAN,
#: SLL, ICMPv6, IPv6 fragments, a malformed TCP header); absent → no cases.
PUBLIC_FRAMES = distinct_frames(public_frames())


def check_cut(data: bytes, linktype: int, n: int) -> None:
    full = layerpeek.decode(data, linktype).layers
    packet = layerpeek.decode(data[:n], linktype)
    assert_valid_chain(packet)
    cut = packet.layers
    where = f"cut at {n}: {packet.protocols} vs {':'.join(x.short for x in full)}"
    if not cut:
        assert n == 0, where
        return
    *kept, last = cut
    assert [type(x) for x in kept] == [type(x) for x in full[: len(kept)]], where
    for i, layer in enumerate(kept):
        if comparable(layer) == comparable(full[i]):
            continue
        # Only the layer right before a truncation marker may be a partial copy.
        assert i == len(kept) - 1, where
        assert isinstance(last, Malformed) and last.truncated, where
    if isinstance(last, Malformed):
        if last.truncated:
            assert last.offset <= n, where
        else:  # an invalid value that the whole frame has too, not one the cut invented
            whole = full[len(kept)] if len(kept) < len(full) else None
            assert isinstance(whole, Malformed) and not whole.truncated, where
            assert whole.protocol == last.protocol, where
    elif not isinstance(last, Payload):
        assert len(kept) < len(full) and type(last) is type(full[len(kept)]), where


@pytest.mark.parametrize(
    ("data", "linktype"),
    FRAMES,
    ids=[layerpeek.decode(d, lt).protocols for d, lt in FRAMES],
)
def test_every_truncation_point_keeps_the_decoded_prefix(data: bytes, linktype: int) -> None:
    for n in range(len(data)):
        check_cut(data, linktype, n)


@pytest.mark.skipif(not PUBLIC_FRAMES, reason="../shared/captures/public is absent")
@pytest.mark.parametrize(
    ("data", "linktype"),
    PUBLIC_FRAMES,
    ids=[layerpeek.decode(d, lt).protocols for d, lt in PUBLIC_FRAMES],
)
def test_every_truncation_point_of_public_frames_keeps_the_decoded_prefix(
    data: bytes, linktype: int
) -> None:
    for n in range(len(data)):
        check_cut(data, linktype, n)


def test_the_frames_cover_every_decoder_of_the_captures() -> None:
    # The property above is only as good as the protocol paths it walks.
    paths = {layerpeek.decode(d, lt).protocols for d, lt in FRAMES}
    shorts = {part for path in paths for part in path.split(":")}
    assert {"eth", "ipv4", "ipv6", "tcp", "udp", "dns", "http"} <= shorts
