"""The ``tls.*`` display-filter fields print what ``tshark -T fields`` prints.

Run without a key log on both sides, on every HTTPS capture: the record,
hello, extension, certificate, alert and JA3/JA3S fields of every frame.
``tls.record.content_type`` is left out here: tshark calls a TLS 1.3
protected record's type ``opaque_type`` (see test_tls_tshark.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.filter import compile as compile_filter
from layerpeek.filter.fields import FIELDS, Frame
from layerpeek.filter.output import FieldsFormat

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

TLS_FIELDS = (
    "frame.number", "tls.record.version", "tls.record.length", "tls.handshake.type",
    "tls.handshake.length", "tls.handshake.version", "tls.handshake.random",
    "tls.handshake.session_id", "tls.handshake.ciphersuite", "tls.handshake.extension.type",
    "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
    "tls.handshake.extensions.supported_version", "tls.handshake.extensions_supported_group",
    "tls.handshake.certificate", "tls.alert_message.level", "tls.alert_message.desc",
    "tls.handshake.ja3", "tls.handshake.ja3_full", "tls.handshake.ja3s",
    "tls.handshake.ja3s_full",
)
NAMES = ["tls13_http11.pcap", "tls12_http11.pcap", "tls_resumed.pcap", "tls_alert.pcap",
         "tls_missing_keys.pcap", "https_h2.pcap", "tls13_keyupdate.pcap",
         "tls13_hrr.pcap", "tls12_resumed.pcap", "https_page_load.pcap"]


@pytest.mark.parametrize("name", NAMES)
def test_tls_field_output_matches_tshark(name: str) -> None:
    assert TSHARK is not None
    path = CAPTURES / name
    args = [arg for field in TLS_FIELDS for arg in ("-e", field)]
    theirs = subprocess.run([TSHARK, "-n", "-r", str(path), "-Y", "tls", "-T", "fields", *args],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    fmt = FieldsFormat(tuple(FIELDS[f] for f in TLS_FIELDS))
    skip = retransmitted(path)
    ours = [fmt.row(Frame(p)) for p in layerpeek.read(path)
            if p.index not in skip and FIELDS["tls"].extract(Frame(p))]
    assert ours == theirs


def retransmitted(path: Path) -> set[int]:
    """Frames tshark flags as retransmissions: it does not hand their payload to TLS
    (they show as TCP only), while layerpeek's per-packet layer decodes every segment."""
    assert TSHARK is not None
    out = subprocess.run([TSHARK, "-n", "-r", str(path), "-Y", "tcp.analysis.retransmission",
                          "-T", "fields", "-e", "frame.number"], capture_output=True, text=True,
                         check=True).stdout
    return {int(x) for x in out.split()}


@pytest.mark.parametrize("expression", [
    'tls.handshake.type == 1', 'tls.handshake.extensions_server_name == "example.test"',
    'tls.record.version == 0x0303 && tls.handshake.type == 2',
    'tls.handshake.ciphersuite == 0xc02b', 'tls.alert_message.desc == 48',
    'tls.handshake.extensions_alpn_str == "h2"',
])
def test_display_filters_select_the_frames_tshark_selects(expression: str) -> None:
    assert TSHARK is not None
    for name in NAMES:
        path = CAPTURES / name
        out = subprocess.run([TSHARK, "-n", "-r", str(path), "-Y", expression, "-T", "fields",
                              "-e", "frame.number"], capture_output=True, text=True,
                             check=True).stdout
        theirs = [int(x) for x in out.split()]
        keep = compile_filter(expression)
        assert [p.index for p in layerpeek.read(path) if keep(p)] == theirs, name
