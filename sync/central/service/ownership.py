"""What a batch may claim: a gateway speaks only for itself. Each identity a batch's records carry (a node,
a submission's uuid, a registration number's kiosk prefix) is claimed by the first gateway that sends it and
refused from any other; a submission seq the central already holds under another uuid is refused too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from gateway import regno
from sync.central.db import identities, skm_ratings, submissions


def number_prefix(number: str) -> str:
    """The kiosk prefix of a registration number (``DMK-WONOSALAM-261128-00074`` -> ``dmk-wonosalam``), read by
    :func:`gateway.regno.parse` from its canonical form (``protocol.batch_problems`` refuses any other, so
    that no variant spelling of a number escapes the ownership check). Raises InvalidNumber."""
    return regno.parse(regno.canonical(number)).gateway


def _identities(stream: str, columns: dict[str, list[Any]]) -> list[tuple[int, str, str]]:
    """(seq, kind, value) of every identity a batch's records carry, one per distinct (kind, value) and seq."""
    seqs = columns["seq"]
    if stream == "submissions":
        out = [(s, "number-prefix", number_prefix(n)) for s, n in zip(seqs, columns["number"], strict=True)]
        return out + [(s, "uuid", u) for s, u in zip(seqs, columns["uuid"], strict=True)]
    if stream == "ratings":  # anonymous: a rating carries no identity to claim
        return []
    nodes = columns["node"]
    if stream == "readings":  # one check per node, whatever the number of readings
        first: dict[str, list[int]] = {}
        for seq, node in zip(seqs, nodes, strict=True):
            first.setdefault(node, []).append(seq)
        return [(s, "node", node) for node, found in first.items() for s in found]
    return [(s, "node", n) for s, n in zip(seqs, nodes, strict=True) if n is not None]


def reused_seqs(
    conn: Connection, gateway_id: str, stream: str, columns: dict[str, list[Any]]
) -> dict[int, str]:
    """Seq -> reason for each submission of the batch whose seq the central already holds under another uuid.

    A kiosk whose store was replaced (an SD card swapped, the same credentials) numbers its submissions from 1
    again. Were such a seq stored ``ON CONFLICT DO NOTHING`` and acknowledged, the kiosk would purge the new
    citizen's personal data although the central holds someone else's submission under that seq. Refused
    instead (422), so the kiosk keeps the submission as a dead letter with its personal data. Submissions and
    satisfaction ratings carry a uuid that tells two records of one seq apart (a rating refused so is kept,
    not lost); a resent record (same uuid) is not refused.
    """
    table = {"submissions": submissions, "ratings": skm_ratings}.get(stream)
    if table is None:
        return {}
    what = "submission" if stream == "submissions" else "rating"
    sent = dict(zip(columns["seq"], columns["uuid"], strict=True))
    refused: dict[int, str] = {}
    seqs = sorted(sent)
    for start in range(0, len(seqs), 500):
        rows = conn.execute(
            sa.select(table.c.seq, table.c.uuid).where(
                table.c.gateway_id == gateway_id, table.c.seq.in_(seqs[start : start + 500])
            )
        )
        for seq, uuid in rows:
            if uuid != sent[seq]:
                refused[seq] = (
                    f"seq {seq} was already used by another {what}: was this kiosk's store replaced? "
                    f'Its {what}s are kept at the kiosk as dead letters (docs/sync.md, "A replaced store")'
                )
    return refused


def foreign_identities(
    conn: Connection, gateway_id: str, stream: str, columns: dict[str, list[Any]], at_ms: int
) -> dict[int, str]:
    """Claim the batch's identities for the sender; answer seq -> reason for each record carrying an identity
    that another gateway owns (issue: a gateway speaks only for itself)."""
    carried = _identities(stream, columns)
    wanted = {(kind, value) for _seq, kind, value in carried}
    if not wanted:
        return {}
    owners = _owners(conn, wanted)
    unclaimed = wanted - owners.keys()
    if unclaimed:
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        insert = dialect_insert(identities)
        conn.execute(
            insert.on_conflict_do_nothing(),
            [
                {"kind": k, "value": v, "gateway_id": gateway_id, "claimed_ms": at_ms}
                for k, v in sorted(unclaimed)
            ],
        )
        owners.update(_owners(conn, unclaimed))  # a concurrent claim by another gateway may have won
    refused: dict[int, str] = {}
    for seq, kind, value in carried:
        owner = owners.get((kind, value), gateway_id)
        if owner != gateway_id and seq not in refused:
            refused[seq] = f"the {_KIND_WORDS[kind]} {value!r} belongs to another gateway"
    return refused


_KIND_WORDS = {"node": "node", "uuid": "submission uuid", "number-prefix": "registration number prefix"}


def _owners(conn: Connection, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    owners: dict[tuple[str, str], str] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, value in wanted:
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        for start in range(0, len(values), 500):
            rows = conn.execute(
                sa.select(identities.c.value, identities.c.gateway_id).where(
                    identities.c.kind == kind, identities.c.value.in_(values[start : start + 500])
                )
            )
            owners.update({(kind, value): owner for value, owner in rows})
    return owners
