"""Audit trail: who viewed or changed which record, when and from where.

Rows are append-only (database rules, alembic 0001) and hash-chained: each row stores
the SHA-256 of its own content together with the previous row's hash, so that a row
edited or removed by someone who got around those rules is found by ``verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session, col, func, select

from clinic_app.db import utcnow
from clinic_app.models import AuditLog
from clinic_app.services.actor import Actor
from clinic_app.services.permissions import require

# PostgreSQL: one appender at a time, so that two transactions never chain onto the
# same previous row (SQLite writers are serialised by BEGIN IMMEDIATE already).
_PG_AUDIT_LOCK = 0x636C696E  # 'clin'


def _digest(row: AuditLog) -> str:
    parts = [
        row.prev_hash,
        row.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        str(row.user_id or ""),
        row.role,
        row.action,
        row.entity,
        str(row.entity_id if row.entity_id is not None else ""),
        str(row.patient_id if row.patient_id is not None else ""),
        row.source,
        row.detail,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    patient_id: int | None = None,
    detail: str = "",
    source: str = "",
) -> AuditLog:
    """Append an audit row to the caller's transaction (it commits with the change it records)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    previous = session.exec(select(AuditLog.row_hash).order_by(col(AuditLog.id).desc()).limit(1)).first()
    row = AuditLog(
        at=utcnow(),
        user_id=actor.user_id if actor else None,
        role=actor.role if actor else "",
        action=action[:40],
        entity=entity[:40],
        entity_id=entity_id,
        patient_id=patient_id,
        source=(source or (actor.source if actor else ""))[:80],
        detail=detail[:200],
        prev_hash=previous or "",
    )
    row.row_hash = _digest(row)
    session.add(row)
    session.flush()  # the next row in this transaction chains onto this one
    return row


@dataclass
class Verdict:
    """The result of checking the chain."""

    rows: int
    first_bad_id: int | None
    problem: str

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None


def _stream(session: Session, batch: int = 5000) -> Iterator[AuditLog]:
    last = 0
    while True:
        rows = session.exec(select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify(session: Session) -> Verdict:
    """Walk the chain in order; report the first row that was altered or follows a removed row."""
    previous = ""
    count = 0
    for row in _stream(session):
        count += 1
        if row.prev_hash != previous:
            return Verdict(count, row.id, f"audit row {row.id} does not follow the row before it: a row was removed or altered")
        if row.row_hash != _digest(row):
            return Verdict(count, row.id, f"audit row {row.id} ({row.at:%Y-%m-%d %H:%M:%S} UTC, {row.action} {row.entity}) was altered")
        previous = row.row_hash
    return Verdict(count, None, f"audit log intact: {count} rows")


def search(
    session: Session,
    *,
    actor: Actor,
    user_id: int | None = None,
    patient_id: int | None = None,
    action: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[AuditLog], int]:
    """Audit rows matching the filters, newest first, a page at a time; and how many match."""
    require(actor.role, "audit.view")
    filters = []
    if user_id is not None:
        filters.append(AuditLog.user_id == user_id)
    if patient_id is not None:
        filters.append(AuditLog.patient_id == patient_id)
    if action:
        filters.append(col(AuditLog.action).startswith(action))
    if since is not None:
        filters.append(AuditLog.at >= since)
    if until is not None:
        filters.append(AuditLog.at < until)
    total = session.exec(select(func.count()).select_from(AuditLog).where(*filters)).one()
    page = select(AuditLog).where(*filters)
    if before_id is not None:
        page = page.where(AuditLog.id < before_id)
    rows = list(session.exec(page.order_by(col(AuditLog.id).desc()).limit(min(max(limit, 1), 200))))
    return rows, total
