"""One constructor site per layer class, and the record loop held to it.

The layers the fast paths build (IPv4, IPv6, TCP, its Timestamps option, UDP,
Payload) are built by one function each, next to their class
(``ipv4.new_ipv4``, ``tcp.new_tcp``, ...): the module decoders and
``decode_layers`` call it.  The record loop of ``decode_packets`` inlines
those functions' stores instead (a call per object measured 0.2 µs a packet,
6 %, on the bench capture), so these tests read the source and hold every
inlined block to its class: the same fields, each stored once.  A field added
to a class and forgotten in its builder or in the loop fails here, before
any packet is decoded.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from layerpeek.layers import ipv4, ipv6, tcp, udp
from layerpeek.packet import Packet, Payload, new_payload

PACKAGE = Path(__file__).resolve().parent.parent / "layerpeek"
DECODE = PACKAGE / "decode.py"

BUILDERS: list[tuple[Callable[..., object], type]] = [
    (ipv4.new_ipv4, ipv4.IPv4),
    (ipv6.new_ipv6, ipv6.IPv6),
    (tcp.new_tcp, tcp.TCP),
    (tcp.new_timestamps, tcp.Timestamps),
    (udp.new_udp, udp.UDP),
    (new_payload, Payload),
]
CLASSES = {cls.__name__: cls for _, cls in BUILDERS} | {"Packet": Packet}


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def stores(statements: list[ast.stmt], target: str) -> list[str]:
    """The attributes ``target.x = ...`` assigns, in order, among ``statements``."""
    out = []
    for node in statements:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            t = node.targets[0]
            is_store = isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
            if is_store and t.value.id == target:  # type: ignore[attr-defined]
                out.append(t.attr)  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize(("builder", "cls"), BUILDERS, ids=lambda x: getattr(x, "__name__", ""))
def test_each_builder_stores_every_field_of_its_class_once(builder, cls) -> None:
    (function,) = ast.parse(inspect.getsource(builder)).body
    assert isinstance(function, ast.FunctionDef)
    assert stores(function.body, "obj" if builder is not new_payload else "payload") == field_names(
        cls
    )


def inlined_blocks() -> list[tuple[str, str, list[str]]]:
    """``(variable, class, stored fields)`` for each ``x = new(Cls)`` in ``decode_packets``."""
    tree = ast.parse(DECODE.read_text(encoding="utf-8"))
    (loop,) = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "decode_packets"
    ]
    found = []
    for block in ast.walk(loop):
        body = getattr(block, "body", None)
        for where in (body, getattr(block, "orelse", None)):
            if not isinstance(where, list):
                continue
            for i, node in enumerate(where):
                if (
                    isinstance(node, ast.Assign)
                    and isinstance(node.value, ast.Call)
                    and isinstance(node.value.func, ast.Name)
                    and node.value.func.id == "new"
                ):
                    (target,) = node.targets
                    (arg,) = node.value.args
                    assert isinstance(target, ast.Name) and isinstance(arg, ast.Name)
                    found.append((target.id, arg.id, stores(where[i + 1 :], target.id)))
    return found


def test_the_record_loop_builds_what_it_should() -> None:
    built = {cls for _, cls, _ in inlined_blocks()}
    assert built == {"IPv4", "IPv6", "Timestamps", "TCP", "Payload", "Packet"}


@pytest.mark.parametrize("block", inlined_blocks(), ids=lambda b: f"{b[0]}={b[1]}")
def test_each_inlined_block_stores_every_field_once(block: tuple[str, str, list[str]]) -> None:
    _variable, name, stored = block
    assert sorted(stored) == sorted(field_names(CLASSES[name]))


def test_nothing_else_in_the_decoders_calls_these_classes() -> None:
    """Outside the builders (and the loop above), these layers are only built by builders."""
    names = set(CLASSES) - {"Packet"}
    sources = [*sorted((PACKAGE / "layers").glob("*.py")), DECODE]
    calls = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                node.func.id in names
            ):
                calls.append(f"{path.name}:{node.lineno} {node.func.id}(...)")
    assert calls == []
