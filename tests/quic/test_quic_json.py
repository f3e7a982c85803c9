"""``dump --json`` of the QUIC captures, decrypted with their key logs, validates against the
documented schema (layerpeek/schema/packet.schema.json), frames and TLS messages included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import CAPTURES, ROOT

import layerpeek
from layerpeek.analysis import Analysis
from layerpeek.render.json import packet_to_json

jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("cryptography")

NAMES = ["quic_h3_page", "quic_0rtt", "quic_key_update", "quic_no_keys"]


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads((ROOT / "layerpeek" / "schema" / "packet.schema.json").read_text())
    cls = jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("name", NAMES)
def test_decrypted_packets_validate(validator: Any, name: str) -> None:
    path = CAPTURES / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"captures/{name}.pcap missing")
    keys = CAPTURES / f"{name}.keys"
    analysis = Analysis(["quic"], settings={"quic": {"keylog": keys if keys.exists() else None}})
    frames = 0
    with layerpeek.read(path) as reader:
        for step in analysis.run(reader):
            record = json.loads(packet_to_json(step.packet, step.flow))
            errors = list(validator.iter_errors(record))
            assert not errors, f"{name} #{record['index']}: {errors[0].message}"
            for layer in record["layers"]:
                if layer["layer"] == "quic":
                    frames += sum(len(p["frames"]) for p in layer["packets"])
    assert frames > 0
