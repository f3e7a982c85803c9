"""``layerpeek fields``: every field name a display filter or ``-T fields`` accepts.

One row per field: name, type, description (``tshark -G fields`` is the
model, trimmed to what layerpeek decodes).  A search word narrows the list
(``layerpeek fields dns``), ``--json`` writes JSON Lines with the keys
``name``, ``type``, ``description``, ``protocol`` and ``alias_of``.
"""

from __future__ import annotations

import argparse

from layerpeek.commands import common

DESCRIPTION = """\
List the fields that display filters (-Y) and field output (-T fields -e)
understand, with their type and meaning.  The names are Wireshark's, so
filters written for Wireshark or tshark work here:

  layerpeek dump x.pcap -Y 'tcp.port == 80 && tcp.flags.syn == 1'
  layerpeek dump x.pcap -T fields -e frame.number -e ip.src -e dns.qry.name

Types: unsigned integer, boolean, time (seconds), IPv4/IPv6 address (CIDR
blocks allowed with ==), MAC address, byte sequence, character string,
label (present or not: test it alone) and protocol (present or not; also
'contains')."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fields",
        help="list the field names for display filters (-Y) and -T fields",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 no field matches SEARCH, 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "search", nargs="?", metavar="SEARCH",
        help="only fields whose name or description contains this (case-insensitive)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per field")
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    import json  # here: `layerpeek --help` imports every command module

    from layerpeek.filter.fields import FIELD_LIST

    word = (args.search or "").lower()
    rows = [f for f in FIELD_LIST
            if not word or word in f.name.lower() or word in f.description.lower()]
    if not rows:
        raise common.CommandError(f"no field matches {args.search!r} (try `layerpeek fields`)")
    out = common.prepare_stdout()
    if args.json:
        for f in rows:
            record = {
                "name": f.name,
                "type": f.type.value,
                "description": f.description,
                "protocol": f.name.split(".", 1)[0],
                "alias_of": f.alias_of,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return common.EXIT_OK
    width_name = max(len(f.name) for f in rows)
    width_type = max(len(f.type.value) for f in rows)
    for f in rows:
        out.write(f"{f.name:<{width_name}}  {f.type.value:<{width_type}}  {f.description}\n")
    return common.EXIT_OK
