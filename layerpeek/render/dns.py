"""DNS transactions shown: the answer in one phrase, and the ``dns --json`` record.

:class:`~layerpeek.dnstx.DNSTransaction` is the pairing's record (query,
response, retries, the CNAME chain followed); what ``layerpeek dns`` prints
of it, and what ``describe()``/``to_dict()`` give, is written here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerpeek.layers.dns import DNS, DNSRecord, Opcode, RRType, data_text
from layerpeek.wire import enum_name

if TYPE_CHECKING:
    from layerpeek.dnstx import DNSTransaction

#: What the common error RCODEs mean, for one-line descriptions.
_RCODE_MEANING = {
    "NXDOMAIN": "no such name",
    "SERVFAIL": "the server failed",
    "REFUSED": "the server refused",
    "FORMERR": "the server could not parse the query",
    "NOTIMP": "not implemented by the server",
}


def answer_text(tx: DNSTransaction) -> str:
    """The answer in one phrase: ``www.example.test → edge… → 127.0.0.1``."""
    if tx.response is None:
        return "no answer" if tx.query is not None else "-"
    rcode = tx.rcode_name or "?"
    chain = tx.cname_chain
    addresses = tx.addresses
    if addresses:
        hops = " → ".join(chain)
        return f"{hops} → {', '.join(addresses)}"
    if rcode != "NOERROR":
        return f"{rcode} ({_RCODE_MEANING[rcode]})" if rcode in _RCODE_MEANING else rcode
    if tx.truncated and not tx.answers:
        return "truncated (TC), no records"
    asked = enum_name(RRType, tx.qtype) if tx.qtype is not None else "?"
    if len(chain) > 1:
        hops = " → ".join(chain)
        if tx.qtype in (1, 28):
            return f"{hops} (no {asked} record)"
        return hops
    if tx.answers:
        return ", ".join(_record_text(r, tx.qtype) for r in tx.answers)
    return f"no {asked} record (NODATA)"


def transaction_to_dict(tx: DNSTransaction) -> dict[str, Any]:
    """The documented ``dns --json`` record (see :mod:`layerpeek.commands.dns`)."""
    q, r = tx.query, tx.response
    rt = tx.response_time_ns
    flags_from = r if r is not None else q
    return {
        "transport": tx.transport,
        "stream": tx.stream,
        "client": str(tx.client),
        "server": str(tx.server),
        "dns_id": tx.dns_id,
        "opcode": enum_name(Opcode, tx.opcode),
        "name": tx.name,
        "type": None if tx.qtype is None else enum_name(RRType, tx.qtype),
        "questions": [
            {"name": x.name, "type": enum_name(RRType, x.type), "class": x.rclass}
            for x in tx.questions
        ],
        "status": tx.status,
        "query_frame": None if q is None else q.frame,
        "query_ts": None if q is None else q.ts_ns / 1e9,
        "response_frame": None if r is None else r.frame,
        "response_ts": None if r is None else r.ts_ns / 1e9,
        "response_time_ms": None if rt is None else round(rt / 1e6, 6),
        "rcode": tx.rcode_name,
        "rcode_value": tx.rcode,
        "flags": [] if flags_from is None else _flag_names(flags_from.dns),
        "truncated": tx.truncated,
        "answers": [_record_dict(x) for x in tx.answers],
        "authorities": [_record_dict(x) for x in tx.authorities],
        "cname_chain": list(tx.cname_chain) if len(tx.cname_chain) > 1 else [],
        "addresses": list(tx.addresses),
        "retransmission_frames": [m.frame for m in tx.retransmissions],
        "duplicate_response_frames": [m.frame for m in tx.duplicate_responses],
        "tcp_retry_frame": _query_frame(tx.tcp_retry),
        "retry_of_frame": _query_frame(tx.retry_of),
        "frames": list(tx.frames),
        "problems": tx.problems,
    }


def _query_frame(tx: DNSTransaction | None) -> int | None:
    return None if tx is None or tx.query is None else tx.query.frame


def _flag_names(message: DNS) -> list[str]:
    names = ("qr", "aa", "tc", "rd", "ra", "ad", "cd")
    values = (message.qr, message.aa, message.tc, message.rd, message.ra, message.ad, message.cd)
    return [n for n, v in zip(names, values, strict=True) if v]


def _record_dict(record: DNSRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "type": enum_name(RRType, record.type),
        "ttl": record.ttl,
        "data": data_text(record.data),
    }


def _record_text(record: DNSRecord, asked: int | None) -> str:
    text = data_text(record.data)
    return text if record.type == asked else f"{enum_name(RRType, record.type)} {text}"


__all__ = ["answer_text", "transaction_to_dict"]
