"""Audit trail: who viewed or changed which record, when and from where.

Rows are append-only (database rules, alembic 0001) and chained: each row stores a hash of
its own content together with the previous row's hash, so that a row edited or removed by
someone who got around those rules is found by ``verify``.

Since migration 0016 the link is an HMAC-SHA256 keyed with ``CLINIC_AUDIT_KEY`` (or, unset,
a key generated on first use into the data folder, ``audit.key``), kept outside the
database: someone who can write to the database but not read that key cannot recompute the
chain after editing a row. Rows from before the upgrade keep their plain SHA-256 links
(``keyed`` false) and are checked as such; the first keyed row links to the last plain one.

Deleting the newest rows leaves a shorter chain that is still whole, so the chain alone
cannot see it: an **anchor** (the row count, the head row's id and hash) is appended to a
file outside the database every few minutes by the app (``write_anchor``), and by
``python -m clinic_app audit verify``; ``verify`` then reports rows missing after an anchor
(truncation) and a head whose hash changed (re-chaining).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import insert, or_, text
from sqlmodel import Session, col, func, select

from clinic_app import settings
from clinic_app.db import utcnow
from clinic_app.models import AuditLog, Patient, User
from clinic_app.services.frontdesk.patient_lookup import matching, mrn_words
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.permissions import require

# PostgreSQL: one appender at a time, so that two transactions never chain onto the
# same previous row (SQLite writers are serialised by BEGIN IMMEDIATE already).
_PG_AUDIT_LOCK = 0x636C696E  # 'clin'
KEY_FILE = "audit.key"


def audit_key() -> bytes:
    """The chain's key: CLINIC_AUDIT_KEY, or the data folder's audit.key (made on first use)."""
    return _key(os.environ.get("CLINIC_AUDIT_KEY") or "", str(settings.data_dir() / KEY_FILE))


@lru_cache(maxsize=8)
def _key(configured: str, path: str) -> bytes:
    if configured:
        return configured.encode()
    key_path = Path(path)
    if not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True)
        try:  # created once, readable by this account only; a second worker reads the first's
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    key = key_path.read_text().strip()
    if not key:
        raise RuntimeError(f"{key_path} is empty; restore the audit key from where it was kept, or set CLINIC_AUDIT_KEY.")
    return key.encode()


def _digest(row: AuditLog, key: bytes | None = None) -> str:
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
    message = "\x1f".join(parts).encode()
    if row.keyed:
        return hmac.new(key or audit_key(), message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


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
        keyed=True,
    )
    row.row_hash = _digest(row)
    session.add(row)
    session.flush()  # the next row in this transaction chains onto this one
    return row


def record_many(session: Session, *, actor: Actor | None, entries: list[dict], source: str = "") -> None:
    """Append several audit rows at once (each a dict of record's keywords: action, entity,
    entity_id, patient_id, detail): one look-up of the chain's head and one multi-row insert,
    so that a transaction recording a page of views holds the write lock for a moment only."""
    if not entries:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    session.flush()
    previous = session.exec(select(AuditLog.row_hash).order_by(col(AuditLog.id).desc()).limit(1)).first() or ""
    key, at, rows = audit_key(), utcnow(), []
    for entry in entries:
        row = AuditLog(
            at=at, user_id=actor.user_id if actor else None, role=actor.role if actor else "",
            action=entry["action"][:40], entity=entry["entity"][:40], entity_id=entry.get("entity_id"),
            patient_id=entry.get("patient_id"), source=(source or (actor.source if actor else ""))[:80],
            detail=entry.get("detail", "")[:200], prev_hash=previous, keyed=True,
        )
        row.row_hash = _digest(row, key)
        previous = row.row_hash
        rows.append(row.model_dump(exclude={"id"}))
    session.execute(insert(AuditLog), rows)  # in order: ids follow the chain


@dataclass
class Verdict:
    """The result of checking the chain (and the anchors, when there are any)."""

    rows: int
    first_bad_id: int | None
    problem: str
    problems: list[str] = field(default_factory=list)  # every finding, in words
    anchors: int = 0  # anchors checked

    @property
    def intact(self) -> bool:
        return not self.problems


def _stream(session: Session, batch: int = 5000) -> Iterator[AuditLog]:
    last = 0
    while True:
        rows = session.exec(select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def anchor_path(database_url: str) -> Path:
    """Where the anchors of this database's audit log are appended (one file per database)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    name = Path(url.database or "memory").name if url.get_backend_name() == "sqlite" else (url.database or "db")
    ident = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return settings.data_dir() / "audit-anchors" / f"{name}-{ident}.jsonl"


def _anchor_mac(entry: dict, key: bytes) -> str:
    body = json.dumps({k: entry[k] for k in sorted(entry) if k != "mac"}, sort_keys=True)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def head(session: Session) -> dict | None:
    """The chain's newest row (id, hash) and how many rows there are up to it."""
    last = session.exec(select(AuditLog.id, AuditLog.row_hash).order_by(col(AuditLog.id).desc()).limit(1)).first()
    if last is None:
        return None
    rows = session.exec(select(func.count()).select_from(AuditLog).where(AuditLog.id <= last[0])).one()
    return {"rows": int(rows), "head_id": int(last[0]), "head_hash": last[1]}


def read_anchors(path: Path) -> list[dict]:
    """The anchors written so far (unreadable lines come back as {"bad": line number})."""
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError
        except ValueError:
            entry = {"bad": number}
        out.append({**entry, "line": number})
    return out


def write_anchor(session: Session, path: Path, *, now: dt.datetime | None = None) -> dict | None:
    """Append the chain's head to the anchor file unless it is the one anchored last.

    One line per anchor, written with O_APPEND in a single write (several workers may anchor
    at once: each line stays whole). Returns what was written, or None.
    """
    current = head(session)
    if current is None:
        return None
    earlier = read_anchors(path)
    last = earlier[-1] if earlier else None
    if last and last.get("head_id") == current["head_id"] and last.get("head_hash") == current["head_hash"]:
        return None
    entry = {"at": (now or utcnow()).isoformat(timespec="seconds"), **current}
    entry["mac"] = _anchor_mac(entry, audit_key())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)
    return entry


def retire_anchors(path: Path) -> Path | None:
    """Move the anchor file aside (after a restore or a reset the log starts over from its copy)."""
    if not path.exists():
        return None
    retired = path.with_name(f"{path.stem}.retired-{utcnow():%Y%m%dT%H%M%S}{path.suffix}")
    path.rename(retired)
    return retired


def verify(session: Session, *, anchors: Path | None = None) -> Verdict:
    """Walk the chain in order and check it against the anchors (if ``anchors`` is given).

    Reported: a row altered (its hash does not match it), a row removed or inserted (a link
    that does not follow), a plain row after keyed ones (the chain rewritten without the
    key), rows missing after an anchor (the newest rows deleted), a head whose hash is not the
    one anchored (the chain recomputed), an anchor line altered.
    """
    key = audit_key()
    problems: list[str] = []
    first_bad: int | None = None

    def bad(row_id: int | None, words: str) -> None:
        nonlocal first_bad
        if first_bad is None and row_id is not None:
            first_bad = row_id
        problems.append(words)

    expected: dict[int, list[dict]] = {}
    checked = 0
    for entry in read_anchors(anchors) if anchors is not None else []:
        if "bad" in entry or entry.get("mac") != _anchor_mac({k: v for k, v in entry.items() if k != "line"}, key):
            problems.append(f"anchor line {entry['line']} of {anchors} is not one this clinic wrote (altered or forged)")
            continue
        expected.setdefault(int(entry["head_id"]), []).append(entry)
        checked += 1

    previous, count, keyed_seen, chain_broken = "", 0, False, False
    for row in _stream(session):
        count += 1
        if not chain_broken:
            if row.prev_hash != previous:
                bad(row.id, f"audit row {row.id} does not follow the row before it: a row was removed or altered")
                chain_broken = True
            elif keyed_seen and not row.keyed:
                bad(row.id, f"audit row {row.id} is not keyed but follows keyed rows: the chain was rewritten")
                chain_broken = True
            elif row.row_hash != _digest(row, key):
                bad(row.id, f"audit row {row.id} ({row.at:%Y-%m-%d %H:%M:%S} UTC, {row.action} {row.entity}) was altered")
                chain_broken = True
        keyed_seen = keyed_seen or row.keyed
        previous = row.row_hash
        for entry in expected.pop(row.id, []):
            if entry["rows"] != count:
                bad(row.id, f"the anchor of {entry['at']} counted {entry['rows']} rows up to row {row.id}; "
                            f"there are {count}: rows were removed or inserted before it")
            elif entry["head_hash"] != row.row_hash:
                bad(row.id, f"audit row {row.id} is not the one anchored at {entry['at']}: the chain was recomputed (re-chained)")
    for head_id, entries in sorted(expected.items()):
        entry = max(entries, key=lambda e: e["rows"])
        bad(head_id, f"the audit log was cut short (truncated): the anchor of {entry['at']} saw {entry['rows']} rows "
                     f"up to row {head_id}; that row is gone and {count} rows are left")
    if problems:
        return Verdict(count, first_bad, problems[0], problems, checked)
    return Verdict(count, None, f"audit log intact: {count} rows", [], checked)


def search(
    session: Session,
    *,
    actor: Actor,
    user_id: int | None = None,
    patient_id: int | None = None,
    user: str = "",
    patient: str = "",
    action: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[AuditLog], int]:
    """Audit rows matching the filters, newest first, a page at a time; and how many match.

    ``user`` is a username or a full name (or the start of one), ``patient`` a patient's
    name, MRN, date of birth or phone as the desk searches them (inactive and merged
    patients included: an investigation asks about them too). The log is only read.
    """
    require(actor.role, "audit.view")
    filters = _filters(session, user_id=user_id, patient_id=patient_id, user=user, patient=patient,
                       action=action, since=since, until=until)
    if filters is None:
        return [], 0
    total = session.exec(select(func.count()).select_from(AuditLog).where(*filters)).one()
    page = select(AuditLog).where(*filters)
    if before_id is not None:
        page = page.where(AuditLog.id < before_id)
    rows = list(session.exec(page.order_by(col(AuditLog.id).desc()).limit(min(max(limit, 1), EXPORT_LIMIT))))
    return rows, total


EXPORT_LIMIT = 10_000  # rows in one CSV export of a search (the newest first)
MATCHED_PEOPLE = 200  # users or patients one filter's text may stand for


def _filters(session: Session, *, user_id, patient_id, user: str, patient: str, action: str, since, until) -> list | None:
    """The WHERE clauses of a search; None when a text names nobody (nothing can match)."""
    filters = []
    if user_id is not None:
        filters.append(AuditLog.user_id == user_id)
    if patient_id is not None:
        filters.append(AuditLog.patient_id == patient_id)
    user = (user or "").strip().lower()[:120]
    if user:
        ids = session.exec(
            select(User.id).where(or_(func.lower(User.username).startswith(user), func.lower(User.full_name).startswith(user),
                                      func.lower(User.full_name).contains(" " + user)))
            .limit(MATCHED_PEOPLE)
        ).all()
        if not ids:
            return None
        filters.append(col(AuditLog.user_id).in_(list(ids)))
    patient = (patient or "").strip()[:80]
    if patient:
        ids = [p.id for p in matching(session, patient, limit=MATCHED_PEOPLE, active_only=False)]
        if not ids:
            return None
        filters.append(col(AuditLog.patient_id).in_(ids))
    if action:
        filters.append(col(AuditLog.action).startswith(action))
    if since is not None:
        filters.append(AuditLog.at >= since)
    if until is not None:
        filters.append(AuditLog.at < until)
    return filters


def names(session: Session, rows: list[AuditLog]) -> tuple[dict[int, str], dict[int, str]]:
    """Who the rows name, in words: user id -> "Full Name (username)", patient id ->
    "Last, First (MRN P0000123)"."""
    user_ids = {r.user_id for r in rows if r.user_id is not None}
    patient_ids = {r.patient_id for r in rows if r.patient_id is not None}
    users = {
        u.id: f"{u.full_name} ({u.username})"
        for u in (session.exec(select(User).where(col(User.id).in_(user_ids))).all() if user_ids else [])
    }
    patients = {
        p.id: f"{p.last_name}, {p.first_name} ({mrn_words(p.mrn)})"
        for p in (session.exec(select(Patient).where(col(Patient.id).in_(patient_ids))).all() if patient_ids else [])
    }
    return users, patients


CSV_COLUMNS = ["when_utc", "user", "role", "action", "record", "patient", "from", "detail"]


def as_table(session: Session, rows: list[AuditLog]) -> list[dict[str, str]]:
    """The rows as the audit page shows them (names, not ids), one dict a row."""
    users, patients = names(session, rows)
    return [
        {
            "id": str(r.id),
            "when_utc": r.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "user": users.get(r.user_id, f"user {r.user_id}") if r.user_id is not None else "(system)",
            "role": r.role or "-",
            "action": r.action,
            "record": f"{r.entity} {r.entity_id if r.entity_id is not None else ''}".strip(),
            "patient": patients.get(r.patient_id, f"patient {r.patient_id}") if r.patient_id is not None else "",
            "from": r.source,
            "detail": r.detail,
        }
        for r in rows
    ]


def to_csv(table: list[dict[str, str]]) -> str:
    """A search's rows as CSV (the page's columns; cells that a spreadsheet would run as a
    formula are prefixed with an apostrophe)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in table:
        writer.writerow(["'" + v if v[:1] in ("=", "+", "-", "@") and v != "-" else v for v in (row[c] for c in CSV_COLUMNS)])
    return out.getvalue()
